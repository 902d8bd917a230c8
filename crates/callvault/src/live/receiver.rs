//! `POST /webhook/ringcentral`: the receiver RingCentral delivers to.
//!
//! In order: a `Validation-Token` handshake is echoed (200, tiny body); any
//! other request must carry the `Verification-Token` we registered
//! (compared in constant time; otherwise 403 and nothing is stored); the
//! body (at most [`super::LiveConfig::max_body_bytes`], else 413) must parse
//! as a telephony-session notification (else 400); it is committed to the
//! catalog, duplicates by `uuid` absorbed, and a departure also enqueues
//! the session's follow-up job, all before the 200. Nothing slow happens
//! here: no RingCentral call, no folding.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use rc_api::models::TelephonySessionNotification;
use std::sync::atomic::Ordering;
use vault::{NewJob, NewNotification, TelephonySessionId};

use super::{LiveState, SESSION_JOB, fold};

/// Path RingCentral delivers to (append it to the public URL).
pub const WEBHOOK_PATH: &str = "/webhook/ringcentral";

/// Longest notification `uuid` accepted.
const MAX_UUID_LEN: usize = 128;

/// The receiver's routes, ready to merge into the web server's router.
pub fn webhook_router(state: LiveState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Why a delivery was refused (never says more than the status needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Forbidden,
    Malformed,
    Internal,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Refusal::Malformed => (StatusCode::BAD_REQUEST, "malformed notification"),
            Refusal::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        (status, text).into_response()
    }
}

async fn receive(State(state): State<LiveState>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(token) = headers.get("validation-token") {
        state.metrics.validations.fetch_add(1, Ordering::Relaxed);
        return validation_answer(token.clone());
    }
    match accept(&state, &headers, &body).await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Err(refusal) => {
            state
                .metrics
                .notifications_rejected
                .fetch_add(1, Ordering::Relaxed);
            refusal.into_response()
        }
    }
}

/// 200 with the same `Validation-Token`, well under RingCentral's 1024-byte limit.
fn validation_answer(token: HeaderValue) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "",
    )
        .into_response();
    response.headers_mut().insert("validation-token", token);
    response
}

async fn accept(state: &LiveState, headers: &HeaderMap, body: &Bytes) -> Result<(), Refusal> {
    let Some(presented) = headers.get("verification-token") else {
        tracing::warn!("webhook delivery without Verification-Token refused");
        return Err(Refusal::Forbidden);
    };
    match state.token_matches(presented.as_bytes()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("webhook delivery with a wrong Verification-Token refused");
            return Err(Refusal::Forbidden);
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the verification token failed");
            return Err(Refusal::Internal);
        }
    }
    let (note, raw) = parse(body)?;
    let tsid = TelephonySessionId::parse(note.body.telephony_session_id.as_str())
        .map_err(|_| Refusal::Malformed)?;
    let new = NewNotification {
        uuid: note.uuid.clone(),
        telephony_session_id: Some(tsid.clone()),
        sequence: note.body.sequence,
        event_time: note.body.event_time,
        body: raw,
    };
    let inserted = state.catalog.insert_notification(&new).await.map_err(|e| {
        tracing::error!(error = %e, "committing a notification failed");
        Refusal::Internal
    })?;
    if !inserted {
        state
            .metrics
            .notifications_duplicate
            .fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    state
        .metrics
        .notifications_received
        .fetch_add(1, Ordering::Relaxed);
    if fold::reports_a_departure(&note) {
        let job = NewJob::new(
            SESSION_JOB,
            format!("session:{tsid}"),
            serde_json::json!({ "tsid": tsid.as_str() }),
        )
        .run_at(Utc::now() + state.config.session_delay);
        state.catalog.enqueue(&job).await.map_err(|e| {
            tracing::error!(error = %e, session = %tsid, "enqueuing a session job failed");
            Refusal::Internal
        })?;
        state
            .metrics
            .session_triggers
            .fetch_add(1, Ordering::Relaxed);
        state.wake.notify_waiters();
    }
    Ok(())
}

/// Parses untrusted bytes into the typed notification and the JSON kept.
fn parse(body: &Bytes) -> Result<(TelephonySessionNotification, serde_json::Value), Refusal> {
    let raw: serde_json::Value = serde_json::from_slice(body).map_err(|_| Refusal::Malformed)?;
    let note: TelephonySessionNotification =
        serde_json::from_value(raw.clone()).map_err(|_| Refusal::Malformed)?;
    if note.uuid.is_empty() || note.uuid.len() > MAX_UUID_LEN {
        return Err(Refusal::Malformed);
    }
    Ok((note, raw))
}
