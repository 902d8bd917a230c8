//! A network between RingCentral and the receiver that loses or delays the
//! deliveries of chosen telephony sessions (tests only).
//!
//! RingCentral does not redeliver a notification its webhook answered, so a
//! delivery lost on the way (a proxy's hiccup, a receiver restart) is lost
//! for good, and one stuck in a queue arrives after the call's later events.
//! This peer sits at the subscription's address: it forwards every request
//! to the real receiver and hands back its answer (the validation handshake
//! included), except deliveries naming a withheld session, which it accepts
//! and keeps until [`LossyNetwork::release`], or for ever.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

/// One held delivery: where it was going, its headers and its body.
type Held = (String, HeaderMap, Bytes);

#[derive(Clone)]
pub(super) struct LossyNetwork {
    inner: Arc<Inner>,
}

struct Inner {
    receiver: String,
    http: reqwest::Client,
    /// Sessions whose deliveries are held back.
    withheld: Mutex<Vec<String>>,
    held: Mutex<Vec<Held>>,
}

impl LossyNetwork {
    /// A network in front of the receiver at `receiver` (base URL); serve
    /// [`LossyNetwork::router`] and subscribe its address instead.
    pub(super) fn new(receiver: &str) -> LossyNetwork {
        LossyNetwork {
            inner: Arc::new(Inner {
                receiver: receiver.trim_end_matches('/').to_owned(),
                http: reqwest::Client::new(),
                withheld: Mutex::default(),
                held: Mutex::default(),
            }),
        }
    }

    pub(super) fn router(&self) -> axum::Router {
        axum::Router::new()
            .fallback(forward)
            .with_state(self.clone())
    }

    /// Holds back every later delivery about `session`.
    pub(super) fn withhold(&self, session: &str) {
        self.inner.withheld.lock().unwrap().push(session.to_owned());
    }

    /// How many deliveries are held back.
    pub(super) fn held(&self) -> usize {
        self.inner.held.lock().unwrap().len()
    }

    /// Stops holding anything back and delivers what was held, in order.
    pub(super) async fn release(&self) {
        self.inner.withheld.lock().unwrap().clear();
        let held = std::mem::take(&mut *self.inner.held.lock().unwrap());
        for (path, headers, body) in held {
            let answer = self.inner.send(&path, headers, body).await;
            assert!(
                answer.as_ref().is_ok_and(|r| r.status().is_success()),
                "a released delivery was refused: {answer:?}"
            );
        }
    }
}

impl Inner {
    async fn send(
        &self,
        path_and_query: &str,
        headers: HeaderMap,
        body: Bytes,
    ) -> reqwest::Result<reqwest::Response> {
        let mut forwarded = HeaderMap::new();
        for (name, value) in &headers {
            if name != axum::http::header::HOST && name != axum::http::header::CONTENT_LENGTH {
                forwarded.insert(name.clone(), value.clone());
            }
        }
        self.http
            .post(format!("{}{path_and_query}", self.receiver))
            .headers(forwarded)
            .body(body)
            .send()
            .await
    }
}

async fn forward(State(net): State<LossyNetwork>, request: Request) -> Response {
    let path = request
        .uri()
        .path_and_query()
        .map_or("/".to_owned(), |p| p.as_str().to_owned());
    let headers = request.headers().clone();
    let Ok(body) = axum::body::to_bytes(request.into_body(), 1 << 20).await else {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    };
    // The session a delivery is about (an attended transfer's events may
    // name the other session too, as its peer).
    let session = serde_json::from_slice::<serde_json::Value>(&body)
        .ok()
        .and_then(|v| v["body"]["telephonySessionId"].as_str().map(str::to_owned));
    let withheld = session.is_some_and(|s| net.inner.withheld.lock().unwrap().contains(&s));
    if withheld {
        net.inner.held.lock().unwrap().push((path, headers, body));
        return StatusCode::OK.into_response();
    }
    match net.inner.send(&path, headers, body).await {
        Ok(answer) => {
            let status = answer.status();
            let headers = answer.headers().clone();
            let body = answer.bytes().await.unwrap_or_default();
            let mut response = (status, body).into_response();
            for (name, value) in &headers {
                if name != axum::http::header::CONTENT_LENGTH
                    && name != axum::http::header::TRANSFER_ENCODING
                {
                    response.headers_mut().insert(name.clone(), value.clone());
                }
            }
            response
        }
        Err(_) => StatusCode::BAD_GATEWAY.into_response(),
    }
}
