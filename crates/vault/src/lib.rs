//! The ledger, the blobs and the queue: this crate owns the sqlx catalog
//! (SQLite or PostgreSQL), the object_store blobs (atomic put, sha256) and
//! the leased jobs.
//!
//! # Brief overview
//! * [`Catalog`] — the ledger in SQL through sqlx: a SQLite file by default
//!   (WAL), PostgreSQL when opened with a `postgres://` URL. One code path for
//!   both; migrations in `migrations/{sqlite,postgres}`. It holds call records
//!   and legs ([`CallRecordRow`]), recordings and their state
//!   ([`RecordingState`]), conversations ([`ConversationState`]), sync
//!   watermarks, and the job queue ([`NewJob`], [`LeasedJob`], [`Lease`]).
//! * [`BlobStore`] — recordings and stitched files through `object_store`: a
//!   local folder by default, S3-compatible with the `s3` feature. Writes
//!   stream in, are hashed on the way ([`StoredBlob`]) and appear atomically.
//!   On an S3 bucket with Object Lock, WORM mode (`worm`, with the `s3`
//!   feature) writes each one locked, maps legal holds to S3's, refuses to
//!   report a locked delete as done, and proves enforcement at startup; the
//!   catalog keeps each locked version ([`BlobLock`]).
//! * Ids ([`RecordingId`], [`CallRecordId`], [`TelephonySessionId`],
//!   [`ConversationId`]) are parsed once; a [`StorageKey`] is rendered only from
//!   them and a validated [`KeyLayout`], so no input can escape the store root.
//!
//! Facts flow: a sync or webhook writes rows ([`Catalog::upsert_call_record`],
//! [`Catalog::upsert_recording`], [`Catalog::upsert_conversation`]), then
//! enqueues a job; a worker claims it, streams the download into
//! [`BlobStore::put_stream`], and commits [`Catalog::complete_with_recording_stored`].
//!
//! # Design notes
//! * **One code path, two databases.** One pool and one transaction type
//!   over sqlx's `Any` driver; every query is a plain `async fn` (a
//!   `Catalog` method, or a function taking the open transaction so that a
//!   ledger page writes many rows in one). Statements are written once with
//!   `$n` parameters; the marker `{now}` becomes the database clock in ms per
//!   backend, decided in one place (`db.rs`). Only the claim (`FOR UPDATE
//!   SKIP LOCKED` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), JSON-array
//!   helpers and the receiver's group commit differ. Every timestamp column
//!   is integer milliseconds since the epoch, UTC, on both; JSON documents
//!   are text on both.
//! * **Modules in one direction.** Each module holds the statements of its
//!   own concern (`records`, `conversations`, `recordings`, `queue`, …);
//!   `ledger` is the only module that calls several of them inside one
//!   transaction (a page of the call log). Transactions, per-backend SQL and the advisory
//!   locks that serialise writers on PostgreSQL live in `db`. A folder
//!   module's children use their parent, never the reverse.
//! * **A hand-rolled queue, not apalis.** apalis 1.0 leases per worker, not
//!   per job, keeps no durable backoff (`run_at` is never moved on retry) and
//!   fences completion by worker id only. Here every claim bumps a
//!   `lease_token` and every finishing write is fenced by it
//!   (`WHERE id = ? AND lease_token = ? AND state = 'leased'`), retries and
//!   "not ready" snoozes live in `run_at`, dead jobs stay visible, and an
//!   expired lease is reclaimable. Execution is at-least-once; the effect is
//!   exactly-once because keys are deterministic, catalog writes conditional,
//!   and [`Catalog::complete_with_recording_stored`] commits the recording and
//!   the job together.
//! * **Singletons.** [`Catalog::acquire_singleton`] gives one process at a
//!   time a fenced, renewable lease (e.g. the RingCentral gateway) on both
//!   backends; a dead holder is replaced when its lease runs out.
//! * **Atomic blobs.** See [`BlobStore::put_stream`]: hashed while streaming,
//!   published by rename (local) or single PUT / completed multipart (S3),
//!   aborted on a source error; [`BlobStore::remove_stale_partials`] sweeps
//!   what a killed process left locally.
//!
//! # Does not
//! * call RingCentral (the binary's sync and workers do, and hand the facts
//!   here);
//! * decode or encode audio (blobs are opaque bytes with a hash).
//!
//! # Example
//! A download job from fact to stored blob:
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use vault::*;
//!
//! let dir = tempfile::tempdir()?;
//! let url = format!("sqlite:{}?mode=rwc", dir.path().join("catalog.sqlite").display());
//! let catalog = Catalog::open(&url).await?;
//! let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap())?;
//!
//! // A sync lists a recording and enqueues its download.
//! let rec = RecordingId::parse("401786818008")?;
//! let session = TelephonySessionId::parse("s-a0d178729c49dz1876d9b9d11z19269ec0000")?;
//! let start = chrono::Utc::now();
//! catalog.upsert_recording(&NewRecording {
//!     id: rec.clone(),
//!     call_record_id: None,
//!     telephony_session_id: Some(session.clone()),
//!     content_uri: None,
//!     content_type: Some("audio/mpeg".into()),
//!     call_start_time: start,
//!     call_end_time: None,
//! }).await?;
//! catalog.enqueue(&NewJob::new("download", format!("rec:{rec}"), serde_json::json!({"id": rec}))).await?;
//!
//! // A worker claims it, streams the body in, and commits fenced by its lease.
//! let job = catalog.claim("worker-1", &["download"], Duration::from_secs(90)).await?.unwrap();
//! let key = StorageKey::for_recording(start, &session, &rec, BlobExt::Mp3);
//! let body = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(b"ID3..."))]);
//! let stored = blobs.put_stream(&key, body).await?;
//! assert!(catalog
//!     .complete_with_recording_stored(&job.lease, &rec, &key, &stored.sha256, stored.size, "audio/mpeg")
//!     .await?);
//! assert_eq!(catalog.recording(&rec).await?.unwrap().state, RecordingState::Stored);
//! # Ok(())
//! # }
//! # tokio::runtime::Runtime::new().unwrap().block_on(demo()).unwrap();
//! ```
#![deny(missing_docs)]

pub mod audit;
mod blob;
mod blob_error;
mod blob_locks;
mod conversation_disposal;
mod conversations;
mod db;
mod digest;
mod error;
mod hold_fence;
mod holds;
mod ids;
mod key;
mod ledger;
mod legal_hold_mirror;
mod live;
pub mod login_throttle;
mod queue;
mod recordings;
mod records;
mod retention;
pub mod search;
mod search_index;
mod shared_setting;
mod statement;
mod time;
pub mod users;
mod watermarks;
#[cfg(feature = "s3")]
pub mod worm;

#[cfg(feature = "s3")]
pub use blob::S3Config;
pub use blob::{BlobMeta, BlobStore, StoredBlob, Verified};
pub use blob_error::BlobError;
pub use blob_locks::BlobLock;
pub use conversation_disposal::{StitchedDisposal, StitchedDisposeOutcome};
pub use conversations::{Conversation, ConversationState, ConversationUpsert};
pub use db::{Backend, Catalog};
pub use digest::{BadDigest, Sha256Digest};
pub use error::CatalogError;
pub use hold_fence::{ActiveHold, HoldFence};
pub use holds::{HoldFilter, HoldTarget, LegalHold, NewHold};
pub use ids::{CallRecordId, ConversationId, IdError, MAX_ID_LEN, RecordingId, TelephonySessionId};
pub use key::{
    BlobExt, DEFAULT_CONVERSATION_TEMPLATE, DEFAULT_RECORDING_TEMPLATE, KeyError, KeyLayout,
    MAX_KEY_LEN, StorageKey,
};
pub use ledger::{LedgerEntry, LedgerWritten};
pub use legal_hold_mirror::LegalHoldDrift;
pub use live::{NewNotification, Notification, NotificationWrite, SingletonLease};
pub use queue::{
    DEFAULT_MAX_ATTEMPTS, Enqueued, Job, JobCounts, JobId, JobListener, JobState, Lease, LeasedJob,
    NewJob, backoff,
};
pub use recordings::{Backlog, NewRecording, Recording, RecordingCounts, RecordingState};
pub use records::{ArrivedBy, CallRecord, CallRecordRow, CallSearch, LegRow, Source};
pub use retention::disposal::{Disposal, DisposeOutcome, SourceDeletionState};
pub use retention::{NewRetentionRule, RetentionFacts, RetentionRule};
