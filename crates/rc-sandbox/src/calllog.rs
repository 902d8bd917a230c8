//! Call-log list and single-record routes, account and extension level
//!, rendered from the world model.
//!
//! A leg becomes a call-log record once its whole conversation has ended
//! and `SandboxConfig::call_log_lag` has passed (sandbox clock); live and
//! just-ended calls are not listed. Lists are newest first by `startTime`
//! (ties by id), paged with `paging` and `navigation` (`firstPage`, plus
//! `nextPage` while more records follow and `previousPage` after page 1;
//! no totals and no `lastPage`, which the platform also often omits).
//! Not implemented: bulk ids (`{id1},{id2}` → 207 multipart), `DELETE`,
//! `call-log-sync`, `active-calls`.

pub mod query;
pub mod render;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::errors::ApiError;
use crate::gate::{self, paths};
use crate::model::{Conversation, Leg, World};
use crate::permissions::Permission;
use crate::ratelimit::Group;
use crate::state::AppState;
use query::{CallLogQuery, View, Window};
use render::{Ctx, Record};

/// Call-log routes on the platform base.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/restapi/v1.0/account/{account_id}/call-log",
            get(list_account),
        )
        .route(
            "/restapi/v1.0/account/{account_id}/extension/{extension_id}/call-log",
            get(list_extension),
        )
        .route(
            "/restapi/v1.0/account/{account_id}/call-log/{record_id}",
            get(one_account),
        )
        .route(
            "/restapi/v1.0/account/{account_id}/extension/{extension_id}/call-log/{record_id}",
            get(one_extension),
        )
}

/// `paging` (`EnumeratedPagingModel`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Paging {
    page: u32,
    per_page: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_start: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    page_end: Option<usize>,
}

/// `{ "uri": … }`.
#[derive(Debug, Serialize)]
struct NavUri {
    uri: String,
}

/// `navigation` (`PageNavigationModel`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Navigation {
    first_page: NavUri,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page: Option<NavUri>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_page: Option<NavUri>,
}

/// `CallLogResponse`.
#[derive(Debug, Serialize)]
struct ListResponse<'a> {
    uri: String,
    records: Vec<Record<'a>>,
    paging: Paging,
    navigation: Navigation,
}

async fn list_account(
    State(state): State<AppState>,
    Path(account): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    list(&state, &account, None, raw.as_deref(), &headers).unwrap_or_else(|e| e.into_response())
}

async fn list_extension(
    State(state): State<AppState>,
    Path((account, extension)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    list(&state, &account, Some(&extension), raw.as_deref(), &headers)
        .unwrap_or_else(|e| e.into_response())
}

async fn one_account(
    State(state): State<AppState>,
    Path((account, id)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    one(&state, &account, None, &id, raw.as_deref(), &headers).unwrap_or_else(|e| e.into_response())
}

async fn one_extension(
    State(state): State<AppState>,
    Path((account, extension, id)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Response {
    one(
        &state,
        &account,
        Some(&extension),
        &id,
        raw.as_deref(),
        &headers,
    )
    .unwrap_or_else(|e| e.into_response())
}

/// Whether `c` is in the call log at `now`.
fn visible(c: &Conversation, now: DateTime<Utc>, lag: chrono::Duration) -> bool {
    now >= c.end + lag
}

fn matches(world: &World, q: &CallLogQuery, w: &Window, c: &Conversation, leg: &Leg) -> bool {
    if w.from.is_some_and(|f| leg.start < f) || w.to.is_some_and(|t| leg.start >= t) {
        return false;
    }
    if !q.types.is_empty() && !q.types.contains(&"Voice") {
        return false;
    }
    if !q.directions.is_empty() && !q.directions.contains(&c.script.direction.as_str()) {
        return false;
    }
    if !q.transports.is_empty() && !q.transports.contains(&"PSTN") {
        return false;
    }
    if let Some(r) = q.recording
        && !r.accepts(leg.recording.as_ref().map(|r| r.kind))
    {
        return false;
    }
    let session = c.sessions.get(leg.session);
    if let Some(sid) = &q.session_id
        && session.is_none_or(|s| &s.session_id != sid)
    {
        return false;
    }
    if let Some(tsid) = &q.telephony_session_id
        && session.is_none_or(|s| &s.telephony_session_id != tsid)
    {
        return false;
    }
    let ext = world.extensions.get(leg.extension);
    if let Some(n) = &q.extension_number
        && ext.is_none_or(|e| &e.number != n)
    {
        return false;
    }
    if let Some(p) = &q.phone_number {
        let bare = |s: &str| s.trim_start_matches('+') == p.trim_start_matches('+');
        if !bare(&c.script.external.phone_number) && !ext.is_some_and(|e| bare(&e.phone_number)) {
            return false;
        }
    }
    true
}

/// `…/account/{id}/call-log`, or `…/account/{id}/extension/{id}/call-log`.
fn call_log_uri(world: &World, platform: &str, account: u64, extension: Option<usize>) -> String {
    match extension.and_then(|i| world.extensions.get(i)) {
        Some(e) => format!(
            "{}/extension/{}/call-log",
            paths::account_uri(platform, account),
            e.id
        ),
        None => format!("{}/call-log", paths::account_uri(platform, account)),
    }
}

fn json_response<T: Serialize>(rate: gate::RateHeaders, body: &T) -> Result<Response, ApiError> {
    let bytes = serde_json::to_vec(body).map_err(|e| {
        tracing::error!(error = %e, "call-log serialisation failed");
        ApiError::internal()
    })?;
    let mut res = Response::new(axum::body::Body::from(bytes));
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok((rate, res).into_response())
}

fn list(
    state: &AppState,
    account_raw: &str,
    extension_raw: Option<&str>,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let admitted = gate::admit(state, headers, None, Group::Heavy)?;
    admitted.require(Permission::ReadCallLog)?;
    let q = CallLogQuery::parse(raw_query)?;
    let now = state.clock().now();
    let lag = state.config().call_log_lag;
    let world = state.world();
    let account = paths::account(&world, account_raw)?;
    let extension = extension_raw
        .map(|e| paths::extension(&world, e, admitted.owner.extension_id))
        .transpose()?;
    admitted
        .require_company_call_log(extension.and_then(|i| world.extensions.get(i).map(|e| e.id)))?;
    let window = q.window(now);
    let mut selected: Vec<(&Conversation, &Leg)> = world
        .conversations
        .iter()
        .filter(|c| visible(c, now, lag))
        .flat_map(|c| c.legs.iter().map(move |l| (c, l)))
        .filter(|(_, l)| extension.is_none_or(|e| l.extension == e))
        .filter(|(c, l)| matches(&world, &q, &window, c, l))
        .collect();
    selected.sort_unstable_by(|a, b| {
        b.1.start
            .cmp(&a.1.start)
            .then_with(|| a.1.call_record_id.cmp(&b.1.call_record_id))
    });
    let urls = state.urls();
    let base = call_log_uri(&world, &urls.platform, account, extension);
    let ctx = Ctx {
        platform: &urls.platform,
        media: &urls.media,
        world: &world,
        view: q.view,
        call_log_uri: &base,
        lag,
    };
    let offset = q.offset();
    let per_page = usize::try_from(q.per_page).unwrap_or(usize::MAX);
    let prepared: Vec<render::Prepared<'_>> = selected
        .iter()
        .skip(offset)
        .take(per_page)
        .filter_map(|(c, l)| render::prepare(&ctx, c, l))
        .collect();
    let records: Vec<Record<'_>> = prepared.iter().map(|p| render::record(&ctx, p)).collect();
    let level = match extension.and_then(|i| world.extensions.get(i)) {
        Some(e) => format!(
            "{}/extension/{}",
            paths::account_uri(&urls.platform, account),
            e.id
        ),
        None => paths::account_uri(&urls.platform, account),
    };
    let base = format!("{level}/call-log");
    let ext_level = extension.is_some();
    let page_uri = |page: u32| NavUri {
        uri: format!("{base}?{}", q.echo(&window, page, ext_level)),
    };
    let more = offset.saturating_add(records.len()) < selected.len();
    let navigation = Navigation {
        first_page: page_uri(1),
        next_page: more.then(|| page_uri(q.page.saturating_add(1))),
        previous_page: (q.page > 1).then(|| page_uri(q.page - 1)),
    };
    let paging = Paging {
        page: q.page,
        per_page: q.per_page,
        page_start: (!records.is_empty()).then_some(offset),
        page_end: records
            .len()
            .checked_sub(1)
            .map(|n| offset.saturating_add(n)),
    };
    let body = ListResponse {
        uri: page_uri(q.page).uri,
        records,
        paging,
        navigation,
    };
    json_response(admitted.rate_headers, &body)
}

fn one(
    state: &AppState,
    account_raw: &str,
    extension_raw: Option<&str>,
    id: &str,
    raw_query: Option<&str>,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let admitted = gate::admit(state, headers, None, Group::Heavy)?;
    admitted.require(Permission::ReadCallLog)?;
    let mut view = View::Simple;
    for (k, v) in url::form_urlencoded::parse(raw_query.unwrap_or_default().as_bytes()) {
        if k == "view" {
            view = View::parse(Some(&v))?;
        }
    }
    let now = state.clock().now();
    let lag = state.config().call_log_lag;
    let world = state.world();
    let account = paths::account(&world, account_raw)?;
    let extension = extension_raw
        .map(|e| paths::extension(&world, e, admitted.owner.extension_id))
        .transpose()?;
    admitted
        .require_company_call_log(extension.and_then(|i| world.extensions.get(i).map(|e| e.id)))?;
    let urls = state.urls();
    let base = call_log_uri(&world, &urls.platform, account, extension);
    let ctx = Ctx {
        platform: &urls.platform,
        media: &urls.media,
        world: &world,
        view,
        call_log_uri: &base,
        lag,
    };
    let prepared = world
        .conversations
        .iter()
        .filter(|c| visible(c, now, lag))
        .flat_map(|c| c.legs.iter().map(move |l| (c, l)))
        .find(|(_, l)| l.call_record_id == id && extension.is_none_or(|e| l.extension == e))
        .and_then(|(c, l)| render::prepare(&ctx, c, l))
        .ok_or_else(|| ApiError::not_found("callRecordId", id))?;
    json_response(admitted.rate_headers, &render::record(&ctx, &prepared))
}
