//! `GET /records` (admins): retention rules and legal holds, with the forms
//! that add and remove rules and place and release holds. Every form is
//! CSRF-checked (its handler takes it as a [`CsrfForm`]) and every change audited, exactly as on the command line
//! (the same functions do the work).

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{Html, Redirect};
use serde::Deserialize;
use vault::{ConversationId, HoldFilter, HoldTarget, NewHold, NewRetentionRule};

use crate::web::auth::{AdminUser, CsrfForm};
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

struct RuleView {
    name: String,
    position: i64,
    criteria: String,
    min_keep: u32,
    max_keep: String,
    source_after: String,
}

/// A hold as the records and conversation pages show it.
pub(crate) struct HoldView {
    pub(crate) id: i64,
    pub(crate) matter: String,
    pub(crate) reason: String,
    pub(crate) covers: String,
    pub(crate) placed: String,
    pub(crate) released: Option<String>,
}

impl HoldView {
    pub(crate) fn of(h: vault::LegalHold) -> HoldView {
        HoldView {
            id: h.id,
            covers: match &h.filter {
                Some(f) => format!(
                    "{} conversations matching {} (and future matches)",
                    h.conversations,
                    serde_json::to_string(f).unwrap_or_default()
                ),
                None => format!("{} conversations", h.conversations),
            },
            placed: format!("{} by {}", view::time(Some(h.placed_at)), h.placed_by),
            released: h.released_at.map(|t| {
                format!(
                    "{} by {}: {}",
                    view::time(Some(t)),
                    h.released_by.unwrap_or_default(),
                    h.release_reason.unwrap_or_default()
                )
            }),
            matter: h.matter,
            reason: h.reason,
        }
    }
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    nav: Option<Nav>,
    csrf: String,
    rules: Vec<RuleView>,
    holds: Vec<HoldView>,
}

fn or_any(v: &Option<String>, what: &str) -> Option<String> {
    v.as_ref().map(|v| format!("{what} {v}"))
}

/// `GET /records`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
) -> Result<Html<String>, AppError> {
    let rules = state
        .catalog
        .retention_rules()
        .await?
        .into_iter()
        .map(|r| {
            let criteria: Vec<String> = [
                or_any(&r.extension_id, "extension"),
                or_any(&r.extension_group, "group"),
                or_any(&r.direction, "direction"),
                or_any(&r.recording_kind, "kind"),
            ]
            .into_iter()
            .flatten()
            .collect();
            RuleView {
                name: r.name,
                position: r.position,
                criteria: if criteria.is_empty() {
                    "every recording (default)".into()
                } else {
                    criteria.join(", ")
                },
                min_keep: r.min_keep_days,
                max_keep: r
                    .max_keep_days
                    .map_or_else(|| "for ever".into(), |d| format!("{d} days")),
                source_after: r
                    .delete_at_source_after_days
                    .map_or_else(|| "never".into(), |d| format!("after {d} days")),
            }
        })
        .collect();
    let holds = state
        .catalog
        .legal_holds(false)
        .await?
        .into_iter()
        .map(HoldView::of)
        .collect();
    view::render(&RecordsPage {
        nav: Some(Nav::new(&session, "records")),
        csrf: session.csrf_token.clone(),
        rules,
        holds,
    })
}

/// A change the catalog refused: the top message (ours, e.g. "a rule
/// called … exists already") goes to the admin, the chain to the log.
fn refused(e: anyhow::Error) -> AppError {
    tracing::warn!(error = %format!("{e:#}"), "a records form was refused");
    AppError::BadRequest(e.to_string())
}

/// A form's optional text field: blank means absent.
fn field(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

fn days(v: Option<String>, what: &str) -> Result<Option<u32>, AppError> {
    field(v)
        .map(|s| {
            s.parse::<u32>()
                .map_err(|_| AppError::BadRequest(format!("{what} must be a whole number of days")))
        })
        .transpose()
}

/// The add-rule form.
#[derive(Debug, Deserialize)]
pub struct RuleForm {
    name: String,
    position: Option<String>,
    extension: Option<String>,
    group: Option<String>,
    direction: Option<String>,
    kind: Option<String>,
    min_keep_days: Option<String>,
    max_keep_days: Option<String>,
    delete_at_source_after_days: Option<String>,
}

/// `POST /records/rules`.
pub async fn add_rule(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    CsrfForm(form): CsrfForm<RuleForm>,
) -> Result<Redirect, AppError> {
    let rule = NewRetentionRule {
        name: form.name.trim().to_owned(),
        position: match field(form.position) {
            Some(p) => p
                .parse()
                .map_err(|_| AppError::BadRequest("position must be a number".into()))?,
            None => 100,
        },
        extension_id: field(form.extension),
        extension_group: field(form.group),
        direction: field(form.direction),
        recording_kind: field(form.kind),
        min_keep_days: days(form.min_keep_days, "minimum keep")?.unwrap_or(0),
        max_keep_days: days(form.max_keep_days, "maximum keep")?,
        delete_at_source_after_days: days(form.delete_at_source_after_days, "delete at source")?,
        created_by: session.user.name.clone(),
    };
    crate::retention::rules::add_rule(&state.catalog, &rule)
        .await
        .map_err(refused)?;
    Ok(Redirect::to("/records"))
}

/// The remove-rule form.
#[derive(Debug, Deserialize)]
pub struct RemoveRuleForm {
    name: String,
}

/// `POST /records/rules/remove`.
pub async fn remove_rule(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    CsrfForm(form): CsrfForm<RemoveRuleForm>,
) -> Result<Redirect, AppError> {
    crate::retention::rules::remove_rule(&state.catalog, &form.name, &session.user.name)
        .await
        .map_err(refused)?;
    Ok(Redirect::to("/records"))
}

/// The place-hold form: conversation ids (one per line or comma), or the
/// calls page's filter fields.
#[derive(Debug, Deserialize)]
pub struct HoldForm {
    matter: String,
    reason: String,
    conversations: Option<String>,
    from: Option<String>,
    to: Option<String>,
    extension: Option<String>,
    party: Option<String>,
    direction: Option<String>,
    q: Option<String>,
}

fn date(v: Option<String>, what: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
    field(v)
        .map(|s| {
            chrono::NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
                .map(|t| t.and_utc())
                .ok_or_else(|| AppError::BadRequest(format!("{what} must be a date (YYYY-MM-DD)")))
        })
        .transpose()
}

/// `POST /records/holds`.
pub async fn place_hold(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    CsrfForm(form): CsrfForm<HoldForm>,
) -> Result<Redirect, AppError> {
    let ids: Vec<ConversationId> = field(form.conversations)
        .unwrap_or_default()
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            ConversationId::parse(s)
                .map_err(|_| AppError::BadRequest(format!("{s:?} is not a conversation id")))
        })
        .collect::<Result<_, _>>()?;
    let target = if ids.is_empty() {
        HoldTarget::Filter(HoldFilter {
            from: date(form.from, "from")?,
            to: date(form.to, "to")?,
            extension_id: field(form.extension),
            party: field(form.party),
            direction: field(form.direction),
            text: field(form.q),
        })
    } else {
        HoldTarget::Conversations(ids)
    };
    let hold = NewHold {
        matter: form.matter.trim().to_owned(),
        reason: form.reason.trim().to_owned(),
        placed_by: session.user.name.clone(),
        target,
    };
    crate::retention::holds::place(&state.catalog, &hold)
        .await
        .map_err(refused)?;
    mirror_to_worm(&state).await;
    Ok(Redirect::to("/records"))
}

/// The release-hold form.
#[derive(Debug, Deserialize)]
pub struct ReleaseForm {
    reason: String,
}

/// `POST /records/holds/{id}/release`.
pub async fn release_hold(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Path(id): Path<i64>,
    CsrfForm(form): CsrfForm<ReleaseForm>,
) -> Result<Redirect, AppError> {
    crate::retention::holds::release(&state.catalog, id, &session.user.name, &form.reason)
        .await
        .map_err(refused)?;
    mirror_to_worm(&state).await;
    Ok(Redirect::to("/records"))
}

/// Mirrors the holds onto the bucket's S3 legal holds (WORM mode) right
/// after a hold changed. The hold itself is already in force in the
/// catalog, so a failure here is logged, not shown: every retention run
/// mirrors again.
async fn mirror_to_worm(state: &AppState) {
    if let Err(e) = crate::retention::holds::mirror_to_worm(&state.catalog, &state.blobs).await {
        tracing::error!(error = %format!("{e:#}"), "mirroring legal holds to S3 failed; the next retention run retries");
    }
}
