//! The blob store against a real S3 server (moto, see `support/moto.rs`).

use std::sync::Arc;

use futures::stream;
use vault::worm::{LockMode, WormConfig};
use vault::{BlobError, BlobStore, S3Config, Sha256Digest, Verified};

use crate::blobs::{chunks, data, key};
use crate::moto::Moto;

/// A store in a fresh bucket of the binary's moto server (kept alive by
/// the returned handle), or `None` when moto is absent and not required.
async fn store() -> Option<(Arc<Moto>, String, BlobStore)> {
    let moto = crate::moto::moto().await?;
    let bucket = moto.bucket(false).await;
    let store = moto.blob_store(&bucket);
    Some((moto, bucket, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blobs_stream_in_whole_single_and_multipart() {
    let Some((_moto, _, s3)) = store().await else {
        return;
    };
    for (rec, len) in [("small", 10_000usize), ("large", 6 * 1024 * 1024 + 5)] {
        let bytes = data(len);
        let stored = s3
            .put_stream(&key(rec), stream::iter(chunks(&bytes, 256 * 1024)))
            .await
            .unwrap();
        assert_eq!(
            (stored.size, stored.sha256),
            (len as u64, Sha256Digest::of(&bytes))
        );
        assert_eq!(
            s3.verify(&key(rec), &stored.sha256).await.unwrap(),
            Verified::Intact { size: len as u64 }
        );
    }
    let range = s3
        .get_range(&key("large"), 5_500_000..5_500_010)
        .await
        .unwrap();
    assert_eq!(&range[..], &data(6 * 1024 * 1024 + 5)[5_500_000..5_500_010]);
    let sidecar = s3
        .put_sidecar(&key("small"), &serde_json::json!({"a": 1}))
        .await
        .unwrap();
    assert_eq!(s3.list(None).await.unwrap().len(), 3);
    s3.delete(&sidecar).await.unwrap();
    assert!(s3.head(&sidecar).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_upload_that_fails_midway_publishes_nothing() {
    let Some((moto, bucket, s3)) = store().await else {
        return;
    };
    let mut items = chunks(&data(7 * 1024 * 1024), 256 * 1024);
    items.push(Err(std::io::Error::other("peer reset")));
    let err = s3
        .put_stream(&key("broken"), stream::iter(items))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Source(_)), "{err:?}");
    assert!(s3.head(&key("broken")).await.unwrap().is_none());
    assert!(s3.list(None).await.unwrap().is_empty());
    // The upload was aborted, not left for a lifecycle rule to find.
    assert_eq!(moto.open_uploads(&bucket).await, 0);
    assert!(moto.versions(&bucket).await.is_empty());
}

#[test]
fn the_s3_secret_never_shows_in_debug_output() {
    let config = S3Config {
        secret_access_key: Some("hunter2".into()),
        ..S3Config::new("b")
    };
    assert!(!format!("{config:?}").contains("hunter2"));
}

/// A WORM store on a fresh Object Lock bucket, `days` of default keep.
async fn worm_store(mode: LockMode, days: i64) -> Option<(Arc<Moto>, String, BlobStore)> {
    let moto = crate::moto::moto().await?;
    let bucket = moto.bucket(true).await;
    let store = moto
        .blob_store(&bucket)
        .with_worm(WormConfig {
            mode,
            default_keep: chrono::Duration::days(days),
        })
        .unwrap();
    Some((moto, bucket, store))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_recording_cannot_be_deleted_and_the_refusal_is_reported() {
    let Some((moto, bucket, s3)) = worm_store(LockMode::Governance, 3).await else {
        return;
    };
    s3.check_worm().await.unwrap();
    let bytes = data(40_000);
    let before = chrono::Utc::now();
    let stored = s3
        .put_stream(&key("locked"), stream::iter(chunks(&bytes, 8192)))
        .await
        .unwrap();

    // Locked as configured: GOVERNANCE, three days from the write (HEAD).
    let lock = s3.lock_info(&key("locked")).await.unwrap().unwrap();
    assert_eq!(lock.mode, Some(LockMode::Governance));
    let until = lock.retain_until.unwrap();
    let want = before + chrono::Duration::days(3);
    assert!(
        until >= want - chrono::Duration::seconds(1)
            && until <= want + chrono::Duration::seconds(60),
        "retain-until {until}, want about {want}"
    );
    assert!(lock.version_id.is_some());

    // A delete is refused, said so, and the bytes are still there.
    let err = s3.delete(&key("locked")).await.unwrap_err();
    assert!(matches!(err, BlobError::Locked { .. }), "{err:?}");
    assert!(err.to_string().contains("not deleted"), "{err}");
    assert_eq!(
        s3.verify(&key("locked"), &stored.sha256).await.unwrap(),
        Verified::Intact { size: 40_000 }
    );
    // The same bytes again (a retried download) write nothing new;
    // different bytes are refused, never overwritten.
    s3.put_stream(&key("locked"), stream::iter(chunks(&bytes, 8192)))
        .await
        .unwrap();
    let other = data(40_001);
    let err = s3
        .put_stream(&key("locked"), stream::iter(chunks(&other, 8192)))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Conflict(_)), "{err:?}");
    // One key, one version: nothing added by the retry or the refusals
    // (the self-check's canary was removed with the governance bypass).
    let versions = moto.versions(&bucket).await;
    assert_eq!(versions, vec![(key("locked").as_str().to_owned(), 1)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_mode_locks_large_files_to_the_given_date_and_legal_holds_map_to_s3() {
    let Some((_moto, _bucket, s3)) = worm_store(LockMode::Compliance, 1).await else {
        return;
    };
    // A multipart upload (over one 5 MiB part) locked to a named date.
    let until = chrono::DateTime::parse_from_rfc3339("2031-06-30T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let bytes = data(6 * 1024 * 1024 + 3);
    s3.put_stream_retained(
        &key("stitched"),
        stream::iter(chunks(&bytes, 256 * 1024)),
        Some(until),
    )
    .await
    .unwrap();
    let lock = s3.lock_info(&key("stitched")).await.unwrap().unwrap();
    assert_eq!(
        (lock.mode, lock.retain_until),
        (Some(LockMode::Compliance), Some(until))
    );
    assert!(!lock.legal_hold);

    // A legal hold is the S3 legal hold.
    s3.set_legal_hold(&key("stitched"), true).await.unwrap();
    assert!(
        s3.lock_info(&key("stitched"))
            .await
            .unwrap()
            .unwrap()
            .legal_hold
    );
    assert!(matches!(
        s3.delete(&key("stitched")).await,
        Err(BlobError::Locked { .. })
    ));
    s3.set_legal_hold(&key("stitched"), false).await.unwrap();
    assert!(
        !s3.lock_info(&key("stitched"))
            .await
            .unwrap()
            .unwrap()
            .legal_hold
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worm_self_check_refuses_a_bucket_without_object_lock_and_a_local_folder() {
    let Some(moto) = crate::moto::moto().await else {
        return;
    };
    let bucket = moto.bucket(false).await;
    let config = WormConfig {
        mode: LockMode::Governance,
        default_keep: chrono::Duration::days(1),
    };
    let s3 = moto.blob_store(&bucket).with_worm(config).unwrap();
    let err = s3.check_worm().await.unwrap_err();
    assert!(err.to_string().contains("Object Lock"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = BlobStore::local(dir.path())
        .unwrap()
        .with_worm(config)
        .unwrap_err();
    assert!(err.to_string().contains("cannot be WORM"), "{err}");
}
