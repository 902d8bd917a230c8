//! Recording metadata and content: lag, format, Range, disposition, auth on
//! the media host.

mod rest_support;

use chrono::Duration;
use rc_sandbox::SandboxHandle;
use rc_sandbox::model::{AudioFormat, Direction, Handoff};
use rest_support::*;
use serde_json::Value;

/// Adds a call that ended 5 s ago (sandbox clock frozen) and returns its recording id.
fn ended_call(h: &SandboxHandle) -> String {
    h.state().clock().freeze();
    let now = h.state().clock().now();
    let i = add(
        h,
        script(
            now - Duration::seconds(50),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let w = h.state().world();
    w.conversations[i].legs[0]
        .recording
        .as_ref()
        .unwrap()
        .id
        .clone()
}

fn content_url(h: &SandboxHandle, id: &str) -> String {
    format!(
        "{}/restapi/v1.0/account/~/recording/{id}/content",
        h.media_url()
    )
}

fn metadata_url(h: &SandboxHandle, id: &str) -> String {
    format!("{}/restapi/v1.0/account/~/recording/{id}", h.platform_url())
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn content_is_404_until_the_recording_lag_has_passed() {
    let h = spawn(|c| c.recording_lag = Duration::seconds(60)).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "CMN-102");
    assert_eq!(
        b["errors"][0]["message"],
        "Resource for parameter [callRecordingId] is not found"
    );
    // Metadata is already there once the call has ended.
    let m = get_json(&c, &metadata_url(&h, &id), &t).await;
    assert_eq!(m["id"], id.as_str());
    h.state().clock().advance(Duration::seconds(56));
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(r.status(), 200);
    assert_eq!(header(&r, "content-type"), "audio/mpeg");
    assert_eq!(header(&r, "accept-ranges"), "bytes");
    let len: usize = header(&r, "content-length").parse().unwrap();
    assert_eq!(r.bytes().await.unwrap().len(), len);
}

#[tokio::test]
async fn a_live_calls_recording_is_not_found_yet() {
    let h = spawn(|_| {}).await;
    h.state().clock().freeze();
    let now = h.state().clock().now();
    let i = add(
        &h,
        script(
            now - Duration::seconds(10),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let id = h.state().world().conversations[i].legs[0]
        .recording
        .as_ref()
        .unwrap()
        .id
        .clone();
    let c = client();
    let t = token(&h, &c).await;
    assert_eq!(get(&c, &metadata_url(&h, &id), &t).await.status(), 404);
    assert_eq!(get(&c, &content_url(&h, &id), &t).await.status(), 404);
}

#[tokio::test]
async fn metadata_names_the_media_uri_type_and_duration() {
    let h = spawn(|c| c.audio.format = AudioFormat::Wav).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let m = get_json(&c, &metadata_url(&h, &id), &t).await;
    assert_eq!(m["contentType"], "audio/wav");
    assert_eq!(m["duration"], 40);
    assert_eq!(
        m["contentUri"].as_str().unwrap(),
        content_url(&h, &id).replace("/~/", &format!("/{}/", h.state().account_id()))
    );
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(header(&r, "content-type"), "audio/wav");
    assert_eq!(get(&c, &metadata_url(&h, "999"), &t).await.status(), 404);
}

#[tokio::test]
async fn range_requests_get_206_and_unsatisfiable_ones_416_cmn_107() {
    let h = spawn(|_| {}).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let full = get(&c, &content_url(&h, &id), &t)
        .await
        .bytes()
        .await
        .unwrap();
    let total = full.len();
    assert!(total > 10);
    let r = c
        .get(content_url(&h, &id))
        .bearer_auth(&t)
        .header("Range", "bytes=2-9")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(header(&r, "content-range"), format!("bytes 2-9/{total}"));
    assert_eq!(header(&r, "content-length"), "8");
    assert_eq!(r.bytes().await.unwrap(), full.slice(2..10));
    let r = c
        .get(content_url(&h, &id))
        .bearer_auth(&t)
        .header("Range", "bytes=5-")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    assert_eq!(r.bytes().await.unwrap(), full.slice(5..));
    let r = c
        .get(content_url(&h, &id))
        .bearer_auth(&t)
        .header("Range", format!("bytes={total}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 416);
    assert_eq!(header(&r, "content-range"), format!("bytes */{total}"));
    assert_eq!(code(&r.json().await.unwrap()), "CMN-107");
}

#[tokio::test]
async fn the_media_host_accepts_an_access_token_query_parameter() {
    let h = spawn(|_| {}).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = c
        .get(format!("{}?access_token={t}", content_url(&h, &id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The platform host does not.
    let r = c
        .get(format!("{}?access_token={t}", metadata_url(&h, &id)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[tokio::test]
async fn content_disposition_is_sent_only_when_asked() {
    let h = spawn(|_| {}).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert!(r.headers().get("content-disposition").is_none());
    let r = get(
        &c,
        &format!(
            "{}?contentDisposition=Attachment&contentDispositionFilename=call.mp3",
            content_url(&h, &id)
        ),
        &t,
    )
    .await;
    assert_eq!(
        header(&r, "content-disposition"),
        "attachment; filename=\"call.mp3\""
    );
    let r = get(
        &c,
        &format!("{}?contentDisposition=Inline", content_url(&h, &id)),
        &t,
    )
    .await;
    assert_eq!(header(&r, "content-disposition"), "inline");
    let r = get(
        &c,
        &format!("{}?contentDisposition=Download", content_url(&h, &id)),
        &t,
    )
    .await;
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn content_is_in_the_heavy_group() {
    let h = spawn(|c| c.rate_limits = Some(Default::default())).await;
    let id = ended_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(header(&r, "x-rate-limit-group"), "heavy");
    let r = get(&c, &metadata_url(&h, &id), &t).await;
    assert_eq!(header(&r, "x-rate-limit-remaining"), "8");
}

#[tokio::test]
async fn every_answer_is_dated_by_the_sandbox_clock_on_both_hosts() {
    let h = spawn(|c| c.recording_lag = Duration::zero()).await;
    let id = ended_call(&h);
    // Moved three hours ahead of real time, the platform says so in `Date`.
    h.state().clock().advance(Duration::hours(3));
    let expected = h.state().clock().now();
    let c = client();
    let t = token(&h, &c).await;
    for url in [
        content_url(&h, &id),
        metadata_url(&h, &id),
        content_url(&h, "0000"),
    ] {
        let r = get(&c, &url, &t).await;
        let date = chrono::DateTime::parse_from_rfc2822(header(&r, "date"))
            .unwrap_or_else(|e| panic!("{url}: Date {:?}: {e}", header(&r, "date")));
        let off = (date.with_timezone(&chrono::Utc) - expected).num_seconds();
        assert!(
            off.abs() <= 1,
            "{url}: Date is {off} s off the sandbox clock"
        );
        assert_eq!(r.headers().get_all("date").iter().count(), 1, "{url}");
    }
}

#[tokio::test]
async fn the_platform_counts_complete_downloads_and_requests_of_two_tokens_in_flight_at_once() {
    // Slow bodies, so a request is surely in flight when the next arrives.
    let h = spawn(|c| {
        c.faults.slow_body = 1.0;
        c.faults.slow_body_bytes_per_sec = 400_000;
    })
    .await;
    let id = ended_call(&h);
    let c = client();
    let (a, b) = (token(&h, &c).await, token(&h, &c).await);
    assert_ne!(a, b);

    // One token at a time: whole bodies count as downloads, a range that
    // stops short of the end does not, and nothing overlaps.
    for t in [&a, &a, &b] {
        let r = get(&c, &content_url(&h, &id), t).await;
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let partial = c
        .get(content_url(&h, &id))
        .bearer_auth(&a)
        .header("Range", "bytes=0-9")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 206);
    partial.bytes().await.unwrap();
    let seen = h.state().observed().counts();
    assert_eq!(seen.downloads.get(&id), Some(&3), "{seen:?}");
    assert_eq!(
        (seen.tokens_used, seen.overlapping_requests),
        (2, 0),
        "{seen:?}"
    );

    // Two tokens at once: the second request overlaps the first.
    let slow = get(&c, &content_url(&h, &id), &a).await;
    let meanwhile = get(&c, &metadata_url(&h, &id), &b).await;
    assert_eq!(meanwhile.status(), 200);
    slow.bytes().await.unwrap();
    let seen = h.state().observed().counts();
    assert_eq!(seen.overlapping_requests, 1, "{seen:?}");
    assert_eq!(seen.rate_limited, 0);
}
