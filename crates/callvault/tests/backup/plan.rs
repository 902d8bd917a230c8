//! `sync --plan` is a question: it prints what a sync would do and writes
//! nothing, so the ledger and the queue are the same after it.

use sqlx::Connection;

use crate::helpers::{Backend, TestApp, on_both_backends, spawn_app};

/// The ledger's and the queue's tables, whose row counts a plan must leave
/// as they were.
const TABLES: [&str; 9] = [
    "call_records",
    "legs",
    "recordings",
    "conversations",
    "conversation_sessions",
    "conversation_terms",
    "jobs",
    "sync_watermarks",
    "settings",
];

/// Row counts of [`TABLES`], in order.
async fn row_counts(app: &TestApp, backend: Backend) -> Vec<(&'static str, i64)> {
    let url = app.store.database_url();
    let mut counts = Vec::new();
    match backend {
        Backend::Sqlite => {
            let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
            for table in TABLES {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                counts.push((table, n));
            }
        }
        Backend::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            for table in TABLES {
                let sql = format!("SELECT COUNT(*) FROM {table}");
                let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
                counts.push((table, n));
            }
        }
    }
    counts
}

on_both_backends! {
    async fn a_plan_counts_the_range_and_writes_nothing_to_the_ledger_or_the_queue(backend) {
        // Arrange: a catalog that already holds part of the history (a
        // first sync), so a plan has both known and new records to read.
        let Some(app) = spawn_app(backend, 23, |_| {}).await else { return };
        let first = app.sync().await;
        assert!(first.stored > 0, "{first:?}");
        let before = row_counts(&app, backend).await;

        // Act: plan the same range.
        let args = callvault::commands::sync::SyncArgs { plan: true, ..app.sync_args() };
        let plan = callvault::commands::sync::run(&args).await.unwrap();

        // Assert: it counted the records, and every table is as it was.
        assert_eq!(plan.records, first.records, "{plan:?}");
        assert_eq!(plan.new_records, 0, "{plan:?}");
        assert_eq!((plan.stored, plan.failed), (0, 0), "{plan:?}");
        assert_eq!(row_counts(&app, backend).await, before);
        app.finish().await;
    }

    async fn a_plan_on_an_empty_catalog_leaves_it_empty(backend) {
        let Some(app) = spawn_app(backend, 24, |_| {}).await else { return };
        let args = callvault::commands::sync::SyncArgs { plan: true, ..app.sync_args() };
        let plan = callvault::commands::sync::run(&args).await.unwrap();
        assert!(plan.records > 0 && plan.new_records == plan.records, "{plan:?}");
        assert!(plan.recordings > 0, "{plan:?}");
        for (table, n) in row_counts(&app, backend).await {
            // The migrations' own settings rows are not the plan's.
            if table != "settings" {
                assert_eq!(n, 0, "{table}");
            }
        }
        app.finish().await;
    }
}
