//! CallVault as a library: this crate owns the policy and the glue between
//! the other crates (backup, live follow-up, stitching, records management,
//! the web UI and the CLI). `main.rs` parses the command line and calls into
//! [`commands`]; integration tests and benchmarks drive the same code
//! in-process.
//!
//! # Brief overview
//! - [`commands`]: one module per subcommand (`demo`, `sync`, `join`, `stitch`, `serve`, …).
//! - [`live`]: the webhook receiver, session follow-up, subscription and worker loop.
//! - [`jobs`]: the queue's job kinds, dedupe keys and typed payloads.
//! - [`sync`]: list the call log into the ledger, then drain the download queue.
//! - [`stitching`]: one file per conversation from the catalog (`stitch`, `stitch --all`).
//! - [`startup`] and [`web`]: the web server (UI, audio with Range, per-user access).
//! - [`health`]: `GET /healthz` and `GET /metrics` (Prometheus text).
//! - [`capacity`] and [`alerts`]: whether the call volume fits RingCentral's Heavy budget, and the alert webhook.
//! - [`audit`]: the sealed audit trail's key, checkpoint task and JSON Lines export.
//! - [`ediscovery`]: signed, streamed eDiscovery bundles (`export`) and their verification.
//! - [`gateway`]: which one process may talk to RingCentral (`serve`, `worker`, or a one-off `sync`).
//! - [`retention`]: retention rules, disposal, legal holds and deletion at the source.
//! - [`app`] and [`configuration`]: settings and the long-lived parts every command shares;
//!   [`assemble`]: the live workers over them.
//! - [`metrics`]: histograms, the Prometheus writer and the live counters `/metrics` reports.
//!
//! # Does not
//! - speak RingCentral's HTTP API itself (that is `rc-api`), write SQL or
//!   touch the object store directly (that is `vault`), or parse audio
//!   frames (that is `stitch`): it decides what happens, when and to what;
//! - link the RingCentral sandbox unless the `demo` feature (on by default)
//!   asks for it.

#![deny(missing_docs)]

pub mod alerts;
pub mod app;
pub mod assemble;
pub mod audit;
pub mod capacity;
pub mod commands;
pub mod configuration;
pub mod ediscovery;
pub mod gateway;
pub mod health;
pub mod jobs;
pub mod live;
pub mod metrics;
pub mod priority;
pub mod published;
pub mod rate_snapshot;
pub mod retention;
pub mod runner;
pub mod secret_token;
pub mod startup;
pub mod stitching;
pub mod sync;
#[cfg(test)]
mod test_catalog;
#[cfg(test)]
mod test_wait;
pub mod web;
pub mod worm;
