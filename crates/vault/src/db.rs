//! Opening the catalog database, its transactions, and the one place that
//! decides per-backend SQL.
//!
//! One [`Catalog`] type serves SQLite and PostgreSQL through sqlx's `Any`
//! driver: one pool type, one transaction type ([`Tx`]), and every query
//! function written once as a plain `async fn`. Statements are written once
//! with `$1`-style parameters (sqlx accepts them on both) and with the
//! marker `{now}` for the database clock in milliseconds, which
//! [`Backend::sql`] expands. Only where the dialects really differ (the
//! queue's claim, the receiver's group commit) is there a statement per
//! backend, chosen by [`Backend::per_backend`].
//!
//! Why `Any` and not an enum of the two concrete transactions: with an enum
//! every query would need a hand-written argument and row layer to be
//! written once; `Any` is that layer, kept by sqlx. Its limits are few and
//! handled here: it decodes only booleans, integers, floats, text and
//! bytes (timestamps are already integer milliseconds, JSON is text), a
//! boolean comes back as an integer from SQLite (read it through [`Flag`]),
//! and it binds no arrays. The one statement that needs arrays, the
//! webhook receiver's group commit on PostgreSQL, runs on a typed pool of
//! its own ([`Catalog::pg_native`]), connected only when used: sent as text
//! literals through `Any`, its arrays were escaped here and parsed again by
//! the server. Bulk rows elsewhere go as one JSON text instead (see
//! `search_index::insert_terms`).

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{LazyLock, RwLock};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions, AnyTypeInfo, AnyTypeInfoKind, AnyValueRef};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Any, AnyConnection, AnyPool, ConnectOptions, Decode, Executor, Transaction, Type};

use crate::error::CatalogError;

/// The database clock in ms, SQLite dialect (needs SQLite ≥ 3.42; sqlx bundles 3.51).
const SQLITE_NOW: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
/// The database clock in ms, PostgreSQL dialect (`clock_timestamp`, not the
/// transaction start, so long transactions still see time move).
const PG_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// Which database a [`Catalog`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// A SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Statement texts with `{now}` expanded, per backend; each text is
/// expanded once and kept for the life of the process (the set of
/// statements is fixed by the code, so this stays small).
static EXPANDED: LazyLock<RwLock<HashMap<(Backend, &'static str), &'static str>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

impl Backend {
    /// `text` for this backend: its `{now}` marker becomes the database
    /// clock in milliseconds.
    pub(crate) fn sql(self, text: &'static str) -> &'static str {
        if !text.contains("{now}") {
            return text;
        }
        let key = (self, text);
        if let Some(done) = EXPANDED.read().ok().and_then(|m| m.get(&key).copied()) {
            return done;
        }
        let now = match self {
            Backend::Sqlite => SQLITE_NOW,
            Backend::Postgres => PG_NOW,
        };
        let expanded: &'static str = Box::leak(text.replace("{now}", now).into_boxed_str());
        match EXPANDED.write() {
            Ok(mut m) => m.entry(key).or_insert(expanded),
            Err(_) => expanded,
        }
    }

    /// The database clock in milliseconds, as an SQL expression.
    pub(crate) fn now(self) -> &'static str {
        self.sql("{now}")
    }

    /// Like [`Backend::sql`], for a statement whose text differs per backend.
    pub(crate) fn per_backend(self, sqlite: &'static str, postgres: &'static str) -> &'static str {
        match self {
            Backend::Sqlite => self.sql(sqlite),
            Backend::Postgres => self.sql(postgres),
        }
    }
}

/// The advisory-lock key that serialises ledger batches on PostgreSQL
/// ("ledger" in ASCII).
const LEDGER_LOCK: i64 = 0x6c65_6467_6572;

/// The key every PostgreSQL audit appender locks: "CVAUDIT" in ASCII,
/// distinct from the gateway's session lock.
const AUDIT_LOCK: i64 = 0x0043_5641_5544_4954;

/// The key placing a legal hold and the hold fence lock on PostgreSQL
/// ("CVHOLDS" in ASCII); see `hold_fence`.
const HOLDS_LOCK: i64 = 0x0043_5648_4f4c_4453;

/// An open transaction on the catalog's backend. Query functions take
/// `&mut Tx<'_>` and run their statements on [`Tx::conn`]; nothing is kept
/// unless [`Tx::commit`] is called.
#[derive(Debug)]
pub(crate) struct Tx<'c> {
    inner: Transaction<'c, Any>,
    backend: Backend,
}

impl std::ops::Deref for Tx<'_> {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        &self.inner
    }
}

impl std::ops::DerefMut for Tx<'_> {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }
}

impl Tx<'_> {
    /// The backend this transaction runs on.
    pub(crate) fn backend(&self) -> Backend {
        self.backend
    }

    /// `text` for this transaction's backend (see [`Backend::sql`]).
    pub(crate) fn sql(&self, text: &'static str) -> &'static str {
        self.backend.sql(text)
    }

    /// The connection to run statements on.
    pub(crate) fn conn(&mut self) -> &mut AnyConnection {
        &mut self.inner
    }

    /// Keeps everything the transaction wrote.
    pub(crate) async fn commit(self) -> Result<(), CatalogError> {
        Ok(self.inner.commit().await?)
    }

    /// Drops everything the transaction wrote (as dropping it would, but
    /// reported).
    pub(crate) async fn rollback(self) -> Result<(), CatalogError> {
        Ok(self.inner.rollback().await?)
    }

    /// On PostgreSQL, waits for the ledger's lock (held to the end of the
    /// transaction), so that one ledger writer runs at a time as on SQLite,
    /// whose write lock already serialises: two batches (a safety-net sync
    /// and a session job) locking the same conversations in different
    /// orders would deadlock.
    pub(crate) async fn serialise_with_ledger(&mut self) -> Result<(), CatalogError> {
        self.advisory_lock(LEDGER_LOCK).await
    }

    /// On PostgreSQL, waits for the audit chain's lock (held to the end of
    /// the transaction); on SQLite the write transaction already is the
    /// lock (`BEGIN IMMEDIATE`).
    pub(crate) async fn serialise_with_audit(&mut self) -> Result<(), CatalogError> {
        self.advisory_lock(AUDIT_LOCK).await
    }

    /// On PostgreSQL, waits for the holds lock (held to the end of the
    /// transaction), so that a hold is never placed while a hold fence
    /// stands (`hold_fence`); on SQLite the write transaction already is
    /// the lock.
    pub(crate) async fn serialise_with_holds(&mut self) -> Result<(), CatalogError> {
        self.advisory_lock(HOLDS_LOCK).await
    }

    async fn advisory_lock(&mut self, key: i64) -> Result<(), CatalogError> {
        if self.backend == Backend::Postgres {
            // `pg_advisory_xact_lock` returns `void`, which the Any driver
            // cannot decode: select a constant after it instead.
            sqlx::query_scalar::<_, i32>("SELECT 1 FROM (SELECT pg_advisory_xact_lock($1)) AS l")
                .bind(key)
                .fetch_one(self.conn())
                .await?;
        }
        Ok(())
    }
}

/// Inside `tx`, replaces the members of one set: runs `delete` with `key`,
/// then `insert` with (`key`, member) for each of `members`.
pub(crate) async fn replace_set<'k, K>(
    tx: &mut Tx<'_>,
    delete: &'static str,
    insert: &'static str,
    key: K,
    members: &'k [String],
) -> Result<(), CatalogError>
where
    K: sqlx::Encode<'k, Any> + Type<Any> + Copy + Send + 'k,
{
    sqlx::query(delete).bind(key).execute(tx.conn()).await?;
    for member in members {
        sqlx::query(insert)
            .bind(key)
            .bind(member.as_str())
            .execute(tx.conn())
            .await?;
    }
    Ok(())
}

/// A boolean read from either backend: PostgreSQL returns `BOOLEAN`,
/// SQLite an integer (0 or 1). Select a SQLite `BOOLEAN` column through
/// `CAST(col AS INTEGER)`, as the Any driver rejects that declared type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Flag(pub(crate) bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: AnyValueRef<'r>) -> Result<Self, BoxDynError> {
        match <bool as Decode<Any>>::decode(value.clone()) {
            Ok(b) => Ok(Flag(b)),
            Err(_) => Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0)),
        }
    }
}

/// The ledger: call records, legs, recordings, conversations, watermarks and
/// the job queue, in one SQLite file or one PostgreSQL database.
///
/// Cheap to clone (a pool handle); share one per process.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) pool: AnyPool,
    backend: Backend,
    /// The PostgreSQL URL, for [`crate::JobListener`]'s own connection.
    postgres_url: Option<Secret>,
    /// On PostgreSQL, a typed pool for the statements `Any` cannot bind
    /// (arrays); it connects on first use, so a process that never runs
    /// them opens no connection for it.
    pg_native: Option<PgPool>,
}

/// Connections of each PostgreSQL pool. The typed pool opens them only
/// when used: the receiver's one committer holds one, and a caller that
/// commits batches concurrently (a benchmark's one-per-request baseline)
/// sees the same concurrency as on the main pool.
const PG_CONNECTIONS: u32 = 16;

/// A URL that may hold a password: its `Debug` shows no part of it, so a
/// logged `Catalog` leaks nothing.
#[derive(Clone)]
struct Secret(String);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Connections of a SQLite pool (see [`Catalog::open`]).
const SQLITE_CONNECTIONS: u32 = 4;

/// What every SQLite connection is set to when it opens: WAL journal,
/// `synchronous=NORMAL` (durable at each checkpoint, never corrupt), a 10 s
/// busy timeout. Foreign keys are on by sqlx's default.
const SQLITE_SESSION: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON;";

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Catalog {
    /// Connects to `url` and brings the schema up to date.
    ///
    /// * `sqlite:/path/file.sqlite` (or `sqlite://…`; `?mode=rwc` accepted):
    ///   the file and its folder are created if missing; WAL journal,
    ///   `synchronous=NORMAL`, a 10 s busy timeout, foreign keys on.
    /// * `postgres://user@host/db` (or `postgresql://`); add
    ///   `?options[search_path]=schema` to work inside one schema.
    ///
    /// Running it again on a migrated database changes nothing.
    pub async fn open(url: &str) -> Result<Self, CatalogError> {
        sqlx::any::install_default_drivers();
        let catalog = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(CatalogError::BadUrl)?
                .create_if_missing(true);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| CatalogError::CreateDir {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            let any = AnyConnectOptions::from_url(&options.to_url_lossy())
                .map_err(CatalogError::BadUrl)?;
            // SQLite writes one transaction at a time and each connection is
            // a thread with its own page cache: four cover the readers and
            // the writer of one process on a small machine, and keep a
            // sync's memory bounded.
            let pool = AnyPoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .after_connect(|conn, _meta| {
                    Box::pin(async move {
                        conn.execute(SQLITE_SESSION).await?;
                        Ok(())
                    })
                })
                .connect_with(any)
                .await?;
            Catalog {
                pool,
                backend: Backend::Sqlite,
                postgres_url: None,
                pg_native: None,
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            // Parsed by the PostgreSQL driver first, so a bad URL is
            // reported as such before any connection is tried.
            let native = PgConnectOptions::from_str(url).map_err(CatalogError::BadUrl)?;
            let any = AnyConnectOptions::from_str(url).map_err(CatalogError::BadUrl)?;
            let pool = AnyPoolOptions::new()
                .max_connections(PG_CONNECTIONS)
                .connect_with(any)
                .await?;
            Catalog {
                pool,
                backend: Backend::Postgres,
                postgres_url: Some(Secret(url.to_owned())),
                pg_native: Some(
                    PgPoolOptions::new()
                        .max_connections(PG_CONNECTIONS)
                        .connect_lazy_with(native),
                ),
            }
        } else {
            return Err(CatalogError::UnsupportedUrl);
        };
        catalog.migrate().await?;
        catalog.rebuild_search_index_if_pending().await?;
        catalog.chain_legacy_audit_log().await?;
        Ok(catalog)
    }

    /// Applies any migration not yet applied (both backends keep their own
    /// history table, `_sqlx_migrations`).
    pub async fn migrate(&self) -> Result<(), CatalogError> {
        match self.backend {
            Backend::Sqlite => SQLITE_MIGRATOR.run(&self.pool).await?,
            Backend::Postgres => PG_MIGRATOR.run(&self.pool).await?,
        }
        Ok(())
    }

    /// Which backend this catalog uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// `text` for this catalog's backend (see [`Backend::sql`]).
    pub(crate) fn sql(&self, text: &'static str) -> &'static str {
        self.backend.sql(text)
    }

    /// The PostgreSQL URL this catalog was opened with, for callers that
    /// need a PostgreSQL-only feature on a connection of their own (a
    /// session-level advisory lock, `LISTEN`); `None` on SQLite.
    pub fn postgres_url(&self) -> Option<&str> {
        self.postgres_url.as_ref().map(|s| s.0.as_str())
    }

    /// The typed PostgreSQL pool, for a statement that binds arrays; `None`
    /// exactly when the backend is SQLite.
    pub(crate) fn pg_native(&self) -> Option<&PgPool> {
        self.pg_native.as_ref()
    }

    /// Opens a transaction that will only read, or write without first
    /// reading what it writes.
    pub(crate) async fn begin(&self) -> Result<Tx<'static>, CatalogError> {
        Ok(Tx {
            inner: self.pool.begin().await?,
            backend: self.backend,
        })
    }

    /// Opens a transaction that will write. On SQLite it takes the write
    /// lock at once (`BEGIN IMMEDIATE`): a deferred transaction that reads
    /// first and writes later fails with "database is locked" instead of
    /// waiting when another writer committed in between.
    pub(crate) async fn begin_write(&self) -> Result<Tx<'static>, CatalogError> {
        let inner = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(Tx {
            inner,
            backend: self.backend,
        })
    }

    /// Whether the database answers; for readiness probes.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes every pooled connection; waits for checked-out ones.
    pub async fn close(&self) {
        self.pool.close().await;
        if let Some(native) = &self.pg_native {
            native.close().await;
        }
    }

    /// The database clock, in the form every timestamp column uses.
    pub async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, CatalogError> {
        let ms: i64 = sqlx::query_scalar(self.sql("SELECT {now}"))
            .fetch_one(&self.pool)
            .await?;
        crate::time::from_ms("now", ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_expanded_per_backend_and_kept() {
        let text = "SELECT {now}";
        let lite = Backend::Sqlite.sql(text);
        assert_eq!(lite, format!("SELECT {SQLITE_NOW}"));
        assert!(std::ptr::eq(lite, Backend::Sqlite.sql(text)));
        assert_eq!(Backend::Postgres.sql(text), format!("SELECT {PG_NOW}"));
        assert_eq!(Backend::Sqlite.sql("SELECT 1"), "SELECT 1");
    }

    #[tokio::test]
    async fn every_sqlite_connection_runs_in_wal_with_normal_sync_and_a_10_s_busy_timeout() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite:{}", dir.path().join("c.sqlite").display());
        let catalog = Catalog::open(&url).await.unwrap();
        for _ in 0..SQLITE_CONNECTIONS {
            let mut conn = catalog.pool.acquire().await.unwrap();
            let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let sync: i64 = sqlx::query_scalar("PRAGMA synchronous")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let busy: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            let keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            assert_eq!((mode.as_str(), sync, busy, keys), ("wal", 1, 10_000, 1));
        }
    }
}
