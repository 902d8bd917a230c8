//! HTTP faults: 5xx, broken and slow bodies, revoked tokens, deleted
//! recordings (faults.rs switches, applied by the gate and the recordings route).

mod rest_support;

use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use rc_sandbox::SandboxHandle;
use rc_sandbox::faults::FaultConfig;
use rc_sandbox::model::{Direction, Handoff};
use rest_support::*;
use serde_json::Value;

fn recorded_call(h: &SandboxHandle) -> String {
    let now = h.state().clock().now();
    let i = add(
        h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    h.state().world().conversations[i].legs[0]
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

#[tokio::test]
async fn http500_and_http503_replace_rest_and_media_answers() {
    let h = spawn(|_| {}).await;
    let id = recorded_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    for (cfg, status, code_) in [
        (
            FaultConfig {
                http500: 1.0,
                ..Default::default()
            },
            500,
            "CMN-203",
        ),
        (
            FaultConfig {
                http503: 1.0,
                ..Default::default()
            },
            503,
            "CMN-201",
        ),
    ] {
        h.state().faults().set(cfg);
        for url in [call_log_url(&h, ""), content_url(&h, &id)] {
            let r = get(&c, &url, &t).await;
            assert_eq!(r.status(), status, "{url}");
            let b: Value = r.json().await.unwrap();
            assert_eq!(code(&b), code_);
        }
    }
    h.state().faults().set(FaultConfig::default());
    assert_eq!(get(&c, &call_log_url(&h, ""), &t).await.status(), 200);
}

#[tokio::test]
async fn a_fractional_rate_fails_some_requests_but_not_all() {
    let h = spawn(|c| c.faults.http503 = 0.5).await;
    let c = client();
    let t = loop {
        // The token endpoint is also subject to the fault.
        let (s, b) = token_request(
            &h,
            &c,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &h.state().config().credentials.jwt),
            ],
        )
        .await;
        if s == 200 {
            break b["access_token"].as_str().unwrap().to_owned();
        }
    };
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(get(&c, &call_log_url(&h, ""), &t).await.status().as_u16());
    }
    assert!(
        statuses.contains(&200) && statuses.contains(&503),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_reset_body_breaks_the_download() {
    let h = spawn(|c| c.faults.reset_mid_body = 1.0).await;
    let id = recorded_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(r.status(), 200);
    assert!(r.bytes().await.is_err());
}

#[tokio::test]
async fn a_truncated_body_ends_before_content_length() {
    let h = spawn(|c| c.faults.truncated_body = 1.0).await;
    let id = recorded_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let r = get(&c, &content_url(&h, &id), &t).await;
    assert_eq!(r.status(), 200);
    assert!(r.content_length().unwrap() > 0);
    assert!(r.bytes().await.is_err());
}

#[tokio::test]
async fn a_slow_body_arrives_whole_but_late() {
    let h = spawn(|c| {
        c.faults.slow_body = 1.0;
        c.faults.slow_body_bytes_per_sec = 100;
    })
    .await;
    let id = recorded_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let began = Instant::now();
    let r = c
        .get(content_url(&h, &id))
        .bearer_auth(&t)
        .header("Range", "bytes=0-39")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 206);
    let body = r.bytes().await.unwrap();
    assert_eq!(body.len(), 40);
    // 40 bytes at 100 B/s in 10-byte slices every 100 ms.
    assert!(
        began.elapsed() >= StdDuration::from_millis(300),
        "{:?}",
        began.elapsed()
    );
}

#[tokio::test]
async fn a_revoked_token_gets_401_oau_213_mid_run() {
    let h = spawn(|_| {}).await;
    let c = client();
    let t = token(&h, &c).await;
    assert_eq!(get(&c, &call_log_url(&h, ""), &t).await.status(), 200);
    h.state().faults().set(FaultConfig {
        revoke_token: 1.0,
        ..Default::default()
    });
    let r = get(&c, &call_log_url(&h, ""), &t).await;
    assert_eq!(r.status(), 401);
    assert_eq!(code(&r.json().await.unwrap()), "OAU-213");
    h.state().faults().set(FaultConfig::default());
    assert_eq!(
        get(&c, &call_log_url(&h, ""), &t).await.status(),
        401,
        "stays revoked"
    );
    let fresh = token(&h, &c).await;
    assert_eq!(get(&c, &call_log_url(&h, ""), &fresh).await.status(), 200);
}

#[tokio::test]
async fn a_listed_recording_can_vanish_before_download() {
    let h = spawn(|_| {}).await;
    let id = recorded_call(&h);
    let c = client();
    let t = token(&h, &c).await;
    let page = get_json(&c, &call_log_url(&h, ""), &t).await;
    let content_uri = page["records"][0]["recording"]["contentUri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(content_uri.ends_with(&format!("/{id}/content")));
    h.state().faults().set(FaultConfig {
        delete_recording: 1.0,
        ..Default::default()
    });
    let r = get(&c, &content_uri, &t).await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "CMN-102");
    h.state().faults().set(FaultConfig::default());
    assert_eq!(
        get(&c, &content_uri, &t).await.status(),
        404,
        "deleted for good"
    );
    assert!(h.state().world().recording(&id).unwrap().2.deleted);
}
