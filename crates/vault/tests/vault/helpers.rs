//! Fresh databases per test, on both backends.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::Connection;
use vault::Catalog;

/// A catalog in a place of its own, removed by [`TestDb::finish`].
pub struct TestDb {
    pub catalog: Catalog,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    pg: Option<(String, String)>, // (admin URL, schema)
}

impl TestDb {
    /// Drops the PostgreSQL schema (the SQLite tempdir goes with `self`).
    pub async fn finish(self) {
        self.catalog.close().await;
        if let Some((admin, schema)) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// A new SQLite file in a tempdir.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    let catalog = Catalog::open(&url).await.unwrap();
    TestDb {
        catalog,
        url,
        _dir: Some(dir),
        pg: None,
    }
}

const SCHEMA_PREFIX: &str = "vault_t_";

/// A new schema in the PostgreSQL named by `CALLVAULT_TEST_POSTGRES`, or
/// `None` (and a note on stderr) when the variable is unset.
pub async fn postgres() -> Option<TestDb> {
    let Ok(admin) = std::env::var("CALLVAULT_TEST_POSTGRES") else {
        // In CI (`CI` set) every test must run: a skip there is a failure.
        assert!(
            !std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"),
            "CI is set but CALLVAULT_TEST_POSTGRES is not: this test must run in CI"
        );
        eprintln!("skipped: CALLVAULT_TEST_POSTGRES is not set");
        return None;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let schema = format!("{SCHEMA_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sweep_stale_schemas(&mut conn, now).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options[search_path]={schema}");
    let catalog = Catalog::open(&url).await.unwrap();
    Some(TestDb {
        catalog,
        url,
        _dir: None,
        pg: Some((admin, schema)),
    })
}

/// Drops test schemas more than an hour old: leftovers of crashed runs.
async fn sweep_stale_schemas(conn: &mut sqlx::PgConnection, now: u64) {
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'vault\\_t\\_%'",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for name in names {
        let born = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if born.is_some_and(|born| born + 3600 < now) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&mut *conn)
            .await;
        }
    }
}

/// How long a test waits for something that will happen (a lease running
/// out): only a backstop against a hang, generous enough for a 2-core
/// machine kept busy by other builds.
pub const PATIENCE: Duration = Duration::from_secs(120);

/// Polls `check` until it yields `Some`, failing after `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not met within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs each body once on SQLite and once on PostgreSQL (when configured),
/// as `name::on_sqlite` and `name::on_postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($db:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body(t: &$crate::helpers::TestDb) {
                #[allow(unused_variables)]
                let $db = t;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                let t = $crate::helpers::sqlite().await;
                body(&t).await;
                t.finish().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                let Some(t) = $crate::helpers::postgres().await else { return };
                body(&t).await;
                t.finish().await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;
