//! The receiver under load and its probes, over real HTTP on loopback into a
//! real SQLite catalog: group commit, backpressure with the catalog's write
//! lock really held by another connection, `/healthz` and `/metrics`.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use sqlx::Connection;
use tokio_util::sync::CancellationToken;
use vault::{Catalog, JobState, TelephonySessionId};

use super::tests::{PATIENCE, eventually, fast_config, rig, serve};
use super::workers::run_workers;
use super::{LiveConfig, LiveState, TOKEN_SETTING, webhook_router};
use crate::health::{self, Health, LiveProbe};
use crate::live::SUBSCRIPTION_STATE_SETTING;

const TOKEN: &str = "the-right-token";

/// A fresh SQLite catalog holding our verification token; returns its URL too.
async fn catalog() -> (Catalog, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("c.sqlite").display());
    let catalog = Catalog::open(&url).await.unwrap();
    catalog.set_setting(TOKEN_SETTING, TOKEN).await.unwrap();
    (catalog, url, dir)
}

/// Stores the subscription state as the gateway would.
async fn store_subscription_state(catalog: &Catalog, state: &str) {
    catalog
        .set_setting(SUBSCRIPTION_STATE_SETTING, state)
        .await
        .unwrap();
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn tsid(n: usize) -> String {
    format!("s-a0d7b1c2d3e4f5z{n:016x}")
}

/// A notification of one party changing to `code`.
fn note(uuid: &str, session: &str, sequence: usize, code: &str) -> String {
    serde_json::json!({
        "uuid": uuid,
        "event": "/restapi/v1.0/account/1/telephony/sessions",
        "body": {"sequence": sequence, "telephonySessionId": session,
                 "parties": [{"id": format!("p-{session}-1"), "status": {"code": code}}]}
    })
    .to_string()
}

async fn deliver(http: &reqwest::Client, hook: &str, token: &str, body: String) -> u16 {
    http.post(hook)
        .header("Verification-Token", token)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let r = http.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.text().await.unwrap())
}

#[tokio::test]
async fn concurrent_deliveries_share_commits_and_each_uuid_is_stored_once() {
    let (catalog, _url, _dir) = catalog().await;
    let state = LiveState::new(catalog.clone(), fast_config());
    let hook = format!(
        "{}/webhook/ringcentral",
        serve(webhook_router(state.clone())).await
    );
    let http = http();
    // 50 sessions of 4 events, the last a departure; every 5th event twice.
    let codes = ["Setup", "Proceeding", "Answered", "Disconnected"];
    let mut bodies = Vec::new();
    for s in 0..50 {
        for (step, code) in codes.iter().enumerate() {
            let n = s * 4 + step;
            let body = note(&format!("u{n}"), &tsid(s), step + 2, code);
            if n % 5 == 0 {
                bodies.push(body.clone());
            }
            bodies.push(body);
        }
    }
    let requests = bodies.len();
    assert_eq!(requests, 240);

    let sent: Vec<_> = bodies
        .into_iter()
        .map(|b| {
            let (http, hook) = (http.clone(), hook.clone());
            tokio::spawn(async move { deliver(&http, &hook, TOKEN, b).await })
        })
        .collect();
    for s in sent {
        assert_eq!(s.await.unwrap(), 200);
    }

    for s in 0..50 {
        let stored = catalog
            .notifications_for_session(&TelephonySessionId::parse(&tsid(s)).unwrap())
            .await
            .unwrap();
        let uuids: BTreeSet<_> = stored.iter().map(|n| n.uuid.clone()).collect();
        assert_eq!((stored.len(), uuids.len()), (4, 4), "session {s}");
    }
    let queued = catalog.jobs_in_state(JobState::Queued, 100).await.unwrap();
    let keys: BTreeSet<_> = queued.iter().map(|j| j.dedupe_key.clone()).collect();
    assert_eq!(
        (queued.len(), keys.len()),
        (50, 50),
        "one job per departed session"
    );
    let m = &state.metrics;
    assert_eq!(m.notifications_received.load(Ordering::Relaxed), 200);
    assert_eq!(m.notifications_duplicate.load(Ordering::Relaxed), 40);
    assert_eq!(m.notifications_rejected.load(Ordering::Relaxed), 0);
    assert_eq!(m.session_triggers.load(Ordering::Relaxed), 50);
    let commits = m.commit_batch_size.count();
    assert!(
        commits < requests as u64,
        "requests shared transactions: {commits} commits for {requests} requests"
    );
}

#[tokio::test]
async fn a_full_commit_queue_answers_503_and_stores_nothing_for_the_shed() {
    let (catalog, url, _dir) = catalog().await;
    let config = LiveConfig {
        commit_queue: 1,
        commit_batch_max: 1,
        commit_queue_wait: Duration::from_millis(100),
        ..fast_config()
    };
    let state = LiveState::new(catalog.clone(), config);
    let hook = format!(
        "{}/webhook/ringcentral",
        serve(webhook_router(state.clone())).await
    );
    let http = http();
    // Warm the token cache, then another connection takes the write lock:
    // the committer blocks on its first batch.
    let warm = note("warm", &tsid(0), 1, "Setup");
    assert_eq!(deliver(&http, &hook, TOKEN, warm).await, 200);
    let mut locker = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let lock = locker.begin_with("BEGIN IMMEDIATE").await.unwrap();

    // One in the committer, one in the queue, three find no place.
    let mut sent = tokio::task::JoinSet::new();
    for n in 0..5 {
        let (http, hook) = (http.clone(), hook.clone());
        sent.spawn(async move {
            let uuid = format!("q{n}");
            let status = deliver(
                &http,
                &hook,
                TOKEN,
                note(&uuid, &tsid(1), n + 2, "Answered"),
            )
            .await;
            (uuid, status)
        });
    }
    let mut shed = Vec::new();
    for _ in 0..3 {
        let (uuid, status) = sent.join_next().await.unwrap().unwrap();
        assert_eq!(status, 503, "{uuid} answered while the catalog is locked");
        shed.push(uuid);
    }
    lock.rollback().await.unwrap();
    let mut accepted = Vec::new();
    while let Some(done) = sent.join_next().await {
        let (uuid, status) = done.unwrap();
        assert_eq!(status, 200, "{uuid}");
        accepted.push(uuid);
    }
    assert_eq!(accepted.len(), 2);

    let stored: BTreeSet<_> = catalog
        .notifications_for_session(&TelephonySessionId::parse(&tsid(1)).unwrap())
        .await
        .unwrap()
        .into_iter()
        .map(|n| n.uuid)
        .collect();
    assert_eq!(stored, accepted.iter().cloned().collect::<BTreeSet<_>>());
    assert_eq!(state.metrics.notifications_shed.load(Ordering::Relaxed), 3);
    // RingCentral delivering a shed one again: now it is stored.
    let again = note(&shed[0], &tsid(1), 9, "Answered");
    assert_eq!(deliver(&http, &hook, TOKEN, again).await, 200);
    assert_eq!(
        catalog
            .notifications_for_session(&TelephonySessionId::parse(&tsid(1)).unwrap())
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn healthz_needs_the_catalog_and_an_active_fresh_subscription() {
    let (catalog, _url, _dir) = catalog().await;
    let state = LiveState::new(catalog.clone(), fast_config());
    // Two probes over one catalog: one for which any state is fresh (so a
    // slow machine cannot make "Active" look stale between two steps), one
    // for which a state goes stale almost at once.
    let probe = |fresh_for: Duration| LiveProbe {
        state_fresh_for: fresh_for,
        ..LiveProbe::new(&state, true, None)
    };
    let base = serve(health::router(
        Health::new(catalog.clone()).with_live(probe(Duration::from_secs(3600))),
    ))
    .await;
    let strict = serve(health::router(
        Health::new(catalog.clone()).with_live(probe(Duration::from_millis(50))),
    ))
    .await;
    let healthz = format!("{base}/healthz");
    let http = http();

    let (status, text) = get(&http, &healthz).await;
    assert_eq!((status, text.trim()), (503, "subscription not checked yet"));
    store_subscription_state(&catalog, "Active").await;
    assert_eq!(get(&http, &healthz).await, (200, "ok\n".to_owned()));
    store_subscription_state(&catalog, "Blacklisted").await;
    let (status, text) = get(&http, &healthz).await;
    assert_eq!((status, text.trim()), (503, "subscription not active"));
    // Active, but then no gateway checks it again.
    store_subscription_state(&catalog, "Active").await;
    assert_eq!(get(&http, &healthz).await.0, 200);
    let text = eventually("the state goes stale", PATIENCE, || async {
        let (status, text) = get(&http, &format!("{strict}/healthz")).await;
        if status == 503 {
            Ok(text)
        } else {
            Err(format!("{status} {text}"))
        }
    })
    .await;
    assert!(text.contains("stale"), "{text}");

    // Without a subscription to keep, only the catalog counts.
    let (ui_catalog, _url2, _dir2) = self::catalog().await;
    let ui = serve(health::router(Health::new(ui_catalog.clone()))).await;
    assert_eq!(get(&http, &format!("{ui}/healthz")).await.0, 200);
    ui_catalog.close().await;
    let (status, text) = get(&http, &format!("{ui}/healthz")).await;
    assert_eq!((status, text.trim()), (503, "catalog unreachable"));
}

/// A degraded verdict (the gateway's capacity report) keeps `/healthz` at
/// 200 with the reason, yields to a 503 of its own, and is ignored once
/// stale (its gateway stopped reporting).
#[tokio::test]
async fn healthz_says_degraded_with_200_while_a_fresh_report_says_so() {
    let (catalog, _url, _dir) = catalog().await;
    let state = LiveState::new(catalog.clone(), fast_config());
    let base = serve(health::router(
        Health::new(catalog.clone()).with_live(LiveProbe::new(&state, true, None)),
    ))
    .await;
    let http = http();
    let healthz = format!("{base}/healthz");
    store_subscription_state(&catalog, "Active").await;
    let report = |valid_for_secs| crate::capacity::Report {
        window_secs: 900,
        figures: None,
        growing_for_secs: Some(1900),
        degraded_after_secs: 1800,
        degraded: true,
        valid_for_secs,
    };
    crate::capacity::publish(&catalog, &report(3600)).await;
    assert_eq!(
        get(&http, &healthz).await,
        (
            200,
            "degraded: the backlog of recordings has grown for 32 min (limit 30 min)\n".to_owned()
        )
    );
    let (_, metrics) = get(&http, &format!("{base}/metrics")).await;
    assert!(metrics.contains("\ncallvault_degraded 1\n"), "{metrics}");
    assert!(
        metrics.contains("\ncallvault_capacity_exceeded 0\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("\ncallvault_backlog_recordings 0\n"),
        "{metrics}"
    );
    // Not ready wins: the existing 503 contract is unchanged.
    store_subscription_state(&catalog, "Blacklisted").await;
    let (status, text) = get(&http, &healthz).await;
    assert_eq!((status, text.trim()), (503, "subscription not active"));
    // A report no gateway renews stops counting.
    store_subscription_state(&catalog, "Active").await;
    crate::capacity::publish(&catalog, &report(1)).await;
    eventually("the report goes stale", PATIENCE, || async {
        let seen = get(&http, &healthz).await;
        (seen == (200, "ok\n".to_owned()))
            .then_some(())
            .ok_or(format!("{seen:?}"))
    })
    .await;
}

/// Every line is a comment or `name{labels} value`, and every sample's
/// family was typed before it.
fn assert_exposition_format(text: &str) {
    let mut typed = BTreeSet::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(name.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap();
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap();
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| name.strip_suffix(s).filter(|f| typed.contains(*f)))
            .unwrap_or(name);
        assert!(typed.contains(family), "untyped sample: {line}");
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
    }
}

#[tokio::test]
async fn metrics_expose_counts_and_durations_without_ids_or_secrets() {
    let (catalog, _url, _dir) = catalog().await;
    let state = LiveState::new(catalog.clone(), fast_config());
    let probes = Health::new(catalog.clone()).with_live(LiveProbe::new(&state, false, None));
    let base = serve(webhook_router(state.clone()).merge(health::router(probes))).await;
    let hook = format!("{base}/webhook/ringcentral");
    let http = http();
    let session = tsid(7);
    for (n, code) in ["Setup", "Answered", "Disconnected"].iter().enumerate() {
        let body = note(&format!("uuid-secret-{n}"), &session, n + 2, code);
        assert_eq!(deliver(&http, &hook, TOKEN, body).await, 200);
    }
    let dup = note("uuid-secret-0", &session, 2, "Setup");
    assert_eq!(deliver(&http, &hook, TOKEN, dup).await, 200);
    let forged = note("uuid-secret-9", &session, 9, "Setup");
    assert_eq!(deliver(&http, &hook, "forged", forged).await, 403);

    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = r.text().await.unwrap();
    assert_exposition_format(&text);
    for line in [
        "callvault_catalog_up 1",
        "callvault_notifications_received_total 3",
        "callvault_notifications_duplicate_total 1",
        "callvault_notifications_rejected_total 1",
        "callvault_notifications_shed_total 0",
        "callvault_session_triggers_total 1",
        "callvault_sessions_open 1",
        "callvault_jobs{state=\"queued\"} 1",
        "callvault_jobs{state=\"dead\"} 0",
        "callvault_download_seconds_count 0",
        "callvault_stitch_seconds_bucket{le=\"+Inf\"} 0",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
    let commits: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("callvault_notification_commit_seconds_count "))
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=4).contains(&commits), "{commits}");
    for secret in [TOKEN, "uuid-secret", session.as_str(), "forged"] {
        assert!(!text.contains(secret), "{secret} leaked into /metrics");
    }
}

#[tokio::test]
async fn the_gateway_stores_the_subscription_state_that_every_process_reports() {
    let rig = rig(|_| {}, fast_config()).await;
    // Another process over the same catalog: it never checks RingCentral.
    let other = LiveState::new(rig.catalog.clone(), fast_config());
    let other_probes =
        Health::new(rig.catalog.clone()).with_live(LiveProbe::new(&other, true, None));
    let other_base = serve(health::router(other_probes)).await;
    let gateway_probes = Health::new(rig.catalog.clone()).with_live(LiveProbe::new(
        &rig.state,
        true,
        Some(rig.client.scheduler().clone()),
    ));
    let gateway_base = serve(health::router(gateway_probes)).await;
    let http = http();
    assert_eq!(get(&http, &format!("{other_base}/healthz")).await.0, 503);

    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    eventually("the other process reports ready", PATIENCE, || async {
        (get(&http, &format!("{other_base}/healthz")).await.0 == 200).then_some(())
    })
    .await;
    assert_eq!(get(&http, &format!("{gateway_base}/healthz")).await.0, 200);
    let (_, text) = get(&http, &format!("{gateway_base}/metrics")).await;
    assert_exposition_format(&text);
    assert!(
        text.lines().any(|l| l == "callvault_subscription_active 1"),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("callvault_ratelimit_requests_total{group=\"")),
        "{text}"
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}
