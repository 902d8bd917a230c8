//! What operators and the web pages read and fix: one job, lists, counts,
//! requeueing the dead, pruning, and the cross-process wake-up listener.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::*;
use crate::db::Catalog;

impl Catalog {
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
                None => {
                    return Err(CatalogError::corrupt(
                        TABLE,
                        format!("unknown state {state:?}"),
                    ));
                }
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
