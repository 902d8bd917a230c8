//! `GET /status` (admins): sync progress and its ETA, queue depth, the
//! rate-limit state of the process that talks to RingCentral, the live
//! subscription, capacity (Heavy requests used against allowed, the
//! backlog, its oldest item and trend, and a plain warning when the call
//! volume exceeds the budget), counts by recording and job state, sync
//! watermarks and failures with their reasons; `POST /status/retry`
//! requeues dead jobs and relists failed recordings.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;
use vault::JobState;

use crate::capacity::Capacity;
use crate::capacity::trend::rate;
use crate::live::SUBSCRIPTION_SETTING;
use crate::rate_snapshot::{self, GroupState};
use crate::web::auth::{AdminUser, CsrfForm, NoFields};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

/// Failures listed (and retried) at most.
const FAILURE_LIMIT: u32 = 200;

/// A snapshot older than this is shown as stale (its process has likely stopped).
const STALE_AFTER_MS: i64 = 10 * 60 * 1000;

struct Failure {
    what: &'static str,
    id: String,
    attempts: u32,
    reason: String,
}

/// One rate-limit group's row.
struct RateRow {
    group: String,
    limit: String,
    remaining: String,
    requests: u64,
    rate_limited: u64,
    waited: String,
    blocked: String,
}

/// Sync progress: recordings stored against those still to fetch.
struct Progress {
    stored: u64,
    pending: u64,
    percent: String,
    /// The download rate the ETA assumes, and where it comes from.
    rate: String,
    eta: String,
}

/// The capacity card, every figure formatted for people.
struct CapacityCard {
    /// "12 of 10", or "not measured" without a live gateway.
    heavy: String,
    needed: String,
    arriving: String,
    backlog: u64,
    oldest: String,
    trend: String,
    /// The plain sentence when the offered load exceeds the budget.
    warning: Option<String>,
    degraded: bool,
}

impl CapacityCard {
    fn of(c: &Capacity) -> CapacityCard {
        let per_minute =
            |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{} a minute", rate(v)));
        CapacityCard {
            heavy: match (c.heavy_used_per_minute, c.heavy_allowed_per_minute) {
                (Some(used), Some(allowed)) => {
                    format!("{} of {} a minute", rate(used), rate(allowed))
                }
                (Some(used), None) => format!("{} a minute (limit not seen yet)", rate(used)),
                (None, _) => match c.window_secs {
                    Some(_) => "measuring…".to_owned(),
                    None => "not measured (no live gateway reports)".to_owned(),
                },
            },
            needed: per_minute(c.heavy_needed_per_minute),
            arriving: per_minute(c.recordings_arriving_per_minute),
            backlog: c.backlog,
            oldest: c
                .oldest_waiting_secs
                .map_or_else(|| "—".to_owned(), |s| human(s as f64)),
            trend: match (c.backlog_growth_per_hour, c.window_secs) {
                (Some(g), Some(w)) => format!(
                    "{}{} recordings an hour (over the last {})",
                    if g > 0.0 { "+" } else { "" },
                    g.round(),
                    human(w as f64)
                ),
                _ => "—".to_owned(),
            },
            warning: c.warning.clone(),
            degraded: c.degraded,
        }
    }
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Option<Nav>,
    csrf: String,
    message: Option<String>,
    progress: Progress,
    queue_depth: u64,
    subscription: String,
    rate_source: Option<String>,
    rate_rows: Vec<RateRow>,
    capacity: CapacityCard,
    recording_counts: Vec<(&'static str, u64)>,
    job_counts: Vec<(&'static str, u64)>,
    watermarks: Vec<(String, String)>,
    failures: Vec<Failure>,
}

/// Query of the status page.
#[derive(Debug, Default, Deserialize)]
pub struct StatusQuery {
    retried: Option<u64>,
}

/// "2 h 5 min", "40 s": a duration for people.
fn human(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min", s.div_ceil(60)),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Progress and ETA: recordings still to fetch (listed, not ready yet) at
/// the heavy group's rate (recording downloads are heavy), as last published
/// by the process that talks to RingCentral, else the documented default.
fn progress(rc: &vault::RecordingCounts, heavy: Option<&GroupState>) -> Progress {
    let pending = rc.listed + rc.not_ready;
    let done = rc.stored;
    let total = done + pending;
    let percent = if total == 0 {
        "—".to_owned()
    } else {
        format!("{:.1} %", done as f64 * 100.0 / total as f64)
    };
    let (per_second, source) = match heavy.and_then(GroupState::per_second) {
        Some(r) => (r, "in force"),
        None => {
            let (limit, window) = rc_api::RateGroup::heavy()
                .documented_default()
                .unwrap_or((10, std::time::Duration::from_secs(60)));
            (
                f64::from(limit) / window.as_secs_f64(),
                "documented default",
            )
        }
    };
    let blocked = heavy
        .and_then(|g| g.blocked_for_ms)
        .map_or(0.0, |ms| ms as f64 / 1000.0);
    let eta = if pending == 0 {
        "nothing to fetch".to_owned()
    } else {
        format!("about {}", human(pending as f64 / per_second + blocked))
    };
    Progress {
        stored: done,
        pending,
        percent,
        rate: format!("{:.0} recordings/min ({source})", per_second * 60.0),
        eta,
    }
}

fn rate_row(g: &GroupState) -> RateRow {
    let dash = || "—".to_owned();
    RateRow {
        group: g.group.clone(),
        limit: match (g.limit, g.window_secs) {
            (Some(l), Some(w)) => format!("{l} / {w} s"),
            _ => dash(),
        },
        remaining: g.remaining.map_or_else(dash, |r| r.to_string()),
        requests: g.requests,
        rate_limited: g.rate_limited,
        waited: human(g.waited_ms as f64 / 1000.0),
        blocked: g.blocked_for_ms.filter(|&ms| ms > 0).map_or_else(
            || "no".to_owned(),
            |ms| format!("for {}", human(ms as f64 / 1000.0)),
        ),
    }
}

/// `GET /status`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Query(query): Query<StatusQuery>,
) -> Result<Html<String>, AppError> {
    let catalog = &state.catalog;
    let rc = catalog.recording_counts().await?;
    let jc = catalog.counts_by_state().await?;
    let snapshot = rate_snapshot::latest(catalog).await?;
    let mut failures: Vec<Failure> = catalog
        .failed_recordings(FAILURE_LIMIT)
        .await?
        .into_iter()
        .map(|r| Failure {
            what: "recording",
            id: r.id.to_string(),
            attempts: r.attempts,
            reason: r.last_error.unwrap_or_else(|| "—".into()),
        })
        .collect();
    failures.extend(
        catalog
            .jobs_in_state(JobState::Dead, FAILURE_LIMIT)
            .await?
            .into_iter()
            .map(|j| Failure {
                what: "job",
                id: format!("{} {} ({})", j.id, j.kind, j.dedupe_key),
                attempts: j.attempts,
                reason: j.last_error.unwrap_or_else(|| "—".into()),
            }),
    );
    let subscription_id = catalog
        .setting(SUBSCRIPTION_SETTING)
        .await?
        .filter(|s| !s.is_empty());
    let active = snapshot.as_ref().and_then(|s| s.subscription_active);
    let subscription = match (subscription_id, active) {
        (None, _) => "none (live capture is off; only syncs fill the vault)".to_owned(),
        (Some(id), Some(true)) => format!("{id}: active"),
        (Some(id), Some(false)) => format!("{id}: NOT active at the last check"),
        (Some(id), None) => format!("{id}: state not reported yet"),
    };
    let heavy = snapshot
        .as_ref()
        .and_then(|s| s.groups.iter().find(|g| g.group == "heavy"));
    let now_ms = chrono::Utc::now().timestamp_millis();
    let rate_source = snapshot.as_ref().map(|s| {
        let at = chrono::DateTime::from_timestamp_millis(s.at_ms);
        let stale = if now_ms - s.at_ms > STALE_AFTER_MS {
            " (stale: that process may have stopped)"
        } else {
            ""
        };
        format!("Reported by {} at {}{stale}.", s.source, view::time(at))
    });
    let template = StatusPage {
        nav: Some(Nav::new(&session, "status")),
        csrf: session.csrf_token.clone(),
        message: query
            .retried
            .map(|n| format!("Requeued {n} failed item(s).")),
        progress: progress(&rc, heavy),
        queue_depth: jc.queued + jc.retry + jc.leased,
        subscription,
        rate_source,
        rate_rows: snapshot
            .as_ref()
            .map(|s| s.groups.iter().map(rate_row).collect())
            .unwrap_or_default(),
        capacity: CapacityCard::of(&Capacity::read(catalog).await?),
        recording_counts: vec![
            ("stored", rc.stored),
            ("listed", rc.listed),
            ("not_ready", rc.not_ready),
            ("gone", rc.gone),
            ("failed", rc.failed),
        ],
        job_counts: vec![
            ("queued", jc.queued),
            ("leased", jc.leased),
            ("retry", jc.retry),
            ("done", jc.done),
            ("dead", jc.dead),
        ],
        watermarks: catalog
            .watermarks()
            .await?
            .into_iter()
            .map(|(name, at)| (name, view::time(Some(at))))
            .collect(),
        failures,
    };
    view::render(&template)
}
/// `POST /status/retry`: requeues every dead job and relists every failed
/// recording (CSRF-checked), then shows the status page again.
pub async fn retry(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    _: CsrfForm<NoFields>,
) -> Result<Redirect, AppError> {
    let catalog = &state.catalog;
    let mut n = 0u64;
    for job in catalog.jobs_in_state(JobState::Dead, FAILURE_LIMIT).await? {
        if catalog.requeue_dead(job.id).await? {
            n += 1;
        }
    }
    for rec in catalog.failed_recordings(FAILURE_LIMIT).await? {
        if catalog.relist_recording(&rec.id).await? {
            n += 1;
        }
    }
    tracing::info!(user = %session.user.name, requeued = n, "retry of failures");
    Ok(Redirect::to(&format!("/status?retried={n}")))
}
