//! Crash safety: `callvault sync` killed with SIGKILL at random points,
//! restarted each time, ends exact with no partial files in the store.

use std::process::{Command, Stdio};
use std::time::Duration;

use rand::Rng;

use crate::helpers::{TestApp, on_both_backends, one_second_limits, spawn_app};

/// `callvault sync` over `app`'s sandbox and catalog, output piped.
pub fn sync_command(app: &TestApp) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    cmd.arg("sync")
        .arg("--data")
        .arg(&app.store.data_dir)
        .arg("--from")
        .arg((chrono::Utc::now() - chrono::Duration::days(4)).to_rfc3339())
        .arg("--json")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in app.sandbox.client_env() {
        cmd.env(k, v);
    }
    if let Some(db) = &app.store.database {
        cmd.arg("--database").arg(db);
    }
    cmd
}

/// Waits until the killed run's RingCentral gateway lease has run out
/// ([`callvault::gateway::COMMAND_LEASE`]): a run started before would
/// spend its first seconds waiting for it, and the next kill would land
/// before any listing or download.
async fn gateway_lease_lapsed(app: &TestApp) {
    let catalog = vault::Catalog::open(&app.store.database_url())
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + callvault::gateway::COMMAND_LEASE * 2;
    while catalog
        .singleton_holder(callvault::gateway::GATEWAY)
        .await
        .unwrap()
        .is_some()
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the killed sync's gateway lease never ran out"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    catalog.close().await;
}

on_both_backends! {
    async fn sync_killed_at_random_points_and_restarted_ends_exact_with_no_partial_files(backend) {
        // One-second rate windows stretch the run over several seconds, so
        // the kills land while listing, downloading and committing.
        let Some(app) = spawn_app(backend, 31, |c| {
            one_second_limits(c);
            c.scenario.calls = 30;
        })
        .await else { return };
        let mut rng = rand::rng();

        let mut killed = 0;
        for _ in 0..3 {
            let mut child = sync_command(&app).spawn().unwrap();
            let after = Duration::from_millis(rng.random_range(300..2500));
            tokio::time::sleep(after).await;
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL on Unix
                killed += 1;
            }
            child.wait().unwrap();
            gateway_lease_lapsed(&app).await;
        }
        assert!(killed > 0, "no run was killed: the test proves nothing");

        let done = tokio::task::spawn_blocking({
            let mut cmd = sync_command(&app);
            move || cmd.output().unwrap()
        })
        .await
        .unwrap();
        assert!(
            done.status.success(),
            "final sync failed: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&done.stdout).unwrap();
        assert_eq!(report["failed"], 0, "{report}");

        app.assert_exact().await;
        app.finish().await;
    }
}
