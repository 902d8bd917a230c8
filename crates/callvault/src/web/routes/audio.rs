//! `GET /audio/recording/{id}` and `GET /audio/conversation/{id}`: audio
//! streamed from the blob store with `Range` support, so seeking works and
//! Safari plays. `?download=1` adds `Content-Disposition: attachment`;
//! for a listen-only user it answers 404, as a route that does not exist.
//!
//! Before a byte is sent, every download (`?download=1`) is written to the
//! audit log, and so is a session's first access to each recording or
//! conversation, whatever its `Range` (`bytes=1-` is all but one byte of a
//! file; auditing only ranges from byte 0 let it through). Later chunks and
//! seeks of the same session and object are not logged again: the catalog
//! remembers which objects each session opened ([`vault::Catalog::audit_first_play`]).
//!
//! A blob whose size differs from the size the catalog recorded is not
//! served: the answer is 500, the error is logged as an integrity error and
//! counted in `/metrics` (`callvault_blob_integrity_errors_total`).

use std::sync::atomic::Ordering;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures::StreamExt;
use serde::Deserialize;
use vault::audit::{AuditAction, AuditObject};
use vault::{RecordingId, RecordingState, StorageKey};

use crate::web::auth::{ClientAddr, CurrentUser};
use crate::web::error::AppError;
use crate::web::range::{RangeRequest, parse_range};
use crate::web::routes::conversation::{manifest_of, parse_conversation_id};
use crate::web::state::AppState;

/// Bytes read from the store per chunk of a range response.
const CHUNK: u64 = 256 * 1024;

/// Query of the audio routes.
#[derive(Debug, Default, Deserialize)]
pub struct AudioQuery {
    download: Option<String>,
}

impl AudioQuery {
    fn is_download(&self) -> bool {
        matches!(self.download.as_deref(), Some("1" | "true" | "yes"))
    }
}

/// What to stream.
struct Audio {
    key: StorageKey,
    content_type: String,
    file_name: String,
    object: AuditObject,
    /// The size the catalog recorded, when it did.
    expected_size: Option<u64>,
}

fn content_type_for(key: &StorageKey, known: Option<&str>) -> String {
    if let Some(t) = known.filter(|t| !t.is_empty()) {
        return t.to_owned();
    }
    match key.as_str().rsplit_once('.').map(|(_, ext)| ext) {
        Some("mp3") => "audio/mpeg",
        Some("wav") => "audio/wav",
        Some("flac") => "audio/flac",
        _ => "application/octet-stream",
    }
    .to_owned()
}

fn extension_of(key: &StorageKey) -> &str {
    match key.as_str().rsplit_once('.') {
        Some((_, ext)) if !ext.contains('/') => ext,
        _ => "bin",
    }
}

/// `GET /audio/recording/{id}`.
pub async fn recording(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientAddr,
    Path(id): Path<String>,
    Query(query): Query<AudioQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = RecordingId::parse(&id).map_err(|_| AppError::NotFound)?;
    // A download is a separate right: the statement that checks the scope
    // also refuses a listen-only user, so such a user has no download route.
    let recording = match query.is_download() {
        true => {
            state
                .catalog
                .downloadable_recording(user.scope(), user.0.user.id, &id)
                .await?
        }
        false => state.catalog.visible_recording(user.scope(), &id).await?,
    }
    .ok_or(AppError::NotFound)?;
    let key = match (&recording.state, recording.storage_key) {
        (RecordingState::Stored, Some(key)) => key,
        _ => {
            return Err(match state.catalog.disposal(&id).await? {
                Some(d) => AppError::Gone(format!(
                    "Recording {id} was disposed of under retention rule \"{}\" on {}.",
                    d.rule_name,
                    crate::web::view::time(Some(d.disposed_at))
                )),
                None => AppError::NotFound,
            });
        }
    };
    let audio = Audio {
        content_type: content_type_for(&key, recording.content_type.as_deref()),
        file_name: format!("recording-{id}.{}", extension_of(&key)),
        key,
        object: AuditObject::Recording(id),
        expected_size: recording.size,
    };
    serve(&state, &user, client, &audio, query.is_download(), &headers).await
}

/// `GET /audio/conversation/{id}`: the stitched file.
pub async fn conversation(
    State(state): State<AppState>,
    user: CurrentUser,
    client: ClientAddr,
    Path(id): Path<String>,
    Query(query): Query<AudioQuery>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let id = parse_conversation_id(&id)?;
    let conversation = match query.is_download() {
        true => {
            state
                .catalog
                .downloadable_conversation(user.scope(), user.0.user.id, &id)
                .await?
        }
        false => {
            state
                .catalog
                .visible_conversation(user.scope(), &id)
                .await?
        }
    }
    .ok_or(AppError::NotFound)?;
    let manifest = manifest_of(&conversation);
    let key = conversation.stitched_key.ok_or(AppError::NotFound)?;
    let audio = Audio {
        content_type: content_type_for(&key, manifest.as_ref().map(|m| m.content_type.as_str())),
        file_name: format!("conversation-{id}.{}", extension_of(&key)),
        key,
        object: AuditObject::Conversation(id),
        expected_size: None,
    };
    serve(&state, &user, client, &audio, query.is_download(), &headers).await
}

async fn serve(
    state: &AppState,
    user: &CurrentUser,
    client: ClientAddr,
    audio: &Audio,
    download: bool,
    headers: &HeaderMap,
) -> Result<Response, AppError> {
    let Some(meta) = state.blobs.head(&audio.key).await? else {
        tracing::error!(key = %audio.key, "catalog names a blob that is missing");
        return Err(AppError::NotFound);
    };
    let size = meta.size;
    if let Some(expected) = audio.expected_size.filter(|e| *e != size) {
        state
            .metrics
            .blob_integrity_errors
            .fetch_add(1, Ordering::Relaxed);
        tracing::error!(key = %audio.key, expected, found = size, "integrity error: the blob's size differs from the catalog's");
        return Err(AppError::Internal(anyhow::anyhow!(
            "integrity error: blob {} has {size} bytes, the catalog says {expected}",
            audio.key
        )));
    }
    let range_header = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    let range = parse_range(range_header, size);

    let client_text = client.0.map(|a| a.ip().to_string());
    let session = &user.0;
    if download {
        state
            .catalog
            .append_audit(
                &session.user,
                AuditAction::Download,
                &audio.object,
                client_text.as_deref(),
            )
            .await?;
    } else if !matches!(range, RangeRequest::Unsatisfiable) {
        state
            .catalog
            .audit_first_play(
                &session.token_hash,
                &session.user,
                &audio.object,
                client_text.as_deref(),
            )
            .await?;
    }

    let mut response = match range {
        RangeRequest::Unsatisfiable => {
            let mut r = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            r.headers_mut().insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{size}"))?,
            );
            return Ok(with_common(r, audio, download));
        }
        RangeRequest::Full => {
            let stream = state.blobs.get_stream(&audio.key).await?;
            let mut r = Response::new(Body::from_stream(stream));
            r.headers_mut()
                .insert(header::CONTENT_LENGTH, header_value(&size.to_string())?);
            r
        }
        RangeRequest::Partial(range) => {
            let len = range.end.saturating_sub(range.start);
            let mut r = Response::new(Body::from_stream(range_stream(
                state.blobs.clone(),
                audio.key.clone(),
                range.clone(),
            )));
            *r.status_mut() = StatusCode::PARTIAL_CONTENT;
            let h = r.headers_mut();
            h.insert(header::CONTENT_LENGTH, header_value(&len.to_string())?);
            h.insert(
                header::CONTENT_RANGE,
                header_value(&format!(
                    "bytes {}-{}/{size}",
                    range.start,
                    range.end.saturating_sub(1)
                ))?,
            );
            r
        }
    };
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, header_value(&audio.content_type)?);
    Ok(with_common(response, audio, download))
}

fn header_value(text: &str) -> Result<HeaderValue, AppError> {
    HeaderValue::from_str(text)
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("building a header")))
}

fn with_common(mut response: Response, audio: &Audio, download: bool) -> Response {
    let h = response.headers_mut();
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    if download {
        // File names are built from parsed ids and a key extension: plain ASCII.
        if let Ok(v) =
            HeaderValue::from_str(&format!("attachment; filename=\"{}\"", audio.file_name))
        {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    response
}

/// The bytes of `range` in chunks of at most [`CHUNK`], read lazily.
fn range_stream(
    blobs: vault::BlobStore,
    key: StorageKey,
    range: std::ops::Range<u64>,
) -> impl futures::Stream<Item = Result<Bytes, vault::BlobError>> + Send {
    futures::stream::unfold(range.start, move |at| {
        let (blobs, key, end) = (blobs.clone(), key.clone(), range.end);
        async move {
            if at >= end {
                return None;
            }
            let to = at.saturating_add(CHUNK).min(end);
            let chunk = blobs.get_range(&key, at..to).await;
            Some((chunk, to))
        }
    })
    .fuse()
}
