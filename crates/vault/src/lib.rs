//! The ledger, the blobs and the queue.
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
//! * Ids ([`RecordingId`], [`CallRecordId`], [`TelephonySessionId`],
//!   [`ConversationId`]) are parsed once; a [`StorageKey`] is rendered only from
//!   them and a validated [`KeyLayout`], so no input can escape the store root.
//!
//! Facts flow: a sync or webhook writes rows ([`Catalog::upsert_call_record`],
//! [`Catalog::upsert_recording`], [`Catalog::upsert_conversation`]), then
//! enqueues a job; a worker claims it, streams the download into
//! [`BlobStore::put_stream`], and commits [`Catalog::complete_with_recording_stored`].
//!
//! # Does not
//! Call RingCentral or decode audio.
#![warn(missing_docs)]

pub mod audit;
mod blob;
mod conversations;
mod db;
mod digest;
mod error;
mod ids;
mod key;
mod live;
mod queue;
mod recordings;
mod records;
pub mod search;
mod time;
pub mod users;
mod watermarks;

pub use blob::{BlobError, BlobMeta, BlobStore, StoredBlob, Verified};
pub use conversations::{Conversation, ConversationState, ConversationUpsert};
pub use db::{Backend, Catalog};
pub use digest::{BadDigest, Sha256Digest};
pub use error::CatalogError;
pub use ids::{CallRecordId, ConversationId, IdError, MAX_ID_LEN, RecordingId, TelephonySessionId};
pub use key::{
    BlobExt, DEFAULT_CONVERSATION_TEMPLATE, DEFAULT_RECORDING_TEMPLATE, KeyError, KeyLayout,
    MAX_KEY_LEN, StorageKey,
};
pub use live::{NewNotification, Notification, SingletonLease};
pub use queue::{
    DEFAULT_MAX_ATTEMPTS, Enqueued, Job, JobCounts, JobId, JobState, Lease, LeasedJob, NewJob,
    backoff,
};
pub use recordings::{NewRecording, Recording, RecordingCounts, RecordingState};
pub use records::{ArrivedBy, CallRecord, CallRecordRow, CallSearch, LegRow, Source};
