//! Opening the catalog database and running its migrations.
//!
//! One [`Catalog`] type serves SQLite and PostgreSQL. Statements are written
//! once with `$1`-style parameters (sqlx accepts them on both) and with the
//! marker `{now}` for the database clock in milliseconds, which [`sql!`]
//! expands per backend. Only where the dialects really differ (the queue's
//! claim) is there a statement per backend.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::CatalogError;

/// The database clock in ms, SQLite dialect (needs SQLite ≥ 3.42; sqlx bundles 3.51).
pub(crate) const SQLITE_NOW: &str = "CAST(unixepoch('subsec') * 1000 AS INTEGER)";
/// The database clock in ms, PostgreSQL dialect (`clock_timestamp`, not the
/// transaction start, so long transactions still see time move).
pub(crate) const PG_NOW: &str = "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)";

/// Which database a [`Catalog`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (WAL mode).
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Expands a statement's `{now}` marker for `$backend` once per call site and
/// yields a `&'static str`.
macro_rules! sql {
    ($backend:expr, $text:expr) => {{
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $text.replace("{now}", $crate::db::SQLITE_NOW));
        static PG: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $text.replace("{now}", $crate::db::PG_NOW));
        match $backend {
            $crate::db::Backend::Sqlite => SQLITE.as_str(),
            $crate::db::Backend::Postgres => PG.as_str(),
        }
    }};
}
pub(crate) use sql;

/// Like [`sql!`], for a statement whose text differs per backend.
macro_rules! sql_per_backend {
    ($backend:expr, sqlite: $sqlite:literal, postgres: $pg:literal) => {{
        static SQLITE: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $sqlite.replace("{now}", $crate::db::SQLITE_NOW));
        static PG: std::sync::LazyLock<String> =
            std::sync::LazyLock::new(|| $pg.replace("{now}", $crate::db::PG_NOW));
        match $backend {
            $crate::db::Backend::Sqlite => SQLITE.as_str(),
            $crate::db::Backend::Postgres => PG.as_str(),
        }
    }};
}
pub(crate) use sql_per_backend;

/// Runs `$body` with `$pool` bound to the concrete pool and `$backend` to its
/// [`Backend`]. The body is compiled once per backend, so generic sqlx code
/// (binds, `FromRow`) serves both.
macro_rules! with_pool {
    ($catalog:expr, $pool:ident, $backend:ident => $body:expr) => {
        match &$catalog.pool {
            $crate::db::Pool::Sqlite($pool) => {
                let $backend = $crate::db::Backend::Sqlite;
                let _ = $backend;
                $body
            }
            $crate::db::Pool::Postgres($pool) => {
                let $backend = $crate::db::Backend::Postgres;
                let _ = $backend;
                $body
            }
        }
    };
}
pub(crate) use with_pool;

/// Opens a transaction that will write. On SQLite it takes the write lock at
/// once (`BEGIN IMMEDIATE`): a deferred transaction that reads first and
/// writes later fails with "database is locked" instead of waiting when
/// another writer committed in between.
macro_rules! begin_write {
    ($pool:ident, $backend:ident) => {
        match $backend {
            $crate::db::Backend::Sqlite => $pool.begin_with("BEGIN IMMEDIATE").await?,
            $crate::db::Backend::Postgres => $pool.begin().await?,
        }
    };
}
pub(crate) use begin_write;

/// Inside `$tx`, replaces the members of one set: runs `$delete` with
/// `$key`, then `$insert` with (`$key`, member) for each of `$members`.
macro_rules! replace_set {
    ($tx:ident, $delete:literal, $insert:literal, $key:expr, $members:expr) => {{
        sqlx::query($delete).bind($key).execute(&mut *$tx).await?;
        for member in $members {
            sqlx::query($insert)
                .bind($key)
                .bind(member.as_str())
                .execute(&mut *$tx)
                .await?;
        }
    }};
}
pub(crate) use replace_set;

/// The connection pool of one backend.
#[derive(Debug, Clone)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The ledger: call records, legs, recordings, conversations, watermarks and
/// the job queue, in one SQLite file or one PostgreSQL database.
///
/// Cheap to clone (a pool handle); share one per process.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub(crate) pool: Pool,
}

/// Connections of a SQLite pool (see [`Catalog::open`]).
const SQLITE_CONNECTIONS: u32 = 4;

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
        let catalog = if url.starts_with("sqlite:") {
            let options = SqliteConnectOptions::from_str(url)
                .map_err(CatalogError::BadUrl)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .busy_timeout(Duration::from_secs(10))
                .foreign_keys(true);
            if let Some(parent) = options.get_filename().parent()
                && !parent.as_os_str().is_empty()
            {
                std::fs::create_dir_all(parent).map_err(|source| CatalogError::CreateDir {
                    path: parent.to_owned(),
                    source,
                })?;
            }
            // SQLite writes one transaction at a time and each connection is
            // a thread with its own page cache: four cover the readers and
            // the writer of one process on a small machine, and keep a
            // sync's memory bounded.
            let pool = SqlitePoolOptions::new()
                .max_connections(SQLITE_CONNECTIONS)
                .connect_with(options)
                .await?;
            Catalog {
                pool: Pool::Sqlite(pool),
            }
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let options = PgConnectOptions::from_str(url).map_err(CatalogError::BadUrl)?;
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .connect_with(options)
                .await?;
            Catalog {
                pool: Pool::Postgres(pool),
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
        match &self.pool {
            Pool::Sqlite(pool) => SQLITE_MIGRATOR.run(pool).await?,
            Pool::Postgres(pool) => PG_MIGRATOR.run(pool).await?,
        }
        Ok(())
    }

    /// Which backend this catalog uses.
    pub fn backend(&self) -> Backend {
        match &self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Whether the database answers; for readiness probes.
    pub async fn ping(&self) -> Result<(), CatalogError> {
        with_pool!(self, pool, _b => {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Closes every pooled connection; waits for checked-out ones.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }

    /// The PostgreSQL pool, for callers that need a PostgreSQL-only feature
    /// (a session-level advisory lock for the RingCentral gateway, `LISTEN`).
    pub fn postgres_pool(&self) -> Option<&PgPool> {
        match &self.pool {
            Pool::Postgres(pool) => Some(pool),
            Pool::Sqlite(_) => None,
        }
    }

    /// The database clock, in the form every timestamp column uses.
    pub async fn now(&self) -> Result<chrono::DateTime<chrono::Utc>, CatalogError> {
        let ms: i64 = with_pool!(self, pool, backend => {
            sqlx::query_scalar(sql!(backend, "SELECT {now}")).fetch_one(pool).await?
        });
        crate::time::from_ms("now", ms)
    }
}
