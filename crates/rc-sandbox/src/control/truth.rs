//! `GET /sandbox/truth`: what really happened, for tests to compare the
//! client's backup against.

use serde_json::{Value, json};

use crate::model::{Handoff, Recording};
use crate::state::AppState;
use crate::telephony::rc_time;

/// Which part of the truth to report.
#[derive(Debug, Clone, Default)]
pub struct TruthQuery {
    /// Only these conversation indexes (empty = all).
    pub conversations: Vec<usize>,
    /// Skip rendering the audio (no `sha256`/`bytes`): cheap on a big history.
    pub skip_hashes: bool,
}

impl TruthQuery {
    /// Parses `conversation=<index>` (repeatable) and `hashes=false`.
    pub fn parse(query: &str) -> Result<TruthQuery, String> {
        let mut q = TruthQuery::default();
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match k.as_ref() {
                "conversation" => q.conversations.push(
                    v.parse()
                        .map_err(|_| format!("bad conversation index {v:?}"))?,
                ),
                "hashes" => q.skip_hashes = v == "false",
                other => return Err(format!("unknown parameter {other:?}")),
            }
        }
        Ok(q)
    }
}

/// Conversations (all, or those asked for) with their sessions, legs,
/// recordings (with the sha256 of their bytes unless skipped) and
/// `orderedRecordings`. Renders audio off the async threads; the first
/// request for a big history is slow (every recording is encoded once, then cached).
pub async fn truth(state: &AppState, query: &TruthQuery) -> Value {
    // Snapshot under the lock; render afterwards.
    let (mut body, recordings) = {
        let world = state.world();
        let now = state.clock().now();
        let mut recordings: Vec<Recording> = Vec::new();
        let conversations: Vec<Value> = world
            .conversations
            .iter()
            .filter(|c| query.conversations.is_empty() || query.conversations.contains(&c.index))
            .map(|c| {
                let sessions: Vec<Value> = c
                    .sessions
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        json!({
                            "telephonySessionId": s.telephony_session_id,
                            "sessionId": s.session_id,
                            "start": rc_time(s.start),
                            "end": rc_time(s.end),
                            "externalPartyId": c.external_party_ids.get(i),
                        })
                    })
                    .collect();
                let legs: Vec<Value> = c
                    .legs
                    .iter()
                    .map(|l| {
                        let ext = world.extensions.get(l.extension);
                        if let Some(r) = l.recording.as_ref().filter(|_| !query.skip_hashes) {
                            recordings.push(r.clone());
                        }
                        json!({
                            "telephonySessionId": c.sessions.get(l.session).map(|s| s.telephony_session_id.as_str()),
                            "callRecordId": l.call_record_id,
                            "partyId": l.party_id,
                            "extension": ext.map(|e| json!({"index": l.extension, "id": e.id.to_string(), "number": e.number, "name": e.name})),
                            "start": rc_time(l.start),
                            "answer": rc_time(l.answer),
                            "end": rc_time(l.end),
                            "handoff": match l.handoff { Handoff::HangUp => "HangUp", Handoff::BlindTransfer => "BlindTransfer", Handoff::AttendedTransfer => "AttendedTransfer" },
                            "recording": l.recording.as_ref().map(|r| json!({
                                "id": r.id,
                                "kind": r.kind.as_str(),
                                "durationMs": r.duration_ms,
                                "marker": r.marker,
                                "deleted": r.deleted,
                            })),
                            "shortRecording": l.short_recording,
                        })
                    })
                    .collect();
                json!({
                    "index": c.index,
                    "direction": c.script.direction.as_str(),
                    "externalNumber": c.script.external.phone_number,
                    "start": rc_time(c.start),
                    "end": rc_time(c.end),
                    "ended": c.end <= now,
                    "sessions": sessions,
                    "legs": legs,
                    "orderedRecordings": c.ordered_recordings().map(|r| r.id.clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let body = json!({
            "accountId": world.account.id.to_string(),
            "audioFormat": world.account.audio_format,
            "now": rc_time(now),
            "conversations": conversations,
        });
        (body, recordings)
    };
    let render_state = state.clone();
    let hashes = tokio::task::spawn_blocking(move || {
        use sha2::Digest;
        recordings
            .iter()
            .map(|r| {
                let bytes = render_state
                    .audio()
                    .get_or_render(&render_state.config().audio, r);
                (
                    r.id.clone(),
                    (hex::encode(sha2::Sha256::digest(&bytes)), bytes.len()),
                )
            })
            .collect::<std::collections::HashMap<_, _>>()
    })
    .await
    .unwrap_or_default();
    if let Some(convs) = body["conversations"].as_array_mut() {
        for leg in convs
            .iter_mut()
            .filter_map(|c| c["legs"].as_array_mut())
            .flatten()
        {
            let Some(rec) = leg["recording"].as_object_mut() else {
                continue;
            };
            let id = rec
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            if let Some((sha, len)) = hashes.get(&id).map(|(s, l)| (s.clone(), *l)) {
                rec.insert("sha256".into(), json!(sha));
                rec.insert("bytes".into(), json!(len));
            }
        }
    }
    body
}
