//! Integration tests of the backup (`callvault sync` and friends) against
//! the in-process RingCentral sandbox, on SQLite and on PostgreSQL.

mod helpers;
#[path = "../support/moto.rs"]
mod moto;
#[path = "../support/common.rs"]
mod support;
#[path = "../support/jobs.rs"]
mod support_jobs;
#[path = "../support/listening.rs"]
mod support_listening;

mod backfill;
mod bad_inputs;
mod configuration;
mod crash;
// `callvault demo` as the README runs it: backup, checks, then the UI and live calls.
mod demo;
mod doctor;
mod faults;
// `sync` holds the RingCentral gateway: refused beside a holder, waits out a crashed one.
mod gateway;
mod guide;
mod not_ready;
// `sync --plan` writes nothing: the ledger and queue row counts are unchanged.
mod plan;
mod rate_limits;
mod retention;
// Stitched files under holds, WORM and retention.
mod records_jobs;
mod records_stitched;
mod records_worm;
// `--storage s3://…` against moto: sync, then verify re-hashing the bucket.
mod s3;
mod tokens;
mod verify;
