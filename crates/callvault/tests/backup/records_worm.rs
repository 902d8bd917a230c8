//! A re-stitch in WORM mode (S3 Object Lock, against moto): the locked
//! stitched file is never overwritten. A re-stitch that would change its
//! bytes is refused, reported and audited; the bucket keeps one version.

use std::sync::Arc;

use callvault::stitching::hold_guard::OverwriteRefused;
use callvault::stitching::{Outcome, StitchOptions, Stitcher};
use callvault::sync::{self, Downloader, Progress, Report};
use vault::worm::{LockMode, WormConfig};
use vault::{KeyLayout, Verified};

use crate::helpers::{on_both_backends, spawn_app};
use crate::records_stitched::{actions_about, transferred};

on_both_backends! {
    async fn a_restitch_never_overwrites_a_locked_stitched_file_and_says_so(backend) {
        let Some(moto) = crate::moto::moto().await else { return };
        let Some(app) = spawn_app(backend, 83, transferred).await else { return };
        let bucket = moto.bucket(true).await;
        let blobs = moto
            .blob_store(&bucket)
            .with_worm(WormConfig { mode: LockMode::Governance, default_keep: chrono::Duration::days(1) })
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
        sync::backup(&downloader, (app.sync_args().from.unwrap(), to), 4,
            chrono::Duration::seconds(30), Arc::new(Progress::default()), &mut report)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let stitcher = Stitcher { catalog: catalog.clone(), blobs: blobs.clone(), layout: KeyLayout::default(), rc: None };
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
