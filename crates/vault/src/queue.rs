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

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::db::{Catalog, Tx};
use crate::digest::Sha256Digest;
use crate::error::CatalogError;
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

fn corrupt(what: impl std::fmt::Display) -> CatalogError {
    CatalogError::CorruptRow {
        table: TABLE,
        what: what.to_string(),
    }
}

fn count(n: i64) -> Result<u32, CatalogError> {
    u32::try_from(n).map_err(corrupt)
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
                self.leased_until
                    .ok_or_else(|| corrupt("leased job without leased_until"))?,
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
            state: JobState::parse(&self.state)
                .ok_or_else(|| corrupt(format!("unknown state {:?}", self.state)))?,
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

/// Finishes the leased job `$1` (lease token `$2`): done, or queued again
/// at once when news arrived while it ran (`rerun_requested`, set by
/// [`Catalog::run_now`]), giving back the attempt.
const COMPLETE_LEASED: &str = "UPDATE jobs SET
    state = CASE WHEN rerun_requested = 1 THEN 'queued' ELSE 'done' END,
    attempts = CASE WHEN rerun_requested = 1 THEN attempts - 1 ELSE attempts END,
    run_at = CASE WHEN rerun_requested = 1 THEN {now} ELSE run_at END,
    finished_at = CASE WHEN rerun_requested = 1 THEN NULL ELSE {now} END,
    rerun_requested = 0, holder = NULL, leased_until = NULL, updated_at = {now}
    WHERE id = $1 AND lease_token = $2 AND state = 'leased'";

impl Catalog {
    /// Adds a job unless a live one (`queued`, `leased`, `retry`) with the same
    /// kind and dedupe key exists; that one takes the new job's priority when
    /// it is higher.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, CatalogError> {
        {
            let mut tx = self.begin_write().await?;
            let enqueued = enqueue_in(&mut tx, job).await?;
            tx.commit().await?;
            Ok(enqueued)
        }
    }

    /// Makes the live job with this kind and dedupe key run again now,
    /// because something it waits for has happened. A waiting job becomes
    /// due now; a leased one is marked so that when its holder finishes the
    /// lease (completes or snoozes it) it runs again at once: its run began
    /// before the news and may have missed it. Returns whether a job was
    /// found.
    pub async fn run_now(&self, kind: &str, dedupe_key: &str) -> Result<bool, CatalogError> {
        {
            let done = sqlx::query(self.sql(
                "UPDATE jobs SET
                    run_at = CASE WHEN state <> 'leased' AND run_at > {now} THEN {now}
                                  ELSE run_at END,
                    rerun_requested = CASE WHEN state = 'leased' THEN 1 ELSE rerun_requested END,
                    updated_at = {now}
                 WHERE kind = $1 AND dedupe_key = $2
                   AND state IN ('queued', 'retry', 'leased')",
            ))
            .bind(kind)
            .bind(dedupe_key)
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }
    }

    /// Makes the waiting job with this kind and dedupe key due no later than
    /// `at` (a request for it came sooner than it was planned). Returns
    /// whether one was moved.
    pub async fn due_by(
        &self,
        kind: &str,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogError> {
        {
            let moved = sqlx::query(self.sql(
                "UPDATE jobs SET run_at = $3, updated_at = {now}
                 WHERE kind = $1 AND dedupe_key = $2 AND state IN ('queued', 'retry')
                   AND run_at > $3",
            ))
            .bind(kind)
            .bind(dedupe_key)
            .bind(to_ms(at))
            .execute(&self.pool)
            .await?;
            Ok(moved.rows_affected() > 0)
        }
    }

    /// Claims the next due job of one of `kinds` (any kind when empty) for
    /// `holder` (e.g. `host:pid:uuid`, for operators), leased for `lease_for`.
    /// Due jobs come first (priority, then due time); failing that, a job
    /// whose lease expired. `Ok(None)` when there is nothing to do.
    pub async fn claim(
        &self,
        holder: &str,
        kinds: &[&str],
        lease_for: Duration,
    ) -> Result<Option<LeasedJob>, CatalogError> {
        let lease_ms = duration_ms(lease_for);
        let kinds_json = serde_json::to_string(kinds)?;
        let row: Option<LeasedSql> = {
            let mut tx = self.begin_write().await?;
            let ready: Option<i64> = sqlx::query_scalar(self.backend().per_backend(
                "SELECT id FROM jobs
                     WHERE state IN ('queued', 'retry') AND run_at <= {now}
                       AND (json_array_length($1) = 0 OR kind IN (SELECT value FROM json_each($1)))
                     ORDER BY priority DESC, run_at, id LIMIT 1",
                "SELECT id FROM jobs
                     WHERE state IN ('queued', 'retry') AND run_at <= {now}
                       AND (jsonb_array_length($1::jsonb) = 0
                            OR kind IN (SELECT jsonb_array_elements_text($1::jsonb)))
                     ORDER BY priority DESC, run_at, id LIMIT 1
                     FOR UPDATE SKIP LOCKED",
            ))
            .bind(kinds_json.as_str())
            .fetch_optional(&mut *tx)
            .await?;
            let id = match ready {
                Some(id) => Some(id),
                None => sqlx::query_scalar(self.backend().per_backend("SELECT id FROM jobs
                         WHERE state = 'leased' AND leased_until < {now} AND attempts < max_attempts
                           AND (json_array_length($1) = 0 OR kind IN (SELECT value FROM json_each($1)))
                         ORDER BY leased_until, id LIMIT 1", "SELECT id FROM jobs
                         WHERE state = 'leased' AND leased_until < {now} AND attempts < max_attempts
                           AND (jsonb_array_length($1::jsonb) = 0
                                OR kind IN (SELECT jsonb_array_elements_text($1::jsonb)))
                         ORDER BY leased_until, id LIMIT 1
                         FOR UPDATE SKIP LOCKED"))
                    .bind(kinds_json.as_str())
                    .fetch_optional(&mut *tx)
                    .await?,
            };
            let row = match id {
                Some(id) => {
                    sqlx::query_as(self.sql(
                        "UPDATE jobs SET state = 'leased', attempts = attempts + 1,
                        lease_token = lease_token + 1, holder = $2, leased_until = {now} + $3,
                        rerun_requested = 0, updated_at = {now}
                     WHERE id = $1
                     RETURNING id, kind, dedupe_key, payload, attempts, max_attempts, lease_token,
                        leased_until",
                    ))
                    .bind(id)
                    .bind(holder)
                    .bind(lease_ms)
                    .fetch_optional(&mut *tx)
                    .await?
                }
                None => None,
            };
            tx.commit().await?;
            row
        };
        row.map(LeasedSql::into_leased).transpose()
    }

    /// Extends a lease to `lease_for` from now. `false` means the lease is
    /// lost (another holder claimed the job, or it was finished): stop work.
    pub async fn heartbeat(
        &self,
        lease: &Lease,
        lease_for: Duration,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(
            "UPDATE jobs SET leased_until = {now} + $3, updated_at = {now}
                 WHERE id = $1 AND lease_token = $2 AND state = 'leased'",
        ))
        .bind(lease.job_id.0)
        .bind(lease.token)
        .bind(duration_ms(lease_for))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Marks the job done. `false` means the lease was no longer ours and
    /// nothing changed.
    pub async fn complete(&self, lease: &Lease) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(COMPLETE_LEASED))
            .bind(lease.job_id.0)
            .bind(lease.token)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Completes a download job and marks its recording stored in one
    /// transaction, fenced by the lease: either both happen or neither
    /// (returns `false` when the lease was lost; the recording is untouched).
    pub async fn complete_with_recording_stored(
        &self,
        lease: &Lease,
        recording: &RecordingId,
        key: &StorageKey,
        sha256: &Sha256Digest,
        size: u64,
        content_type: &str,
    ) -> Result<bool, CatalogError> {
        let size = i64::try_from(size).map_err(|_| CatalogError::OutOfRange {
            column: "size_bytes",
        })?;
        {
            let mut tx = self.begin_write().await?;
            let fenced = sqlx::query(self.sql(COMPLETE_LEASED))
                .bind(lease.job_id.0)
                .bind(lease.token)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if fenced != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query(self.sql(
                "UPDATE recordings SET state = 'stored', storage_key = $2, sha256 = $3,
                    size_bytes = $4, content_type = $5, last_error = NULL, next_attempt_at = NULL,
                    stored_at = {now}, updated_at = {now}
                 WHERE id = $1 AND state <> 'stored'",
            ))
            .bind(recording.as_str())
            .bind(key.as_str())
            .bind(sha256.to_hex())
            .bind(size)
            .bind(content_type)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(true)
        }
    }

    /// Gives the job back to run again at `at` (use [`backoff`]); when this
    /// was its last allowed attempt it becomes `dead` instead. Returns the
    /// new state, or `None` when the lease was no longer ours.
    pub async fn retry(
        &self,
        lease: &Lease,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<Option<JobState>, CatalogError> {
        self.finish(lease, FinishSql::Retry, Some(at), Some(reason))
            .await
    }

    /// Reschedules the job for `at` without counting this attempt ("not ready
    /// yet": a recording that RingCentral does not serve yet). Returns the new
    /// state (`retry`), or `None` when the lease was no longer ours.
    pub async fn snooze(
        &self,
        lease: &Lease,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<Option<JobState>, CatalogError> {
        self.finish(lease, FinishSql::Snooze, Some(at), Some(reason))
            .await
    }

    /// Gives up on the job at once (`dead`), for errors no retry can fix.
    pub async fn fail(
        &self,
        lease: &Lease,
        reason: &str,
    ) -> Result<Option<JobState>, CatalogError> {
        self.finish(lease, FinishSql::Fail, None, Some(reason))
            .await
    }

    /// Returns the job to the queue, due now, without counting the attempt:
    /// for a graceful shutdown.
    pub async fn release(&self, lease: &Lease) -> Result<Option<JobState>, CatalogError> {
        self.finish(lease, FinishSql::Release, None, None).await
    }

    async fn finish(
        &self,
        lease: &Lease,
        how: FinishSql,
        at: Option<DateTime<Utc>>,
        reason: Option<&str>,
    ) -> Result<Option<JobState>, CatalogError> {
        let state: Option<String> = {
            let text = match how {
                FinishSql::Retry => self.sql(
                    "UPDATE jobs SET
                        state = CASE WHEN attempts >= max_attempts THEN 'dead' ELSE 'retry' END,
                        finished_at = CASE WHEN attempts >= max_attempts THEN {now} ELSE NULL END,
                        run_at = COALESCE($3, {now}), last_error = $4, holder = NULL,
                        leased_until = NULL, updated_at = {now}
                     WHERE id = $1 AND lease_token = $2 AND state = 'leased' RETURNING state",
                ),
                FinishSql::Snooze => self.sql(
                    "UPDATE jobs SET state = 'retry', attempts = attempts - 1,
                        run_at = CASE WHEN rerun_requested = 1 THEN {now}
                                      ELSE COALESCE($3, {now}) END,
                        rerun_requested = 0, last_error = $4, holder = NULL,
                        leased_until = NULL, updated_at = {now}
                     WHERE id = $1 AND lease_token = $2 AND state = 'leased' RETURNING state",
                ),
                FinishSql::Fail => self.sql(
                    "UPDATE jobs SET state = 'dead', finished_at = {now},
                        run_at = COALESCE($3, run_at), last_error = $4, holder = NULL,
                        leased_until = NULL, updated_at = {now}
                     WHERE id = $1 AND lease_token = $2 AND state = 'leased' RETURNING state",
                ),
                FinishSql::Release => self.sql(
                    "UPDATE jobs SET state = 'queued', attempts = attempts - 1,
                        run_at = COALESCE($3, {now}), last_error = COALESCE($4, last_error),
                        holder = NULL, leased_until = NULL, updated_at = {now}
                     WHERE id = $1 AND lease_token = $2 AND state = 'leased' RETURNING state",
                ),
            };
            sqlx::query_scalar(text)
                .bind(lease.job_id.0)
                .bind(lease.token)
                .bind(at.map(to_ms))
                .bind(reason)
                .fetch_optional(&self.pool)
                .await?
        };
        state
            .map(|s| JobState::parse(&s).ok_or_else(|| corrupt(format!("unknown state {s:?}"))))
            .transpose()
    }

    /// Moves jobs whose lease expired on their last allowed attempt to
    /// `dead`, and gives every other expired lease back to the queue, due
    /// now: its holder is gone (killed, or too slow to renew), and a claim
    /// takes an expired lease only when nothing else is due, which on a
    /// busy queue could be never. Safe to run from every worker. Returns
    /// how many died.
    pub async fn reap_expired(&self) -> Result<u64, CatalogError> {
        let n = {
            let died = sqlx::query(self.sql(
                "UPDATE jobs SET state = 'dead', finished_at = {now}, holder = NULL,
                    leased_until = NULL, last_error = 'lease expired on the last attempt',
                    updated_at = {now}
                 WHERE state = 'leased' AND leased_until < {now} AND attempts >= max_attempts",
            ))
            .execute(&self.pool)
            .await?
            .rows_affected();
            sqlx::query(self.sql(
                "UPDATE jobs SET state = 'retry', run_at = {now}, holder = NULL,
                    leased_until = NULL, last_error = 'lease expired: its holder stopped renewing it',
                    updated_at = {now}
                 WHERE state = 'leased' AND leased_until < {now} AND attempts < max_attempts"))
                .execute(&self.pool)
                .await?;
            died
        };
        Ok(n)
    }

    /// Puts a `dead` job back to `queued` with its attempts reset (an
    /// operator's retry). `false` if it is not dead, or a live twin exists.
    pub async fn requeue_dead(&self, id: JobId) -> Result<bool, CatalogError> {
        let result = sqlx::query(self.sql(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = {now}, finished_at = NULL,
                    updated_at = {now}
                 WHERE id = $1 AND state = 'dead'",
        ))
        .bind(id.0)
        .execute(&self.pool)
        .await
        .map(|r| r.rows_affected());
        match result {
            Ok(n) => Ok(n == 1),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// One job, by id.
    pub async fn job(&self, id: JobId) -> Result<Option<Job>, CatalogError> {
        let row: Option<JobSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(JobSql::into_job).transpose()
    }

    /// Jobs in `state`, oldest first, for `jobs ls --dead` and tests.
    pub async fn jobs_in_state(
        &self,
        state: JobState,
        limit: u32,
    ) -> Result<Vec<Job>, CatalogError> {
        let rows: Vec<JobSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state = $1 ORDER BY id LIMIT $2"
        )))
        .bind(state.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobSql::into_job).collect()
    }

    /// Jobs of `kind` in `state`, oldest first (the waiting session jobs a
    /// batched call-log look serves).
    pub async fn jobs_of_kind_in_state(
        &self,
        kind: &str,
        state: JobState,
        limit: u32,
    ) -> Result<Vec<Job>, CatalogError> {
        let rows: Vec<JobSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND state = $2 ORDER BY id LIMIT $3"
        )))
        .bind(kind)
        .bind(state.as_str())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(JobSql::into_job).collect()
    }

    /// How many jobs are in each state.
    pub async fn counts_by_state(&self) -> Result<JobCounts, CatalogError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM jobs GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = JobCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match JobState::parse(&state) {
                Some(JobState::Queued) => counts.queued = n,
                Some(JobState::Leased) => counts.leased = n,
                Some(JobState::Retry) => counts.retry = n,
                Some(JobState::Done) => counts.done = n,
                Some(JobState::Dead) => counts.dead = n,
                None => return Err(corrupt(format!("unknown state {state:?}"))),
            }
        }
        Ok(counts)
    }

    /// How many jobs of `kind` are live (queued, leased or waiting for a
    /// retry): cheap, through the live-dedupe index, for `/metrics`.
    pub async fn live_jobs_of_kind(&self, kind: &str) -> Result<u64, CatalogError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM jobs WHERE kind = $1 AND state IN ('queued', 'leased', 'retry')",
        )
        .bind(kind)
        .fetch_one(&self.pool)
        .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// When the next job of `kinds` (any when empty) becomes claimable:
    /// the earliest due time of a waiting job or lease expiry. `None` when
    /// no live job exists. Workers sleep until then (or a wake-up).
    pub async fn next_run_at(&self, kinds: &[&str]) -> Result<Option<DateTime<Utc>>, CatalogError> {
        let kinds_json = serde_json::to_string(kinds)?;
        let at: Option<i64> = sqlx::query_scalar(self.backend().per_backend("SELECT MIN(CASE WHEN state = 'leased' THEN leased_until ELSE run_at END) FROM jobs
                     WHERE state IN ('queued', 'retry', 'leased')
                       AND (json_array_length($1) = 0 OR kind IN (SELECT value FROM json_each($1)))", "SELECT MIN(CASE WHEN state = 'leased' THEN leased_until ELSE run_at END) FROM jobs
                     WHERE state IN ('queued', 'retry', 'leased')
                       AND (jsonb_array_length($1::jsonb) = 0
                            OR kind IN (SELECT jsonb_array_elements_text($1::jsonb)))"))
                .bind(kinds_json.as_str())
                .fetch_one(&self.pool)
                .await?;
        from_opt_ms(TABLE, at)
    }

    /// Deletes `done` jobs finished more than `older_than` ago. Returns how many.
    pub async fn prune_done(&self, older_than: Duration) -> Result<u64, CatalogError> {
        let n = sqlx::query(
            self.sql("DELETE FROM jobs WHERE state = 'done' AND finished_at < {now} - $1"),
        )
        .bind(duration_ms(older_than))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n)
    }

    /// Jobs in any of `states`, of `kind` when given, newest first (highest
    /// id), at most `limit`: for `callvault jobs ls`, where an operator looks
    /// for what went wrong lately. No states, no jobs.
    pub async fn list_jobs(
        &self,
        states: &[JobState],
        kind: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Job>, CatalogError> {
        if states.is_empty() {
            return Ok(Vec::new());
        }
        // The states are this module's own constants, never user text, so
        // they may be spelled into the SQL; the kind is bound.
        let states = states
            .iter()
            .map(|s| format!("'{}'", s.as_str()))
            .collect::<Vec<_>>()
            .join(", ");
        let (kind_clause, limit_param) = match kind {
            Some(_) => ("AND kind = $1", "$2"),
            None => ("", "$1"),
        };
        let text = format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE state IN ({states}) {kind_clause}
             ORDER BY id DESC LIMIT {limit_param}"
        );
        let rows: Vec<JobSql> = {
            let mut query = sqlx::query_as(sqlx::AssertSqlSafe(text));
            if let Some(kind) = kind {
                query = query.bind(kind);
            }
            query.bind(i64::from(limit)).fetch_all(&self.pool).await?
        };
        rows.into_iter().map(JobSql::into_job).collect()
    }

    /// The live job (`queued`, `leased` or `retry`) with this kind and dedupe
    /// key, if any: the twin that makes [`Catalog::requeue_dead`] refuse a
    /// dead job (two live jobs would do the same work), named so an operator
    /// learns why.
    pub async fn live_job(
        &self,
        kind: &str,
        dedupe_key: &str,
    ) -> Result<Option<Job>, CatalogError> {
        let row: Option<JobSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE kind = $1 AND dedupe_key = $2
                   AND state IN ('queued', 'leased', 'retry')"
        )))
        .bind(kind)
        .bind(dedupe_key)
        .fetch_optional(&self.pool)
        .await?;
        row.map(JobSql::into_job).transpose()
    }
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

impl Catalog {
    /// A listener for cross-process enqueue notifications, on PostgreSQL;
    /// `None` on SQLite (use an in-process `tokio::sync::Notify` there).
    /// Needs a session-pooled connection (not pgbouncer transaction mode).
    pub async fn job_listener(&self) -> Result<Option<JobListener>, CatalogError> {
        let Some(url) = self.postgres_url() else {
            return Ok(None);
        };
        let mut listener = sqlx::postgres::PgListener::connect(url).await?;
        listener.listen("callvault_jobs").await?;
        Ok(Some(JobListener { listener }))
    }
}

#[derive(Clone, Copy)]
enum FinishSql {
    Retry,
    Snooze,
    Fail,
    Release,
}

/// The body of [`Catalog::enqueue`] inside the caller's write transaction
/// `$tx`; yields the [`Enqueued`].
pub(crate) async fn enqueue_in(tx: &mut Tx<'_>, job: &NewJob) -> Result<Enqueued, CatalogError> {
    let payload = serde_json::to_string(&job.payload)?;
    let mut outcome = None;
    // Two tries: on PostgreSQL the live twin may finish between our
    // insert and lookup (each statement sees what is committed then).
    for _ in 0..2 {
        let created: Option<i64> = sqlx::query_scalar(tx.sql(
            "INSERT INTO jobs (kind, dedupe_key, payload, priority, run_at, max_attempts,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, COALESCE($5, {now}), $6, {now}, {now})
             ON CONFLICT (kind, dedupe_key) WHERE state IN ('queued', 'leased', 'retry')
             DO NOTHING RETURNING id",
        ))
        .bind(job.kind.as_str())
        .bind(job.dedupe_key.as_str())
        .bind(payload.as_str())
        .bind(job.priority)
        .bind(job.run_at.map(crate::time::to_ms))
        .bind(i64::from(job.max_attempts))
        .fetch_optional(tx.conn())
        .await?;
        if let Some(id) = created {
            if tx.backend() == crate::Backend::Postgres {
                // A wake-up hint for other processes' listeners (sent at
                // commit); workers still poll.
                sqlx::query("SELECT pg_notify('callvault_jobs', $1)")
                    .bind(job.kind.as_str())
                    .execute(tx.conn())
                    .await?;
            }
            outcome = Some(crate::Enqueued::Created(crate::JobId::new(id)));
            break;
        }
        let live: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM jobs WHERE kind = $1 AND dedupe_key = $2
               AND state IN ('queued', 'leased', 'retry')",
        )
        .bind(job.kind.as_str())
        .bind(job.dedupe_key.as_str())
        .fetch_optional(tx.conn())
        .await?;
        if let Some(id) = live {
            // Asked for again with more urgency (a live call's look
            // lists what a backfill queued): it moves up.
            sqlx::query("UPDATE jobs SET priority = $2 WHERE id = $1 AND priority < $2")
                .bind(id)
                .bind(job.priority)
                .execute(tx.conn())
                .await?;
            outcome = Some(crate::Enqueued::AlreadyLive(crate::JobId::new(id)));
            break;
        }
    }
    outcome.ok_or_else(|| CatalogError::CorruptRow {
        table: "jobs",
        what: "dedupe conflict without a live job".into(),
    })
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
