//! One module per subcommand.

pub mod demo;
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
