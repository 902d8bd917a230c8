//! `GET /conversations/{id}` (the conversation page) and its WebVTT
//! chapters track.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use vault::{Conversation, ConversationId, Recording, RecordingState};

use crate::web::auth::CurrentUser;
use crate::web::error::AppError;
use crate::web::routes::records::HoldView;
use crate::web::state::AppState;
use crate::web::view::{self, Nav};

struct Player {
    heading: String,
    what: &'static str,
    src: String,
    /// `None` for a listen-only user: no download link at all.
    download: Option<String>,
    vtt: Option<String>,
    sha256: Option<String>,
}

struct Chapter {
    number: usize,
    title: String,
    start_s: String,
    start_label: String,
    end_label: String,
    left_pct: String,
    width_pct: String,
}

struct RecordingView {
    id: String,
    state: &'static str,
    content_type: String,
    size: String,
    sha256: Option<String>,
    last_error: Option<String>,
    playable: bool,
    /// "Disposed of on … under rule …", for a tombstoned recording.
    disposed: Option<String>,
}

struct LegView {
    number: i64,
    leg_type: String,
    from: String,
    to: String,
    extension: String,
    started: String,
    started_iso: String,
    duration: String,
    recording_id: Option<String>,
}

struct RecordView {
    id: String,
    started: String,
    started_iso: String,
    direction: String,
    duration: String,
    from: String,
    to: String,
    legs: Vec<LegView>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage {
    nav: Option<Nav>,
    id: String,
    state: &'static str,
    reason: Option<String>,
    started: String,
    started_iso: String,
    ended: String,
    transfer_chain: Vec<String>,
    player: Option<Player>,
    chapters: Vec<Chapter>,
    recordings: Vec<RecordingView>,
    records: Vec<RecordView>,
    holds: Vec<HoldView>,
    may_download: bool,
}

/// Parses the path id; an id that cannot exist is simply not found.
pub(crate) fn parse_conversation_id(text: &str) -> Result<ConversationId, AppError> {
    ConversationId::parse(text).map_err(|_| AppError::NotFound)
}

/// The stitch manifest of a conversation, if it has a readable one.
pub(crate) fn manifest_of(conversation: &Conversation) -> Option<stitch::Manifest> {
    let value = conversation.manifest.clone()?;
    match serde_json::from_value(value) {
        Ok(m) => Some(m),
        Err(e) => {
            tracing::warn!(conversation = %conversation.id, error = %e, "unreadable stitch manifest");
            None
        }
    }
}

fn seconds(ms: u64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

fn chapters_of(manifest: &stitch::Manifest) -> Vec<Chapter> {
    let total = manifest.duration_ms.max(1) as f64;
    manifest
        .chapters()
        .into_iter()
        .enumerate()
        .map(|(i, c)| Chapter {
            number: i + 1,
            title: c.title.clone(),
            start_s: seconds(c.start_ms),
            start_label: view::duration_ms(i64::try_from(c.start_ms).ok()),
            end_label: view::duration_ms(i64::try_from(c.end_ms).ok()),
            left_pct: format!("{:.2}", c.start_ms as f64 * 100.0 / total),
            width_pct: format!(
                "{:.2}",
                c.end_ms.saturating_sub(c.start_ms) as f64 * 100.0 / total
            ),
        })
        .collect()
}

async fn recordings_of(
    state: &AppState,
    conversation: &Conversation,
) -> Result<Vec<Recording>, AppError> {
    let mut out = Vec::new();
    for session in &conversation.sessions {
        out.extend(state.catalog.recordings_for_session(session).await?);
    }
    Ok(out)
}

/// `GET /conversations/{id}`.
pub async fn page(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Html<String>, AppError> {
    let id = parse_conversation_id(&id)?;
    let conversation = state
        .catalog
        .visible_conversation(user.scope(), &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let records = state.catalog.conversation_records(&id).await?;
    let recordings = recordings_of(&state, &conversation).await?;
    let manifest = manifest_of(&conversation);

    let mut record_views = Vec::with_capacity(records.len());
    let mut transfer_chain: Vec<String> = Vec::new();
    for r in &records {
        let legs = state.catalog.legs(&r.id).await?;
        for leg in &legs {
            for party in [leg.from_number.as_deref(), leg.to_number.as_deref()]
                .into_iter()
                .flatten()
            {
                if transfer_chain.last().map(String::as_str) != Some(party) {
                    transfer_chain.push(party.to_owned());
                }
            }
        }
        record_views.push(RecordView {
            id: r.id.to_string(),
            started: view::time(Some(r.start_time)),
            started_iso: view::iso(Some(r.start_time)),
            direction: r.direction.clone().unwrap_or_else(|| "—".into()),
            duration: view::duration_ms(r.duration_ms),
            from: view::party(r.from_number.as_deref(), r.from_name.as_deref()),
            to: view::party(r.to_number.as_deref(), r.to_name.as_deref()),
            legs: legs
                .into_iter()
                .map(|l| LegView {
                    number: l.index + 1,
                    leg_type: l.leg_type.unwrap_or_else(|| "—".into()),
                    from: l.from_number.unwrap_or_else(|| "—".into()),
                    to: l.to_number.unwrap_or_else(|| "—".into()),
                    extension: l.extension_id.unwrap_or_else(|| "—".into()),
                    started: view::time(l.start_time),
                    started_iso: view::iso(l.start_time),
                    duration: view::duration_ms(l.duration_ms),
                    recording_id: l.recording_id.map(|r| r.to_string()),
                })
                .collect(),
        });
    }

    let stored: Vec<&Recording> = recordings
        .iter()
        .filter(|r| r.state == RecordingState::Stored && r.storage_key.is_some())
        .collect();
    let may_download = !user.0.user.listen_only;
    let player = if conversation.stitched_key.is_some() {
        Some(Player {
            heading: "Whole conversation".into(),
            what: "conversation",
            src: format!("/audio/conversation/{id}"),
            download: may_download.then(|| format!("/audio/conversation/{id}?download=1")),
            vtt: manifest
                .as_ref()
                .map(|_| format!("/conversations/{id}/chapters.vtt")),
            sha256: conversation.sha256.as_ref().map(|s| s.to_hex()),
        })
    } else if let [only] = stored.as_slice() {
        Some(Player {
            heading: "Recording".into(),
            what: "recording",
            src: format!("/audio/recording/{}", only.id),
            download: may_download.then(|| format!("/audio/recording/{}?download=1", only.id)),
            vtt: None,
            sha256: only.sha256.as_ref().map(|s| s.to_hex()),
        })
    } else {
        None
    };
    let chapters = match (&player, &manifest) {
        (Some(p), Some(m)) if p.vtt.is_some() => chapters_of(m),
        _ => Vec::new(),
    };

    let holds = state
        .catalog
        .conversation_holds(&id)
        .await?
        .into_iter()
        .map(HoldView::of)
        .collect();
    let mut disposed = std::collections::HashMap::new();
    for d in state.catalog.disposals(Some(&id), false).await? {
        disposed.insert(
            d.recording_id.to_string(),
            format!(
                "disposed of on {} under retention rule \"{}\"",
                view::time(Some(d.disposed_at)),
                d.rule_name
            ),
        );
    }
    let template = ConversationPage {
        nav: Some(Nav::new(&user.0, "calls")),
        id: id.to_string(),
        state: conversation.state.as_str(),
        reason: conversation.reason.clone(),
        started: view::time(conversation.started_at),
        started_iso: view::iso(conversation.started_at),
        ended: view::time(conversation.ended_at),
        transfer_chain,
        player,
        chapters,
        recordings: recordings
            .iter()
            .map(|r| RecordingView {
                id: r.id.to_string(),
                state: r.state.as_str(),
                content_type: r.content_type.clone().unwrap_or_else(|| "—".into()),
                size: view::bytes(r.size),
                sha256: r.sha256.as_ref().map(|s| s.to_hex()),
                last_error: r.last_error.clone(),
                playable: r.state == RecordingState::Stored && r.storage_key.is_some(),
                disposed: disposed.remove(r.id.as_str()),
            })
            .collect(),
        records: record_views,
        holds,
        may_download,
    };
    view::render(&template)
}

/// `GET /conversations/{id}/chapters.vtt`: the legs as a WebVTT chapters track.
pub async fn chapters(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    let id = parse_conversation_id(&id)?;
    let conversation = state
        .catalog
        .visible_conversation(user.scope(), &id)
        .await?
        .ok_or(AppError::NotFound)?;
    let manifest = manifest_of(&conversation).ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/vtt; charset=utf-8"),
            (header::CACHE_CONTROL, "private, no-cache"),
        ],
        manifest.webvtt(),
    )
        .into_response())
}
