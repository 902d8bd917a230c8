//! The job queue, in the catalog's own database.
//!
//! Design (hand-rolled rather than apalis, which has no per-job lease, no
//! durable backoff and no fence):
//!
//! * **States** `queued` → `leased` (holder, `leased_until`) → `done`, or
//!   `retry` (claimable again at `run_at`), or `dead` (kept for a person).
//! * **Dedupe**: a partial unique index over live jobs (`queued`, `leased`,
//!   `retry`) on `(kind, dedupe_key)`; enqueueing a live key again is a no-op,
//!   while a finished key may be enqueued afresh.
//! * **Claim** is a short transaction that commits before the work starts:
//!   PostgreSQL picks a row `FOR UPDATE SKIP LOCKED`, so claimers never wait on
//!   each other; SQLite takes the write lock up front with `BEGIN IMMEDIATE`,
//!   and its single writer does the rest. A `leased` job whose lease expired
//!   is claimable again (its holder is presumed dead).
//! * **Fence**: every claim bumps `lease_token`, a counter that never goes
//!   down. Every finishing write is `WHERE id = ? AND lease_token = ? AND
//!   state = 'leased'` and reports whether it still held the lease, so a
//!   holder that lost its lease (a pause, a partition) can never overwrite the
//!   newer holder's outcome.
//! * **Clock**: every comparison uses the database clock, never a host's.
//!
//! Execution is at-least-once; make jobs idempotent (deterministic blob key,
//! check-then-act, conditional catalog writes). The worker loop lives in the
//! binary; this module gives it `claim`, `heartbeat`, the finishing calls,
//! [`Catalog::next_run_at`] to sleep on and [`backoff`].
//!
//! This file holds the types; the statements live in `enqueue` (adding
//! jobs), `lease` (claiming and finishing them) and `admin` (what operators
//! and the web pages read and fix).

mod admin;
pub(crate) mod enqueue;
mod lease;

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

#[cfg(doc)]
use crate::db::Catalog;
use crate::digest::Sha256Digest;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::RecordingId;
use crate::key::StorageKey;
use crate::time::{duration_ms, from_ms, from_opt_ms, to_ms};

/// Attempts a job gets unless [`NewJob::max_attempts`] says otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 20;

/// A job's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct JobId(i64);

impl JobId {
    /// Wraps a row id, e.g. one an operator typed (`jobs retry 42`).
    pub fn new(id: i64) -> Self {
        JobId(id)
    }

    /// The row id.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for JobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for its first claim.
    Queued,
    /// Held by a worker until `leased_until`.
    Leased,
    /// Waiting for `run_at` to try again.
    Retry,
    /// Finished.
    Done,
    /// Given up on: out of attempts, or failed for good.
    Dead,
}

impl JobState {
    /// Every state, in a job's order of life.
    pub const ALL: [JobState; 5] = [
        JobState::Queued,
        JobState::Leased,
        JobState::Retry,
        JobState::Done,
        JobState::Dead,
    ];

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "queued" => JobState::Queued,
            "leased" => JobState::Leased,
            "retry" => JobState::Retry,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => return None,
        })
    }

    /// The value in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Leased => "leased",
            JobState::Retry => "retry",
            JobState::Done => "done",
            JobState::Dead => "dead",
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct NewJob {
    pub(crate) kind: String,
    pub(crate) dedupe_key: String,
    pub(crate) payload: serde_json::Value,
    pub(crate) run_at: Option<DateTime<Utc>>,
    pub(crate) priority: i64,
    pub(crate) max_attempts: u32,
}

impl NewJob {
    /// A job of `kind` (e.g. `download`) whose identity is `dedupe_key`
    /// (e.g. `rec:401786818008`), due now, priority 0,
    /// [`DEFAULT_MAX_ATTEMPTS`] attempts.
    pub fn new(
        kind: impl Into<String>,
        dedupe_key: impl Into<String>,
        payload: serde_json::Value,
    ) -> Self {
        NewJob {
            kind: kind.into(),
            dedupe_key: dedupe_key.into(),
            payload,
            run_at: None,
            priority: 0,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
        }
    }

    /// Not before `at`.
    pub fn run_at(mut self, at: DateTime<Utc>) -> Self {
        self.run_at = Some(at);
        self
    }

    /// Higher runs first among due jobs.
    pub fn priority(mut self, priority: i64) -> Self {
        self.priority = priority;
        self
    }

    /// Claims allowed before the job is dead (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }
}

/// What [`Catalog::enqueue`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Enqueued {
    /// A new job row.
    Created(JobId),
    /// A live job with the same kind and dedupe key already existed (its
    /// priority raised to the new job's, if that was higher).
    AlreadyLive(JobId),
}

impl Enqueued {
    /// The job's id either way.
    pub fn id(self) -> JobId {
        match self {
            Enqueued::Created(id) | Enqueued::AlreadyLive(id) => id,
        }
    }
}

/// Proof of holding a job: its id and the fencing token of this claim. Only
/// [`Catalog::claim`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    job_id: JobId,
    token: i64,
}

impl Lease {
    /// The leased job.
    pub fn job_id(&self) -> JobId {
        self.job_id
    }

    /// The fencing token (rises with every claim of the job).
    pub fn token(&self) -> i64 {
        self.token
    }
}

/// A claimed job.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedJob {
    /// The lease to pass to the finishing calls.
    pub lease: Lease,
    /// `download`, `stitch`, …
    pub kind: String,
    /// The job's identity.
    pub dedupe_key: String,
    /// Its arguments.
    pub payload: serde_json::Value,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When the lease runs out unless extended (database clock).
    pub leased_until: DateTime<Utc>,
}

/// A job row, for operators and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Row id.
    pub id: JobId,
    /// Kind.
    pub kind: String,
    /// Identity.
    pub dedupe_key: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// State.
    pub state: JobState,
    /// Priority.
    pub priority: i64,
    /// Due time.
    pub run_at: DateTime<Utc>,
    /// Claims so far (snoozes and releases give theirs back).
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// Current holder, while leased.
    pub holder: Option<String>,
    /// Lease expiry, while leased.
    pub leased_until: Option<DateTime<Utc>>,
    /// Last failure reason.
    pub last_error: Option<String>,
    /// Created (database clock).
    pub created_at: DateTime<Utc>,
    /// Finished (done or dead).
    pub finished_at: Option<DateTime<Utc>>,
}

/// Jobs per state, for `/metrics` and `status`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct JobCounts {
    /// `queued`.
    pub queued: u64,
    /// `leased`.
    pub leased: u64,
    /// `retry`.
    pub retry: u64,
    /// `done`.
    pub done: u64,
    /// `dead`.
    pub dead: u64,
}

#[derive(sqlx::FromRow)]
struct LeasedSql {
    id: i64,
    kind: String,
    dedupe_key: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
    lease_token: i64,
    leased_until: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct JobSql {
    id: i64,
    kind: String,
    dedupe_key: String,
    payload: String,
    state: String,
    priority: i64,
    run_at: i64,
    attempts: i64,
    max_attempts: i64,
    holder: Option<String>,
    leased_until: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

const TABLE: &str = "jobs";

fn count(n: i64) -> Result<u32, CatalogError> {
    u32::try_from(n).or_corrupt(TABLE)
}

impl LeasedSql {
    fn into_leased(self) -> Result<LeasedJob, CatalogError> {
        Ok(LeasedJob {
            lease: Lease {
                job_id: JobId(self.id),
                token: self.lease_token,
            },
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            payload: serde_json::from_str(&self.payload)?,
            attempt: count(self.attempts)?,
            max_attempts: count(self.max_attempts)?,
            leased_until: from_ms(
                TABLE,
                self.leased_until.ok_or_else(|| {
                    CatalogError::corrupt(TABLE, "leased job without leased_until")
                })?,
            )?,
        })
    }
}

impl JobSql {
    fn into_job(self) -> Result<Job, CatalogError> {
        Ok(Job {
            id: JobId(self.id),
            kind: self.kind,
            dedupe_key: self.dedupe_key,
            payload: serde_json::from_str(&self.payload)?,
            state: JobState::parse(&self.state).ok_or_else(|| {
                CatalogError::corrupt(TABLE, format!("unknown state {:?}", self.state))
            })?,
            priority: self.priority,
            run_at: from_ms(TABLE, self.run_at)?,
            attempts: count(self.attempts)?,
            max_attempts: count(self.max_attempts)?,
            holder: self.holder,
            leased_until: from_opt_ms(TABLE, self.leased_until)?,
            last_error: self.last_error,
            created_at: from_ms(TABLE, self.created_at)?,
            finished_at: from_opt_ms(TABLE, self.finished_at)?,
        })
    }
}

const JOB_COLUMNS: &str = "id, kind, dedupe_key, payload, state, priority, run_at, attempts, max_attempts, holder, leased_until, last_error, created_at, finished_at";

/// Jittered exponential backoff for attempt `attempt` (1 for the first
/// retry): a random delay in `[d/2, d]` where `d = min(cap, base · 2^(attempt-1))`.
/// The jitter spreads retries of jobs that failed together.
pub fn backoff(attempt: u32, base: Duration, cap: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(32);
    let full = base
        .checked_mul(1u32 << exp.min(31))
        .unwrap_or(cap)
        .min(cap);
    let half = full / 2;
    let spread = full.saturating_sub(half);
    let extra_ms = u64::try_from(spread.as_millis()).unwrap_or(u64::MAX);
    let jitter = if extra_ms == 0 {
        0
    } else {
        rand::rng().random_range(0..=extra_ms)
    };
    half + Duration::from_millis(jitter)
}

/// Wakes a worker when another process enqueues a job (PostgreSQL
/// `LISTEN callvault_jobs`). A hint only: a worker still polls, because a
/// notification can be missed while the connection reconnects.
#[derive(Debug)]
pub struct JobListener {
    listener: sqlx::postgres::PgListener,
}

impl JobListener {
    /// Waits for the next enqueue anywhere in the cluster; returns its kind.
    pub async fn recv(&mut self) -> Result<String, CatalogError> {
        Ok(self.listener.recv().await?.payload().to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_within_its_jittered_bounds_and_stops_at_the_cap() {
        let base = Duration::from_secs(1);
        let cap = Duration::from_secs(60);
        for attempt in 1..40 {
            let d = backoff(attempt, base, cap);
            let full = (base * 2u32.saturating_pow(attempt.saturating_sub(1).min(31))).min(cap);
            assert!(
                d >= full / 2 && d <= full,
                "attempt {attempt}: {d:?} vs {full:?}"
            );
        }
        assert!(backoff(30, base, cap) >= cap / 2);
    }
}
