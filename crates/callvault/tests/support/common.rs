//! Helpers shared by the backup and live test binaries (included with
//! `#[path]`): a fresh PostgreSQL schema per test (schemas a crashed run
//! left more than an hour ago are swept), and the partial files a blob
//! store must not keep.

use std::path::{Path, PathBuf};

use sqlx::Connection;

/// Whether this run is CI's (`CI` set to anything but empty, `0` or
/// `false`), where every test must run.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// Skips a test that cannot run here (`why`), with a note; in CI fails it
/// instead, so a missing service or tool cannot pass silently.
pub fn skip(why: &str) {
    assert!(!in_ci(), "CI is set but {why}: this test must run in CI");
    eprintln!("skipped: {why}");
}

/// Prefix of every test schema.
pub const SCHEMA_PREFIX: &str = "callvault_t_";

/// Creates a schema on the server at `admin` (after dropping stale ones);
/// returns `(admin, schema)`.
pub async fn fresh_schema(admin: String) -> (String, String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let schema = format!("{SCHEMA_PREFIX}{now}_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    let stale: Vec<String> = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'callvault\\_t\\_%'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    for name in stale {
        let born = name
            .strip_prefix(SCHEMA_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if born.is_some_and(|born| born + 3600 < now) {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP SCHEMA IF EXISTS {name} CASCADE"
            )))
            .execute(&mut conn)
            .await;
        }
    }
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut conn)
        .await
        .unwrap();
    (admin, schema)
}

/// Files under `root` that are not finished blobs: object_store staging
/// files (`name#N`) or anything else temporary.
pub fn partial_files(root: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.contains('#') || n.starts_with('.') || n.ends_with(".tmp"))
            {
                found.push(path);
            }
        }
    }
    found
}
