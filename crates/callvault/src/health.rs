//! `GET /healthz` and `GET /metrics`: what a load balancer and Prometheus ask.
//!
//! * `/healthz` answers `200 ok` only when the catalog answers a cheap query
//!   and, when this process serves a webhook subscription, the subscription
//!   state the RingCentral gateway last stored in the catalog is `Active` and
//!   fresh. The state lives in the catalog (setting
//!   [`SUBSCRIPTION_STATE_SETTING`]), not in memory, because only the gateway
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
//! * `/metrics` is the Prometheus text exposition format (version 0.0.4).
//!   It is written by hand: a dozen series read from atomics, the catalog and
//!   the rate-limit scheduler do not earn a dependency and its registry, and
//!   the format is a few documented lines per series.
//!
//! Both are unauthenticated, so neither says anything but counts, durations
//! and fixed reason strings: no ids, tokens, URLs or error texts.
//!
//! # Does not
//! Check RingCentral itself (the gateway does, on its schedule), or change
//! anything.

use std::fmt::Write as _;
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
use crate::live::{LiveMetrics, LiveState};
use crate::web::state::WebMetrics;

/// Catalog setting where the gateway keeps the subscription status it last
/// saw (`Active`, `Blacklisted`, …, or `Error` when the check failed).
pub const SUBSCRIPTION_STATE_SETTING: &str = "live.subscription_state";

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
    let mut out = Text::default();
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
        return out.0;
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
    out.0
}

/// The capacity series: the backlog (read now), and the live gateway's
/// figures while its report is fresh (absent otherwise, so a dashboard
/// shows a gap rather than a stale number).
fn render_capacity(out: &mut Text, c: &Capacity) {
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

/// The exposition being written.
#[derive(Default)]
struct Text(String);

impl Text {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn labels(&mut self, labels: &[(&str, &str)]) {
        if labels.is_empty() {
            return;
        }
        self.0.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            let _ = write!(self.0, "{k}=\"");
            for c in v.chars() {
                match c {
                    '\\' => self.0.push_str("\\\\"),
                    '"' => self.0.push_str("\\\""),
                    '\n' => self.0.push_str("\\n"),
                    c => self.0.push(c),
                }
            }
            self.0.push('"');
        }
        self.0.push('}');
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: u64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {value}");
    }

    fn sample_f64(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.0.push_str(name);
        self.labels(labels);
        let _ = writeln!(self.0, " {value}");
    }

    fn histogram(&mut self, name: &str, help: &str, h: &Histogram) {
        self.header(name, "histogram", help);
        let snapshot = h.snapshot();
        let bucket = format!("{name}_bucket");
        let mut cumulative = 0;
        for (bound, n) in h.bounds.iter().zip(&snapshot.buckets) {
            cumulative += n;
            self.sample(&bucket, &[("le", &bound.to_string())], cumulative);
        }
        self.sample(&bucket, &[("le", "+Inf")], snapshot.count);
        self.sample_f64(&format!("{name}_sum"), &[], snapshot.sum);
        self.sample(&format!("{name}_count"), &[], snapshot.count);
    }
}

/// A fixed-bucket histogram updated with atomics (no lock on the hot path).
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending (`+Inf` is implicit).
    bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// Sum of observations, in millionths of the unit.
    sum_micros: AtomicU64,
}

/// Bounds for durations in seconds: 1 ms to 10 min.
pub const SECONDS_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0,
];

/// Bounds for batch sizes.
pub const SIZE_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

struct Snapshot {
    buckets: Vec<u64>,
    count: u64,
    sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation (negative or NaN values count as 0).
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // Saturates at u64::MAX micro-units (about 585,000 years of seconds).
        let micros = (value * 1e6).round() as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    fn snapshot(&self) -> Snapshot {
        let buckets: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Snapshot {
            count: buckets.iter().sum(),
            buckets,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&[0.1, 1.0]);
        for v in [0.05, 0.1, 0.5, 3.0, -1.0] {
            h.observe(v);
        }
        let mut t = Text::default();
        t.histogram("x_seconds", "x.", &h);
        let text = t.0;
        assert!(text.contains("x_seconds_bucket{le=\"0.1\"} 3\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"1\"} 4\n"), "{text}");
        assert!(text.contains("x_seconds_bucket{le=\"+Inf\"} 5\n"), "{text}");
        assert!(text.contains("x_seconds_count 5\n"), "{text}");
        assert!(text.contains("x_seconds_sum 3.65\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut t = Text::default();
        t.sample("m", &[("group", "a\"b\\c\nd")], 1);
        assert_eq!(t.0, "m{group=\"a\\\"b\\\\c\\nd\"} 1\n");
    }
}
