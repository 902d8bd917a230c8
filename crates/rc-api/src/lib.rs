//! A typed RingCentral client: it owns auth and token rotation, call-log
//! paging, streamed recording downloads, subscriptions and the rate-limit
//! [`Scheduler`].
//!
//! The models are written from RingCentral's API reference and official
//! samples, never shared with the simulator.
//!
//! # Brief overview
//! - [`Config`] (URLs, credentials as [`Secret`]s, allowed hosts, tuning) →
//!   [`RcClient::new`]. One client per process; clones share everything.
//! - Every request goes: host allow-list → [`Scheduler::acquire`] (one budget per
//!   `X-Rate-Limit-Group`, paced from the response headers, penalty-aware) →
//!   bearer token from the [`TokenManager`] (JWT grant, proactive refresh,
//!   single-flight, refresh once on 401) → one HTTP attempt → retries with
//!   jittered backoff for resets, 5xx and 429 ([`RetryPolicy`]).
//! - Call log: [`RcClient::list_company_call_log`] yields pages of
//!   [`models::CallLogRecord`] for a [`CallLogQuery`] (explicit window,
//!   Detailed view, `perPage` 1000, `nextPage` validated);
//!   [`CallLogQuery::windows`] cuts a long backfill into bounded windows;
//!   [`RcClient::call_log_by_session`] gathers one telephony session's records.
//! - Recordings: [`RcClient::download_recording`] streams into any
//!   `AsyncWrite`, checks `Content-Length`, hashes SHA-256, resumes with
//!   `Range`; [`RcClient::recording_metadata`]; [`RcClient::delete_recordings`]
//!   deletes them at the source in Heavy batches of at most 100, bisecting a 404.
//! - Subscriptions: [`RcClient::create_subscription`] and friends.
//! - Ids ([`ids`], the `rc-ids` crate re-exported) parse into a path-safe
//!   alphabet, one rule for every id; [`Error`] says what
//!   callers branch on; [`ladder::Ladder`] turns repeated
//!   404s into "gone".
//! - [`ServerClock`] ([`RcClient::server_clock`]): RingCentral's time, from
//!   every answer's `Date`, to measure the times it stamps against.
//!
//! # Does not
//! Touch disk, database or audio; share model code with `rc-sandbox`; put a
//! token in a URL or a log line; send the token to any host but the
//! configured platform and media hosts; follow redirects.
//!
//! # Example
//! ```no_run
//! # async fn demo() -> Result<(), rc_api::Error> {
//! use futures::TryStreamExt;
//! let config = rc_api::Config::new(
//!     "https://platform.ringcentral.com",
//!     "client-id",
//!     std::env::var("RC_CLIENT_SECRET").unwrap_or_default(),
//!     std::env::var("RC_JWT").unwrap_or_default(),
//! );
//! let client = rc_api::RcClient::new(config)?;
//! let to = chrono::Utc::now();
//! let query = rc_api::CallLogQuery::new(to - chrono::Duration::days(7), to);
//! let mut records = std::pin::pin!(client.list_company_call_log_records(&query));
//! while let Some(record) = records.try_next().await? {
//!     for rec in record.recordings() {
//!         let mut sink = Vec::new();
//!         let done = client.download_recording(&rec.content_uri, &mut sink).await?;
//!         println!("{} {} bytes sha256={}", rec.id, done.size, done.sha256_hex());
//!     }
//! }
//! client.revoke().await?;
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod auth;
mod call_log;
mod client;
mod config;
pub mod diagnose;
mod download;
mod error;
mod http;
pub mod ladder;
pub mod models;
pub mod ratelimit;
mod recording_delete;
mod retry;
mod secret;
mod server_clock;
mod subscriptions;

/// The RingCentral ids, from the `rc-ids` crate (one parsing rule, shared with vault).
pub use rc_ids as ids;

pub use auth::{TokenManager, TokenStatus};
pub use call_log::{CallLogQuery, CallLogView};
pub use client::RcClient;
pub use config::Config;
pub use download::Downloaded;
pub use error::{Error, Result};
pub use ratelimit::{GroupMetrics, RateGroup, Scheduler, SchedulerConfig};
pub use recording_delete::{BatchDeletion, MAX_DELETE_BATCH};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use server_clock::ServerClock;
