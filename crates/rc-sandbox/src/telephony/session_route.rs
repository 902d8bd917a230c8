//! `GET /restapi/v1.0/account/{accountId}/telephony/sessions/{telephonySessionId}`
//! [Light] — the current state of a live telephony session
//! (`CallSessionObject`: `id`, `creationTime`, `origin`, every party in its
//! latest state with `owner` for extension parties).
//!
//! A session is live from its first event until its last one (the final
//! party leaving); before and after it answers 404 CMN-102 — what the
//! platform is expected to answer once a session has ended (unconfirmed). `accountId` is `~`
//! or the account's id.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

use super::{rc_time, timeline};
use crate::errors::ApiError;
use crate::gate::{self, Admitted};
use crate::permissions::Permission;
use crate::ratelimit::Group;
use crate::state::AppState;

/// The session-status route.
pub fn routes() -> Router<AppState> {
    Router::new().route(
        "/restapi/v1.0/account/{account_id}/telephony/sessions/{telephony_session_id}",
        get(read_session),
    )
}

async fn read_session(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((account_id, tsid)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let admitted = gate::admit(&state, &headers, None, Group::Light)?;
    admitted.require(Permission::CallControl)?;
    let Admitted { rate_headers, .. } = admitted;
    if account_id != "~" && account_id != state.account_id().to_string() {
        return Err(ApiError::not_found("accountId", &account_id));
    }
    let session = live_session(&state, &tsid)
        .ok_or_else(|| ApiError::not_found("telephonySessionId", &tsid))?;
    Ok((rate_headers, axum::Json(session)).into_response())
}

/// The `CallSessionObject` of `tsid` if it is live on the sandbox clock.
pub fn live_session(state: &AppState, tsid: &str) -> Option<Value> {
    let now = state.clock().now();
    let world = state.world();
    let conversation = world
        .conversations
        .iter()
        .find(|c| c.sessions.iter().any(|s| s.telephony_session_id == tsid))?;
    let session = conversation
        .sessions
        .iter()
        .find(|s| s.telephony_session_id == tsid)?;
    let events: Vec<_> = timeline(&world, conversation)
        .into_iter()
        .filter(|e| e.telephony_session_id == tsid)
        .collect();
    let happened: Vec<_> = events.iter().filter(|e| e.at <= now).collect();
    let over = events.iter().any(|e| e.last_in_session && e.at <= now);
    if happened.is_empty() || over {
        return None;
    }
    // Latest state per party, parties in order of appearance.
    let mut parties: Vec<Value> = Vec::new();
    for e in happened {
        let Some(p) = e.body.pointer("/parties/0") else {
            continue;
        };
        let mut party = p.clone();
        if let Some(obj) = party.as_object_mut() {
            obj.remove("missedCall");
            obj.remove("sipData");
            if let (Some(acc), Some(ext)) = (obj.get("accountId"), obj.get("extensionId")) {
                let owner = json!({"accountId": acc, "extensionId": ext});
                obj.insert("owner".into(), owner);
            }
        }
        match parties.iter_mut().find(|x| x["id"] == party["id"]) {
            Some(slot) => *slot = party,
            None => parties.push(party),
        }
    }
    Some(json!({
        "id": tsid,
        "creationTime": rc_time(session.start),
        "origin": {"type": "Call"},
        "parties": parties,
    }))
}
