//! Webhook ingest benchmark (run with `cargo bench -p callvault --bench
//! notify`; not a timed test).
//!
//! Starts the real receiver ([`callvault::live::webhook_router`]) on loopback
//! over a real catalog (a SQLite file in a temp dir; PostgreSQL too when
//! `CALLVAULT_TEST_POSTGRES` is set, in a fresh schema) and drives it with our
//! own load generator: `BENCH_NOTIFY_CONNECTIONS` (default 64) concurrent
//! keep-alive connections POST `BENCH_NOTIFY_COUNT` (default 20,000)
//! telephony-session notifications, each with a unique `uuid`, built like the
//! official fixture `telephony-sessions/ccjs.notification.extension.
//! outbound-disconnected.json` (four events per session, the last one a
//! departure that queues the session job). It reports accepted/s and the
//! p50/p99 latency, side by side in the same run with two baselines on the
//! same server, client and machine:
//!
//! * **ceiling**: the same route answering 200 after parsing, storing nothing
//!   (what HTTP and JSON alone cost here);
//! * **one transaction per request**: each request commits its own
//!   notification with the same durability (no group commit), with
//!   `BENCH_NOTIFY_BASELINE_COUNT` (default 3,000) requests.
//!
//! A closed loop of 64 connections measures the most the server accepts,
//! but its latency is mostly the queue the loop itself builds (Little's law:
//! 64 in flight at 6,000/s is 10 ms each on average). So each backend also
//! runs **open loop at a fixed offered rate** (`BENCH_NOTIFY_RATE`, default
//! 5,000/s; RingCentral delivers when calls happen, not when we are ready):
//! request `i` is due at `i / rate` after the start and sent then on its own
//! task, and its latency counts from when it was due, not from when it was
//! sent, so a stalled server cannot hide its queue (no coordinated
//! omission). The group-commit receiver and the store-nothing ceiling run at
//! that rate on the same machine in the same run.
//!
//! Afterwards it checks that every notification of the group-commit runs is
//! in the catalog exactly once and that each session has its one job; it
//! panics otherwise. Each run starts on an empty catalog.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use callvault::live::{LiveConfig, LiveState, TOKEN_SETTING, webhook_router};
use rc_api::models::TelephonySessionNotification;
use vault::{Catalog, TelephonySessionId};

const TOKEN: &str = "bench-verification-token-0123456789abcdef";
const EVENTS_PER_SESSION: usize = 4;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn session_id(run: &str, session: usize) -> String {
    format!("s-{run}{session:012x}")
}

/// Notification `i` of a run tagged `run`: session `i / 4`, sequence
/// `i % 4 + 2`, the party Setup → Proceeding → Answered → Disconnected.
fn notification(run: &str, i: usize) -> String {
    let session = i / EVENTS_PER_SESSION;
    let step = i % EVENTS_PER_SESSION;
    let code = ["Setup", "Proceeding", "Answered", "Disconnected"][step];
    let tsid = session_id(run, session);
    serde_json::json!({
        "uuid": format!("{run}-{i:09}"),
        "event": "/restapi/v1.0/account/170848004/extension/170848004/telephony/sessions",
        "timestamp": "2019-09-05T07:46:05.947Z",
        "subscriptionId": "4a2eee85-880d-4690-9959-85d9fc70728b",
        "ownerId": "170848004",
        "body": {
            "sequence": step + 2,
            "sessionId": format!("{}", 21529129004u64 + session as u64),
            "telephonySessionId": tsid,
            "serverId": "10.28.20.109.TAM",
            "eventTime": "2019-09-05T07:46:05.856Z",
            "parties": [{
                "accountId": "170848004",
                "extensionId": "170848004",
                "id": format!("p-{tsid}-1"),
                "direction": "Outbound",
                "to": {"phoneNumber": "+16579991394"},
                "from": {"phoneNumber": "+16504257106", "extensionId": "170848004",
                         "deviceId": "52294004"},
                "status": {"code": code, "rcc": false},
                "missedCall": false,
                "standAlone": false,
                "muted": false
            }],
            "origin": {"type": "Call"}
        }
    })
    .to_string()
}

/// A fresh catalog: a SQLite file in `dir`, or a fresh PostgreSQL schema.
async fn catalog(pg_admin: Option<&str>, dir: &std::path::Path, tag: &str) -> (Catalog, String) {
    let url = match pg_admin {
        None => format!(
            "sqlite:{}?mode=rwc",
            dir.join(format!("{tag}.sqlite")).display()
        ),
        Some(admin) => {
            use sqlx::Connection;
            let schema = format!("bench_notify_{tag}_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(admin).await.expect("postgres");
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                .execute(&mut conn)
                .await
                .expect("create schema");
            let sep = if admin.contains('?') { '&' } else { '?' };
            format!("{admin}{sep}options[search_path]={schema}")
        }
    };
    let c = Catalog::open(&url).await.expect("catalog");
    c.set_setting(TOKEN_SETTING, TOKEN).await.expect("token");
    (c, url)
}

async fn drop_schema(pg_admin: Option<&str>, url: &str) {
    if let (Some(admin), Some((_, schema))) = (pg_admin, url.split_once("search_path]=")) {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(admin).await.expect("postgres");
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
            .execute(&mut conn)
            .await
            .expect("drop schema");
    }
}

async fn serve(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        axum::serve(listener, router).await.expect("serve");
    });
    (format!("http://{addr}/webhook/ringcentral"), task)
}

/// What one run measured.
struct Run {
    name: &'static str,
    requests: usize,
    elapsed: Duration,
    p50: Duration,
    p99: Duration,
}

impl Run {
    fn per_sec(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// POSTs `bodies` over `connections` concurrent connections; every answer
/// must be 200. Returns (elapsed, sorted latencies).
async fn load(url: &str, bodies: Vec<String>, connections: usize) -> (Duration, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(connections)
        .build()
        .expect("client");
    let bodies = Arc::new(bodies);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let (http, bodies, next, url) =
            (http.clone(), bodies.clone(), next.clone(), url.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return lat;
                };
                let t = Instant::now();
                let r = http
                    .post(&url)
                    .header("content-type", "application/json; charset=UTF-8")
                    .header("verification-token", TOKEN)
                    .body(body.clone())
                    .send()
                    .await
                    .expect("request");
                let status = r.status();
                let _ = r.bytes().await.expect("body");
                lat.push(t.elapsed());
                assert_eq!(status, 200, "notification {i} refused");
            }
        }));
    }
    let mut lat = Vec::with_capacity(bodies.len());
    for t in tasks {
        lat.extend(t.await.expect("load task"));
    }
    let elapsed = started.elapsed();
    lat.sort();
    (elapsed, lat)
}

/// Open loop: request `i` is due at `i / rate` after the start and is sent
/// then on its own task, however many are still in flight; its latency
/// counts from when it was due. Returns (elapsed, sorted latencies).
async fn load_at_rate(url: &str, bodies: Vec<String>, rate: f64) -> (Duration, Vec<Duration>) {
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client");
    let count = bodies.len();
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tasks = tokio::task::JoinSet::new();
    let mut bodies = bodies.into_iter().enumerate();
    let mut sent = 0usize;
    while sent < count {
        tick.tick().await;
        let due_now = ((started.elapsed().as_secs_f64() * rate) as usize + 1).min(count);
        for (i, body) in bodies.by_ref().take(due_now - sent) {
            let due = started + Duration::from_secs_f64(i as f64 / rate);
            let (http, url) = (http.clone(), url.to_owned());
            tasks.spawn(async move {
                let r = http
                    .post(&url)
                    .header("content-type", "application/json; charset=UTF-8")
                    .header("verification-token", TOKEN)
                    .body(body)
                    .send()
                    .await
                    .expect("request");
                let status = r.status();
                let _ = r.bytes().await.expect("body");
                assert_eq!(status, 200, "notification {i} refused");
                tokio::time::Instant::now() - due
            });
        }
        sent = due_now;
    }
    let mut lat = Vec::with_capacity(count);
    while let Some(l) = tasks.join_next().await {
        lat.push(l.expect("request task"));
    }
    let elapsed = started.elapsed();
    lat.sort();
    (elapsed, lat)
}

fn quantile(lat: &[Duration], q: f64) -> Duration {
    let i = ((lat.len() as f64 - 1.0) * q).round() as usize;
    lat.get(i).copied().unwrap_or_default()
}

/// How the load generator offers its requests.
#[derive(Debug, Clone, Copy)]
enum Offer {
    /// A closed loop of this many connections, each sending its next
    /// request when the last is answered.
    Connections(usize),
    /// Open loop at this many requests a second.
    Rate(f64),
}

async fn measure(
    name: &'static str,
    router: axum::Router,
    run: &str,
    count: usize,
    offer: Offer,
) -> Run {
    let (url, server) = serve(router).await;
    let bodies: Vec<String> = (0..count).map(|i| notification(run, i)).collect();
    let (elapsed, lat) = match offer {
        Offer::Connections(n) => load(&url, bodies, n).await,
        Offer::Rate(rate) => load_at_rate(&url, bodies, rate).await,
    };
    server.abort();
    Run {
        name,
        requests: count,
        elapsed,
        p50: quantile(&lat, 0.50),
        p99: quantile(&lat, 0.99),
    }
}

/// Ceiling: parse and answer, store nothing.
async fn ceiling(body: Bytes) -> StatusCode {
    match serde_json::from_slice::<TelephonySessionNotification>(&body) {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::BAD_REQUEST,
    }
}

/// Baseline: one durable transaction per request (no group commit), with
/// the receiver's own parsing.
async fn one_per_request(State(catalog): State<Catalog>, body: Bytes) -> StatusCode {
    let Some(write) = callvault::live::receiver::notification_write(&body, &LiveConfig::default())
    else {
        return StatusCode::BAD_REQUEST;
    };
    match catalog.commit_notifications(&[write]).await {
        Ok(_) => StatusCode::OK,
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Every notification of run `run` is stored exactly once (read back
/// session by session), and each departed session has its one live job.
async fn check_exactly_once(catalog: &Catalog, run: &str, count: usize) {
    let mut stored = 0;
    for session in 0..count.div_ceil(EVENTS_PER_SESSION) {
        let tsid = TelephonySessionId::parse(&session_id(run, session)).expect("tsid");
        let notes = catalog
            .notifications_for_session(&tsid)
            .await
            .expect("read back");
        let uuids: std::collections::BTreeSet<_> = notes.iter().map(|n| &n.uuid).collect();
        let want = EVENTS_PER_SESSION.min(count - session * EVENTS_PER_SESSION);
        assert_eq!(
            (notes.len(), uuids.len()),
            (want, want),
            "session {session}: every notification exactly once"
        );
        stored += notes.len();
    }
    assert_eq!(stored, count, "every notification stored");
    // A session's departure is its last event; a cut-off last session has none.
    let jobs = catalog
        .live_jobs_of_kind(callvault::jobs::JobKind::Session.as_str())
        .await
        .expect("jobs");
    let departures = u64::try_from(count / EVENTS_PER_SESSION).expect("count");
    assert_eq!(jobs, departures, "one session job per departed session");
}

/// The group-commit receiver on a fresh catalog, checked exactly-once
/// afterwards; returns the run and its number of transactions.
async fn group_commit(
    pg_admin: Option<&str>,
    dir: &std::path::Path,
    tag: &str,
    name: &'static str,
    count: usize,
    offer: Offer,
) -> (Run, u64) {
    let (c, url) = catalog(pg_admin, dir, tag).await;
    let state = LiveState::new(c.clone(), LiveConfig::default());
    let run = measure(name, webhook_router(state.clone()), tag, count, offer).await;
    check_exactly_once(&c, tag, count).await;
    let batches = state.metrics.commit_batch_size.count();
    drop(state);
    c.close().await;
    drop_schema(pg_admin, &url).await;
    (run, batches)
}

fn print_runs(title: &str, runs: &[&Run]) {
    println!("{title}");
    println!(
        "{:<48} {:>10} {:>10} {:>10}",
        "run", "accepted/s", "p50 ms", "p99 ms"
    );
    for r in runs {
        println!(
            "{:<48} {:>10.0} {:>10.2} {:>10.2}",
            r.name,
            r.per_sec(),
            r.p50.as_secs_f64() * 1e3,
            r.p99.as_secs_f64() * 1e3
        );
    }
}

async fn backend(
    pg_admin: Option<&str>,
    count: usize,
    baseline_count: usize,
    connections: usize,
    rate: f64,
) {
    let label = if pg_admin.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let closed = Offer::Connections(connections);
    let ceiling_router = || axum::Router::new().route("/webhook/ringcentral", post(ceiling));

    let ceiling_run = measure(
        "ceiling: parse, answer 200, store nothing",
        ceiling_router(),
        "c",
        count,
        closed,
    )
    .await;

    let (c1, url1) = catalog(pg_admin, dir.path(), "single").await;
    let single = measure(
        "baseline: one durable transaction per request",
        axum::Router::new()
            .route("/webhook/ringcentral", post(one_per_request))
            .with_state(c1.clone()),
        "b",
        baseline_count,
        closed,
    )
    .await;
    check_exactly_once(&c1, "b", baseline_count).await;
    c1.close().await;
    drop_schema(pg_admin, &url1).await;

    let (group, batches) = group_commit(
        pg_admin,
        dir.path(),
        "g",
        "group commit (the receiver)",
        count,
        closed,
    )
    .await;

    let open = Offer::Rate(rate);
    let ceiling_open = measure(
        "ceiling: parse, answer 200, store nothing",
        ceiling_router(),
        "o",
        count,
        open,
    )
    .await;
    let (group_open, batches_open) = group_commit(
        pg_admin,
        dir.path(),
        "r",
        "group commit (the receiver)",
        count,
        open,
    )
    .await;

    println!(
        "\n{label}: {count} notifications a run (baseline {baseline_count}); every one stored exactly once: checked"
    );
    print_runs(
        &format!("closed loop, {connections} connections:"),
        &[&ceiling_run, &single, &group],
    );
    println!(
        "group commit: {batches} transactions, {:.1} notifications each on average",
        count as f64 / batches.max(1) as f64
    );
    println!(
        "ratio accepted/s: group ÷ one-per-request = {:.1}; group ÷ ceiling = {:.2}",
        group.per_sec() / single.per_sec(),
        group.per_sec() / ceiling_run.per_sec()
    );
    print_runs(
        &format!("open loop, offered {rate:.0}/s, latency from when each request was due:"),
        &[&ceiling_open, &group_open],
    );
    println!(
        "group commit: {batches_open} transactions, {:.1} notifications each on average; \
         p99 ÷ ceiling p99 = {:.2}",
        count as f64 / batches_open.max(1) as f64,
        group_open.p99.as_secs_f64() / ceiling_open.p99.as_secs_f64().max(1e-9)
    );
}

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let count = env_usize("BENCH_NOTIFY_COUNT", 20_000);
    let baseline_count = env_usize("BENCH_NOTIFY_BASELINE_COUNT", 3_000);
    let connections = env_usize("BENCH_NOTIFY_CONNECTIONS", 64);
    let rate = env_usize("BENCH_NOTIFY_RATE", 5_000) as f64;
    backend(None, count, baseline_count, connections, rate).await;
    match std::env::var("CALLVAULT_TEST_POSTGRES") {
        Ok(admin) => backend(Some(&admin), count, baseline_count, connections, rate).await,
        Err(_) => println!("\nPostgreSQL: skipped (CALLVAULT_TEST_POSTGRES is not set)"),
    }
}
