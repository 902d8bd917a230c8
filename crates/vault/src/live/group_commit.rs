//! The webhook receiver's group commit: many notifications, and the jobs
//! their arrival triggers, in ONE durable transaction (durability: the
//! parent module's doc).
//!
//! Batch sizes change from one commit to the next. On SQLite a multi-row
//! `INSERT … VALUES` per batch is cheap: statements compile in-process. On
//! PostgreSQL every distinct statement text is parsed and planned by the
//! server and takes a slot in the connection's statement cache, so batches
//! of 33 and 34 rows would each be prepared afresh (and evict each other).
//! There the rows go as arrays into one fixed statement
//! (`INSERT … SELECT … FROM UNNEST(…)`), prepared once per connection
//! whatever the batch size. `Any` binds no arrays, so this transaction runs
//! on the catalog's typed PostgreSQL pool and binds native ones: as text
//! array literals, every JSON body was escaped here and parsed again there.

use std::collections::hash_map::Entry;
use std::collections::{BTreeSet, HashMap, HashSet};

use sqlx::{Any, AnyPool, Connection, PgPool, QueryBuilder};

use super::NotificationWrite;
use crate::db::{Backend, Catalog};
use crate::error::CatalogError;
use crate::queue::NewJob;
use crate::time::to_ms;

/// Rows per multi-row `INSERT` on SQLite: 6 parameters each stays far below
/// its 32,766 bind parameters.
const SQLITE_ROWS_PER_STATEMENT: usize = 500;

/// One notification row, borrowed from the batch.
struct NotificationRow<'a> {
    uuid: &'a str,
    telephony_session_id: Option<&'a str>,
    sequence: Option<i64>,
    event_time: Option<i64>,
    body: &'a str,
}

/// One job row to insert.
struct JobRow {
    kind: String,
    dedupe_key: String,
    payload: String,
    priority: i64,
    run_at: Option<i64>,
    max_attempts: i64,
}

/// What a batch asks to write: the first occurrence of each `uuid` (later
/// ones are duplicates whatever the database says), in key order so that
/// concurrent batches lock rows in one order and cannot deadlock, and the
/// jobs those first occurrences would trigger.
struct Plan<'a> {
    rows: Vec<NotificationRow<'a>>,
    jobs: Vec<(&'a str, &'a NewJob)>,
    first: HashMap<&'a str, usize>,
}

impl<'a> Plan<'a> {
    fn of(batch: &'a [NotificationWrite]) -> Self {
        let mut first = HashMap::with_capacity(batch.len());
        let mut rows = Vec::with_capacity(batch.len());
        let mut jobs = Vec::new();
        for (i, w) in batch.iter().enumerate() {
            let n = &w.notification;
            if let Entry::Vacant(e) = first.entry(n.uuid.as_str()) {
                e.insert(i);
                rows.push(NotificationRow {
                    uuid: &n.uuid,
                    telephony_session_id: n.telephony_session_id.as_ref().map(|t| t.as_str()),
                    sequence: n.sequence,
                    event_time: n.event_time.map(to_ms),
                    body: &n.body,
                });
                if let Some(job) = &w.job {
                    jobs.push((n.uuid.as_str(), job));
                }
            }
        }
        rows.sort_by(|a, b| a.uuid.cmp(b.uuid));
        Plan { rows, jobs, first }
    }

    /// The jobs of the notifications that turned out new, the first of each
    /// identity, in key order. A redelivery must not queue its follow-up
    /// again.
    fn new_jobs(&self, inserted: &HashSet<String>) -> Result<Vec<JobRow>, CatalogError> {
        let mut seen = HashSet::new();
        let mut rows = self
            .jobs
            .iter()
            .filter(|(uuid, _)| inserted.contains(*uuid))
            .map(|(_, j)| j)
            .filter(|j| seen.insert((j.kind.as_str(), j.dedupe_key.as_str())))
            .map(|j| {
                Ok(JobRow {
                    kind: j.kind.clone(),
                    dedupe_key: j.dedupe_key.clone(),
                    payload: serde_json::to_string(&j.payload)?,
                    priority: j.priority,
                    run_at: j.run_at.map(to_ms),
                    max_attempts: i64::from(j.max_attempts),
                })
            })
            .collect::<Result<Vec<_>, CatalogError>>()?;
        rows.sort_by(|a, b| (&a.kind, &a.dedupe_key).cmp(&(&b.kind, &b.dedupe_key)));
        Ok(rows)
    }
}

impl Catalog {
    /// Commits a batch of notifications and the jobs they trigger in ONE
    /// transaction (the webhook receiver's group commit), durably (see the
    /// module doc). Returns, per item in order, `true` if it was new and
    /// `false` if its `uuid` was already stored or appeared earlier in the
    /// same batch. All or nothing: on an error nothing of the batch is stored.
    pub async fn commit_notifications(
        &self,
        batch: &[NotificationWrite],
    ) -> Result<Vec<bool>, CatalogError> {
        let plan = Plan::of(batch);
        let inserted = match self.pg_native() {
            None => commit_sqlite(&self.pool, &plan).await?,
            Some(native) => commit_postgres(native, &plan).await?,
        };
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let uuid = w.notification.uuid.as_str();
                plan.first.get(uuid) == Some(&i) && inserted.contains(uuid)
            })
            .collect())
    }
}

/// SQLite: this commit alone runs with `synchronous = FULL` (the WAL is
/// fsync'd before it returns); the connection goes back to `NORMAL`.
async fn commit_sqlite(pool: &AnyPool, plan: &Plan<'_>) -> Result<HashSet<String>, CatalogError> {
    let now = Backend::Sqlite.now();
    let mut conn = pool.acquire().await?;
    // Per connection, and not allowed inside a transaction.
    sqlx::query("PRAGMA synchronous = FULL")
        .execute(&mut *conn)
        .await?;
    let committed = async {
        let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
        let mut inserted = HashSet::with_capacity(plan.rows.len());
        for chunk in plan.rows.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Any>::new(
                "INSERT INTO notifications (uuid, telephony_session_id, sequence, \
                 event_time, body, received_at) ",
            );
            q.push_values(chunk, |mut row, n| {
                row.push_bind(n.uuid)
                    .push_bind(n.telephony_session_id)
                    .push_bind(n.sequence)
                    .push_bind(n.event_time)
                    .push_bind(n.body)
                    .push(now);
            });
            q.push(" ON CONFLICT (uuid) DO NOTHING RETURNING uuid");
            let got: Vec<String> = q.build_query_scalar().fetch_all(&mut *tx).await?;
            inserted.extend(got);
        }
        let jobs = plan.new_jobs(&inserted)?;
        for chunk in jobs.chunks(SQLITE_ROWS_PER_STATEMENT) {
            let mut q = QueryBuilder::<Any>::new(
                "INSERT INTO jobs (kind, dedupe_key, payload, priority, run_at, \
                 max_attempts, created_at, updated_at) ",
            );
            q.push_values(chunk, |mut row, j| {
                row.push_bind(j.kind.as_str())
                    .push_bind(j.dedupe_key.as_str())
                    .push_bind(j.payload.as_str())
                    .push_bind(j.priority)
                    .push_unseparated(", COALESCE(")
                    .push_bind_unseparated(j.run_at)
                    .push_unseparated(format!(", {now})"))
                    .push_bind(j.max_attempts)
                    .push(now)
                    .push(now);
            });
            q.push(
                " ON CONFLICT (kind, dedupe_key) WHERE state IN ('queued', 'leased', 'retry') \
                 DO NOTHING",
            );
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok::<_, CatalogError>(inserted)
    }
    .await;
    if sqlx::query("PRAGMA synchronous = NORMAL")
        .execute(&mut *conn)
        .await
        .is_err()
    {
        // Never hand the pool a connection left in an unknown mode.
        conn.close_on_drop();
    }
    committed
}

/// PostgreSQL: two fixed statements fed with native arrays on the typed
/// pool, and a wake-up hint for other processes' queue listeners, sent at
/// commit.
async fn commit_postgres(pool: &PgPool, plan: &Plan<'_>) -> Result<HashSet<String>, CatalogError> {
    let rows = &plan.rows;
    let mut tx = pool.begin().await?;
    let got: Vec<String> = sqlx::query_scalar(Backend::Postgres.sql(
        "INSERT INTO notifications (uuid, telephony_session_id, sequence, event_time, body,
            received_at)
         SELECT r.uuid, r.tsid, r.seq, r.at, r.body, {now}
         FROM UNNEST($1::text[], $2::text[], $3::int8[], $4::int8[], $5::text[])
              AS r(uuid, tsid, seq, at, body)
         ORDER BY r.uuid
         ON CONFLICT (uuid) DO NOTHING RETURNING uuid",
    ))
    .bind(rows.iter().map(|n| n.uuid).collect::<Vec<_>>())
    .bind(
        rows.iter()
            .map(|n| n.telephony_session_id)
            .collect::<Vec<_>>(),
    )
    .bind(rows.iter().map(|n| n.sequence).collect::<Vec<_>>())
    .bind(rows.iter().map(|n| n.event_time).collect::<Vec<_>>())
    .bind(rows.iter().map(|n| n.body).collect::<Vec<_>>())
    .fetch_all(&mut *tx)
    .await?;
    let inserted: HashSet<String> = got.into_iter().collect();
    let jobs = plan.new_jobs(&inserted)?;
    if !jobs.is_empty() {
        let kinds: Vec<String> = sqlx::query_scalar(Backend::Postgres.sql(
            "INSERT INTO jobs (kind, dedupe_key, payload, priority, run_at, max_attempts,
                created_at, updated_at)
             SELECT j.kind, j.key, j.payload, j.priority, COALESCE(j.run_at, {now}),
                    j.max_attempts, {now}, {now}
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int8[], $5::int8[], $6::int8[])
                  AS j(kind, key, payload, priority, run_at, max_attempts)
             ORDER BY j.kind, j.key
             ON CONFLICT (kind, dedupe_key) WHERE state IN ('queued', 'leased', 'retry')
             DO NOTHING RETURNING kind",
        ))
        .bind(jobs.iter().map(|j| j.kind.as_str()).collect::<Vec<_>>())
        .bind(
            jobs.iter()
                .map(|j| j.dedupe_key.as_str())
                .collect::<Vec<_>>(),
        )
        .bind(jobs.iter().map(|j| j.payload.as_str()).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.priority).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.run_at).collect::<Vec<_>>())
        .bind(jobs.iter().map(|j| j.max_attempts).collect::<Vec<_>>())
        .fetch_all(&mut *tx)
        .await?;
        for kind in kinds.into_iter().collect::<BTreeSet<_>>() {
            sqlx::query("SELECT pg_notify('callvault_jobs', $1)")
                .bind(kind)
                .execute(&mut *tx)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(inserted)
}
