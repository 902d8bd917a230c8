//! The blob store against an in-process S3-compatible server (s3s-fs), with
//! real SigV4 checks.

use futures::stream;
use vault::{BlobError, BlobStore, S3Config, Sha256Digest, Verified};

use crate::blobs::{chunks, data, key};

async fn spawn_s3(root: &std::path::Path) -> String {
    let fs = s3s_fs::FileSystem::new(root).unwrap();
    let mut builder = s3s::service::S3ServiceBuilder::new(fs);
    builder.set_auth(s3s::auth::SimpleAuth::from_single("testkey", "testsecret"));
    let service = builder.build();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                continue;
            };
            let svc = service.clone();
            tokio::spawn(async move {
                let _ = hyper_util::server::conn::auto::Builder::new(
                    hyper_util::rt::TokioExecutor::new(),
                )
                .serve_connection(hyper_util::rt::TokioIo::new(sock), svc)
                .await;
            });
        }
    });
    format!("http://{addr}")
}

async fn store(dir: &std::path::Path) -> BlobStore {
    std::fs::create_dir_all(dir.join("calls")).unwrap();
    let endpoint = spawn_s3(dir).await;
    BlobStore::open_s3(&S3Config {
        bucket: "calls".into(),
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("testkey".into()),
        secret_access_key: Some("testsecret".into()),
        allow_http: true,
    })
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_blobs_stream_in_whole_single_and_multipart() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = store(dir.path()).await;
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
    let dir = tempfile::tempdir().unwrap();
    let s3 = store(dir.path()).await;
    let mut items = chunks(&data(7 * 1024 * 1024), 256 * 1024);
    items.push(Err(std::io::Error::other("peer reset")));
    let err = s3
        .put_stream(&key("broken"), stream::iter(items))
        .await
        .unwrap_err();
    assert!(matches!(err, BlobError::Source(_)), "{err:?}");
    assert!(s3.head(&key("broken")).await.unwrap().is_none());
    assert!(s3.list(None).await.unwrap().is_empty());
}

#[test]
fn the_s3_secret_never_shows_in_debug_output() {
    let config = S3Config {
        secret_access_key: Some("hunter2".into()),
        ..S3Config::new("b")
    };
    assert!(!format!("{config:?}").contains("hunter2"));
}
