// Long because the stitcher's steps (gather, plan, fetch, join, store) read best beside the types they share.
//! Stitching conversations from the catalog: find the legs of a telephony
//! session (and of the sessions an attended transfer links to it), make sure
//! their recordings are in the vault, join them with the `stitch` crate, and
//! store the result beside the recordings.
//!
//! * [`gather`] reads the call-log records of a conversation: from the
//!   catalog, or from the company call log when the catalog lacks them.
//! * [`plan`] orders the records into legs (`startTime`, missing legs kept).
//! * [`job`] runs a stitch as a queue job (kind `stitch`) for workers.
//! * [`store`] fetches the legs' blobs, joins, and writes the stitched file,
//!   its manifest and its WebVTT chapters to the blob store.
//!
//! RingCentral is contacted only when the catalog lacks the session or one
//! of its recordings: a conversation already in the vault stitches offline.

pub mod gather;
pub mod hold_guard;
pub mod job;
pub mod plan;
pub mod store;
#[cfg(test)]
mod tests;

use std::path::PathBuf;

use anyhow::Context;
use chrono::Duration;
use vault::{
    BlobStore, Catalog, ConversationId, ConversationState, ConversationUpsert, KeyLayout,
    RecordingId, RecordingState, Source, TelephonySessionId,
};

use crate::configuration::RcArgs;
use plan::PlannedLeg;

/// How a stitch runs.
#[derive(Debug, Clone)]
pub struct StitchOptions {
    /// Joiner options (format, gaps).
    pub join: stitch::JoinOptions,
    /// Follow attended-transfer links to the other session(s).
    pub follow_transfers: bool,
    /// Also write the result to this local file (plus `.json` and `.vtt`).
    pub output: Option<PathBuf>,
    /// Seconds to wait for downloads due soon when recordings are fetched.
    pub max_wait_secs: i64,
    /// Set when the stitch runs as a queue job; `None` when asked by hand
    /// (`callvault stitch`), which always joins again and reads RingCentral
    /// for what the catalog lacks.
    pub queued: Option<QueuedStitch>,
}

/// How a stitch behaves as a queue job, where the catalog is filled by
/// others (the gateway's session jobs and syncs; a job never calls
/// RingCentral itself):
/// - a conversation already stitched from exactly these legs is left as it
///   is ([`Outcome::Unchanged`]): two paths may queue a stitch of one
///   conversation a moment apart, and the second must not join again;
/// - a session the catalog lacks yet is waited for ([`Outcome::Waiting`]),
///   not an error, until [`QueuedStitch::give_up_after`] from the job's
///   creation; then the conversation is flagged `incomplete` with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedStitch {
    /// How long a job waits for what the catalog lacks.
    pub give_up_after: chrono::Duration,
}

impl Default for StitchOptions {
    fn default() -> Self {
        StitchOptions {
            join: stitch::JoinOptions::default(),
            follow_transfers: true,
            output: None,
            max_wait_secs: 30,
            queued: None,
        }
    }
}

/// What stitching one conversation came to.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Outcome {
    /// Joined and stored; the conversation is `stitched`.
    Stitched {
        /// The conversation.
        conversation: String,
        /// Its telephony sessions.
        sessions: Vec<String>,
        /// Blob key of the stitched file.
        key: String,
        /// sha256 of the stitched file.
        sha256: String,
        /// Legs in the manifest (with missing ones).
        legs: usize,
        /// Legs without a recording.
        missing: usize,
        /// Length in ms.
        duration_ms: u64,
    },
    /// One recording: nothing to join; the conversation is `single`.
    Single {
        /// The conversation.
        conversation: String,
        /// Its only recording.
        recording: String,
    },
    /// Not all recordings are stored yet; the conversation is `waiting`.
    Waiting {
        /// The conversation.
        conversation: String,
        /// Why.
        reason: String,
    },
    /// The conversation has no recording at all; left as it is.
    NoRecordings {
        /// The conversation (or session) asked for.
        conversation: String,
    },
    /// A queued stitch gave up waiting for what the catalog lacked; the
    /// conversation is `incomplete` with the reason.
    Incomplete {
        /// The conversation.
        conversation: String,
        /// What it lacked, and for how long it waited.
        reason: String,
    },
    /// Already stitched from exactly these legs; nothing joined again
    /// ([`QueuedStitch`]).
    Unchanged {
        /// The conversation.
        conversation: String,
        /// Blob key of its stitched file.
        key: String,
    },
    /// The conversation was merged into another (its session joined an
    /// attended transfer) before its stitch ran; the survivor's stitch
    /// covers it.
    Merged {
        /// The conversation asked for, no longer in the catalog.
        conversation: String,
        /// The conversation its session now belongs to.
        into: String,
    },
}

/// What stitching needs: the vault, and RingCentral for what the vault lacks.
pub struct Stitcher {
    /// The ledger.
    pub catalog: Catalog,
    /// Recordings and stitched files.
    pub blobs: BlobStore,
    /// Key layout of stitched files.
    pub layout: KeyLayout,
    /// RingCentral settings; used only when the catalog lacks something, and
    /// only if a client id and JWT are set.
    pub rc: Option<RcArgs>,
}

impl Stitcher {
    /// Stitches the conversation of telephony session `session`.
    ///
    /// RingCentral is asked (when configured) only if the catalog lacks the
    /// session, one of its recordings, or — by a hole between its legs —
    /// a leg without a recording, which the sync does not list.
    pub async fn stitch_session(
        &self,
        session: &TelephonySessionId,
        options: &StitchOptions,
    ) -> anyhow::Result<Outcome> {
        let mut gathered =
            gather::from_catalog(&self.catalog, session, options.follow_transfers).await?;
        let mut legs = plan::order_legs(&gathered.records, &gathered.sessions);
        let pending = self.pending(&legs).await?;
        let incomplete = plan::looks_incomplete(&gathered.records);
        if gathered.records.is_empty() || !pending.is_empty() || incomplete {
            if let Some(client) = self.client()? {
                tracing::info!(session = %session, "reading the call log and fetching recordings");
                gathered = gather::from_call_log(
                    &client,
                    &self.catalog,
                    session,
                    options.follow_transfers,
                )
                .await?;
                self.download(&client, options.max_wait_secs).await?;
                legs = plan::order_legs(&gathered.records, &gathered.sessions);
            } else if incomplete && !gathered.records.is_empty() {
                tracing::warn!(
                    session = %session,
                    "the catalog may lack unrecorded legs and RingCentral is not configured; \
                     stitching what the catalog has"
                );
            } else if gathered.records.is_empty() && options.queued.is_some() {
                // A stitch queued for a session whose call log the gateway
                // has not read yet (its webhooks came first): wait for it.
                return Ok(Outcome::Waiting {
                    conversation: session.as_str().to_owned(),
                    reason: format!("session {session} is not in the catalog yet"),
                });
            } else if gathered.records.is_empty() {
                anyhow::bail!(
                    "session {session} is not in the catalog and RingCentral is not configured \
                     (RC_CLIENT_ID, RC_JWT)"
                );
            }
        }
        self.settle(session, &gathered.sessions, &legs, options)
            .await
    }

    /// Every conversation in the catalog not yet stitched, single or
    /// incomplete, stitched from the vault alone (no RingCentral call): the
    /// sync fetches recordings; one not stored yet leaves its conversation
    /// `waiting`. Returns one outcome per conversation looked at.
    pub async fn stitch_all(&self, options: &StitchOptions) -> anyhow::Result<Vec<Outcome>> {
        let mut candidates = Vec::new();
        let mut offset = 0u64;
        loop {
            let page = self.catalog.list_conversations(None, 1000, offset).await?;
            let n = page.len();
            candidates.extend(page.into_iter().filter(|c| todo(c.state)).map(|c| c.id));
            if n < 1000 {
                break;
            }
            offset += 1000;
        }
        candidates.reverse(); // oldest first
        let mut outcomes = Vec::new();
        for id in candidates {
            // An earlier stitch may have merged this one into another conversation.
            let Some(c) = self.catalog.conversation(&id).await? else {
                continue;
            };
            let Some(first) = c.sessions.first().cloned() else {
                continue;
            };
            if !todo(c.state) {
                continue;
            }
            let g = gather::from_catalog(&self.catalog, &first, options.follow_transfers).await?;
            let legs = plan::order_legs(&g.records, &g.sessions);
            match self.settle(&first, &g.sessions, &legs, options).await {
                Ok(o) => outcomes.push(o),
                Err(e) => {
                    let reason = format!("{e:#}");
                    tracing::error!(conversation = %id, %reason, "stitch failed");
                    self.catalog
                        .set_conversation_state(
                            &id,
                            ConversationState::Waiting,
                            Some(&reason),
                            None,
                        )
                        .await?;
                    outcomes.push(Outcome::Waiting {
                        conversation: id.as_str().to_owned(),
                        reason,
                    });
                }
            }
        }
        Ok(outcomes)
    }

    /// Decides and records what the legs make of the conversation.
    async fn settle(
        &self,
        asked: &TelephonySessionId,
        sessions: &[String],
        legs: &[PlannedLeg],
        options: &StitchOptions,
    ) -> anyhow::Result<Outcome> {
        let Some(first) = sessions.first() else {
            return Ok(Outcome::NoRecordings {
                conversation: asked.as_str().to_owned(),
            });
        };
        let conversation = self.conversation_row(first, sessions, legs).await?;
        let recorded: Vec<&PlannedLeg> = legs.iter().filter(|l| l.recording.is_some()).collect();
        let ended = legs.iter().map(|l| l.end).max();
        if recorded.is_empty() {
            return Ok(Outcome::NoRecordings {
                conversation: conversation.as_str().to_owned(),
            });
        }
        let pending = self.pending(legs).await?;
        if !pending.is_empty() {
            let reason = format!(
                "waiting for {} of {} recordings to be stored: {}",
                pending.len(),
                recorded.len(),
                pending.join(", ")
            );
            self.catalog
                .set_conversation_state(
                    &conversation,
                    ConversationState::Waiting,
                    Some(&reason),
                    ended,
                )
                .await?;
            return Ok(Outcome::Waiting {
                conversation: conversation.as_str().to_owned(),
                reason,
            });
        }
        let playable = self.playable(legs).await?;
        if playable.len() == 1
            && let Some((_, rec)) = playable.first()
        {
            self.catalog
                .set_conversation_state(&conversation, ConversationState::Single, None, ended)
                .await?;
            if let (Some(out), Some(key)) = (&options.output, &rec.storage_key) {
                store::copy_blob_to(&self.blobs, key, out).await?;
            }
            return Ok(Outcome::Single {
                conversation: conversation.as_str().to_owned(),
                recording: rec.id.as_str().to_owned(),
            });
        }
        if options.queued.is_some()
            && options.output.is_none()
            && let Some(key) = self.stitched_from(&conversation, legs, &playable).await?
        {
            return Ok(Outcome::Unchanged {
                conversation: conversation.as_str().to_owned(),
                key: key.as_str().to_owned(),
            });
        }
        hold_guard::refuse_if_held(&self.catalog, &conversation).await?;
        let joined = store::join(
            &self.blobs,
            &self.layout,
            &conversation,
            legs,
            &playable,
            options,
        )
        .await?;
        let stitched = hold_guard::store_unless_held(
            &self.catalog,
            &self.blobs,
            &conversation,
            joined,
            options,
        )
        .await;
        let stitched = hold_guard::explain_conflict(&self.catalog, &conversation, stitched).await?;
        crate::worm::record_lock(&self.catalog, &self.blobs, &stitched.key).await?;
        let manifest: serde_json::Value = serde_json::from_str(&stitched.manifest.to_json())
            .context("re-reading the manifest")?;
        self.catalog
            .mark_conversation_stitched(&conversation, &stitched.key, &stitched.sha256, &manifest)
            .await?;
        crate::worm::hold_if_held(&self.catalog, &self.blobs, &stitched.key).await;
        if ended.is_some() {
            // Keep the end time next to the stitched state.
            self.catalog
                .set_conversation_state(&conversation, ConversationState::Stitched, None, ended)
                .await?;
        }
        Ok(Outcome::Stitched {
            conversation: conversation.as_str().to_owned(),
            sessions: sessions.to_vec(),
            key: stitched.key.as_str().to_owned(),
            sha256: stitched.sha256.to_hex(),
            legs: stitched.manifest.legs.len(),
            missing: stitched.manifest.legs.iter().filter(|l| l.missing).count(),
            duration_ms: stitched.manifest.duration_ms,
        })
    }

    /// The stitched file's key when `conversation` is already stitched from
    /// exactly `legs` (the same ids, in order, the same ones missing: those
    /// not in `playable`), as its stored manifest says.
    async fn stitched_from(
        &self,
        conversation: &ConversationId,
        legs: &[PlannedLeg],
        playable: &[(usize, vault::Recording)],
    ) -> anyhow::Result<Option<vault::StorageKey>> {
        let Some(conv) = self.catalog.conversation(conversation).await? else {
            return Ok(None);
        };
        let (ConversationState::Stitched, Some(key), Some(manifest)) =
            (conv.state, conv.stitched_key, conv.manifest)
        else {
            return Ok(None);
        };
        let Ok(manifest) = serde_json::from_value::<stitch::Manifest>(manifest) else {
            return Ok(None);
        };
        let stored = manifest.legs.iter().map(|l| (l.id.clone(), l.missing));
        let planned = legs.iter().enumerate().map(|(i, l)| {
            let missing = !playable.iter().any(|(j, _)| *j == i);
            (l.manifest_id(), missing)
        });
        Ok(stored.eq(planned).then_some(key))
    }

    /// Makes sure one conversation row holds every session, in order: the
    /// first session's conversation, the others attached to it.
    async fn conversation_row(
        &self,
        first: &str,
        sessions: &[String],
        legs: &[PlannedLeg],
    ) -> anyhow::Result<ConversationId> {
        let first = TelephonySessionId::parse(first).context("session id")?;
        let id = job::conversation_named_after(&self.catalog, &first).await?;
        self.catalog
            .upsert_conversation(&ConversationUpsert {
                id: id.clone(),
                sessions: vec![first],
                initial_state: ConversationState::Ended,
                started_at: legs.iter().map(|l| l.start).min(),
                source: Source::Sync,
            })
            .await?;
        for (position, s) in sessions.iter().enumerate() {
            let s = TelephonySessionId::parse(s).context("session id")?;
            let position = u32::try_from(position).unwrap_or(u32::MAX);
            self.catalog.attach_session(&id, &s, position).await?;
        }
        Ok(id)
    }

    /// Recordings of `legs` not stored yet that may still come (listed, not
    /// ready, failed — or unknown to the ledger).
    async fn pending(&self, legs: &[PlannedLeg]) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for id in legs.iter().filter_map(|l| l.recording.as_deref()) {
            let rid = RecordingId::parse(id).context("recording id")?;
            let state = self.catalog.recording(&rid).await?.map(|r| r.state);
            if !matches!(state, Some(RecordingState::Stored | RecordingState::Gone)) {
                out.push(format!(
                    "{id} ({})",
                    state.map_or("not in the ledger", |s| s.as_str())
                ));
            }
        }
        Ok(out)
    }

    /// The stored recordings of `legs`, by leg index.
    async fn playable(
        &self,
        legs: &[PlannedLeg],
    ) -> anyhow::Result<Vec<(usize, vault::Recording)>> {
        let mut out = Vec::new();
        for (i, leg) in legs.iter().enumerate() {
            let Some(id) = leg.recording.as_deref() else {
                continue;
            };
            let rid = RecordingId::parse(id).context("recording id")?;
            if let Some(rec) = self.catalog.recording(&rid).await?
                && rec.state == RecordingState::Stored
                && rec.storage_key.is_some()
            {
                out.push((i, rec));
            }
        }
        Ok(out)
    }

    /// The RingCentral client, if configured.
    fn client(&self) -> anyhow::Result<Option<rc_api::RcClient>> {
        match &self.rc {
            Some(rc) if !rc.client_id.is_empty() && !rc.jwt.is_empty() => {
                crate::app::rc_client(rc).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Runs the download queue until nothing is due within `max_wait_secs`.
    async fn download(&self, client: &rc_api::RcClient, max_wait_secs: i64) -> anyhow::Result<()> {
        let downloader = crate::sync::Downloader {
            client: client.clone(),
            catalog: self.catalog.clone(),
            blobs: self.blobs.clone(),
            layout: KeyLayout::default(),
            schedule: rc_api::ladder::Ladder::recording_content(),
            backoff: crate::jobs::Backoff::DEFAULT,
        };
        let mut report = crate::sync::Report::default();
        crate::sync::drain(
            &downloader,
            2,
            Duration::seconds(max_wait_secs),
            Default::default(),
            &mut report,
        )
        .await?;
        tracing::info!(
            stored = report.stored,
            failed = report.failed,
            "downloads done"
        );
        Ok(())
    }
}

/// States `--all` looks at.
fn todo(state: ConversationState) -> bool {
    matches!(state, ConversationState::Ended | ConversationState::Waiting)
}
