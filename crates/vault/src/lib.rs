//! The ledger, the blobs and the queue.
//!
//! # Brief overview
//! (to be written with the crate: the sqlx catalog on SQLite or PostgreSQL,
//! object_store blobs with atomic put and sha256, leased jobs.)
//!
//! # Does not
//! Call RingCentral or decode audio.
#![warn(missing_docs)]
