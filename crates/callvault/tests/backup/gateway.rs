//! `callvault sync` holds the RingCentral gateway for its run: beside a
//! process that keeps the gateway (a `serve`), it refuses, names the holder
//! and calls RingCentral not once; after a holder that crashed, it waits for
//! the lease to run out and runs; at its end it gives the gateway up.

use std::process::Output;
use std::time::Duration;

use callvault::gateway::GATEWAY;

use crate::helpers::{TestApp, on_both_backends, spawn_app};

async fn catalog(app: &TestApp) -> vault::Catalog {
    vault::Catalog::open(&app.store.database_url())
        .await
        .unwrap()
}

on_both_backends! {
    async fn a_sync_beside_a_live_gateway_holder_refuses_naming_it_and_calls_ringcentral_not_once(backend) {
        // Arrange: another process holds the gateway and keeps holding it.
        let Some(app) = spawn_app(backend, 77, |c| c.scenario.calls = 5).await else { return };
        let catalog = catalog(&app).await;
        let held = catalog
            .acquire_singleton(GATEWAY, "serve@other-host:4242:cafe", Duration::from_secs(600))
            .await
            .unwrap()
            .expect("the gateway is free at first");

        // Act
        let out = tokio::task::spawn_blocking(sync_args(&app)).await.unwrap();

        // Assert: refused with the holder's name and the reason; nothing
        // reached RingCentral, nothing was stored.
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "sync ran beside the gateway holder");
        assert!(said.contains("serve@other-host:4242:cafe"), "{said}");
        assert!(said.contains("429"), "{said}");
        assert_eq!(app.sandbox.state().observed().counts().requests, 0);
        assert_eq!(catalog.recording_counts().await.unwrap().stored, 0);

        // Once the holder gives the gateway up, sync runs, and gives it up in turn.
        catalog.release_singleton(&held).await.unwrap();
        let out = tokio::task::spawn_blocking(sync_args(&app)).await.unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(catalog.recording_counts().await.unwrap().stored > 0);
        assert_eq!(catalog.singleton_holder(GATEWAY).await.unwrap(), None);
        catalog.close().await;
        app.finish().await;
    }

    async fn a_sync_after_a_crashed_gateway_holder_waits_for_its_lease_and_runs(backend) {
        // Arrange: a holder that took a short lease and died (never renews).
        let Some(app) = spawn_app(backend, 78, |c| c.scenario.calls = 5).await else { return };
        let catalog = catalog(&app).await;
        catalog
            .acquire_singleton(GATEWAY, "sync@crashed:1:dead", Duration::from_secs(3))
            .await
            .unwrap()
            .expect("the gateway is free at first");

        // Act
        let out = tokio::task::spawn_blocking(sync_args(&app)).await.unwrap();

        // Assert
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["failed"], 0, "{report}");
        assert!(catalog.recording_counts().await.unwrap().stored > 0);
        assert_eq!(catalog.singleton_holder(GATEWAY).await.unwrap(), None);
        catalog.close().await;
        app.finish().await;
    }
}

/// Runs `callvault sync` over `app` (as the crash test does) to its end.
fn sync_args(app: &TestApp) -> impl FnOnce() -> Output + Send + 'static {
    let mut cmd = crate::crash::sync_command(app);
    move || cmd.output().unwrap()
}
