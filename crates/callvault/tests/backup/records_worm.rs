//! WORM mode (S3 Object Lock, against moto) under records management: the
//! locked stitched file is never overwritten (a re-stitch that would change
//! its bytes is refused, reported and audited; the bucket keeps one
//! version), and a legal hold becomes the S3 legal hold of every file of the
//! held conversation, lifted when the hold is released, and a file stored for
//! a conversation already on hold is held in S3 from its write.

use std::sync::Arc;

use callvault::stitching::hold_guard::OverwriteRefused;
use callvault::stitching::{Outcome, StitchOptions, Stitcher};
use callvault::sync::{self, Downloader, Progress, Report};
use vault::worm::{LockMode, WormConfig};
use vault::{BlobStore, Catalog, KeyLayout, Verified};

use crate::helpers::{TestApp, on_both_backends, spawn_app};
use crate::moto::Moto;
use crate::records_stitched::{actions_about, transferred};

/// A backup of `app`'s sandbox into a fresh Object Lock bucket of `moto`,
/// every blob locked (GOVERNANCE, one day): the bucket, the WORM store,
/// the catalog and a stitcher over them.
async fn worm_backup(app: &TestApp, moto: &Moto) -> (String, BlobStore, Catalog, Stitcher) {
    let bucket = moto.bucket(true).await;
    let blobs = moto
        .blob_store(&bucket)
        .with_worm(WormConfig {
            mode: LockMode::Governance,
            default_keep: chrono::Duration::days(1),
        })
        .unwrap();
    blobs.check_worm().await.unwrap();
    let catalog = app.catalog().await;
    let client = callvault::app::rc_client(&app.rc).unwrap();
    client.authenticate().await.unwrap();
    let to = client.server_clock().now();
    let downloader = Downloader {
        client: client.clone(),
        catalog: catalog.clone(),
        blobs: blobs.clone(),
        layout: KeyLayout::default(),
        schedule: rc_api::ladder::Ladder::recording_content(),
        backoff: callvault::jobs::Backoff::DEFAULT,
    };
    let mut report = Report::default();
    sync::backup(
        &downloader,
        (app.sync_args().from.unwrap(), to),
        4,
        chrono::Duration::seconds(30),
        Arc::new(Progress::default()),
        &mut report,
    )
    .await
    .unwrap_or_else(|e| panic!("{e:#}"));
    let stitcher = Stitcher {
        catalog: catalog.clone(),
        blobs: blobs.clone(),
        layout: KeyLayout::default(),
        rc: None,
    };
    (bucket, blobs, catalog, stitcher)
}

on_both_backends! {
    async fn a_restitch_never_overwrites_a_locked_stitched_file_and_says_so(backend) {
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 83, transferred).await else { return };
        let (bucket, blobs, catalog, stitcher) = worm_backup(&app, &moto).await;
        let outcomes = stitcher.stitch_all(&StitchOptions::default()).await.unwrap();
        let Some(Outcome::Stitched { conversation, sessions, key, sha256, .. }) =
            outcomes.into_iter().find(|o| matches!(o, Outcome::Stitched { .. }))
        else { panic!("nothing stitched") };
        let key = vault::StorageKey::from_stored(&key).unwrap();
        let sha = vault::Sha256Digest::parse_hex(&sha256).unwrap();
        let lock = blobs.lock_info(&key).await.unwrap().unwrap();
        assert_eq!(lock.mode, Some(LockMode::Governance), "the stitched file is locked");
        let session = vault::TelephonySessionId::parse(&sessions[0]).unwrap();

        // Act: the same legs again (same bytes), then with another title.
        let same = stitcher.stitch_session(&session, &StitchOptions::default()).await.unwrap();
        let mut retitled = StitchOptions::default();
        retitled.join.title = Some("re-stitched".into());
        let refused = stitcher.stitch_session(&session, &retitled).await.unwrap_err();

        // Assert: identical bytes pass (nothing rewritten); changed ones are
        // refused with the reason, audited, and the bucket holds one version.
        assert!(matches!(same, Outcome::Stitched { ref sha256, .. } if *sha256 == sha.to_hex()), "{same:?}");
        let refusal = refused.downcast_ref::<OverwriteRefused>().unwrap_or_else(|| panic!("{refused:#}"));
        assert_eq!((refusal.conversation.as_str(), refusal.key.as_str()), (conversation.as_str(), key.as_str()));
        assert!(refused.to_string().contains("WORM"), "{refused}");
        let conversation = vault::ConversationId::parse(&conversation).unwrap();
        assert!(actions_about(&catalog, &conversation).await.contains(&"overwrite_refused".to_owned()));
        assert!(matches!(blobs.verify(&key, &sha).await.unwrap(), Verified::Intact { .. }));
        let versions = moto.versions(&bucket).await;
        let of_key = versions.iter().find(|(k, _)| k == key.as_str()).map(|(_, n)| *n);
        assert_eq!(of_key, Some(1), "one version of {key}: {versions:?}");
        assert_eq!(catalog.conversation(&conversation).await.unwrap().unwrap().sha256, Some(sha));
        app.finish().await;
    }
}

on_both_backends! {
    async fn a_legal_hold_becomes_the_s3_legal_hold_of_each_file_and_is_lifted_on_release(backend) {
        // Arrange: a WORM backup of transferred calls, stitched.
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 84, transferred).await else { return };
        let (_bucket, blobs, catalog, stitcher) = worm_backup(&app, &moto).await;
        let stitched: Vec<(vault::ConversationId, Vec<String>, vault::StorageKey)> = stitcher
            .stitch_all(&StitchOptions::default())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Stitched { conversation, sessions, key, .. } => Some((
                    vault::ConversationId::parse(&conversation).unwrap(),
                    sessions,
                    vault::StorageKey::from_stored(&key).unwrap(),
                )),
                _ => None,
            })
            .collect();
        assert!(stitched.len() >= 2, "two stitched conversations to tell apart: {stitched:?}");
        let files = |i: usize| {
            let (_, sessions, key) = stitched[i].clone();
            let catalog = catalog.clone();
            async move {
                let mut keys = vec![key];
                for s in sessions {
                    let session = vault::TelephonySessionId::parse(&s).unwrap();
                    for r in catalog.recordings_for_session(&session).await.unwrap() {
                        keys.extend(r.storage_key);
                    }
                }
                assert!(keys.len() >= 3, "a stitched file and its legs: {keys:?}");
                keys
            }
        };
        let (held, other) = (files(0).await, files(1).await);
        let s3_hold = |key: vault::StorageKey| {
            let blobs = blobs.clone();
            async move { blobs.lock_info(&key).await.unwrap().unwrap().legal_hold }
        };

        // Act: a hold on the first conversation, mirrored as `hold place` does.
        let hold = callvault::retention::holds::place(&catalog, &vault::NewHold {
            matter: "Doe v. Roe".into(),
            reason: "litigation".into(),
            placed_by: "counsel".into(),
            target: vault::HoldTarget::Conversations(vec![stitched[0].0.clone()]),
        })
        .await
        .unwrap();
        let placed = callvault::retention::holds::mirror_to_worm(&catalog, &blobs).await.unwrap();

        // Assert: every file of the held conversation carries an S3 legal
        // hold (the bucket says so), and no file of the other one does.
        assert_eq!(placed.placed, held.len() as u64, "{placed:?}");
        assert!(placed.failed.is_empty(), "{placed:?}");
        for key in &held {
            assert!(s3_hold(key.clone()).await, "{key} has no S3 legal hold");
            assert!(catalog.blob_lock(key).await.unwrap().unwrap().legal_hold);
        }
        for key in &other {
            assert!(!s3_hold(key.clone()).await, "{key} is held but its conversation is not");
        }
        let again = callvault::retention::holds::mirror_to_worm(&catalog, &blobs).await.unwrap();
        assert_eq!((again.placed, again.lifted), (0, 0), "a second pass changes nothing");

        // Released, the S3 legal holds are lifted.
        callvault::retention::holds::release(&catalog, hold, "counsel", "settled").await.unwrap();
        let lifted = callvault::retention::holds::mirror_to_worm(&catalog, &blobs).await.unwrap();
        assert_eq!(lifted.lifted, held.len() as u64, "{lifted:?}");
        for key in &held {
            assert!(!s3_hold(key.clone()).await, "{key} kept its S3 legal hold after release");
        }
        app.finish().await;
    }
}

on_both_backends! {
    async fn a_file_stored_for_a_conversation_already_on_hold_is_held_in_s3_from_its_write(backend) {
        // Arrange: a WORM backup, stitched; a hold on the first conversation,
        // not yet mirrored (as when a late leg arrives between retention runs).
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 85, transferred).await else { return };
        let (_bucket, blobs, catalog, stitcher) = worm_backup(&app, &moto).await;
        let stitched: Vec<(vault::ConversationId, vault::StorageKey)> = stitcher
            .stitch_all(&StitchOptions::default())
            .await
            .unwrap()
            .into_iter()
            .filter_map(|o| match o {
                Outcome::Stitched { conversation, key, .. } => Some((
                    vault::ConversationId::parse(&conversation).unwrap(),
                    vault::StorageKey::from_stored(&key).unwrap(),
                )),
                _ => None,
            })
            .collect();
        assert!(stitched.len() >= 2, "two stitched conversations to tell apart: {stitched:?}");
        let ((held, held_key), (_, other_key)) = (stitched[0].clone(), stitched[1].clone());
        callvault::retention::holds::place(&catalog, &vault::NewHold {
            matter: "Doe v. Roe".into(),
            reason: "litigation".into(),
            placed_by: "counsel".into(),
            target: vault::HoldTarget::Conversations(vec![held]),
        })
        .await
        .unwrap();
        let s3_hold = |key: vault::StorageKey| {
            let blobs = blobs.clone();
            async move { blobs.lock_info(&key).await.unwrap().unwrap().legal_hold }
        };
        assert!(!s3_hold(held_key.clone()).await, "nothing mirrored yet");

        // Act: what the downloader and the stitcher run after each write.
        for key in [&held_key, &other_key] {
            callvault::worm::hold_if_held(&catalog, &blobs, key).await;
        }

        // Assert: the held conversation's file carries the S3 legal hold and
        // the catalog records it, so the next mirror pass has nothing to do;
        // the other conversation's file is untouched.
        assert!(s3_hold(held_key.clone()).await, "{held_key} has no S3 legal hold");
        assert!(catalog.blob_lock(&held_key).await.unwrap().unwrap().legal_hold);
        assert!(!s3_hold(other_key.clone()).await, "{other_key} is held but its conversation is not");
        assert!(!catalog.legal_hold_missing(&held_key).await.unwrap());
        let drift = catalog.legal_hold_drift(100).await.unwrap();
        assert!(drift.iter().all(|d| d.key != held_key), "{drift:?}");
        app.finish().await;
    }
}
