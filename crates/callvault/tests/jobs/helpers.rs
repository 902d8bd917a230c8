//! A fresh catalog per test (SQLite file in a tempdir, or a PostgreSQL
//! schema), dead jobs made through vault, and the binary run against it.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, Ordering};

use serde_json::{Value, json};
use sqlx::Connection;
use vault::{Catalog, JobId, JobState, NewJob};

use crate::support::fresh_schema;

/// Which catalog backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A catalog the test writes through vault and the binary reads.
pub struct TestStore {
    /// The test's own handle on the catalog.
    pub catalog: Catalog,
    data: PathBuf,
    database: String,
    _dir: tempfile::TempDir,
    /// The priority of the next [`TestStore::dead_job`].
    next_priority: AtomicI64,
    /// (admin URL, schema) of a PostgreSQL test schema.
    pg: Option<(String, String)>,
}

/// What a run of the binary did.
#[derive(Debug)]
pub struct Run {
    /// The exit code (`None` when killed by a signal).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Fails the test, showing the run, unless it exited 0.
    pub fn assert_success(&self) {
        assert_eq!(self.code, Some(0), "{self:#?}");
    }

    /// Standard output as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }
}

impl TestStore {
    /// A migrated catalog on `backend`; `None` (skipped, with a note) for
    /// PostgreSQL without `CALLVAULT_TEST_POSTGRES`, except in CI, where
    /// that is a failure.
    pub async fn new(backend: Backend) -> Option<TestStore> {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match std::env::var("CALLVAULT_TEST_POSTGRES") {
                Ok(admin) => Some(fresh_schema(admin).await),
                Err(_) => {
                    crate::support::skip("CALLVAULT_TEST_POSTGRES is not set");
                    return None;
                }
            },
        };
        let database = match &pg {
            Some((admin, schema)) => {
                let sep = if admin.contains('?') { '&' } else { '?' };
                format!("{admin}{sep}options[search_path]={schema}")
            }
            None => {
                std::fs::create_dir_all(&data).unwrap();
                format!("sqlite:{}?mode=rwc", data.join("catalog.sqlite").display())
            }
        };
        let catalog = Catalog::open(&database).await.unwrap();
        catalog.migrate().await.unwrap();
        Some(TestStore {
            catalog,
            data,
            database,
            _dir: dir,
            next_priority: AtomicI64::new(1_000),
            pg,
        })
    }

    /// A `kind` job for `key` that failed for good with `reason` after one
    /// of its three attempts. Each gets a higher priority than the one
    /// before, so that this claim takes it even when other jobs of its kind
    /// (requeued ones included) are due.
    pub async fn dead_job(&self, kind: &str, key: &str, reason: &str) -> JobId {
        let priority = self.next_priority.fetch_add(1, Ordering::Relaxed);
        let job = NewJob::new(kind, key, json!({}))
            .max_attempts(3)
            .priority(priority);
        let id = self.catalog.enqueue(&job).await.unwrap().id();
        let run = self
            .catalog
            .claim("test", &[kind], std::time::Duration::from_secs(600))
            .await
            .unwrap()
            .expect("the job is due");
        assert_eq!(run.lease.job_id(), id, "claimed the new job");
        assert_eq!(
            self.catalog.fail(&run.lease, reason).await.unwrap(),
            Some(JobState::Dead)
        );
        id
    }

    /// Runs `callvault ARGS --data … --database …` to its end.
    pub async fn callvault(&self, args: &[&str]) -> Run {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        all.extend([
            "--data".into(),
            self.data.clone().into_os_string(),
            "--database".into(),
            self.database.clone().into(),
        ]);
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(&all)
            .env_remove("CALLVAULT_DATA")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .env("RUST_LOG", "warn")
            .kill_on_drop(true)
            .output()
            .await
            .expect("running callvault");
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Closes the catalog and drops the PostgreSQL schema, if any.
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

/// Runs each body once on SQLite and once on PostgreSQL, as
/// `name::on_sqlite` and `name::on_postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($backend: $crate::helpers::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_sqlite() {
                body($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn on_postgres() {
                body($crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;
