//! Adding jobs: one at a time, or inside a ledger transaction.

use chrono::{DateTime, Utc};

use super::{Enqueued, JobId, NewJob};
use crate::db::{Catalog, Tx};
use crate::error::CatalogError;
use crate::time::to_ms;

impl Catalog {
    /// Adds a job unless a live one (`queued`, `leased`, `retry`) with the same
    /// kind and dedupe key exists; that one takes the new job's priority when
    /// it is higher.
    pub async fn enqueue(&self, job: &NewJob) -> Result<Enqueued, CatalogError> {
        let mut tx = self.begin_write().await?;
        let enqueued = enqueue_in(&mut tx, job).await?;
        tx.commit().await?;
        Ok(enqueued)
    }

    /// Makes the live job with this kind and dedupe key run again now,
    /// because something it waits for has happened. A waiting job becomes
    /// due now; a leased one is marked so that when its holder finishes the
    /// lease (completes or snoozes it) it runs again at once: its run began
    /// before the news and may have missed it. Returns whether a job was
    /// found.
    pub async fn run_now(&self, kind: &str, dedupe_key: &str) -> Result<bool, CatalogError> {
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

    /// Makes the waiting job with this kind and dedupe key due no later than
    /// `at` (a request for it came sooner than it was planned). Returns
    /// whether one was moved.
    pub async fn due_by(
        &self,
        kind: &str,
        dedupe_key: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogError> {
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

/// [`Catalog::enqueue`] inside the caller's write transaction `tx` (so the
/// ledger can enqueue a page's downloads with its rows).
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
        .bind(job.run_at.map(to_ms))
        .bind(i64::from(job.max_attempts))
        .fetch_optional(tx.conn())
        .await?;
        if let Some(id) = created {
            if tx.backend() == crate::db::Backend::Postgres {
                // A wake-up hint for other processes' listeners (sent at
                // commit); workers still poll.
                sqlx::query("SELECT pg_notify('callvault_jobs', $1)")
                    .bind(job.kind.as_str())
                    .execute(tx.conn())
                    .await?;
            }
            outcome = Some(Enqueued::Created(JobId::new(id)));
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
            outcome = Some(Enqueued::AlreadyLive(JobId::new(id)));
            break;
        }
    }
    outcome.ok_or_else(|| CatalogError::corrupt("jobs", "dedupe conflict without a live job"))
}
