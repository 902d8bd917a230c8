//! One module per subcommand.

pub mod audit;
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
pub mod sync;
pub mod user;
pub mod verify;
