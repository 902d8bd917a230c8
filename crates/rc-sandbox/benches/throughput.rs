//! Throughput of the sandbox's two hot paths, with rate limits off:
//! call-log pages (100 Detailed records each) and recording content
//! (a one-hour recording). Each figure is compared with a baseline in the
//! same run: the same client against a trivial axum handler returning a
//! static body of the same size, so the ratio shows the sandbox's own cost.
//!
//! Run: `cargo bench -p rc-sandbox --bench throughput`
//! (env `BENCH_SECS` sets the seconds per phase, default 4).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use chrono::Utc;
use rc_sandbox::model::{
    CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript,
};
use rc_sandbox::{Sandbox, SandboxHandle};

const CONCURRENCY_PAGES: usize = 4;
const CONCURRENCY_CONTENT: usize = 2;
const CONVERSATIONS: usize = 3000;

#[derive(Debug, Clone, Copy)]
struct Rate {
    requests: u64,
    bytes: u64,
    secs: f64,
}

impl Rate {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.secs
    }
    fn mb_per_sec(&self) -> f64 {
        self.bytes as f64 / self.secs / 1e6
    }
}

/// Runs `workers` loops of GET `urls[i % len]` (with `token`) for `secs`,
/// reading every body chunk by chunk without keeping it.
async fn drive(
    client: &reqwest::Client,
    urls: Arc<Vec<String>>,
    token: Option<String>,
    workers: usize,
    secs: f64,
) -> Rate {
    let requests = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let began = Instant::now();
    let deadline = began + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for w in 0..workers {
        let (client, urls, token) = (client.clone(), urls.clone(), token.clone());
        let (requests, bytes) = (requests.clone(), bytes.clone());
        tasks.push(tokio::spawn(async move {
            let mut i = w;
            while Instant::now() < deadline {
                let mut req = client.get(&urls[i % urls.len()]);
                if let Some(t) = &token {
                    req = req.bearer_auth(t);
                }
                let mut res = req.send().await.expect("request");
                assert!(res.status().is_success(), "{}", res.status());
                let mut n = 0u64;
                while let Some(chunk) = res.chunk().await.expect("body") {
                    n += chunk.len() as u64;
                }
                bytes.fetch_add(n, Ordering::Relaxed);
                requests.fetch_add(1, Ordering::Relaxed);
                i += workers;
            }
        }));
    }
    for t in tasks {
        t.await.expect("worker");
    }
    Rate {
        requests: requests.load(Ordering::Relaxed),
        bytes: bytes.load(Ordering::Relaxed),
        secs: began.elapsed().as_secs_f64(),
    }
}

/// A trivial axum server answering every GET with `body`.
async fn baseline_server(body: Bytes, content_type: &'static str) -> String {
    let app = Router::new().route(
        "/{*rest}",
        get(move || {
            let body = body.clone();
            async move { ([("content-type", content_type)], body) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("baseline server");
    });
    format!("http://{addr}/static")
}

fn segment(extension: usize, talk_ms: u64, handoff: Handoff) -> SegmentScript {
    SegmentScript {
        extension,
        ring_ms: 4_000,
        talk_ms,
        recorded: true,
        handoff,
    }
}

/// 3000 conversations over the last 23 h (single legs, blind and attended
/// transfers) plus one recorded one-hour call; returns its content URI path.
fn populate(h: &SandboxHandle) -> String {
    let now = h.state().clock().now();
    let mut world = h.state().world_mut();
    let exts = world.extensions.len();
    for i in 0..CONVERSATIONS {
        let start = now - chrono::Duration::seconds(600 + 27 * i as i64);
        let e = i % exts;
        let segments = match i % 10 {
            0..=5 => vec![segment(
                e,
                45_000 + (i as u64 % 300) * 1000,
                Handoff::HangUp,
            )],
            6..=8 => vec![
                segment(e, 40_000, Handoff::BlindTransfer),
                segment((e + 1) % exts, 50_000, Handoff::HangUp),
            ],
            _ => vec![
                segment(e, 40_000, Handoff::AttendedTransfer),
                segment((e + 2) % exts, 60_000, Handoff::HangUp),
            ],
        };
        world
            .add(CallScript {
                start,
                direction: if i % 3 == 0 {
                    Direction::Outbound
                } else {
                    Direction::Inbound
                },
                external: ExternalParty {
                    phone_number: format!("+1415555{:04}", i % 10_000),
                    name: None,
                },
                segments,
                recording_kind: RecordingKind::Automatic,
            })
            .expect("script");
    }
    let long = world
        .add(CallScript {
            start: now - chrono::Duration::hours(2),
            direction: Direction::Inbound,
            external: ExternalParty {
                phone_number: "+14155550000".into(),
                name: None,
            },
            segments: vec![segment(0, 3_600_000, Handoff::HangUp)],
            recording_kind: RecordingKind::Automatic,
        })
        .expect("long call");
    let id = long.legs[0]
        .recording
        .as_ref()
        .expect("recorded")
        .id
        .clone();
    format!("/restapi/v1.0/account/~/recording/{id}/content")
}

fn main() {
    let secs: f64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(4.0);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(secs));
}

async fn run(secs: f64) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let h = Sandbox::builder()
        .seed(3)
        .configure(|c| {
            c.rate_limits = None;
            c.call_log_lag = chrono::Duration::zero();
            c.recording_lag = chrono::Duration::zero();
        })
        .spawn()
        .await
        .expect("sandbox");
    let content_path = populate(&h);
    let client = reqwest::Client::builder().build().expect("client");
    let cred = h.state().config().credentials.clone();
    let token: serde_json::Value = client
        .post(format!("{}/restapi/oauth/token", h.platform_url()))
        .basic_auth(&cred.client_id, Some(&cred.client_secret))
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", cred.jwt.as_str()),
        ])
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("token json");
    let token = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();

    // --- Call-log pages -------------------------------------------------
    let from = (Utc::now() - chrono::Duration::days(2))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let first = format!(
        "{}/restapi/v1.0/account/~/call-log?view=Detailed&perPage=100&dateFrom={from}",
        h.platform_url()
    );
    let page1: serde_json::Value = client
        .get(&first)
        .bearer_auth(&token)
        .send()
        .await
        .expect("page")
        .json()
        .await
        .expect("json");
    let records = page1["records"].as_array().map(Vec::len).unwrap_or(0);
    assert_eq!(records, 100, "a full page");
    let pages: Vec<String> = (1..=40).map(|p| format!("{first}&page={p}")).collect();
    let pages = Arc::new(pages);
    let sandbox_pages = drive(
        &client,
        pages.clone(),
        Some(token.clone()),
        CONCURRENCY_PAGES,
        secs,
    )
    .await;
    let avg_page = sandbox_pages.bytes / sandbox_pages.requests.max(1);
    let sample = client
        .get(&pages[0])
        .bearer_auth(&token)
        .send()
        .await
        .expect("page")
        .bytes()
        .await
        .expect("body");
    let base_url = baseline_server(sample.clone(), "application/json").await;
    let base_pages = drive(
        &client,
        Arc::new(vec![base_url]),
        None,
        CONCURRENCY_PAGES,
        secs,
    )
    .await;

    // --- Recording content ------------------------------------------------
    let content_url = format!("{}{content_path}", h.media_url());
    let render_began = Instant::now();
    let body = client
        .get(&content_url)
        .bearer_auth(&token)
        .send()
        .await
        .expect("content")
        .bytes()
        .await
        .expect("body");
    let render_secs = render_began.elapsed().as_secs_f64();
    let sandbox_content = drive(
        &client,
        Arc::new(vec![content_url]),
        Some(token.clone()),
        CONCURRENCY_CONTENT,
        secs,
    )
    .await;
    let base_url = baseline_server(body.clone(), "audio/mpeg").await;
    let base_content = drive(
        &client,
        Arc::new(vec![base_url]),
        None,
        CONCURRENCY_CONTENT,
        secs,
    )
    .await;

    println!("rc-sandbox throughput (loopback, rate limits off, {secs} s per phase)");
    println!(
        "call-log pages (100 Detailed records, {avg_page} B avg, {CONCURRENCY_PAGES} clients): {:.0} pages/s, {:.1} MB/s",
        sandbox_pages.per_sec(),
        sandbox_pages.mb_per_sec()
    );
    println!(
        "  baseline static {} B body: {:.0} req/s  -> sandbox/baseline = {:.2}",
        sample.len(),
        base_pages.per_sec(),
        sandbox_pages.per_sec() / base_pages.per_sec()
    );
    println!(
        "recording content ({} B one-hour recording, first render {:.2} s, {CONCURRENCY_CONTENT} clients): {:.0} MB/s ({:.1} downloads/s)",
        body.len(),
        render_secs,
        sandbox_content.mb_per_sec(),
        sandbox_content.per_sec()
    );
    println!(
        "  baseline static body: {:.0} MB/s  -> sandbox/baseline = {:.2}",
        base_content.mb_per_sec(),
        sandbox_content.mb_per_sec() / base_content.mb_per_sec()
    );
    if body.len() < 1_000_000 {
        println!(
            "  note: the recording is only {} B (audio renderer stubbed?) — content MB/s is not meaningful",
            body.len()
        );
    }
    h.shutdown().await;
}
