//! One module per subcommand.

pub mod join;
