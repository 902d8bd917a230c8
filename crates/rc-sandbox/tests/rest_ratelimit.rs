//! Rate limits: headers, the 429 body, the penalty trap, group independence
//!. Limits run on real time, so these tests wait real
//! (sub-)seconds: the passing of time is the behaviour under test.

mod rest_support;

use std::time::Duration as StdDuration;

use rc_sandbox::ratelimit::RateLimitConfig;
use rest_support::*;
use serde_json::{Value, json};

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn limits(heavy: u32, secs: u64) -> RateLimitConfig {
    RateLimitConfig {
        window_secs: secs,
        penalty_secs: secs,
        heavy,
        ..Default::default()
    }
}

#[tokio::test]
async fn every_admitted_response_carries_the_rate_headers() {
    let h = spawn(|c| c.rate_limits = Some(RateLimitConfig::default())).await;
    let c = client();
    let t = token(&h, &c).await;
    for remaining in ["9", "8"] {
        let r = get(&c, &call_log_url(&h, ""), &t).await;
        assert_eq!(r.status(), 200);
        assert_eq!(header(&r, "x-rate-limit-group"), "heavy");
        assert_eq!(header(&r, "x-rate-limit-limit"), "10");
        assert_eq!(header(&r, "x-rate-limit-remaining"), remaining);
        assert_eq!(header(&r, "x-rate-limit-window"), "60");
    }
}

#[tokio::test]
async fn over_the_limit_is_429_cmn_301_with_retry_after() {
    let h = spawn(|c| c.rate_limits = Some(limits(2, 30))).await;
    let c = client();
    let t = token(&h, &c).await;
    for _ in 0..2 {
        assert_eq!(get(&c, &call_log_url(&h, ""), &t).await.status(), 200);
    }
    let r = get(&c, &call_log_url(&h, ""), &t).await;
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "retry-after"), "30");
    assert_eq!(header(&r, "x-rate-limit-group"), "heavy");
    assert_eq!(header(&r, "x-rate-limit-remaining"), "0");
    let b: Value = r.json().await.unwrap();
    assert_eq!(
        b,
        json!({"errorCode":"CMN-301","message":"Request rate exceeded","errors":[{"errorCode":"CMN-301","message":"Request rate exceeded"}]})
    );
}

#[tokio::test]
async fn each_request_during_the_penalty_restarts_it() {
    // A 2 s window and a 6 s penalty: the knocks below come 0.5 s apart,
    // so only a stall of over 5 s between two of them could let the penalty
    // lapse on a busy machine.
    let h = spawn(|c| {
        c.rate_limits = Some(RateLimitConfig {
            penalty_secs: 6,
            ..limits(2, 2)
        })
    })
    .await;
    let c = client();
    let t = token(&h, &c).await;
    let url = call_log_url(&h, "");
    for _ in 0..2 {
        assert_eq!(get(&c, &url, &t).await.status(), 200);
    }
    assert_eq!(get(&c, &url, &t).await.status(), 429);
    // Keep knocking every 0.5 s for 3 s: the 2 s window slides past the two
    // admitted requests, yet every knock restarts the penalty.
    for _ in 0..6 {
        tokio::time::sleep(StdDuration::from_millis(500)).await;
        assert_eq!(get(&c, &url, &t).await.status(), 429);
    }
    // A full quiet penalty frees the client.
    tokio::time::sleep(StdDuration::from_millis(6100)).await;
    assert_eq!(get(&c, &url, &t).await.status(), 200);
}

#[tokio::test]
async fn the_auth_group_is_counted_separately() {
    let h = spawn(|c| c.rate_limits = Some(limits(1, 30))).await;
    let c = client();
    let t = token(&h, &c).await; // auth 1 of 5
    assert_eq!(get(&c, &call_log_url(&h, ""), &t).await.status(), 200);
    assert_eq!(get(&c, &call_log_url(&h, ""), &t).await.status(), 429);
    for _ in 0..4 {
        token(&h, &c).await;
    }
    let cred = &h.state().config().credentials;
    let r = c
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .basic_auth(&cred.client_id, Some(&cred.client_secret))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", cred.jwt.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(header(&r, "x-rate-limit-group"), "auth");
}

#[tokio::test]
async fn without_limits_nothing_is_refused_and_no_headers_are_sent() {
    let h = spawn(|c| c.rate_limits = None).await;
    let c = client();
    let t = token(&h, &c).await;
    for _ in 0..30 {
        let r = get(&c, &call_log_url(&h, ""), &t).await;
        assert_eq!(r.status(), 200);
        assert!(r.headers().get("x-rate-limit-group").is_none());
    }
}
