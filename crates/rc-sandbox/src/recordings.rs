//! Recording metadata (platform base) and content (media base) with Range,
//! lag and deletion; deletion at the source by the account
//! ([`delete`]).
//!
//! Availability (sandbox clock):
//! - metadata answers once the conversation has ended (`now >= end`);
//! - content answers once `now >= end + SandboxConfig::recording_lag`.
//!
//! Before that, and for unknown or deleted recordings, both answer
//! **404 CMN-102** "Resource for parameter [callRecordingId] is not found" —
//! the real platform gives no distinct "not yet" answer (RingCentral's
//! guidance: "plan for a retry with back-off on 404 for freshly ended calls").
//!
//! Content is served from the cached [`Bytes`] of the audio cache without
//! copying (`Bytes::slice`); the body faults stream it in chunks.

pub mod delete;
pub mod deletions;

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;
use crate::faults::Fault;
use crate::gate::{self, paths};
use crate::model::Recording;
use crate::permissions::Permission;
use crate::ratelimit::Group;
use crate::state::AppState;

/// Metadata and delete routes on the platform base.
pub fn platform_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/restapi/v1.0/account/{account_id}/recording/{recording_id}",
            get(metadata),
        )
        .route(
            "/restapi/v1.0/account/{account_id}/call-recordings",
            axum::routing::delete(delete::delete_recordings),
        )
}

/// Content route on the media base.
pub fn media_routes() -> Router<AppState> {
    Router::new().route(
        "/restapi/v1.0/account/{account_id}/recording/{recording_id}/content",
        get(content),
    )
}

/// `GetCallRecordingResponse`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Metadata {
    id: String,
    content_uri: String,
    content_type: &'static str,
    duration: u64,
}

/// When a recording's parts become available.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Need {
    Metadata,
    Content,
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found("callRecordingId", id)
}

/// Finds a recording that is available for `need` now. The
/// `delete_recording` fault strikes only recordings that would have been
/// served (i.e. already listed): they are deleted for good and answer 404.
fn available(
    state: &AppState,
    account_raw: &str,
    id: &str,
    need: Need,
) -> Result<(u64, Recording), ApiError> {
    let now = state.clock().now();
    let (account, rec) = {
        let world = state.world();
        let account = paths::account(&world, account_raw)?;
        let (conv, _, rec) = world.recording(id).ok_or_else(|| not_found(id))?;
        let from = match need {
            Need::Metadata => conv.end,
            Need::Content => conv.end + state.config().recording_lag,
        };
        if rec.deleted || now < from {
            return Err(not_found(id));
        }
        (account, rec.clone())
    };
    if state.faults().strikes(Fault::DeleteRecording) && state.world_mut().delete_recording(id) {
        tracing::info!(recording = id, "fault: recording deleted before download");
        return Err(not_found(id));
    }
    Ok((account, rec))
}

async fn metadata(
    State(state): State<AppState>,
    Path((account_raw, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        let admitted = gate::admit(&state, &headers, None, Group::Heavy)?;
        admitted.require(Permission::ReadCallRecording)?;
        let (account, rec) = available(&state, &account_raw, &id, Need::Metadata)?;
        let urls = state.urls();
        let body = Metadata {
            content_uri: paths::content_uri(&urls.media, account, &rec.id),
            content_type: state.config().audio.format.content_type(),
            duration: rec.duration_ms.div_ceil(1000),
            id: rec.id,
        };
        Ok((admitted.rate_headers, axum::Json(body)).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

/// Query of the content route.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ContentQuery {
    #[serde(rename = "access_token")]
    access_token: Option<String>,
    content_disposition: Option<String>,
    content_disposition_filename: Option<String>,
}

async fn content(
    State(state): State<AppState>,
    Path((account_raw, id)): Path<(String, String)>,
    Query(q): Query<ContentQuery>,
    headers: HeaderMap,
) -> Response {
    let run = || -> Result<Response, ApiError> {
        let admitted = gate::admit(&state, &headers, q.access_token.as_deref(), Group::Heavy)?;
        admitted.require(Permission::ReadCallRecording)?;
        let disposition = disposition(&q)?;
        let (_, rec) = available(&state, &account_raw, &id, Need::Content)?;
        let settings = &state.config().audio;
        let bytes = state.audio().get_or_render(settings, &rec);
        let total = bytes.len() as u64;
        let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
            Some(r) => parse_range(r, total)?,
            None => None,
        };
        let (status, body) = match range {
            Some((start, end)) => {
                let (s, e) = (usize_of(start), usize_of(end));
                (StatusCode::PARTIAL_CONTENT, bytes.slice(s..=e))
            }
            None => (StatusCode::OK, bytes),
        };
        let mut res = Response::new(Body::empty());
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(settings.format.content_type()),
        );
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
        h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
        if let Some((start, end)) = range
            && let Ok(v) = HeaderValue::from_str(&format!("bytes {start}-{end}/{total}"))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
        if let Some(d) = disposition {
            h.insert(header::CONTENT_DISPOSITION, d);
        }
        // Counted as a download only when its last byte goes out.
        let to_end = range.is_none_or(|(_, end)| end.saturating_add(1) == total);
        *res.body_mut() = faulty_body(&state, body, to_end.then(|| rec.id.clone()));
        Ok((admitted.rate_headers, res).into_response())
    };
    run().unwrap_or_else(IntoResponse::into_response)
}

fn usize_of(v: u64) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

/// `contentDisposition=Inline|Attachment` (+ `contentDispositionFilename`)
/// → the `Content-Disposition` header; absent → none.
fn disposition(q: &ContentQuery) -> Result<Option<HeaderValue>, ApiError> {
    let kind = match q.content_disposition.as_deref() {
        None => return Ok(None),
        Some("Inline") => "inline",
        Some("Attachment") => "attachment",
        Some(other) => return Err(ApiError::invalid_parameter("contentDisposition", other)),
    };
    let value = match q.content_disposition_filename.as_deref() {
        Some(name) if !name.is_empty() => {
            let clean: String = name
                .chars()
                .filter(|c| !c.is_control() && *c != '"' && *c != '\\')
                .collect();
            format!("{kind}; filename=\"{clean}\"")
        }
        _ => kind.to_owned(),
    };
    HeaderValue::from_str(&value)
        .map(Some)
        .map_err(|_| ApiError::invalid_parameter("contentDispositionFilename", &value))
}

/// Parses a single `bytes=` range against a body of `total` bytes.
/// `Ok(None)`: ignore the header (malformed or multi-range → full body);
/// `Err`: 416 CMN-107 (unsatisfiable).
pub fn parse_range(value: &str, total: u64) -> Result<Option<(u64, u64)>, ApiError> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (a, b) = (a.trim(), b.trim());
    let unsatisfiable = || ApiError::range_not_satisfiable(total);
    let range = if a.is_empty() {
        // Suffix: the last n bytes.
        let Ok(n) = b.parse::<u64>() else {
            return Ok(None);
        };
        if n == 0 || total == 0 {
            return Err(unsatisfiable());
        }
        (total.saturating_sub(n), total - 1)
    } else {
        let Ok(start) = a.parse::<u64>() else {
            return Ok(None);
        };
        let end = if b.is_empty() {
            total.saturating_sub(1)
        } else {
            match b.parse::<u64>() {
                Ok(e) if e >= start => e.min(total.saturating_sub(1)),
                _ => return Ok(None),
            }
        };
        if start >= total {
            return Err(unsatisfiable());
        }
        (start, end)
    };
    Ok(Some(range))
}

/// The body, with the content faults applied: reset half-way, truncated
/// (ends early although `Content-Length` promised more), or slow.
fn faulty_body(state: &AppState, body: Bytes, counted: Option<String>) -> Body {
    let faults = state.faults();
    let half = body.len() / 2;
    if faults.strikes(Fault::ResetMidBody) {
        tracing::info!("fault: resetting the body half-way");
        return broken_body(body.slice(..half), true);
    }
    if faults.strikes(Fault::TruncatedBody) {
        tracing::info!("fault: truncating the body");
        return broken_body(body.slice(..half), false);
    }
    let total = body.len();
    let body = if faults.strikes(Fault::SlowBody) {
        let rate = faults.current().slow_bytes_per_sec();
        slow_body(body, rate)
    } else {
        Body::from(body)
    };
    match counted {
        Some(id) => count_when_served(state.clone(), id, total, body),
        None => body,
    }
}

/// `body`, telling [`crate::observed`] when its last byte is handed to the
/// connection (never for a client that went away before). Counted on the
/// last chunk itself: with a `Content-Length`, hyper stops polling a body
/// once that many bytes are out.
fn count_when_served(state: AppState, id: String, total: usize, body: Body) -> Body {
    let mut sent = 0usize;
    Body::from_stream(body.into_data_stream().map(move |chunk| {
        if let Ok(bytes) = &chunk {
            let before = sent;
            sent = sent.saturating_add(bytes.len());
            if before < total && sent >= total {
                state.observed().downloaded(&id);
            }
        }
        chunk
    }))
}

/// Sends `head`, pauses so the headers and `head` reach the client, then
/// fails the stream (`reset`: the connection is aborted) or ends it early
/// (the declared `Content-Length` is never reached).
fn broken_body(head: Bytes, reset: bool) -> Body {
    let tail = futures::stream::once(async move {
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<Bytes, _>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            if reset {
                "fault: reset mid-body"
            } else {
                "fault: body truncated"
            },
        ))
    });
    let head = futures::stream::iter([Ok(head)]);
    if reset {
        Body::from_stream(head.chain(tail))
    } else {
        // Ending the stream short of Content-Length makes hyper close the
        // connection after what was sent.
        let pause = futures::stream::once(async {
            tokio::time::sleep(Duration::from_millis(20)).await;
            Ok::<Bytes, std::io::Error>(Bytes::new())
        });
        Body::from_stream(head.chain(pause))
    }
}

/// Sends `body` in tenth-of-a-second slices at `bytes_per_sec` (real time).
fn slow_body(body: Bytes, bytes_per_sec: u64) -> Body {
    let chunk = usize_of((bytes_per_sec / 10).max(1));
    let stream = futures::stream::unfold((body, true), move |(rest, first)| async move {
        if rest.is_empty() {
            return None;
        }
        if !first {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let n = chunk.min(rest.len());
        let head = rest.slice(..n);
        let tail = rest.slice(n..);
        Some((Ok::<_, std::io::Error>(head), (tail, false)))
    })
    .boxed();
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100).unwrap(), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).unwrap(), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100).unwrap(), Some((50, 99)));
        assert_eq!(parse_range("bytes=0-1,5-6", 100).unwrap(), None);
        assert_eq!(parse_range("items=0-1", 100).unwrap(), None);
        assert_eq!(parse_range("bytes=9-3", 100).unwrap(), None);
        assert!(parse_range("bytes=100-", 100).is_err());
        assert!(parse_range("bytes=-0", 100).is_err());
    }
}
