use bytes::Bytes;
use chrono::{TimeZone, Utc};
use futures::stream;
use vault::{
    BlobError, BlobExt, BlobStore, RecordingId, Sha256Digest, StorageKey, TelephonySessionId,
    Verified,
};

pub fn key(rec: &str) -> StorageKey {
    StorageKey::for_recording(
        Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap(),
        &TelephonySessionId::parse("s-blob").unwrap(),
        &RecordingId::parse(rec).unwrap(),
        BlobExt::Mp3,
    )
}

/// Deterministic pseudo-random bytes.
pub fn data(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

pub fn chunks(bytes: &[u8], size: usize) -> Vec<Result<Bytes, std::io::Error>> {
    bytes
        .chunks(size)
        .map(|c| Ok(Bytes::copy_from_slice(c)))
        .collect()
}

/// Every file under `dir`, relative, including staged ones.
fn files_on_disk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn a_streamed_blob_is_stored_whole_with_its_size_and_sha256() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(dir.path().to_str().unwrap()).unwrap();
    for (rec, len) in [
        ("small", 1000usize),
        ("exact", 1024 * 1024),
        ("large", 3 * 1024 * 1024 + 77),
        ("empty", 0),
    ] {
        let bytes = data(len);
        let stored = store
            .put_stream(&key(rec), stream::iter(chunks(&bytes, 64 * 1024 + 3)))
            .await
            .unwrap();
        assert_eq!(stored.size, len as u64, "{rec}");
        assert_eq!(stored.sha256, Sha256Digest::of(&bytes), "{rec}");
        assert_eq!(
            store.head(&key(rec)).await.unwrap().unwrap().size,
            len as u64
        );
        assert_eq!(store.hash(&key(rec)).await.unwrap(), stored);
        assert_eq!(
            store.verify(&key(rec), &stored.sha256).await.unwrap(),
            Verified::Intact { size: len as u64 }
        );
        let on_disk = std::fs::read(dir.path().join(key(rec).as_str())).unwrap();
        assert!(on_disk == bytes, "{rec}: bytes on disk differ");
    }
    let range = store
        .get_range(&key("large"), 1_000_000..1_000_100)
        .await
        .unwrap();
    assert_eq!(
        &range[..],
        &data(3 * 1024 * 1024 + 77)[1_000_000..1_000_100]
    );
}

#[tokio::test]
async fn a_stream_that_fails_midway_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::local(dir.path()).unwrap();
    // Small (single put) and large (multipart) paths both.
    for (rec, before_error) in [("short", 10_000usize), ("long", 2 * 1024 * 1024 + 5)] {
        let mut items = chunks(&data(before_error), 50_000);
        items.push(Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "peer reset",
        )));
        items.extend(chunks(&data(1000), 100));
        let err = store
            .put_stream(&key(rec), stream::iter(items))
            .await
            .unwrap_err();
        assert!(matches!(err, BlobError::Source(_)), "{rec}: {err:?}");
        assert!(store.head(&key(rec)).await.unwrap().is_none(), "{rec}");
    }
    assert!(store.list(None).await.unwrap().is_empty());
    assert_eq!(
        files_on_disk(dir.path()),
        Vec::<String>::new(),
        "no staged file survives"
    );
}

#[tokio::test]
async fn a_dropped_upload_leaves_no_partial_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::local(dir.path()).unwrap();
    // A source that yields 2 MiB and then never ends.
    let head = stream::iter(chunks(&data(2 * 1024 * 1024 + 1), 100_000));
    let endless = futures::StreamExt::chain(head, stream::pending());
    let hung = key("hung");
    let put = store.put_stream(&hung, endless);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), put)
            .await
            .is_err()
    );
    assert!(store.head(&key("hung")).await.unwrap().is_none());
    assert!(store.list(None).await.unwrap().is_empty());
    crate::helpers::eventually(crate::helpers::PATIENCE, || async {
        files_on_disk(dir.path()).is_empty().then_some(())
    })
    .await;
}

#[tokio::test]
async fn verify_tells_intact_altered_and_missing_blobs_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::open(&format!("file://{}", dir.path().display())).unwrap();
    let original = store
        .put_bytes(&key("v"), Bytes::from_static(b"original audio"))
        .await
        .unwrap();
    assert!(matches!(
        store.verify(&key("v"), &original.sha256).await.unwrap(),
        Verified::Intact { size: 14 }
    ));
    std::fs::write(dir.path().join(key("v").as_str()), b"tampered audio").unwrap();
    let Verified::Altered { actual } = store.verify(&key("v"), &original.sha256).await.unwrap()
    else {
        panic!("expected Altered");
    };
    assert_eq!(actual.sha256, Sha256Digest::of(b"tampered audio"));
    store.delete(&key("v")).await.unwrap();
    store.delete(&key("v")).await.unwrap();
    assert_eq!(
        store.verify(&key("v"), &original.sha256).await.unwrap(),
        Verified::Missing
    );
    assert!(matches!(
        store.get_range(&key("v"), 0..1).await,
        Err(BlobError::NotFound(_))
    ));
}

#[tokio::test]
async fn the_metadata_sidecar_sits_beside_its_recording() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::local(dir.path().join("not-yet-there")).unwrap();
    store
        .put_bytes(&key("s"), Bytes::from_static(b"mp3"))
        .await
        .unwrap();
    let meta = serde_json::json!({"recordingId": "s", "sha256": Sha256Digest::of(b"mp3")});
    let sidecar = store.put_sidecar(&key("s"), &meta).await.unwrap();
    assert_eq!(sidecar.as_str(), "2026/11/25/s-blob/s.json");
    assert_eq!(
        store.list(Some("2026/11/25/s-blob")).await.unwrap(),
        ["2026/11/25/s-blob/s.json", "2026/11/25/s-blob/s.mp3"]
    );
    let back: serde_json::Value =
        serde_json::from_slice(&store.get_range(&sidecar, 0..10_000).await.unwrap()).unwrap();
    assert_eq!(back, meta);
}

#[tokio::test]
async fn a_local_file_is_streamed_into_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::local(dir.path().join("blobs")).unwrap();
    let src = dir.path().join("stitched.mp3");
    let bytes = data(1_500_000);
    std::fs::write(&src, &bytes).unwrap();
    let stored = store.put_file(&key("f"), &src).await.unwrap();
    assert_eq!(stored.sha256, Sha256Digest::of(&bytes));
    assert!(matches!(
        store.put_file(&key("g"), &dir.path().join("missing")).await,
        Err(BlobError::ReadFile { .. })
    ));
}

#[test]
fn unknown_storage_schemes_are_refused() {
    assert!(
        matches!(BlobStore::open("ftp://host/x"), Err(BlobError::UnsupportedScheme(s)) if s == "ftp")
    );
}

#[tokio::test]
async fn partial_files_left_by_a_killed_process_are_swept_when_old_enough() {
    let dir = tempfile::tempdir().unwrap();
    let store = BlobStore::local(dir.path()).unwrap();
    store
        .put_bytes(&key("kept"), Bytes::from_static(b"whole"))
        .await
        .unwrap();
    let folder = dir.path().join("2026/11/25/s-blob");
    let old = folder.join("dead.mp3#3");
    let fresh = folder.join("writing.mp3#8");
    std::fs::write(&old, b"half").unwrap();
    std::fs::write(&fresh, b"half").unwrap();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&old)
        .unwrap()
        .set_modified(an_hour_ago)
        .unwrap();
    assert_eq!(
        store.list(None).await.unwrap(),
        [key("kept").to_string()],
        "staged files are never listed"
    );

    let removed = store
        .remove_stale_partials(std::time::Duration::from_secs(600))
        .await
        .unwrap();
    assert_eq!(removed, 1);
    assert!(!old.exists() && fresh.exists(), "only the old partial goes");
    assert!(folder.join("kept.mp3").exists());
}
