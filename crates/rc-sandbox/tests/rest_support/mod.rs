//! Shared helpers of the `rest_*` tests: spawn a sandbox in-process, get a
//! token, put calls in the world.
#![allow(dead_code)]

use chrono::{DateTime, Duration, Utc};
use rc_sandbox::model::{
    CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript,
};
use rc_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde_json::Value;

/// A sandbox with an empty history, rate limits and faults off and no lags, changed by `f`.
pub async fn spawn(f: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    Sandbox::builder()
        .seed(11)
        .configure(|c| {
            c.scenario.calls = 0;
            c.rate_limits = None;
            c.call_log_lag = Duration::zero();
            c.recording_lag = Duration::zero();
            f(c);
        })
        .spawn()
        .await
        .unwrap()
}

/// A reqwest client with the ring provider installed.
pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

/// `POST /restapi/oauth/token` with the given form; returns (status, body).
pub async fn token_request(
    h: &SandboxHandle,
    c: &reqwest::Client,
    form: &[(&str, &str)],
) -> (u16, Value) {
    let cred = &h.state().config().credentials;
    let r = c
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .basic_auth(&cred.client_id, Some(&cred.client_secret))
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// A fresh TokenInfo from the JWT grant.
pub async fn token_info(h: &SandboxHandle, c: &reqwest::Client) -> Value {
    let jwt = h.state().config().credentials.jwt.clone();
    let (status, body) = token_request(
        h,
        c,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &jwt),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A fresh access token.
pub async fn token(h: &SandboxHandle, c: &reqwest::Client) -> String {
    token_info(h, c).await["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// GET with a bearer token.
pub async fn get(c: &reqwest::Client, url: &str, token: &str) -> reqwest::Response {
    c.get(url).bearer_auth(token).send().await.unwrap()
}

/// GET a JSON body, asserting 200.
pub async fn get_json(c: &reqwest::Client, url: &str, token: &str) -> Value {
    let r = get(c, url, token).await;
    let status = r.status();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{url}: {body}");
    body
}

/// One segment on extension `ext`: 5 s ring, `talk_s` talk, recorded.
pub fn seg(ext: usize, talk_s: u64, handoff: Handoff) -> SegmentScript {
    SegmentScript {
        extension: ext,
        ring_ms: 5_000,
        talk_ms: talk_s * 1000,
        recorded: true,
        handoff,
    }
}

/// A call script starting at `start`.
pub fn script(
    start: DateTime<Utc>,
    direction: Direction,
    segments: Vec<SegmentScript>,
) -> CallScript {
    CallScript {
        start,
        direction,
        external: ExternalParty {
            phone_number: "+14155550123".into(),
            name: Some("Pat Caller".into()),
        },
        segments,
        recording_kind: RecordingKind::Automatic,
    }
}

/// Adds a call and returns the conversation index.
pub fn add(h: &SandboxHandle, s: CallScript) -> usize {
    h.state().world_mut().add(s).unwrap().index
}

/// Adds `n` single-leg inbound calls, one every `every` back from `last_start`.
pub fn add_many(h: &SandboxHandle, n: usize, last_start: DateTime<Utc>, every: Duration) {
    let exts = h.state().world().extensions.len();
    for i in 0..n {
        let start = last_start - every * i32::try_from(i).unwrap();
        add(
            h,
            script(
                start,
                Direction::Inbound,
                vec![seg(i % exts, 40, Handoff::HangUp)],
            ),
        );
    }
}

/// Account-level call-log URL with a query string.
pub fn call_log_url(h: &SandboxHandle, query: &str) -> String {
    format!(
        "{}/restapi/v1.0/account/~/call-log?{query}",
        h.platform_url()
    )
}

/// The `errors[0].errorCode` of an error body.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["errorCode"].as_str().unwrap_or_default()
}
