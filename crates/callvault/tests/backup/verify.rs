//! `callvault verify`, `status` and `ls` over a finished backup.

use std::process::Command;

use vault::RecordingState;

use crate::helpers::{on_both_backends, spawn_app};

fn callvault(args: &[&str], store: &callvault::configuration::StoreArgs) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    cmd.args(args).arg("--data").arg(&store.data_dir);
    if let Some(db) = &store.database {
        cmd.arg("--database").arg(db);
    }
    cmd.env("RUST_LOG", "warn").output().unwrap()
}

on_both_backends! {
    async fn verify_passes_on_a_fresh_backup_and_reports_an_altered_and_a_missing_blob(backend) {
        let Some(app) = spawn_app(backend, 41, |c| c.scenario.calls = 8).await else { return };
        app.sync().await;
        let clean = callvault(&["verify", "--json"], &app.store);
        assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));

        let stored = app.in_state(RecordingState::Stored).await;
        let (altered, missing) = (&stored[0], &stored[1]);
        let path = |r: &vault::Recording| app.blob_root().join(r.storage_key.as_ref().unwrap().as_str());
        let mut bytes = std::fs::read(path(altered)).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        std::fs::write(path(altered), bytes).unwrap();
        std::fs::remove_file(path(missing)).unwrap();

        let out = callvault(&["verify", "--json"], &app.store);

        assert!(!out.status.success(), "verify must fail when blobs are damaged");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["checked"], stored.len() as u64);
        assert_eq!(report["intact"], stored.len() as u64 - 2);
        let mut problems: Vec<(String, String)> = report["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["recordingId"].as_str().unwrap().to_owned(), p["kind"].as_str().unwrap().to_owned()))
            .collect();
        problems.sort();
        let mut expected = vec![
            (altered.id.as_str().to_owned(), "altered".to_owned()),
            (missing.id.as_str().to_owned(), "missing".to_owned()),
        ];
        expected.sort();
        assert_eq!(problems, expected);
        app.finish().await;
    }

    async fn status_and_ls_show_counts_watermark_and_every_recording_with_its_key(backend) {
        let Some(app) = spawn_app(backend, 42, |c| c.scenario.calls = 8).await else { return };
        app.sync().await;
        let truth = app.truth();

        let status = callvault(&["status", "--json"], &app.store);
        assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
        let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
        assert_eq!(status["recordings"]["stored"], truth.present.len() as u64);
        assert_eq!(status["recordings"]["failed"], 0);
        assert_eq!(status["jobs"]["done"], truth.present.len() as u64);
        assert!(status["lastSync"].is_string(), "{status}");

        let ls = callvault(&["ls", "--json"], &app.store);
        assert!(ls.status.success(), "{}", String::from_utf8_lossy(&ls.stderr));
        let ls: serde_json::Value = serde_json::from_slice(&ls.stdout).unwrap();
        let listed: std::collections::BTreeMap<String, String> = ls
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["recordings"].as_array().unwrap().clone())
            .map(|r| (r["id"].as_str().unwrap().to_owned(), r["sha256"].as_str().unwrap().to_owned()))
            .collect();
        assert_eq!(listed, truth.present);
        app.finish().await;
    }
}
