//! Shared helpers for the `live_*` tests: a sandbox on loopback with a real
//! token, a scriptable WebHook receiver, and waits with deadlines.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rc_sandbox::{SandboxConfig, SandboxHandle};
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

/// How long any wait may take before the test fails: only a backstop
/// against a hang (every wait ends on the event itself), generous enough
/// for a 2-core machine kept busy by other builds.
pub const DEADLINE: Duration = Duration::from_secs(120);

/// A running sandbox plus an authenticated client.
pub struct Harness {
    pub sandbox: SandboxHandle,
    pub http: reqwest::Client,
    pub token: String,
}

impl Harness {
    /// Starts a sandbox (clock frozen) configured by `f` and gets a token.
    pub async fn start(f: impl FnOnce(&mut SandboxConfig)) -> Harness {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let sandbox = rc_sandbox::Sandbox::builder()
            .seed(11)
            .configure(f)
            .spawn()
            .await
            .unwrap();
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let token = obtain_token(&http, &sandbox).await;
        let h = Harness {
            sandbox,
            http,
            token,
        };
        h.control("/sandbox/clock", json!({"freeze": true})).await;
        h
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.sandbox.platform_url(), path)
    }

    /// A RingCentral request with the Bearer token; returns (status, body).
    pub async fn rc(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = self
            .http
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = StatusCode::from_u16(resp.status().as_u16()).unwrap();
        let text = resp.text().await.unwrap();
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap()
        };
        (status, v)
    }

    /// A control-API POST that must succeed; returns its JSON.
    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap_or(Value::Null)
    }

    pub async fn control_get(&self, path: &str) -> Value {
        let resp = self.http.get(self.url(path)).send().await.unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    /// Advances the sandbox clock.
    pub async fn advance(&self, secs: f64) {
        self.control("/sandbox/clock", json!({"advanceSecs": secs}))
            .await;
    }

    /// Creates a WebHook subscription; returns (status, body).
    pub async fn subscribe(
        &self,
        filters: &[&str],
        address: &str,
        token: Option<&str>,
        expires_in: Option<i64>,
    ) -> (StatusCode, Value) {
        let mut mode = json!({"transportType": "WebHook", "address": address});
        if let Some(t) = token {
            mode["verificationToken"] = json!(t);
        }
        let mut body = json!({"eventFilters": filters, "deliveryMode": mode});
        if let Some(e) = expires_in {
            body["expiresIn"] = json!(e);
        }
        self.rc(
            reqwest::Method::POST,
            "/restapi/v1.0/subscription",
            Some(body),
        )
        .await
    }

    /// Subscribes at account level and expects success; returns the id.
    pub async fn subscribe_ok(&self, rx: &Receiver, filters: &[&str]) -> String {
        let (s, v) = self
            .subscribe(filters, &rx.url, Some("vt-secret"), None)
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["id"].as_str().unwrap().to_string()
    }

    pub fn account_id(&self) -> u64 {
        self.sandbox.state().account_id()
    }

    pub fn extension_id(&self, index: usize) -> u64 {
        self.sandbox.state().world().extensions[index].id
    }

    /// Injects a scripted call; returns the control API's answer.
    pub async fn call(&self, script: Value) -> Value {
        self.control("/sandbox/calls", script).await
    }
}

pub const ACCOUNT_FILTER: &str = "/restapi/v1.0/account/~/telephony/sessions";
pub const EXTENSION_FILTER: &str = "/restapi/v1.0/account/~/extension/~/telephony/sessions";

/// A segment of a call script.
pub fn seg(extension: usize, talk_s: u64, handoff: &str) -> Value {
    json!({"extension": extension, "ring_ms": 4000, "talk_ms": talk_s * 1000, "recorded": true, "handoff": handoff})
}

/// An inbound call script starting now.
pub fn inbound(segments: Vec<Value>) -> Value {
    json!({
        "direction": "Inbound",
        "external": {"phone_number": "+14155550123", "name": "Pat Caller"},
        "segments": segments,
    })
}

/// Real token request; falls back to a dummy bearer only while the token
/// endpoint does not exist yet (404).
async fn obtain_token(http: &reqwest::Client, sandbox: &SandboxHandle) -> String {
    let env: std::collections::HashMap<_, _> = sandbox.client_env().into_iter().collect();
    let resp = http
        .post(format!("{}/restapi/oauth/token", sandbox.platform_url()))
        .basic_auth(&env["RC_CLIENT_ID"], Some(&env["RC_CLIENT_SECRET"]))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", env["RC_JWT"].as_str()),
        ])
        .send()
        .await
        .unwrap();
    if resp.status() == reqwest::StatusCode::NOT_FOUND {
        return "dummy-token-until-the-oauth-endpoint-lands".into();
    }
    assert!(
        resp.status().is_success(),
        "token endpoint: {}",
        resp.status()
    );
    let v: Value = resp.json().await.unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

/// How the receiver answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// 200 (echoing `Validation-Token` on the handshake).
    Ok,
    /// 200 with a different `Validation-Token`.
    WrongEcho,
    /// 200 without `Validation-Token`.
    NoEcho,
    /// This status (echoing the token).
    Status(u16),
    /// Sleep, then 200 with the echo.
    Sleep(Duration),
    /// 200 with the echo and a 2000-byte body.
    Oversize,
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Hit {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Hit {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

struct RxState {
    handshake: Mutex<Reply>,
    delivery: Mutex<Reply>,
    validations: Mutex<Vec<Hit>>,
    deliveries: Mutex<Vec<Hit>>,
    notify: Notify,
}

/// A WebHook receiver on an ephemeral loopback port.
pub struct Receiver {
    pub url: String,
    state: Arc<RxState>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::with(Reply::Ok, Reply::Ok).await
    }

    pub async fn with(handshake: Reply, delivery: Reply) -> Receiver {
        let state = Arc::new(RxState {
            handshake: Mutex::new(handshake),
            delivery: Mutex::new(delivery),
            validations: Mutex::default(),
            deliveries: Mutex::default(),
            notify: Notify::new(),
        });
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(state.clone());
        let (stop, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop_rx.wait_for(|s| *s).await;
                })
                .await;
        });
        Receiver {
            url,
            state,
            stop,
            task,
        }
    }

    pub fn set_delivery(&self, reply: Reply) {
        *self.state.delivery.lock().unwrap() = reply;
    }

    pub fn validations(&self) -> Vec<Hit> {
        self.state.validations.lock().unwrap().clone()
    }

    pub fn deliveries(&self) -> Vec<Hit> {
        self.state.deliveries.lock().unwrap().clone()
    }

    /// Parsed notification bodies in arrival order.
    pub fn notifications(&self) -> Vec<Value> {
        self.deliveries().iter().map(Hit::json).collect()
    }

    /// Waits until `cond` holds for the deliveries, or panics at the deadline.
    pub async fn wait_for(&self, what: &str, cond: impl Fn(&[Hit]) -> bool) -> Vec<Hit> {
        let end = tokio::time::Instant::now() + DEADLINE;
        loop {
            let notified = self.state.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let hits = self.deliveries();
            if cond(&hits) {
                return hits;
            }
            if tokio::time::timeout_at(end, notified).await.is_err() {
                panic!(
                    "timed out waiting for {what}; got {} deliveries",
                    hits.len()
                );
            }
        }
    }

    /// Waits for at least `n` deliveries and returns their bodies.
    pub async fn wait_count(&self, n: usize) -> Vec<Value> {
        self.wait_for(&format!("{n} deliveries"), |h| h.len() >= n)
            .await
            .iter()
            .map(Hit::json)
            .collect()
    }

    /// Stops listening (later connections are refused).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        self.task.abort();
        let _ = self.task.await;
    }
}

async fn hook(State(state): State<Arc<RxState>>, headers: HeaderMap, body: Bytes) -> Response {
    let token = headers.get("Validation-Token").cloned();
    let hit = Hit { headers, body };
    let reply = if token.is_some() {
        state.validations.lock().unwrap().push(hit);
        state.handshake.lock().unwrap().clone()
    } else {
        state.deliveries.lock().unwrap().push(hit);
        state.delivery.lock().unwrap().clone()
    };
    state.notify.notify_waiters();
    let echo = token.unwrap_or_else(|| HeaderValue::from_static("none"));
    let mut h = HeaderMap::new();
    h.insert("Content-Type", HeaderValue::from_static("application/json"));
    match reply {
        Reply::Ok => {
            h.insert("Validation-Token", echo);
            (StatusCode::OK, h).into_response()
        }
        Reply::WrongEcho => {
            h.insert(
                "Validation-Token",
                HeaderValue::from_static("not-the-token"),
            );
            (StatusCode::OK, h).into_response()
        }
        Reply::NoEcho => (StatusCode::OK, h).into_response(),
        Reply::Status(s) => {
            h.insert("Validation-Token", echo);
            (StatusCode::from_u16(s).unwrap(), h).into_response()
        }
        Reply::Sleep(d) => {
            tokio::time::sleep(d).await;
            h.insert("Validation-Token", echo);
            (StatusCode::OK, h).into_response()
        }
        Reply::Oversize => {
            h.insert("Validation-Token", echo);
            (StatusCode::OK, h, "x".repeat(2000)).into_response()
        }
    }
}

/// `(party number suffix, status code, reason)` of each notification.
pub fn party_changes(notes: &[Value]) -> Vec<(String, String, Option<String>)> {
    notes
        .iter()
        .map(|n| {
            let p = &n["body"]["parties"][0];
            (
                p["id"]
                    .as_str()
                    .unwrap()
                    .rsplit('-')
                    .next()
                    .unwrap()
                    .to_string(),
                p["status"]["code"].as_str().unwrap().to_string(),
                p["status"]["reason"].as_str().map(str::to_string),
            )
        })
        .collect()
}
