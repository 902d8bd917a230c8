// Long because the session job's steps, from the fold to the stitch job, read best in order in one place.
//! The `session` job: from "a party left" to "every recording of the
//! conversation is stored".
//!
//! Each run recomputes everything from the catalog, so a run repeated after
//! a crash does no harm:
//! 1. Fold the session's notifications. Not over yet (a late party, or the
//!    call simply continues after a blind transfer): look again after
//!    [`LiveConfig::recheck`]; past [`LiveConfig::open_limit`] after its last
//!    event, flag the conversation `incomplete` (its end was never reported).
//! 2. Record the conversation (`Source::Webhook`), attach the sessions an
//!    attended transfer continues in, and mark it `waiting`.
//! 3. If some recording the events named is not yet in the ledger, ask for
//!    the batched call-log look ([`look`]), which writes what it lists to
//!    the ledger (enqueuing the downloads) and wakes this job. Still
//!    missing: try again on [`LiveConfig::schedule`] from the call's end;
//!    past [`LiveConfig::deadline`], flag the conversation `incomplete`.
//! 4. Once every session of the conversation has all its named recordings
//!    stored: one recording → `single`; several → enqueue a stitch job
//!    ([`Job::Stitch`], dedupe `stitch:<conversation id>`). A recording
//!    gone or failed at the source → `incomplete` with the reason. Downloads still running: sleep
//!    until one of them finishes ([`wake_for_download`]), or at most
//!    [`LiveConfig::download_backstop`] (no RingCentral call).

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::{DateTime, Utc};
use rc_api::models::TelephonySessionNotification;
use vault::{
    Catalog, ConversationId, ConversationState, ConversationUpsert, LeasedJob, RecordingId,
    RecordingState, Source, TelephonySessionId,
};

use super::LiveConfig;
use super::fold::SessionFold;
use super::look;
use crate::jobs::Job;

/// What one run of a session job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionOutcome {
    /// The session is still open; looked again at `next`.
    StillOpen {
        /// Next look.
        next: DateTime<Utc>,
    },
    /// Recordings named by the events are not in the call log yet.
    AwaitingCallLog {
        /// Recordings still missing.
        missing: Vec<String>,
        /// Next try.
        next: DateTime<Utc>,
    },
    /// Everything is listed; downloads are still running.
    AwaitingDownloads {
        /// Next look.
        next: DateTime<Utc>,
    },
    /// All recordings stored: a stitch job was enqueued (several) or the
    /// conversation marked `single` (one), or nothing to back up (none).
    Ready {
        /// The conversation.
        conversation: ConversationId,
        /// How many recordings it has.
        recordings: usize,
    },
    /// Given up: the conversation is flagged `incomplete`.
    Incomplete {
        /// Why.
        reason: String,
    },
    /// The job itself is unusable (bad payload, no notifications).
    Invalid {
        /// Why.
        reason: String,
    },
}

impl SessionOutcome {
    /// Whether the job is over (ready, incomplete or unusable), rather than
    /// sleeping until it looks again.
    pub fn is_settled(&self) -> bool {
        matches!(
            self,
            SessionOutcome::Ready { .. }
                | SessionOutcome::Incomplete { .. }
                | SessionOutcome::Invalid { .. }
        )
    }
}

/// What a session job needs.
#[derive(Clone)]
pub struct SessionRunner {
    /// The RingCentral client.
    pub client: rc_api::RcClient,
    /// The ledger.
    pub catalog: Catalog,
    /// Schedule and deadlines.
    pub config: std::sync::Arc<LiveConfig>,
}

impl SessionRunner {
    /// Runs the job and settles it in the queue (complete, snooze, or fail);
    /// an `Err` (ledger or RingCentral trouble) leaves the lease for the
    /// caller to retry with backoff.
    pub async fn run(
        &self,
        tsid: &TelephonySessionId,
        job: &LeasedJob,
    ) -> anyhow::Result<SessionOutcome> {
        let outcome = self.attempt(tsid).await?;
        let c = &self.catalog;
        match &outcome {
            SessionOutcome::StillOpen { next } => {
                c.snooze(&job.lease, *next, "session still open").await?;
            }
            SessionOutcome::AwaitingCallLog { missing, next } => {
                let why = format!(
                    "waiting for recordings {} in the call log",
                    missing.join(", ")
                );
                c.snooze(&job.lease, *next, &why).await?;
            }
            SessionOutcome::AwaitingDownloads { next } => {
                c.snooze(&job.lease, *next, "waiting for downloads").await?;
            }
            SessionOutcome::Ready { .. } | SessionOutcome::Incomplete { .. } => {
                c.complete(&job.lease).await?;
            }
            SessionOutcome::Invalid { reason } => {
                c.fail(&job.lease, reason).await?;
            }
        }
        Ok(outcome)
    }

    async fn attempt(&self, tsid: &TelephonySessionId) -> anyhow::Result<SessionOutcome> {
        // Event times are RingCentral's: deadlines and the call-log ladder
        // are measured on its clock and turned into local moments for the
        // queue; rechecks are plain local delays.
        let clock = self.client.server_clock();
        let now = clock.now();
        let fold = load_fold(&self.catalog, tsid).await?;
        if fold.parties.is_empty() {
            return Ok(SessionOutcome::Invalid {
                reason: format!("no notifications for session {tsid}"),
            });
        }
        tracing::debug!(session = %tsid, parties = ?fold.parties, recordings = ?fold.recordings, "session folded");
        let call_end = fold.last_event.unwrap_or(now);
        if !fold.is_over() {
            if now > call_end + self.config.open_limit {
                // Its last events were lost (receiver down, blacklisted):
                // say so rather than wait forever; the safety-net sync still
                // backs the recordings up from the call log.
                let conversation = self.record_conversation(&fold, call_end).await?;
                let reason = format!("session {tsid} never reported its end");
                return self.incomplete(&conversation, reason).await;
            }
            return Ok(SessionOutcome::StillOpen {
                next: Utc::now() + self.config.recheck,
            });
        }
        let conversation = self.record_conversation(&fold, call_end).await?;

        let missing = self.missing_from_ledger(&fold).await?;
        if !missing.is_empty() {
            let missing: Vec<String> = missing.iter().map(|id| id.to_string()).collect();
            if now > call_end + self.config.deadline {
                let reason = format!(
                    "recordings {} never appeared in the call log (session {tsid})",
                    missing.join(", ")
                );
                return self.incomplete(&conversation, reason).await;
            }
            // One batched look serves every waiting session (`look`); it
            // wakes this job when it lists the session. It is asked for at
            // once (paced by `look`), unless the call ended so recently that
            // RingCentral cannot have listed it yet (the ladder's first
            // step). The ladder sets when this job asks again, should the
            // look not list it.
            // Clamped like the ladder, should RingCentral have stamped the
            // call's end in what its clock still calls the future.
            // Until the client has measured how fast RingCentral's clock
            // runs, "now" may lag it badly (a sandbox running fast): the
            // look is asked for at once, which its pacing bounds.
            let schedule = &self.config.schedule;
            let look_at = if clock.rate_known() {
                schedule
                    .first_try(call_end)
                    .clamp(now, now + schedule.max_gap.max(schedule.min_gap))
            } else {
                now
            };
            look::request(
                &self.catalog,
                &self.client,
                &self.config,
                clock.to_local(look_at),
            )
            .await?;
            let again = schedule.next(call_end, look_at);
            return Ok(SessionOutcome::AwaitingCallLog {
                missing,
                next: clock.to_local(again),
            });
        }
        self.fold_in_linked_sessions(&fold).await?;
        self.check_stored(&conversation, now, call_end).await
    }

    /// Records the conversation of a finished session and joins the sessions
    /// an attended transfer continues in. Returns its id.
    async fn record_conversation(
        &self,
        fold: &SessionFold,
        call_end: DateTime<Utc>,
    ) -> anyhow::Result<ConversationId> {
        let c = &self.catalog;
        let tsid = &fold.session;
        let id = c
            .conversation_for_session(tsid)
            .await?
            .unwrap_or_else(|| ConversationId::from(tsid.clone()));
        c.upsert_conversation(&ConversationUpsert {
            id: id.clone(),
            sessions: vec![tsid.clone()],
            initial_state: ConversationState::Ended,
            started_at: fold.first_event,
            source: Source::Webhook,
        })
        .await
        .context("recording the conversation")?;
        for peer in &fold.attended_peers {
            join_session(c, &id, peer).await?;
        }
        let current = c.conversation(&id).await?;
        if let Some(conv) = current
            && matches!(
                conv.state,
                ConversationState::Live | ConversationState::Ended | ConversationState::Waiting
            )
        {
            // The conversation ends when its last session does.
            let ended = conv.ended_at.map_or(call_end, |e| e.max(call_end));
            c.set_conversation_state(&id, ConversationState::Waiting, None, Some(ended))
                .await?;
        }
        Ok(id)
    }

    /// Named recordings the ledger does not know from a call log yet.
    async fn missing_from_ledger(&self, fold: &SessionFold) -> anyhow::Result<Vec<RecordingId>> {
        let mut missing = Vec::new();
        for id in &fold.recordings {
            let known = self.catalog.recording(id).await?;
            if known.is_none_or(|r| r.content_uri.is_none()) {
                missing.push(id.clone());
            }
        }
        Ok(missing)
    }

    /// The ledger makes a one-session conversation for every session its
    /// records name; folds those back into the conversation attended
    /// transfers joined them to (catalog only).
    async fn fold_in_linked_sessions(&self, fold: &SessionFold) -> anyhow::Result<()> {
        let records =
            crate::stitching::gather::catalog_records(&self.catalog, &fold.session).await?;
        let mut seen: BTreeSet<TelephonySessionId> = records
            .iter()
            .flat_map(crate::stitching::plan::sessions_named)
            .filter_map(|t| TelephonySessionId::parse(t).ok())
            .collect();
        seen.insert(fold.session.clone());
        for session in &seen {
            if let Some(conversation) = self.catalog.conversation_for_session(session).await? {
                drop_stray_row(&self.catalog, &conversation, session).await?;
            }
        }
        if let Some(conversation) = self.catalog.conversation_for_session(&fold.session).await? {
            for peer in &fold.attended_peers {
                join_session(&self.catalog, &conversation, peer).await?;
            }
        }
        Ok(())
    }

    /// Step 4: are all recordings of every session of the conversation
    /// stored? `now` is RingCentral's, like `call_end`.
    async fn check_stored(
        &self,
        conversation: &ConversationId,
        now: DateTime<Utc>,
        call_end: DateTime<Utc>,
    ) -> anyhow::Result<SessionOutcome> {
        let c = &self.catalog;
        let Some(conv) = c.conversation(conversation).await? else {
            anyhow::bail!("conversation {conversation} vanished");
        };
        let mut ids = BTreeSet::new();
        let mut pending = false;
        for session in &conv.sessions {
            let fold = load_fold(c, session).await?;
            if !fold.parties.is_empty() && !fold.is_over() {
                pending = true;
            }
            ids.extend(fold.recordings.iter().cloned());
            for r in c.recordings_for_session(session).await? {
                ids.insert(r.id);
            }
        }
        for id in &ids {
            match c.recording(id).await?.map(|r| (r.state, r.last_error)) {
                Some((RecordingState::Stored, _)) => {}
                Some((RecordingState::Gone | RecordingState::Failed, why)) => {
                    let reason = format!(
                        "recording {id} cannot be backed up: {}",
                        why.unwrap_or_else(|| "gone at the source".into())
                    );
                    return self.incomplete(conversation, reason).await;
                }
                Some((RecordingState::Listed | RecordingState::NotReady, _)) => {
                    pending = true;
                    // A live call's input: a download a sync queued behind
                    // its backfill moves up to live work, or this session,
                    // served first, would wait behind it for ever.
                    let download = Job::Download {
                        recording: id.clone(),
                    };
                    c.enqueue(&download.to_new_job().priority(crate::priority::LIVE))
                        .await?;
                }
                // Unlisted: a peer session not read yet.
                None => pending = true,
            }
        }
        if pending {
            if now > call_end + self.config.deadline {
                let reason = "recordings were not all stored before the deadline".to_owned();
                return self.incomplete(conversation, reason).await;
            }
            // Each finished download wakes the jobs of its conversation
            // (`wake_for_download`): polling instead would crowd a long
            // backfill out of the queue, since live jobs are served first.
            return Ok(SessionOutcome::AwaitingDownloads {
                next: Utc::now() + self.config.download_backstop,
            });
        }
        // Already settled for exactly these recordings (a late departure
        // re-ran this job): nothing to do. A conversation settled earlier on
        // fewer of them (the sync listed one leg before the call log had the
        // other) is settled again.
        let settled = match conv.state {
            ConversationState::Single => ids.len() == 1,
            ConversationState::Stitched => stitched_from(&conv, &ids),
            _ => false,
        };
        if settled {
            return Ok(SessionOutcome::Ready {
                conversation: conversation.clone(),
                recordings: ids.len(),
            });
        }
        match ids.len() {
            0 => {
                c.set_conversation_state(conversation, ConversationState::Ended, None, None)
                    .await?;
            }
            1 => {
                c.set_conversation_state(conversation, ConversationState::Single, None, None)
                    .await?;
            }
            _ => {
                crate::stitching::job::enqueue(c, conversation)
                    .await
                    .context("enqueuing the stitch job")?;
            }
        }
        Ok(SessionOutcome::Ready {
            conversation: conversation.clone(),
            recordings: ids.len(),
        })
    }

    async fn incomplete(
        &self,
        conversation: &ConversationId,
        reason: String,
    ) -> anyhow::Result<SessionOutcome> {
        tracing::warn!(%conversation, %reason, "conversation incomplete");
        self.catalog
            .set_conversation_state(
                conversation,
                ConversationState::Incomplete,
                Some(&reason),
                None,
            )
            .await?;
        Ok(SessionOutcome::Incomplete { reason })
    }
}

/// Whether `conv`'s stitched file was joined from every one of `ids` (its
/// stored manifest names them all).
fn stitched_from(conv: &vault::Conversation, ids: &BTreeSet<RecordingId>) -> bool {
    let Some(Ok(manifest)) = conv
        .manifest
        .clone()
        .map(serde_json::from_value::<stitch::Manifest>)
    else {
        return false;
    };
    let joined: BTreeSet<&str> = manifest
        .legs
        .iter()
        .filter(|l| !l.missing)
        .map(|l| l.id.as_str())
        .collect();
    ids.iter().all(|id| joined.contains(id.as_str()))
}

/// Moves `peer` into `conversation` (after its current sessions), and drops
/// the one-session conversation the ledger may have made for it.
pub(super) async fn join_session(
    c: &Catalog,
    conversation: &ConversationId,
    peer: &TelephonySessionId,
) -> anyhow::Result<()> {
    let own = ConversationId::from(peer.clone());
    if &own != conversation && c.conversation(&own).await?.is_some() {
        // `attach_session` deletes the conversation a session leaves when it
        // is left empty: park the peer in its own row first so that row goes.
        c.attach_session(&own, peer, 0).await?;
    }
    let position = match c.conversation(conversation).await? {
        Some(conv) => match conv.sessions.iter().position(|s| s == peer) {
            Some(p) => p,
            None => conv.sessions.len(),
        },
        None => 1,
    };
    c.attach_session(
        conversation,
        peer,
        u32::try_from(position).unwrap_or(u32::MAX),
    )
    .await?;
    Ok(())
}

/// Deletes the empty one-session conversation row the ledger may have
/// (re)created for `session` after it joined `conversation`.
async fn drop_stray_row(
    c: &Catalog,
    conversation: &ConversationId,
    session: &TelephonySessionId,
) -> anyhow::Result<()> {
    let own = ConversationId::from(session.clone());
    if &own == conversation {
        return Ok(());
    }
    if let Some(stray) = c.conversation(&own).await?
        && stray.sessions.is_empty()
    {
        join_session(c, conversation, session).await?;
    }
    Ok(())
}

/// Wakes the session jobs and the stitch of the conversation recording `id`
/// belongs to: they may be waiting for its download to finish (stored, or
/// given up).
pub async fn wake_for_download(c: &Catalog, id: &RecordingId) -> anyhow::Result<()> {
    let Some(session) = c.recording(id).await?.and_then(|r| r.telephony_session_id) else {
        return Ok(());
    };
    let mut sessions = vec![session.clone()];
    if let Some(conversation) = c.conversation_for_session(&session).await? {
        Job::Stitch {
            conversation: conversation.clone(),
        }
        .run_now(c)
        .await?;
        if let Some(conv) = c.conversation(&conversation).await? {
            sessions.extend(conv.sessions);
        }
    }
    for session in sessions {
        Job::Session { session }.run_now(c).await?;
    }
    Ok(())
}

/// Folds the stored notifications of `session` (unparsable ones skipped).
pub async fn load_fold(c: &Catalog, session: &TelephonySessionId) -> anyhow::Result<SessionFold> {
    let stored = c.notifications_for_session(session).await?;
    let parsed: Vec<TelephonySessionNotification> = stored
        .into_iter()
        .filter_map(|n| match serde_json::from_value(n.body) {
            Ok(p) => Some(p),
            Err(e) => {
                tracing::warn!(uuid = %n.uuid, error = %e, "stored notification no longer parses");
                None
            }
        })
        .collect();
    Ok(SessionFold::of(session.clone(), &parsed))
}
