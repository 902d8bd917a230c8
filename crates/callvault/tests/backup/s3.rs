//! `callvault sync` and `callvault verify` with `--storage s3://…` against a
//! real S3 server (moto), credentials from the standard `AWS_*` variables:
//! the backup lands byte-exact in the bucket, one version per key and no
//! upload left open, and `verify` re-hashes what is in the bucket.

use std::collections::BTreeSet;
use std::process::Command;

use vault::{RecordingId, RecordingState, Verified};

use crate::helpers::{on_both_backends, spawn_app};
use crate::moto::AWS_ENV;

fn callvault(args: &[&str], app: &crate::helpers::TestApp, storage: &str) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    cmd.args(args)
        .arg("--data")
        .arg(&app.store.data_dir)
        .args(["--storage", storage]);
    if let Some(db) = &app.store.database {
        cmd.arg("--database").arg(db);
    }
    cmd.envs(app.sandbox.client_env())
        .envs(AWS_ENV)
        .env("RUST_LOG", "warn")
        .env_remove("CALLVAULT_DATABASE")
        .env_remove("CALLVAULT_STORAGE")
        .output()
        .unwrap()
}

on_both_backends! {
    async fn sync_backs_up_into_an_s3_bucket_and_verify_rehashes_the_bucket(backend) {
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 43, |c| c.scenario.calls = 8).await else { return };
        let bucket = moto.bucket(false).await;
        let storage = moto.storage_url(&bucket);
        let from = (chrono::Utc::now() - chrono::Duration::days(4)).to_rfc3339();

        // Act: the real binary syncs into the bucket.
        let sync = callvault(&["sync", "--from", &from, "--json"], &app, &storage);
        assert!(sync.status.success(), "{}", String::from_utf8_lossy(&sync.stderr));

        // Assert: every recording byte-exact in the bucket, with its sidecar,
        // one version of each key, no upload left open, nothing on disk.
        let truth = app.truth();
        assert!(!truth.present.is_empty());
        let catalog = app.catalog().await;
        let blobs = moto.blob_store(&bucket);
        let mut keys = BTreeSet::new();
        for (id, sha) in &truth.present {
            let rec = catalog.recording(&RecordingId::parse(id).unwrap()).await.unwrap().unwrap();
            assert_eq!(rec.state, RecordingState::Stored, "recording {id}");
            let stored = rec.sha256.unwrap();
            assert_eq!(&stored.to_hex(), sha, "sha256 of {id}");
            let key = rec.storage_key.unwrap();
            assert!(matches!(blobs.verify(&key, &stored).await.unwrap(), Verified::Intact { .. }));
            keys.insert(key.as_str().to_owned());
        }
        let listed: BTreeSet<String> = blobs.list(None).await.unwrap().into_iter().collect();
        let (sidecars, audio): (BTreeSet<String>, BTreeSet<String>) =
            listed.into_iter().partition(|k| k.ends_with(".json"));
        assert_eq!(audio, keys);
        assert_eq!(sidecars.len(), keys.len());
        assert!(moto.versions(&bucket).await.iter().all(|(_, n)| *n == 1));
        assert_eq!(moto.open_uploads(&bucket).await, 0);
        assert!(!app.store.data_dir.join("recordings").exists(), "nothing went to the local disk");

        // verify re-reads the bucket: clean now.
        let clean = callvault(&["verify", "--json"], &app, &storage);
        assert!(clean.status.success(), "{}", String::from_utf8_lossy(&clean.stderr));
        let report: serde_json::Value = serde_json::from_slice(&clean.stdout).unwrap();
        assert_eq!(report["intact"], truth.present.len() as u64);

        // One object overwritten in the bucket behind CallVault's back, one deleted.
        let stored = app.in_state(RecordingState::Stored).await;
        let (altered, missing) = (&stored[0], &stored[1]);
        let altered_key = altered.storage_key.clone().unwrap();
        let size = blobs.head(&altered_key).await.unwrap().unwrap().size;
        let mut bytes = blobs.get_range(&altered_key, 0..size).await.unwrap().to_vec();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x01;
        blobs.put_bytes(&altered_key, bytes.into()).await.unwrap();
        blobs.delete(missing.storage_key.as_ref().unwrap()).await.unwrap();

        let out = callvault(&["verify", "--json"], &app, &storage);
        assert!(!out.status.success(), "verify must fail when the bucket is damaged");
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
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
}

on_both_backends! {
    async fn sync_in_worm_mode_locks_every_recording_and_keeps_its_version_in_the_catalog(backend) {
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 44, |c| c.scenario.calls = 6).await else { return };
        let from = (chrono::Utc::now() - chrono::Duration::days(4)).to_rfc3339();
        let worm = ["--worm", "governance", "--worm-retain-days", "3"];

        // A bucket without Object Lock fails the startup self-check: nothing
        // is written unlocked.
        let plain = moto.bucket(false).await;
        let refused = callvault(
            &[&["sync", "--from", &from, "--json"][..], &worm[..]].concat(),
            &app,
            &moto.storage_url(&plain),
        );
        assert!(!refused.status.success());
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(stderr.contains("WORM self-check") && stderr.contains("Object Lock"), "{stderr}");
        assert!(moto.versions(&plain).await.is_empty());

        // Act: sync into an Object Lock bucket.
        let bucket = moto.bucket(true).await;
        let before = chrono::Utc::now();
        let sync = callvault(
            &[&["sync", "--from", &from, "--json"][..], &worm[..]].concat(),
            &app,
            &moto.storage_url(&bucket),
        );
        assert!(sync.status.success(), "{}", String::from_utf8_lossy(&sync.stderr));

        // Assert: every recording locked GOVERNANCE for three days (read
        // with HEAD), and the catalog holds the locked version.
        let blobs = moto
            .blob_store(&bucket)
            .with_worm(vault::worm::WormConfig {
                mode: vault::worm::LockMode::Governance,
                default_keep: chrono::Duration::days(3),
            })
            .unwrap();
        let catalog = app.catalog().await;
        let stored = app.in_state(RecordingState::Stored).await;
        assert_eq!(stored.len(), app.truth().present.len());
        for rec in &stored {
            let key = rec.storage_key.clone().unwrap();
            let lock = blobs.lock_info(&key).await.unwrap().unwrap();
            assert_eq!(lock.mode, Some(vault::worm::LockMode::Governance), "{key}");
            let until = lock.retain_until.unwrap();
            assert!(
                until > before + chrono::Duration::days(3) - chrono::Duration::seconds(1)
                    && until < chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::seconds(1),
                "{key} retained until {until}"
            );
            let recorded = catalog.blob_lock(&key).await.unwrap().expect("a recorded lock");
            assert_eq!(Some(recorded.version_id), lock.version_id, "{key}");
            assert_eq!((recorded.mode.as_str(), recorded.retain_until), ("GOVERNANCE", until));
            // CallVault's own delete is refused and says so.
            let err = blobs.delete(&key).await.unwrap_err();
            assert!(matches!(err, vault::BlobError::Locked { .. }), "{err:?}");
        }
        app.finish().await;
    }
}
