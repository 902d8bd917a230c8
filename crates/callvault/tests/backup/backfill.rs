//! A sync stores exactly the sandbox's ground truth, once.

use crate::helpers::{Backend, on_both_backends, spawn_app};

on_both_backends! {
    async fn a_sync_stores_exactly_the_sandbox_ground_truth_and_a_second_run_downloads_nothing(backend) {
        let Some(app) = spawn_app(backend, 11, |_| {}).await else { return };

        let first = app.sync().await;
        let truth = app.assert_exact().await;
        assert_eq!(first.stored, truth.present.len() as u64);
        assert_eq!((first.failed, first.not_ready, first.gone), (0, 0, 0));
        let blobs_before = app.blobs().list(None).await.unwrap();

        let second = app.sync().await;
        assert_eq!(second.stored, 0, "{second:?}");
        assert_eq!(second.new_records, 0, "{second:?}");
        assert_eq!(app.blobs().list(None).await.unwrap(), blobs_before);
        app.assert_exact().await;
        app.finish().await;
    }
}

#[tokio::test]
async fn the_backend_macro_skips_postgres_only_when_it_is_not_configured() {
    let configured = std::env::var("CALLVAULT_TEST_POSTGRES").is_ok();
    let app = spawn_app(Backend::Postgres, 1, |c| c.scenario.calls = 1).await;
    assert_eq!(app.is_some(), configured);
    if let Some(app) = app {
        app.finish().await;
    }
}
