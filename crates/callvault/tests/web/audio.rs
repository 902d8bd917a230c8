use crate::helpers::*;

async fn blob_of_recording(app: &TestApp, id: &str) -> Vec<u8> {
    let rec = app
        .catalog
        .recording(&vault::RecordingId::parse(id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let key = rec.storage_key.unwrap();
    let size = app.blobs.head(&key).await.unwrap().unwrap().size;
    app.blobs.get_range(&key, 0..size).await.unwrap().to_vec()
}

#[tokio::test]
async fn a_range_request_gets_206_with_exactly_those_bytes() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let blob = blob_of_recording(&app, REC_A1).await;
    let size = blob.len();

    let r = c
        .get(app.url(&format!("/audio/recording/{REC_A1}")))
        .header("range", "bytes=100-1099")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let h = r.headers().clone();
    assert_eq!(
        h["content-range"],
        format!("bytes 100-1099/{size}").as_str()
    );
    assert_eq!(h["content-length"], "1000");
    assert_eq!(h["accept-ranges"], "bytes");
    assert_eq!(h["content-type"], "audio/mpeg");
    assert_eq!(r.bytes().await.unwrap().as_ref(), &blob[100..1100]);

    // A suffix range.
    let r = c
        .get(app.url(&format!("/audio/recording/{REC_A1}")))
        .header("range", "bytes=-10")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap().as_ref(), &blob[size - 10..]);
}

#[tokio::test]
async fn a_range_past_the_end_gets_416_with_the_size() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let size = blob_of_recording(&app, REC_A1).await.len();
    let r = c
        .get(app.url(&format!("/audio/recording/{REC_A1}")))
        .header("range", format!("bytes={size}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(
        r.headers()["content-range"],
        format!("bytes */{size}").as_str()
    );
}

#[tokio::test]
async fn without_range_the_whole_file_comes_with_200_and_its_length() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let blob = blob_of_recording(&app, REC_A1).await;
    let r = c
        .get(app.url(&format!("/audio/recording/{REC_A1}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-length"],
        blob.len().to_string().as_str()
    );
    assert_eq!(r.headers()["accept-ranges"], "bytes");
    assert!(r.headers().get("content-disposition").is_none());
    assert_eq!(r.bytes().await.unwrap().as_ref(), blob.as_slice());
}

#[tokio::test]
async fn the_stitched_file_streams_and_downloads_as_an_attachment() {
    let app = spawn_app().await;
    let c = app.logged_in(ADMIN).await;
    let r = c
        .get(app.url(&format!("/audio/conversation/{CONV_A}?download=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "audio/mpeg");
    assert_eq!(
        r.headers()["content-disposition"],
        format!("attachment; filename=\"conversation-{CONV_A}.mp3\"").as_str()
    );
    let body = r.bytes().await.unwrap();
    let conv = app
        .catalog
        .conversation(&vault::ConversationId::parse(CONV_A).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(vault::Sha256Digest::of(&body), conv.sha256.unwrap());
}

#[tokio::test]
async fn plays_and_downloads_are_audited_but_seeks_are_not() {
    let app = spawn_app().await;
    let c = app.logged_in(VIEWER_101).await;
    let url = app.url(&format!("/audio/recording/{REC_A2}"));
    // A player starts at byte 0 ...
    let r = c
        .get(&url)
        .header("range", "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    // ... then seeks.
    c.get(&url)
        .header("range", "bytes=2000-")
        .send()
        .await
        .unwrap();
    c.get(format!("{url}?download=1")).send().await.unwrap();

    // The trail also holds the login; plays and downloads are the rest.
    let entries: Vec<_> = (app.catalog.audit_entries(10, 0).await.unwrap())
        .into_iter()
        .filter(|e| e.action != "login")
        .collect();
    let got: Vec<(&str, &str, &str)> = entries
        .iter()
        .rev()
        .map(|e| {
            (
                e.user_name.as_str(),
                e.action.as_str(),
                e.object_id.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (VIEWER_101.0, "play", REC_A2),
            (VIEWER_101.0, "download", REC_A2)
        ]
    );
    assert_eq!(entries[0].client.as_deref(), Some("127.0.0.1"));

    // The admin sees them on the audit page.
    let admin = app.logged_in(ADMIN).await;
    let html = admin
        .get(app.url("/audit"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The play, the download and both logins.
    assert_eq!(html.matches("class=\"audit-row\"").count(), 4, "{html}");
    assert!(html.contains(&format!("recording {REC_A2}")));
}

#[tokio::test]
async fn any_first_range_is_audited_once_per_session_and_object() {
    let app = spawn_app().await;
    let c = app.logged_in(VIEWER_101).await;
    let url = app.url(&format!("/audio/recording/{REC_A1}"));
    // All but the first byte, then more chunks and a seek: one play.
    for range in ["bytes=1-", "bytes=100-199", "bytes=1-", "bytes=0-"] {
        let r = c.get(&url).header("range", range).send().await.unwrap();
        assert_eq!(r.status(), 206, "{range}");
    }
    let plays = |entries: &[vault::audit::AuditEntry], id: &str| {
        entries
            .iter()
            .filter(|e| e.action == "play" && e.object_id == id)
            .count()
    };
    let entries = app.catalog.audit_entries(100, 0).await.unwrap();
    assert_eq!(plays(&entries, REC_A1), 1, "{entries:?}");

    // A mid-file range on another object is that object's first play.
    let conv = app.url(&format!("/audio/conversation/{CONV_A}"));
    let r = c
        .get(&conv)
        .header("range", "bytes=5000-5999")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    // Concurrent first chunks of a new session audit once.
    let other = app.logged_in(VIEWER_101).await;
    let chunks = (0..8).map(|i| {
        let (other, url) = (other.clone(), url.clone());
        async move {
            other
                .get(&url)
                .header("range", format!("bytes={}-{}", 50 * i + 1, 50 * i + 49))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    for status in futures::future::join_all(chunks).await {
        assert_eq!(status, 206);
    }
    // Every download is audited, each time.
    for _ in 0..2 {
        c.get(format!("{url}?download=1"))
            .header("range", "bytes=10-")
            .send()
            .await
            .unwrap();
    }
    let entries = app.catalog.audit_entries(100, 0).await.unwrap();
    assert_eq!(plays(&entries, CONV_A), 1, "{entries:?}");
    assert_eq!(plays(&entries, REC_A1), 2, "one per session: {entries:?}");
    assert_eq!(
        entries.iter().filter(|e| e.action == "download").count(),
        2,
        "{entries:?}"
    );
}

#[tokio::test]
async fn a_blob_whose_size_differs_from_the_catalog_is_an_integrity_error() {
    let app = spawn_app().await;
    let id = vault::RecordingId::parse(REC_B).unwrap();
    let key = app
        .catalog
        .recording(&id)
        .await
        .unwrap()
        .unwrap()
        .storage_key
        .unwrap();
    app.blobs
        .put_bytes(&key, bytes::Bytes::new())
        .await
        .unwrap();
    let c = app.logged_in(VIEWER_201).await;
    let r = c
        .get(app.url(&format!("/audio/recording/{REC_B}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 500);
    assert!(
        r.bytes().await.unwrap().len() < 2000,
        "an error page, not audio"
    );
    let metrics = client()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("callvault_blob_integrity_errors_total 1\n"),
        "{metrics}"
    );
}
