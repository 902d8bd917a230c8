//! CallVault as a library: the commands and the backup machinery behind the
//! `callvault` binary, public so integration tests and benchmarks can drive
//! them in-process.
//!
//! - [`commands`]: one module per subcommand (`demo`, `sync`, `join`, …).
//! - [`sync`]: list the call log into the ledger, then drain the download queue.
//! - [`stitching`]: one file per conversation from the catalog (`stitch`, `stitch --all`).
//! - [`app`] and [`configuration`]: settings and the long-lived parts every command shares.

pub mod app;
pub mod commands;
pub mod configuration;
pub mod stitching;
pub mod sync;
