//! Claiming a job under a lease, and every write that finishes one, fenced
//! by the lease token.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::db::Catalog;

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
            .map(|s| {
                JobState::parse(&s)
                    .ok_or_else(|| CatalogError::corrupt(TABLE, format!("unknown state {s:?}")))
            })
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
}

#[derive(Clone, Copy)]
enum FinishSql {
    Retry,
    Snooze,
    Fail,
    Release,
}
