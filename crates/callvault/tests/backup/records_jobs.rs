//! Deletion at the source as a standing job under `callvault serve` (the
//! real binary, with the sandbox's rate limits): the scheduled run deletes
//! exactly the verified, old, unheld recordings, in batches of at most 100,
//! without a single 429, and settles as one job that waits for its next run.

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use vault::{HoldTarget, JobState, NewHold, NewRetentionRule, RecordingState};

use crate::helpers::{Unfinished, on_both_backends, one_second_limits, spawn_app};

on_both_backends! {
    async fn serve_runs_delete_at_source_as_one_job_deleting_exactly_the_verified_old_unheld(backend) {
        let Some(app) = spawn_app(backend, 84, |c| {
            c.scenario.calls = 170;
            c.scenario.days = 4;
            c.scenario.recorded_share = 1.0;
            c.scenario.transferred_share = 0.0;
            one_second_limits(c);
        }).await else { return };
        app.sync().await;
        let catalog = app.catalog().await;
        let now = catalog.now().await.unwrap();
        let rule = NewRetentionRule {
            name: "source-after-a-day".into(),
            position: 10,
            delete_at_source_after_days: Some(1),
            created_by: "test".into(),
            ..NewRetentionRule::default()
        };
        callvault::commands::retention::add_rule(&catalog, &rule).await.unwrap();
        let stored = app.in_state(RecordingState::Stored).await;
        let old: Vec<&vault::Recording> = stored.iter()
            .filter(|r| r.call_start_time.unwrap() + chrono::Duration::days(1) <= now).collect();
        assert!(old.len() > 102 && old.len() < stored.len(), "old {} of {}", old.len(), stored.len());
        // One old recording altered on disk, one on hold.
        let (altered, held) = (old[5], old[50]);
        let path = app.blob_root().join(altered.storage_key.as_ref().unwrap().as_str());
        let mut bytes = std::fs::read(&path).unwrap();
        bytes[100] ^= 0x01;
        std::fs::write(&path, bytes).unwrap();
        let conv = catalog.conversation_for_session(held.telephony_session_id.as_ref().unwrap()).await.unwrap().unwrap();
        callvault::commands::hold::place(&catalog, &NewHold {
            matter: "Matter J".into(), reason: "litigation".into(), placed_by: "counsel".into(),
            target: HoldTarget::Conversations(vec![conv]),
        }).await.unwrap();
        let expected: BTreeSet<String> = old.iter()
            .filter(|r| r.id != altered.id && r.id != held.id)
            .map(|r| r.id.as_str().to_owned()).collect();

        // Act: `serve` schedules the standing jobs at start; the gateway runs this one.
        let log = app.dir.path().join("serve.log");
        let mut serve = Command::new(env!("CARGO_BIN_EXE_callvault"));
        serve.arg("serve").arg("--data").arg(&app.store.data_dir)
            .args(["--listen", "127.0.0.1:0", "--workers", "2"]);
        if let Some(db) = &app.store.database {
            serve.arg("--database").arg(db);
        }
        let mut serve = serve
            .envs(app.sandbox.client_env())
            .env("RUST_LOG", "warn")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap())
            .stderr(std::fs::File::create(app.dir.path().join("serve.err")).unwrap())
            .spawn()
            .expect("callvault serve starts");
        let deadline = Instant::now() + Duration::from_secs(180);
        let job = loop {
            let job = catalog.live_job("delete_at_source", "delete-at-source").await.unwrap();
            if let Some(job) = job.filter(|j| j.state == JobState::Retry && j.last_error.as_deref().is_some_and(|e| e.starts_with("last run"))) {
                break job;
            }
            if let Ok(Some(status)) = serve.try_wait() {
                panic!("serve exited with {status}: {}", std::fs::read_to_string(app.dir.path().join("serve.err")).unwrap());
            }
            assert!(Instant::now() < deadline, "no deletion run settled: {:?}", catalog.live_job("delete_at_source", "delete-at-source").await);
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        serve.kill().unwrap();
        serve.wait().unwrap();

        // Assert: exactly the verified, old, unheld ones are gone at RingCentral.
        assert_eq!(app.truth().deleted, expected, "{:?}", job.last_error);
        let batches = app.sandbox.state().deletions().batches();
        assert!(batches.len() >= 2 && batches.iter().all(|b| !b.is_empty() && b.len() <= 100),
            "batch sizes {:?}", batches.iter().map(Vec::len).collect::<Vec<_>>());
        assert_eq!(app.sandbox.state().limiter().refused(), 0, "the sandbox answered a 429");
        let summary = job.last_error.unwrap();
        assert!(summary.contains(&format!("deleted {} at RingCentral", expected.len()))
            && summary.contains("kept 1 unverified, 0 unlocked, 0 held; 0 failed"), "{summary}");
        // One standing job of each kind, waiting for its next run, below backfill.
        assert!(job.run_at > now + chrono::Duration::minutes(30), "next run in an hour: {}", job.run_at);
        assert_eq!(job.priority, callvault::priority::RECORDS);
        let all = catalog.list_jobs(&[JobState::Queued, JobState::Leased, JobState::Retry, JobState::Done, JobState::Dead], Some("delete_at_source"), 10).await.unwrap();
        assert_eq!(all.len(), 1, "{all:?}");
        assert!(catalog.live_job("retention_apply", "retention-apply").await.unwrap().is_some());
        for r in old.iter().filter(|r| expected.contains(r.id.as_str())) {
            assert_eq!(catalog.recording(&r.id).await.unwrap().unwrap().state, RecordingState::Stored, "our copy stays");
        }
        // Everything else ended `done`; the two standing jobs wait for their next run.
        app.finish_expecting(Unfinished { retry: 2, ..Unfinished::default() }).await;
    }
}
