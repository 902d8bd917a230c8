//! One module per subcommand: `main.rs` parses the command line and calls
//! the module's `run`.

pub mod audit;
#[cfg(feature = "demo")]
pub mod demo;
pub mod doctor;
pub mod export;
pub mod hold;
pub mod jobs;
pub mod join;
pub mod ls;
pub mod retention;
pub mod serve;
pub mod status;
pub mod stitch;
pub mod subscription;
pub mod sync;
pub mod user;
pub mod verify;
pub mod worker;
