//! `GET /healthz` and `GET /metrics`: what a load balancer and Prometheus ask.
//!
//! * `/healthz` answers `200 ok` only when the catalog answers a cheap query
//!   and, when this process serves a webhook subscription, the subscription
//!   state the RingCentral gateway last stored in the catalog is `Active` and
//!   fresh. The state lives in the catalog (setting
//!   [`crate::live::SUBSCRIPTION_STATE_SETTING`]), not in memory, because only the gateway
//!   process checks the subscription while every receiver behind the load
//!   balancer must answer the same. Anything else is `503` with a short
//!   reason.
//!
//!   A ready node whose backlog of recordings has grown for longer than
//!   allowed (the live gateway's verdict, [`crate::capacity`]) answers
//!   `200 degraded: <reason>`: still `200`, on purpose. The cause is the
//!   RingCentral budget the whole cluster shares, not this node, so taking
//!   it out of rotation fixes nothing; taking every node out would make
//!   RingCentral's webhook deliveries fail until it blacklists the
//!   subscription, turning a slow backup into lost events. Monitoring that
//!   wants to act on it reads the body, `callvault_degraded` in `/metrics`,
//!   or the alert webhook.
//! * `/metrics` is the Prometheus text exposition format (version 0.0.4),
//!   written with [`crate::metrics::Exposition`].
//!
//! Both are unauthenticated, so neither says anything but counts, durations
//! and fixed reason strings: no ids, tokens, URLs or error texts.
//!
//! # Does not
//! Check RingCentral itself (the gateway does, on its schedule), or change
//! anything.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use vault::Catalog;

use crate::capacity::Capacity;
use crate::jobs::JobKind;
use crate::live::{LiveState, SUBSCRIPTION_STATE_SETTING};
use crate::metrics::{Exposition, LiveMetrics};
use crate::web::state::WebMetrics;

/// How long `/healthz` waits for the catalog before it calls it unreachable.
const CATALOG_TIMEOUT: Duration = Duration::from_secs(2);

/// What `/healthz` and `/metrics` read. Cheap to clone.
#[derive(Clone)]
pub struct Health {
    catalog: Catalog,
    live: Option<LiveProbe>,
    web: Option<Arc<WebMetrics>>,
}

/// The live flow's part of the probes.
#[derive(Clone)]
pub struct LiveProbe {
    /// The receiver's and workers' counters.
    pub metrics: Arc<LiveMetrics>,
    /// Whether this deployment keeps a webhook subscription (then
    /// `/healthz` needs it `Active`).
    pub expects_subscription: bool,
    /// A stored subscription state older than this counts as unknown: no
    /// gateway has checked it lately.
    pub state_fresh_for: Duration,
    /// The RingCentral client's scheduler, for rate-limit figures.
    pub rate_limits: Option<rc_api::Scheduler>,
}

impl LiveProbe {
    /// The probe of `state`'s receiver and workers. `expects_subscription`:
    /// this deployment keeps a webhook subscription (it has a public URL).
    /// A stored subscription state counts as fresh for two check intervals
    /// plus two gateway leases (a dead gateway's successor checks at once).
    pub fn new(
        state: &LiveState,
        expects_subscription: bool,
        rate_limits: Option<rc_api::Scheduler>,
    ) -> LiveProbe {
        let c = &state.config;
        LiveProbe {
            metrics: state.metrics.clone(),
            expects_subscription,
            state_fresh_for: c.subscription_check_every * 2 + c.gateway_lease * 2,
            rate_limits,
        }
    }
}

impl Health {
    /// Probes over `catalog` only (the UI without RingCentral).
    pub fn new(catalog: Catalog) -> Health {
        Health {
            catalog,
            live: None,
            web: None,
        }
    }

    /// Adds the web UI's counters (integrity errors, shed and throttled logins).
    pub fn with_web(mut self, web: Arc<WebMetrics>) -> Health {
        self.web = Some(web);
        self
    }

    /// Adds the live flow's counters and subscription check.
    pub fn with_live(mut self, live: LiveProbe) -> Health {
        self.live = Some(live);
        self
    }
}

/// The routes `/healthz` and `/metrics`, to merge beside the others.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .with_state(health)
}

async fn healthz(State(h): State<Health>) -> Response {
    match readiness(&h).await {
        Ok(()) => match degraded(&h).await {
            Some(reason) => (StatusCode::OK, format!("degraded: {reason}\n")).into_response(),
            None => (StatusCode::OK, "ok\n").into_response(),
        },
        Err(reason) => {
            tracing::debug!(reason, "not ready");
            (StatusCode::SERVICE_UNAVAILABLE, format!("{reason}\n")).into_response()
        }
    }
}

/// Why this ready node is degraded, from the gateway's fresh capacity
/// report; `None` when it is not, or when the report cannot be read (the
/// catalog just answered, so that is a blip, not a verdict).
async fn degraded(h: &Health) -> Option<String> {
    match tokio::time::timeout(CATALOG_TIMEOUT, crate::capacity::latest(&h.catalog)).await {
        Ok(Ok(Some(report))) => report.degraded_reason(),
        Ok(Ok(None)) | Ok(Err(_)) | Err(_) => None,
    }
}

/// `Ok` when ready, else the reason (a fixed string).
async fn readiness(h: &Health) -> Result<(), &'static str> {
    let probe = h.live.as_ref().filter(|l| l.expects_subscription);
    let Some(probe) = probe else {
        return match tokio::time::timeout(CATALOG_TIMEOUT, h.catalog.ping()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) | Err(_) => Err("catalog unreachable"),
        };
    };
    // One query both proves the catalog answers and reads the state.
    let state = tokio::time::timeout(
        CATALOG_TIMEOUT,
        h.catalog.setting_with_age(SUBSCRIPTION_STATE_SETTING),
    )
    .await;
    match state {
        Ok(Ok(Some((status, age)))) if age <= probe.state_fresh_for => {
            if status == "Active" {
                Ok(())
            } else {
                Err("subscription not active")
            }
        }
        Ok(Ok(Some(_))) => Err("subscription state is stale (no gateway checked it)"),
        Ok(Ok(None)) => Err("subscription not checked yet"),
        Ok(Err(_)) | Err(_) => Err("catalog unreachable"),
    }
}

async fn metrics(State(h): State<Health>) -> Response {
    let body = render(&h).await;
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// The whole exposition. Catalog figures that cannot be read are left out
/// and `callvault_catalog_up` says 0.
async fn render(h: &Health) -> String {
    let mut out = Exposition::default();
    let jobs = tokio::time::timeout(CATALOG_TIMEOUT, h.catalog.counts_by_state()).await;
    let open = tokio::time::timeout(
        CATALOG_TIMEOUT,
        h.catalog.live_jobs_of_kind(JobKind::Session.as_str()),
    )
    .await;
    let capacity = tokio::time::timeout(CATALOG_TIMEOUT, Capacity::read(&h.catalog)).await;
    let up = matches!((&jobs, &open, &capacity), (Ok(Ok(_)), Ok(Ok(_)), Ok(Ok(_))));
    out.header(
        "callvault_catalog_up",
        "gauge",
        "Whether the catalog answered this scrape.",
    );
    out.sample("callvault_catalog_up", &[], u64::from(up));
    if let Ok(Ok(jobs)) = jobs {
        out.header("callvault_jobs", "gauge", "Jobs in the queue by state.");
        for (state, n) in [
            ("queued", jobs.queued),
            ("leased", jobs.leased),
            ("retry", jobs.retry),
            ("done", jobs.done),
            ("dead", jobs.dead),
        ] {
            out.sample("callvault_jobs", &[("state", state)], n);
        }
    }
    if let Ok(Ok(open)) = open {
        out.header(
            "callvault_sessions_open",
            "gauge",
            "Telephony sessions a party has left whose follow-up (call log, downloads, stitch) is still pending.",
        );
        out.sample("callvault_sessions_open", &[], open);
    }
    if let Ok(Ok(capacity)) = capacity {
        render_capacity(&mut out, &capacity);
    }
    if let Some(web) = &h.web {
        let counters: [(&str, &str, &AtomicU64); 3] = [
            (
                "callvault_blob_integrity_errors_total",
                "Audio requests refused because the blob's size differed from the catalog's.",
                &web.blob_integrity_errors,
            ),
            (
                "callvault_logins_shed_total",
                "Logins answered 503 because password checks were saturated.",
                &web.logins_shed,
            ),
            (
                "callvault_logins_throttled_total",
                "Logins answered 429 by the login throttle.",
                &web.logins_throttled,
            ),
        ];
        for (name, help, value) in counters {
            out.header(name, "counter", help);
            out.sample(name, &[], value.load(Ordering::Relaxed));
        }
    }
    let Some(live) = &h.live else {
        return out.finish();
    };
    let m = &live.metrics;
    let counters: [(&str, &str, &AtomicU64); 7] = [
        (
            "callvault_notifications_received_total",
            "Webhook notifications committed (new uuids).",
            &m.notifications_received,
        ),
        (
            "callvault_notifications_duplicate_total",
            "Webhook notifications absorbed as duplicates of a committed uuid.",
            &m.notifications_duplicate,
        ),
        (
            "callvault_notifications_rejected_total",
            "Webhook requests refused (bad or missing token, malformed, too large, internal error).",
            &m.notifications_rejected,
        ),
        (
            "callvault_notifications_shed_total",
            "Webhook requests answered 503 because the commit queue stayed full.",
            &m.notifications_shed,
        ),
        (
            "callvault_webhook_validations_total",
            "Validation-Token handshakes answered.",
            &m.validations,
        ),
        (
            "callvault_session_triggers_total",
            "Session follow-up jobs queued by a party leaving.",
            &m.session_triggers,
        ),
        (
            "callvault_calllog_looks_total",
            "Batched call-log looks run by this process.",
            &m.looks,
        ),
    ];
    for (name, help, value) in counters {
        out.header(name, "counter", help);
        out.sample(name, &[], value.load(Ordering::Relaxed));
    }
    out.header(
        "callvault_subscription_active",
        "gauge",
        "Whether this process, as the RingCentral gateway, last found the subscription Active.",
    );
    out.sample(
        "callvault_subscription_active",
        &[],
        u64::from(m.subscription_active.load(Ordering::Relaxed)),
    );
    out.histogram(
        "callvault_notification_commit_seconds",
        "Time of one group commit of webhook notifications.",
        &m.commit_seconds,
    );
    out.histogram(
        "callvault_notification_commit_batch_size",
        "Notifications per group commit.",
        &m.commit_batch_size,
    );
    out.histogram(
        "callvault_download_seconds",
        "Time of one download job (listing excluded).",
        &m.download_seconds,
    );
    out.histogram(
        "callvault_stitch_seconds",
        "Time of one stitch job.",
        &m.stitch_seconds,
    );
    if let Some(scheduler) = &live.rate_limits {
        let groups = scheduler.metrics();
        type Figure = fn(&rc_api::GroupMetrics) -> f64;
        let series: [(&str, &str, Figure); 3] = [
            (
                "callvault_ratelimit_requests_total",
                "RingCentral requests sent, by rate-limit group.",
                |g| g.requests as f64,
            ),
            (
                "callvault_ratelimit_wait_seconds_total",
                "Time RingCentral requests waited for a rate-limit slot, by group.",
                |g| g.waited.as_secs_f64(),
            ),
            (
                "callvault_ratelimit_429_total",
                "429 answers from RingCentral, by group.",
                |g| g.rate_limited as f64,
            ),
        ];
        for (name, help, figure) in series {
            out.header(name, "counter", help);
            for g in &groups {
                out.sample_f64(name, &[("group", g.group.as_str())], figure(g));
            }
        }
    }
    out.finish()
}

/// The capacity series: the backlog (read now), and the live gateway's
/// figures while its report is fresh (absent otherwise, so a dashboard
/// shows a gap rather than a stale number).
fn render_capacity(out: &mut Exposition, c: &Capacity) {
    out.header(
        "callvault_backlog_recordings",
        "gauge",
        "Recordings known but not stored yet (listed or not ready).",
    );
    out.sample("callvault_backlog_recordings", &[], c.backlog);
    if let Some(age) = c.oldest_waiting_secs {
        out.header(
            "callvault_backlog_oldest_seconds",
            "gauge",
            "How long the oldest recording of the backlog has been known.",
        );
        out.sample("callvault_backlog_oldest_seconds", &[], age);
    }
    let rates: [(&str, &str, Option<f64>); 5] = [
        (
            "callvault_heavy_used_per_minute",
            "Heavy requests sent per minute over the capacity window.",
            c.heavy_used_per_minute,
        ),
        (
            "callvault_heavy_allowed_per_minute",
            "Heavy requests RingCentral allows per minute (limit per window, scaled).",
            c.heavy_allowed_per_minute,
        ),
        (
            "callvault_heavy_needed_per_minute",
            "Heavy requests per minute the offered load needs (arrivals plus call-log looks).",
            c.heavy_needed_per_minute,
        ),
        (
            "callvault_recordings_arriving_per_minute",
            "Recordings newly listed per minute over the capacity window.",
            c.recordings_arriving_per_minute,
        ),
        (
            "callvault_backlog_growth_per_hour",
            "Least-squares slope of the backlog over the capacity window, recordings per hour.",
            c.backlog_growth_per_hour,
        ),
    ];
    for (name, help, value) in rates {
        if let Some(v) = value {
            out.header(name, "gauge", help);
            out.sample_f64(name, &[], v);
        }
    }
    out.header(
        "callvault_capacity_exceeded",
        "gauge",
        "1 when the offered load needs more Heavy requests than RingCentral allows and the backlog grows.",
    );
    out.sample("callvault_capacity_exceeded", &[], u64::from(c.exceeded));
    out.header(
        "callvault_degraded",
        "gauge",
        "1 when the backlog has grown for longer than allowed (/healthz says degraded).",
    );
    out.sample("callvault_degraded", &[], u64::from(c.degraded));
}
