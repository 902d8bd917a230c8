//! One module per subcommand.

pub mod demo;
pub mod join;
pub mod ls;
pub mod status;
pub mod sync;
pub mod verify;
