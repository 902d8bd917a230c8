//! `GET /status` (admins): counts by recording and job state, sync
//! watermarks and failures; `POST /status/retry` requeues dead jobs and
//! relists failed recordings.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;
use vault::JobState;

use crate::web::auth::{AdminUser, csrf};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

/// Failures listed (and retried) at most.
const FAILURE_LIMIT: u32 = 200;

struct Failure {
    what: &'static str,
    id: String,
    attempts: u32,
    reason: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Option<Nav>,
    csrf: String,
    message: Option<String>,
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

/// `GET /status`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Query(query): Query<StatusQuery>,
) -> Result<Html<String>, AppError> {
    let catalog = &state.catalog;
    let rc = catalog.recording_counts().await?;
    let jc = catalog.counts_by_state().await?;
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
    let template = StatusPage {
        nav: Some(Nav::new(&session, "status")),
        csrf: session.csrf_token.clone(),
        message: query
            .retried
            .map(|n| format!("Requeued {n} failed item(s).")),
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
    super::render(&template)
}

/// The retry form's fields.
#[derive(Debug, Deserialize)]
pub struct RetryForm {
    csrf: Option<String>,
}

/// `POST /status/retry`: requeues every dead job and relists every failed
/// recording (CSRF-checked), then shows the status page again.
pub async fn retry(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Form(form): Form<RetryForm>,
) -> Result<Redirect, AppError> {
    csrf::check(Some(&session.csrf_token), form.csrf.as_deref())?;
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
