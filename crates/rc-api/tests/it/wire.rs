//! Wire behaviours the simulator cannot easily be made to show on demand,
//! reproduced with a tiny axum server on loopback: cut bodies, servers that
//! ignore `Range`, 429 with `Retry-After`, 5xx bursts, 401 mid-run, foreign
//! `nextPage` links, refused `perPage`, redirects. Each server implements only
//! the one route a test needs; the real platform is `rc-sandbox` (see
//! `sandbox.rs`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures::{StreamExt, TryStreamExt};
use rc_api::{Config, Error, RcClient, RetryPolicy};
use sha2::{Digest, Sha256};

const JWT: &str = "eyJhbGciOiJub25lIn0.test-jwt-credential.sig";
const CLIENT_SECRET: &str = "test-client-secret-value";

/// What every request looked like.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    uri: String,
    auth: Option<String>,
    range: Option<String>,
    at: Instant,
}

/// Shared state of a fake platform.
#[derive(Default)]
struct Fake {
    seen: Mutex<Vec<Seen>>,
    /// Token grant form bodies, in order.
    grants: Mutex<Vec<String>>,
    issued: AtomicU32,
    /// Access tokens currently accepted.
    valid: Mutex<Vec<String>>,
    /// `expires_in` of issued tokens.
    expires_in: AtomicU32,
    /// Per-test counter for scripted behaviour.
    hits: AtomicU32,
    /// Recording content.
    content: Vec<u8>,
}

impl Fake {
    fn new(content: Vec<u8>) -> Arc<Fake> {
        let f = Fake {
            content,
            ..Default::default()
        };
        f.expires_in.store(3600, Ordering::SeqCst);
        Arc::new(f)
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    fn api_calls(&self) -> Vec<Seen> {
        self.seen()
            .into_iter()
            .filter(|s| !s.uri.starts_with("/restapi/oauth"))
            .collect()
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(token) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        self.valid.lock().unwrap().iter().any(|t| t == token)
    }
}

async fn record(State(f): State<Arc<Fake>>, req: Request, next: Next) -> Response {
    let h = req.headers();
    let text = |n: header::HeaderName| h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned);
    f.seen.lock().unwrap().push(Seen {
        method: req.method().to_string(),
        uri: req.uri().to_string(),
        auth: text(header::AUTHORIZATION),
        range: text(header::RANGE),
        at: Instant::now(),
    });
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let mut resp = next.run(req).await;
    // Like the platform: rate-limit headers on every answer (generous limits).
    let group = if path.starts_with("/restapi/oauth") {
        "auth"
    } else if path.starts_with("/restapi/v1.0/subscription") {
        if method == axum::http::Method::GET {
            "light"
        } else {
            "medium"
        }
    } else {
        "heavy"
    };
    let h = resp.headers_mut();
    if !h.contains_key("x-rate-limit-group") {
        h.insert("x-rate-limit-group", group.parse().unwrap());
        h.insert("x-rate-limit-limit", "1000".parse().unwrap());
        h.insert("x-rate-limit-remaining", "999".parse().unwrap());
        h.insert("x-rate-limit-window", "60".parse().unwrap());
    }
    resp
}

async fn token(State(f): State<Arc<Fake>>, headers: HeaderMap, body: String) -> Response {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    use base64::Engine;
    let want = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("test-client:{CLIENT_SECRET}"))
    );
    if basic != want {
        return (
            StatusCode::UNAUTHORIZED,
            r#"{"error":"invalid_client","errors":[{"errorCode":"OAU-123","message":"Client authentication is required"}]}"#,
        )
            .into_response();
    }
    f.grants.lock().unwrap().push(body.clone());
    if body.contains("assertion=bad") {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_grant","error_description":"Invalid JWT","errors":[{"errorCode":"OAU-140","message":"Invalid JWT"}]}"#,
        )
            .into_response();
    }
    let n = f.issued.fetch_add(1, Ordering::SeqCst) + 1;
    let access = format!("access-token-number-{n}");
    *f.valid.lock().unwrap() = vec![access.clone()];
    let body = serde_json::json!({
        "access_token": access,
        "token_type": "bearer",
        "expires_in": f.expires_in.load(Ordering::SeqCst),
        "refresh_token": format!("refresh-token-number-{n}"),
        "refresh_token_expires_in": 604800,
        "scope": "ReadCallLog ReadCallRecording",
        "owner_id": "42",
        "session_id": "s1"
    });
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn revoke(State(f): State<Arc<Fake>>, body: String) -> StatusCode {
    f.grants.lock().unwrap().push(format!("revoke:{body}"));
    f.valid.lock().unwrap().clear();
    StatusCode::OK
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"errorCode":"TokenInvalid","message":"Token not found","errors":[{"errorCode":"OAU-213","message":"Token not found"}]}"#,
    )
        .into_response()
}

fn rate_headers(remaining: u32) -> [(&'static str, String); 4] {
    [
        ("x-rate-limit-group", "heavy".into()),
        ("x-rate-limit-limit", "1000".into()),
        ("x-rate-limit-remaining", remaining.to_string()),
        ("x-rate-limit-window", "60".into()),
    ]
}

/// Serves `router` (plus token/revoke routes and request logging) on loopback.
async fn serve(fake: Arc<Fake>, router: Router<Arc<Fake>>) -> String {
    let app = router
        .route("/restapi/oauth/token", post(token))
        .route("/restapi/oauth/revoke", post(revoke))
        .layer(middleware::from_fn_with_state(fake.clone(), record))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    format!("http://{addr}")
}

fn client(base: &str) -> RcClient {
    client_with(base, |_| {})
}

fn client_with(base: &str, f: impl FnOnce(&mut Config)) -> RcClient {
    let mut c = Config::new(base, "test-client", CLIENT_SECRET, JWT).with_media_url(base);
    c.retry = RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
    };
    f(&mut c);
    RcClient::new(c).unwrap()
}

fn content(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
}

fn sha(b: &[u8]) -> [u8; 32] {
    Sha256::digest(b).into()
}

/// Answers the content route: `Range` → 206 with `Content-Range`, else 200.
/// The first `cut_first` answers stop after half their body.
fn content_response(f: &Fake, headers: &HeaderMap, cut: bool, honour_range: bool) -> Response {
    if !f.authorized(headers) {
        return unauthorized();
    }
    let total = f.content.len();
    let start = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("bytes="))
        .and_then(|v| v.trim_end_matches('-').parse::<usize>().ok())
        .filter(|_| honour_range)
        .unwrap_or(0);
    let body = f.content[start..].to_vec();
    let len = body.len();
    let mut b = Response::builder()
        .header(header::CONTENT_TYPE, "audio/mpeg")
        .header(header::CONTENT_LENGTH, len.to_string());
    for (k, v) in rate_headers(900) {
        b = b.header(k, v);
    }
    if start > 0 {
        b = b.status(StatusCode::PARTIAL_CONTENT).header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{total}", total - 1),
        );
    }
    let body = if cut {
        // Half the body goes out; a moment later the connection is cut.
        let half = Bytes::from(body[..len / 2].to_vec());
        Body::from_stream(
            futures::stream::iter(vec![
                Ok::<Bytes, std::io::Error>(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "cut",
                )),
            ])
            .then(|item| async move {
                if item.is_err() {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                item
            }),
        )
    } else {
        Body::from(body)
    };
    b.body(body).unwrap()
}

const CONTENT_PATH: &str = "/restapi/v1.0/account/1/recording/77/content";

#[tokio::test]
async fn a_cut_body_is_resumed_with_range_and_hashes_to_the_whole_recording() {
    let fake = Fake::new(content(200_000));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            let n = f.hits.fetch_add(1, Ordering::SeqCst);
            content_response(&f, &h, n == 0, true)
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);

    let mut sink = Vec::new();
    let done = c
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut sink)
        .await
        .unwrap();

    assert_eq!(sink, fake.content);
    assert_eq!(done.size, 200_000);
    assert_eq!(done.sha256, sha(&fake.content));
    assert_eq!(done.content_type, "audio/mpeg");
    assert_eq!(done.resumes, 1);
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].range, None);
    assert!(calls[1].range.as_deref().unwrap().starts_with("bytes="));
    assert_ne!(calls[1].range.as_deref(), Some("bytes=0-"));
}

#[tokio::test]
async fn a_body_that_is_always_cut_ends_as_truncated_with_the_byte_counts() {
    let fake = Fake::new(content(10_000));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            f.hits.fetch_add(1, Ordering::SeqCst);
            content_response(&f, &h, true, true)
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);

    let err = c
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut Vec::new())
        .await
        .unwrap_err();

    match err {
        Error::Truncated { expected, got } => {
            assert_eq!(expected, 10_000);
            assert!(got > 0 && got < 10_000, "{got}");
        }
        other => panic!("expected Truncated, got {other}"),
    }
    assert!(err_is_retryable_truncated());
    assert_eq!(fake.api_calls().len(), 4, "bounded by max_attempts");
}

fn err_is_retryable_truncated() -> bool {
    Error::Truncated {
        expected: 2,
        got: 1,
    }
    .is_retryable()
}

#[tokio::test]
async fn a_server_that_ignores_range_is_accepted_when_the_resent_prefix_matches() {
    let fake = Fake::new(content(50_000));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            let n = f.hits.fetch_add(1, Ordering::SeqCst);
            content_response(&f, &h, n == 0, false)
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);

    let mut sink = Vec::new();
    let done = c
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut sink)
        .await
        .unwrap();

    assert_eq!(sink, fake.content, "no byte written twice");
    assert_eq!(done.sha256, sha(&fake.content));
}

#[tokio::test]
async fn a_206_starting_elsewhere_than_asked_is_refused() {
    let fake = Fake::new(content(1000));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            let n = f.hits.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                return content_response(&f, &h, true, true);
            }
            Response::builder()
                .status(StatusCode::PARTIAL_CONTENT)
                .header(header::CONTENT_TYPE, "audio/mpeg")
                .header(header::CONTENT_RANGE, "bytes 0-999/1000")
                .body(Body::from(f.content.clone()))
                .unwrap()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let err = client(&base)
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[tokio::test]
async fn a_body_that_is_not_audio_is_refused_before_anything_is_written() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        CONTENT_PATH,
        get(|| async { ([(header::CONTENT_TYPE, "text/html")], "<html>login</html>") }),
    );
    let base = serve(fake.clone(), router).await;
    let mut sink = Vec::new();
    let err = client(&base)
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut sink)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotAudio { ref content_type } if content_type == "text/html"),
        "{err}"
    );
    assert!(sink.is_empty());
}

#[tokio::test]
async fn a_content_uri_on_another_host_is_refused_before_any_request_or_token() {
    let evil = Fake::new(content(10));
    let evil_base = serve(
        evil.clone(),
        Router::new().route(CONTENT_PATH, get(|| async { "stolen" })),
    )
    .await;
    let fake = Fake::new(Vec::new());
    let base = serve(fake.clone(), Router::new()).await;
    let c = client(&base);

    for uri in [
        format!("{evil_base}{CONTENT_PATH}"),
        format!("{}{CONTENT_PATH}", base.replace("127.0.0.1", "localhost")),
        format!("{}{CONTENT_PATH}", base.replace("http://", "https://")),
    ] {
        let err = c
            .download_recording(&uri, &mut Vec::new())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ForbiddenHost { .. }), "{uri}: {err}");
    }
    assert!(evil.seen().is_empty(), "the foreign host saw no request");
    assert!(fake.seen().is_empty(), "not even a token grant was made");
}

#[tokio::test]
async fn the_token_travels_only_in_the_authorization_header() {
    let fake = Fake::new(content(4096));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            content_response(&f, &h, false, true)
        }),
    );
    let base = serve(fake.clone(), router).await;
    client(&base)
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut Vec::new())
        .await
        .unwrap();
    let seen = fake.seen();
    let api = seen.iter().find(|s| s.uri == CONTENT_PATH).unwrap();
    assert_eq!(api.auth.as_deref(), Some("Bearer access-token-number-1"));
    for s in &seen {
        assert!(!s.uri.contains("access-token"), "token in URL: {}", s.uri);
        assert!(
            !s.uri.contains("test-jwt-credential"),
            "JWT in URL: {}",
            s.uri
        );
    }
    let grant = &fake.grants.lock().unwrap()[0];
    assert!(grant.contains("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"));
    assert!(grant.contains("assertion="));
}

const META_PATH: &str = "/restapi/v1.0/account/~/recording/77";

fn meta_ok() -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        r#"{"id":"77","contentUri":"http://x/content","contentType":"audio/mpeg","duration":42}"#,
    )
        .into_response()
}

#[tokio::test]
async fn a_429_blocks_the_group_for_retry_after_and_the_retry_then_succeeds() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        "/restapi/v1.0/account/{acc}/recording/{id}",
        get(|State(f): State<Arc<Fake>>| async move {
            if f.hits.fetch_add(1, Ordering::SeqCst) == 0 {
                let mut r = (
                    StatusCode::TOO_MANY_REQUESTS,
                    r#"{"errorCode":"CMN-301","message":"Request rate exceeded","errors":[{"errorCode":"CMN-301","message":"Request rate exceeded"}]}"#,
                )
                    .into_response();
                let h = r.headers_mut();
                h.insert("retry-after", "1".parse().unwrap());
                h.insert("x-rate-limit-group", "heavy".parse().unwrap());
                h.insert("x-rate-limit-limit", "10".parse().unwrap());
                h.insert("x-rate-limit-remaining", "0".parse().unwrap());
                h.insert("x-rate-limit-window", "60".parse().unwrap());
                return r;
            }
            meta_ok()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);

    let meta = c.recording_metadata(&"77".parse().unwrap()).await.unwrap();

    assert_eq!(meta.duration, Some(42));
    let calls = fake.api_calls();
    assert_eq!(calls.len(), 2);
    let gap = calls[1].at - calls[0].at;
    assert!(
        gap >= Duration::from_secs(1),
        "retried inside the penalty: {gap:?}"
    );
    let heavy = c
        .rate_limit_metrics()
        .into_iter()
        .find(|m| m.group.as_str() == "heavy")
        .unwrap();
    assert_eq!(heavy.rate_limited, 1);
    assert!(heavy.waited >= Duration::from_millis(900));
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_until_success() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        META_PATH,
        get(|State(f): State<Arc<Fake>>| async move {
            if f.hits.fetch_add(1, Ordering::SeqCst) < 2 {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    r#"{"errors":[{"errorCode":"CMN-201","message":"Service Temporary Unavailable"}]}"#,
                )
                    .into_response();
            }
            meta_ok()
        }),
    );
    let base = serve(fake.clone(), router).await;
    client(&base)
        .recording_metadata(&"77".parse().unwrap())
        .await
        .unwrap();
    assert_eq!(fake.api_calls().len(), 3);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_the_attempt_budget_with_the_reason() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        META_PATH,
        get(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"errors":[{"errorCode":"CMN-203","message":"Internal Server Error"}]}"#,
            )
        }),
    );
    let base = serve(fake.clone(), router).await;
    let err = client(&base)
        .recording_metadata(&"77".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Protocol { status: 500, ref code, .. } if code.as_deref() == Some("CMN-203")),
        "{err}"
    );
    assert!(err.is_retryable());
    assert_eq!(fake.api_calls().len(), 4);
}

#[tokio::test]
async fn other_client_errors_are_not_retried_and_their_excerpt_holds_no_token() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        META_PATH,
        get(|h: HeaderMap| async move {
            // A server that (badly) echoes what it was sent.
            let echoed = h
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            (
                StatusCode::FORBIDDEN,
                format!(
                    r#"{{"errorCode":"InsufficientPermissions","message":"needs [ReadCallRecording]; you sent {echoed}","errors":[{{"errorCode":"CMN-401","message":"x"}}]}}"#
                ),
            )
        }),
    );
    let base = serve(fake.clone(), router).await;
    let err = client(&base)
        .recording_metadata(&"77".parse().unwrap())
        .await
        .unwrap_err();
    let Error::Protocol {
        status,
        code,
        body_excerpt,
    } = &err
    else {
        panic!("{err}");
    };
    assert_eq!((*status, code.as_deref()), (403, Some("CMN-401")));
    assert!(
        !body_excerpt.contains("access-token-number"),
        "{body_excerpt}"
    );
    assert!(!err.to_string().contains("access-token-number"));
    assert!(!format!("{err:?}").contains("access-token-number"));
    assert_eq!(fake.api_calls().len(), 1);
}

#[tokio::test]
async fn a_404_on_a_recording_is_not_ready_and_on_a_subscription_is_gone() {
    let fake = Fake::new(Vec::new());
    let not_found = || async {
        (
            StatusCode::NOT_FOUND,
            r#"{"errors":[{"errorCode":"CMN-102","message":"Resource for parameter [callRecordingId] is not found"}]}"#,
        )
    };
    let router = Router::new()
        .route(META_PATH, get(not_found))
        .route(CONTENT_PATH, get(not_found))
        .route("/restapi/v1.0/subscription/{id}", get(not_found));
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    let err = c
        .recording_metadata(&"77".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::NotReady { ref code } if code.as_deref() == Some("CMN-102")),
        "{err}"
    );
    let err = c
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotReady { .. }), "{err}");
    let err = c
        .get_subscription(&"dd2f0ff2-580e-4581-a277-76f9c9a54bc9".parse().unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Gone { status: 404, .. }), "{err}");
    assert_eq!(
        fake.api_calls().len(),
        3,
        "404s are not retried by the client"
    );
}

#[tokio::test]
async fn a_401_mid_run_refreshes_the_token_once_with_the_refresh_grant() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        META_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            if !f.authorized(&h) {
                return unauthorized();
            }
            meta_ok()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    let id = "77".parse().unwrap();
    c.recording_metadata(&id).await.unwrap();

    fake.valid.lock().unwrap().clear(); // the server revokes the access token
    c.recording_metadata(&id).await.unwrap();

    let grants = fake.grants.lock().unwrap().clone();
    assert_eq!(grants.len(), 2);
    assert!(grants[1].contains("grant_type=refresh_token"));
    assert!(grants[1].contains("refresh_token=refresh-token-number-1"));
    let status = c.token_status().await;
    assert_eq!((status.grants, status.refresh_grants), (2, 1));
}

#[tokio::test]
async fn a_token_refused_on_every_retry_is_unauthorized_once_the_attempt_budget_is_spent() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(META_PATH, get(|| async { unauthorized() }));
    let base = serve(fake.clone(), router).await;
    let err = client(&base)
        .recording_metadata(&"77".parse().unwrap())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 401, ref code } if code.as_deref() == Some("OAU-213")),
        "{err}"
    );
    // One free refresh, then the 4-attempt budget: 5 calls, each with a fresh token.
    assert_eq!(fake.api_calls().len(), 5);
    assert_eq!(fake.grants.lock().unwrap().len(), 5);
}

#[tokio::test]
async fn concurrent_requests_share_one_token_grant() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        META_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            if !f.authorized(&h) {
                return unauthorized();
            }
            meta_ok()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client_with(&base, |cfg| {
        cfg.scheduler.spread = false;
    });
    // Heavy allows 10 per minute by default: stay within one burst.
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let c = c.clone();
            tokio::spawn(async move { c.recording_metadata(&"77".parse().unwrap()).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert_eq!(fake.grants.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_token_at_the_end_of_its_life_is_refreshed_before_use() {
    let fake = Fake::new(Vec::new());
    fake.expires_in.store(0, Ordering::SeqCst);
    let router = Router::new().route(
        META_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            if !f.authorized(&h) {
                return unauthorized();
            }
            meta_ok()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    c.authenticate().await.unwrap();
    c.recording_metadata(&"77".parse().unwrap()).await.unwrap();
    let grants = fake.grants.lock().unwrap().clone();
    assert_eq!(grants.len(), 2);
    assert!(
        grants[1].contains("grant_type=refresh_token"),
        "proactive refresh, not a 401"
    );
    assert_eq!(fake.api_calls().len(), 1, "the API never saw a stale token");
}

#[tokio::test]
async fn a_refused_jwt_is_unauthorized_and_bad_client_credentials_too() {
    let fake = Fake::new(Vec::new());
    let base = serve(fake.clone(), Router::new()).await;
    let mut cfg = Config::new(&base, "test-client", CLIENT_SECRET, "bad");
    cfg.retry.base_delay = Duration::from_millis(1);
    let err = RcClient::new(cfg)
        .unwrap()
        .authenticate()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 400, ref code } if code.as_deref() == Some("OAU-140")),
        "{err}"
    );

    let cfg = Config::new(&base, "test-client", "wrong-secret", JWT);
    let err = RcClient::new(cfg)
        .unwrap()
        .authenticate()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Unauthorized { status: 401, .. }),
        "{err}"
    );
    assert!(!format!("{err:?}").contains("wrong-secret"));
}

#[tokio::test]
async fn revoke_sends_the_access_token_in_the_form_and_forgets_it() {
    let fake = Fake::new(Vec::new());
    let base = serve(fake.clone(), Router::new()).await;
    let c = client(&base);
    c.revoke().await.unwrap(); // nothing to revoke yet: no request
    assert!(fake.seen().is_empty());
    c.authenticate().await.unwrap();
    c.revoke().await.unwrap();
    let grants = fake.grants.lock().unwrap().clone();
    assert_eq!(grants.last().unwrap(), "revoke:token=access-token-number-1");
    assert_eq!(c.token_status().await.access_expires_in, None);
}

const LOG_PATH: &str = "/restapi/v1.0/account/~/call-log";

fn record_json(id: &str, tsid: &str, start: &str) -> serde_json::Value {
    serde_json::json!({
        "uri": format!("http://x/call-log/{id}"), "id": id, "sessionId": "1",
        "telephonySessionId": tsid, "startTime": start, "type": "Voice",
        "direction": "Inbound", "action": "Phone Call", "result": "Accepted",
        "recording": {"uri": "http://x/r", "id": format!("9{}", id.len()), "type": "Automatic",
                      "contentUri": "http://x/r/content"},
        "legs": []
    })
}

#[tokio::test]
async fn call_log_paging_follows_next_page_until_it_is_absent() {
    let fake = Fake::new(Vec::new());
    let base_cell: Arc<Mutex<String>> = Arc::default();
    let cell = base_cell.clone();
    let router = Router::new().route(
        LOG_PATH,
        get(move |axum::extract::RawQuery(q): axum::extract::RawQuery| {
            let base = cell.lock().unwrap().clone();
            async move {
                let q = q.unwrap_or_default();
                let page: u32 = q
                    .split('&')
                    .find_map(|kv| kv.strip_prefix("page="))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let mut body = serde_json::json!({
                    "uri": format!("{base}{LOG_PATH}?{q}"),
                    "records": [record_json(&format!("rec{page}a"), "s-1", "2026-11-20T10:00:00Z"),
                                record_json(&format!("rec{page}b"), "s-2", "2026-11-20T09:00:00Z")],
                    "paging": {"page": page, "perPage": 2},
                    "navigation": {"firstPage": {"uri": format!("{base}{LOG_PATH}?page=1")}}
                });
                if page < 3 {
                    body["navigation"]["nextPage"] =
                        serde_json::json!({"uri": format!("{base}{LOG_PATH}?page={}&perPage=2", page + 1)});
                }
                ([(header::CONTENT_TYPE, "application/json")], body.to_string())
            }
        }),
    );
    let base = serve(fake.clone(), router).await;
    *base_cell.lock().unwrap() = base.clone();
    let c = client(&base);
    let from = chrono::DateTime::parse_from_rfc3339("2026-11-01T00:00:00Z")
        .unwrap()
        .to_utc();
    let to = chrono::DateTime::parse_from_rfc3339("2026-11-25T00:00:00Z")
        .unwrap()
        .to_utc();

    let pages: Vec<_> = c
        .list_company_call_log(&rc_api::CallLogQuery::new(from, to))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(pages.len(), 3);
    let records: Vec<_> = c
        .list_company_call_log_records(&rc_api::CallLogQuery::new(from, to))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(records.len(), 6);

    let first = &fake.api_calls()[0].uri;
    for want in [
        "view=Detailed",
        "recordingType=All",
        "dateFrom=2026-11-01T00%3A00%3A00.000Z",
        "dateTo=2026-11-25T00%3A00%3A00.000Z",
        "perPage=1000",
    ] {
        assert!(first.contains(want), "{first} lacks {want}");
    }

    let tsid = "s-1".parse().unwrap();
    let session = c.call_log_by_session(&tsid, from, to).await.unwrap();
    assert_eq!(session.len(), 3, "client-side filter keeps only s-1");
    assert!(
        session
            .windows(2)
            .all(|w| w[0].start_time <= w[1].start_time)
    );
    assert!(
        fake.api_calls()[6].uri.contains("telephonySessionId=s-1"),
        "server-side filter sent"
    );
}

#[tokio::test]
async fn a_next_page_link_to_another_host_is_refused_and_not_followed() {
    let evil = Fake::new(Vec::new());
    let evil_base = serve(evil.clone(), Router::new()).await;
    let fake = Fake::new(Vec::new());
    let link = format!("{evil_base}{LOG_PATH}?page=2");
    let router = Router::new().route(
        LOG_PATH,
        get(move || {
            let link = link.clone();
            async move {
                let body = serde_json::json!({
                    "uri": "x", "records": [record_json("rec1", "s-1", "2026-11-20T10:00:00Z")],
                    "paging": {"page": 1, "perPage": 1},
                    "navigation": {"nextPage": {"uri": link}}
                });
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    body.to_string(),
                )
            }
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    let now = chrono::Utc::now();
    let results: Vec<_> = c
        .list_company_call_log(&rc_api::CallLogQuery::new(
            now - chrono::Duration::days(1),
            now,
        ))
        .collect::<Vec<_>>()
        .await;
    assert_eq!(results.len(), 2, "the page, then the refusal");
    assert_eq!(results[0].as_ref().unwrap().records.len(), 1);
    assert!(
        matches!(results[1], Err(Error::ForbiddenHost { .. })),
        "{:?}",
        results[1]
    );
    assert!(evil.seen().is_empty());
}

#[tokio::test]
async fn a_refused_per_page_is_stepped_down_and_remembered() {
    let fake = Fake::new(Vec::new());
    let router = Router::new().route(
        LOG_PATH,
        get(|axum::extract::RawQuery(q): axum::extract::RawQuery| async move {
            let q = q.unwrap_or_default();
            let per_page: u32 = q
                .split('&')
                .find_map(|kv| kv.strip_prefix("perPage="))
                .and_then(|v| v.parse().ok())
                .unwrap_or(100);
            if per_page > 250 {
                return (
                    StatusCode::BAD_REQUEST,
                    r#"{"errors":[{"errorCode":"CMN-101","message":"Parameter [perPage] value is invalid.","parameterName":"perPage"}]}"#,
                )
                    .into_response();
            }
            let body = serde_json::json!({"uri": "x", "records": [], "paging": {"perPage": per_page}, "navigation": {}});
            ([(header::CONTENT_TYPE, "application/json")], body.to_string()).into_response()
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    let now = chrono::Utc::now();
    let q = rc_api::CallLogQuery::new(now - chrono::Duration::days(1), now);
    let pages: Vec<_> = c.list_company_call_log(&q).try_collect().await.unwrap();
    assert_eq!(pages.len(), 1);
    let _: Vec<_> = c.list_company_call_log(&q).try_collect().await.unwrap();
    let per_pages: Vec<String> = fake
        .api_calls()
        .iter()
        .map(|s| {
            s.uri
                .split('&')
                .find_map(|kv| kv.strip_prefix("perPage="))
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(per_pages, ["1000", "250", "250"]);
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let evil = Fake::new(Vec::new());
    let evil_base = serve(evil.clone(), Router::new()).await;
    let fake = Fake::new(Vec::new());
    let target = format!("{evil_base}/steal");
    let router = Router::new().route(
        CONTENT_PATH,
        get(move || {
            let target = target.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, target)]) }
        }),
    );
    let base = serve(fake.clone(), router).await;
    let err = client(&base)
        .download_recording(&format!("{base}{CONTENT_PATH}"), &mut Vec::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Protocol { status: 302, .. }), "{err}");
    assert!(evil.seen().is_empty());
}

#[tokio::test]
async fn a_webhook_subscription_is_created_with_its_filters_and_verification_token() {
    let fake = Fake::new(Vec::new());
    let bodies: Arc<Mutex<Vec<serde_json::Value>>> = Arc::default();
    let b2 = bodies.clone();
    let router = Router::new().route(
        "/restapi/v1.0/subscription",
        post(move |axum::Json(v): axum::Json<serde_json::Value>| {
            b2.lock().unwrap().push(v);
            async {
                (
                    [(header::CONTENT_TYPE, "application/json")],
                    r#"{"id":"dd2f0ff2-580e-4581-a277-76f9c9a54bc9","status":"Active","expiresIn":604799,
                        "eventFilters":["/restapi/v1.0/account/1/telephony/sessions"],
                        "deliveryMode":{"transportType":"WebHook","address":"https://h/x","encryption":false}}"#,
                )
            }
        }),
    );
    let base = serve(fake.clone(), router).await;
    let req = rc_api::models::CreateSubscriptionRequest::webhook(
        vec!["/restapi/v1.0/account/~/telephony/sessions".into()],
        "https://h/x",
        Some(rc_api::Secret::new("verification-secret-123")),
        None,
    );
    let info = client(&base).create_subscription(&req).await.unwrap();
    assert_eq!(
        info.status,
        Some(rc_api::models::SubscriptionStatus::Active)
    );
    let sent = bodies.lock().unwrap()[0].clone();
    assert_eq!(
        sent["deliveryMode"]["verificationToken"],
        "verification-secret-123"
    );
    assert_eq!(sent["deliveryMode"]["transportType"], "WebHook");
    assert!(sent.get("expiresIn").is_none());
    let call = fake.api_calls()[0].clone();
    assert_eq!(call.method, "POST");
}

#[tokio::test]
async fn no_token_or_credential_reaches_the_logs_even_at_trace_level() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    // A download cut once (resume), then a revoked token (401 → refresh), then revoke.
    let fake = Fake::new(content(20_000));
    let router = Router::new().route(
        CONTENT_PATH,
        get(|State(f): State<Arc<Fake>>, h: HeaderMap| async move {
            let n = f.hits.fetch_add(1, Ordering::SeqCst);
            content_response(&f, &h, n == 0, true)
        }),
    );
    let base = serve(fake.clone(), router).await;
    let c = client(&base);
    let uri = format!("{base}{CONTENT_PATH}");
    c.download_recording(&uri, &mut Vec::new()).await.unwrap();
    fake.valid.lock().unwrap().clear();
    c.download_recording(&uri, &mut Vec::new()).await.unwrap();
    c.revoke().await.unwrap();

    let logs = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("refreshing the token once"),
        "logging was captured:\n{logs}"
    );
    for secret in [
        "access-token-number",
        "refresh-token-number",
        "test-jwt-credential",
        CLIENT_SECRET,
    ] {
        assert!(
            !logs.contains(secret),
            "{secret} leaked into the logs:\n{logs}"
        );
    }
}
