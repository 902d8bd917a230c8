//! The `/sandbox/` control API (not part of RingCentral): scripted calls,
//! live traffic, clock, faults and the ground truth. Served on the platform
//! base, without authentication or rate limits. Bodies are JSON; errors are
//! `{"error": "..."}` with 400/404.
//!
//! # Routes
//! - `POST /sandbox/calls` — body: a [`crate::model::CallScript`] as JSON
//!   (snake_case field names as in the model: `direction`, `external
//!   {phone_number, name}`, `segments [{extension, ring_ms, talk_ms, recorded,
//!   handoff}]`, `recording_kind`); `start` (RFC 3339) defaults to the sandbox
//!   now and `recording_kind` to `Automatic`. Adds the conversation to the
//!   world, wakes the call engine, and answers `{conversationIndex,
//!   telephonySessionIds, sessionIds, callRecordIds, partyIds, recordingIds,
//!   start, end}` (`recordingIds` in stitching order).
//! - `GET /sandbox/live`, `POST /sandbox/live` `{callsPerMinute}` — live
//!   traffic in calls per sandbox minute (0 stops); answers `{callsPerMinute}`.
//! - `GET /sandbox/clock`, `POST /sandbox/clock` `{advanceSecs?, freeze?,
//!   resume?, speed?}` — applied in the order freeze, speed, advance,
//!   resume; answers `{now, speed, frozen}`.
//! - `GET /sandbox/faults`, `PUT /sandbox/faults` — the
//!   [`crate::faults::FaultConfig`] rates as camelCase JSON (missing fields = 0).
//! - `GET /sandbox/truth[?conversation=N…][&hashes=false]` — `{accountId,
//!   audioFormat, now, conversations}`: every conversation (or those whose
//!   index is given; repeatable) with `index, direction, externalNumber,
//!   start, end, ended, sessions, legs` — each leg with call record id,
//!   telephony session id, party id, extension `{index, id, number, name}`,
//!   start/answer/end, handoff, recording `{id, kind, durationMs, marker,
//!   deleted, sha256, bytes}`, `shortRecording` — and `orderedRecordings`
//!   (the ids a stitched file must contain, in order). `sha256`/`bytes` hash
//!   the recording audio, rendering it on first use: with a large history ask
//!   for specific conversations, or pass `hashes=false`.
//! - `POST /sandbox/recordings/{id}/delete` — deletes a recording at the
//!   source (its content then answers 404); 204, or 404 if unknown.

pub mod live;
pub mod live_calls;
pub mod truth;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::Duration;
use serde_json::{Value, json};

pub use live::LiveTraffic;

use crate::model::CallScript;
use crate::state::AppState;
use crate::telephony::rc_time;

/// `/sandbox/…` routes on the platform base.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/sandbox/calls", post(add_call))
        .route("/sandbox/live", get(get_live).post(set_live))
        .route("/sandbox/clock", get(get_clock).post(set_clock))
        .route("/sandbox/faults", get(get_faults).put(set_faults))
        .route("/sandbox/truth", get(get_truth))
        .route("/sandbox/recordings/{id}/delete", post(delete_recording))
}

/// A 400 with `{"error": ...}`.
#[derive(Debug)]
struct BadRequest(String);

impl IntoResponse for BadRequest {
    fn into_response(self) -> Response {
        (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": self.0})),
        )
            .into_response()
    }
}

fn bad_request(message: impl std::fmt::Display) -> BadRequest {
    BadRequest(message.to_string())
}

fn json_body(body: &Bytes) -> Result<Value, BadRequest> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(body).map_err(bad_request)
}

async fn add_call(State(state): State<AppState>, body: Bytes) -> Result<Response, BadRequest> {
    let mut v = json_body(&body)?;
    if !v.is_object() {
        return Err(bad_request("expected a JSON object"));
    }
    if v.get("start").is_none_or(Value::is_null) {
        v["start"] = json!(state.clock().now());
    }
    if v.get("recording_kind").is_none_or(Value::is_null) {
        v["recording_kind"] = json!("Automatic");
    }
    let script: CallScript = serde_json::from_value(v).map_err(bad_request)?;
    let added_at = state.clock().now();
    let (index, answer) = {
        let mut world = state.world_mut();
        match world.add(script) {
            Ok(c) => (
                c.index,
                json!({
                    "conversationIndex": c.index,
                    "telephonySessionIds": c.sessions.iter().map(|s| s.telephony_session_id.clone()).collect::<Vec<_>>(),
                    "sessionIds": c.sessions.iter().map(|s| s.session_id.clone()).collect::<Vec<_>>(),
                    "callRecordIds": c.legs.iter().map(|l| l.call_record_id.clone()).collect::<Vec<_>>(),
                    "partyIds": c.legs.iter().map(|l| l.party_id.clone()).collect::<Vec<_>>(),
                    "recordingIds": c.ordered_recordings().map(|r| r.id.clone()).collect::<Vec<_>>(),
                    "start": rc_time(c.start),
                    "end": rc_time(c.end),
                }),
            ),
            Err(e) => return Err(bad_request(e)),
        }
    };
    state.telephony().conversation_added(index, added_at);
    Ok(axum::Json(answer).into_response())
}

async fn get_live(State(state): State<AppState>) -> Response {
    axum::Json(json!({"callsPerMinute": state.live().calls_per_minute()})).into_response()
}

async fn set_live(State(state): State<AppState>, body: Bytes) -> Result<Response, BadRequest> {
    let v = json_body(&body)?;
    let Some(cpm) = v
        .get("callsPerMinute")
        .and_then(Value::as_f64)
        .filter(|x| x.is_finite() && *x >= 0.0)
    else {
        return Err(bad_request("callsPerMinute must be a number >= 0"));
    };
    state.live().set_calls_per_minute(cpm);
    Ok(get_live(State(state)).await)
}

fn clock_json(state: &AppState) -> Value {
    let c = state.clock();
    json!({"now": rc_time(c.now()), "speed": c.speed(), "frozen": c.is_frozen()})
}

async fn get_clock(State(state): State<AppState>) -> Response {
    axum::Json(clock_json(&state)).into_response()
}

async fn set_clock(State(state): State<AppState>, body: Bytes) -> Result<Response, BadRequest> {
    let v = json_body(&body)?;
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let advance = match v.get("advanceSecs") {
        None | Some(Value::Null) => None,
        Some(x) => match x
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0 && *s < 3.2e9)
        {
            Some(s) => Some(Duration::milliseconds((s * 1000.0) as i64)),
            None => return Err(bad_request("advanceSecs must be a number >= 0")),
        },
    };
    let speed = match v.get("speed") {
        None | Some(Value::Null) => None,
        Some(x) => match x.as_f64().filter(|s| s.is_finite() && *s > 0.0) {
            Some(s) => Some(s),
            None => return Err(bad_request("speed must be a number > 0")),
        },
    };
    let clock = state.clock();
    if flag("freeze") {
        clock.freeze();
    }
    if let Some(s) = speed {
        clock.set_speed(s);
    }
    if let Some(d) = advance {
        clock.advance(d);
    }
    if flag("resume") {
        clock.resume();
    }
    Ok(axum::Json(clock_json(&state)).into_response())
}

async fn get_faults(State(state): State<AppState>) -> Response {
    axum::Json(state.faults().current()).into_response()
}

async fn set_faults(State(state): State<AppState>, body: Bytes) -> Result<Response, BadRequest> {
    let v = json_body(&body)?;
    let f: crate::faults::FaultConfig = serde_json::from_value(v).map_err(bad_request)?;
    let rates = [
        f.http500,
        f.http503,
        f.reset_mid_body,
        f.truncated_body,
        f.slow_body,
        f.revoke_token,
        f.delete_recording,
        f.webhook_duplicate,
        f.webhook_reorder,
    ];
    if rates.iter().any(|r| !(0.0..=1.0).contains(r)) {
        return Err(bad_request("rates must be in [0, 1]"));
    }
    state.faults().set(f);
    Ok(get_faults(State(state)).await)
}

async fn get_truth(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<Response, BadRequest> {
    let q = truth::TruthQuery::parse(query.as_deref().unwrap_or("")).map_err(bad_request)?;
    Ok(axum::Json(truth::truth(&state, &q).await).into_response())
}

async fn delete_recording(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    if state.world_mut().delete_recording(&id) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"error": "no such recording"})),
        )
            .into_response()
    }
}
