//! The vault's integration tests: one binary, one module per capability.
//! Catalog and queue tests run on a real SQLite file and, when
//! `CALLVAULT_TEST_POSTGRES` holds a URL, on a fresh PostgreSQL schema.

mod helpers;

// Ids and storage keys: parsing and path safety.
mod keys;
// Call records, recordings, conversations, watermarks, search.
mod catalog;
// The leased job queue.
mod queue;
// Notifications, settings, singleton leases.
mod live;
// Legal holds and the hold fence.
mod holds;
// The sealed audit trail: chain, checkpoints, tamper detection.
mod audit;
// The blob store: atomic streamed writes, hashes, ranges.
mod blobs;
// The blob store on an S3-compatible server.
#[cfg(feature = "s3")]
mod s3;
// moto's S3 server, shared with callvault's tests.
#[cfg(feature = "s3")]
#[path = "../../../callvault/tests/support/moto.rs"]
mod moto;
