//! `GET /audit` (admins): who played or downloaded what, newest first.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::Html;
use serde::Deserialize;

use crate::web::auth::AdminUser;
use crate::web::error::AppError;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

const PAGE_SIZE: u32 = 50;

struct Entry {
    at: String,
    at_iso: String,
    user: String,
    action: String,
    what: String,
    client: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    nav: Option<Nav>,
    entries: Vec<Entry>,
    page: u64,
    prev_url: Option<String>,
    next_url: Option<String>,
}

/// Query of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    page: Option<u64>,
}

/// `GET /audit`.
pub async fn page(
    State(state): State<AppState>,
    AdminUser(session): AdminUser,
    Query(query): Query<AuditQuery>,
) -> Result<Html<String>, AppError> {
    let page = view::page_number(query.page)?;
    let mut rows = state
        .catalog
        .audit_entries(
            PAGE_SIZE + 1,
            (page - 1).saturating_mul(u64::from(PAGE_SIZE)),
        )
        .await?;
    let more = rows.len() > PAGE_SIZE as usize;
    rows.truncate(PAGE_SIZE as usize);
    let template = AuditPage {
        nav: Some(Nav::new(&session, "audit")),
        entries: rows
            .into_iter()
            .map(|e| Entry {
                at: view::time(Some(e.at)),
                at_iso: view::iso(Some(e.at)),
                user: e.user_name,
                action: e.action,
                what: format!("{} {}", e.object_kind, e.object_id),
                client: e.client.unwrap_or_else(|| "—".into()),
            })
            .collect(),
        page,
        prev_url: (page > 1).then(|| format!("/audit?page={}", page - 1)),
        next_url: more.then(|| format!("/audit?page={}", page + 1)),
    };
    view::render(&template)
}
