//! Stitching as a queue job, for long-running workers (the web server's
//! worker pool, a webhook saying a conversation ended): [`Job::Stitch`],
//! kind `stitch`, dedupe key `stitch:<conversation id>`, so a conversation
//! is queued at most once at a time. `callvault stitch --all` does not go through the queue (see
//! `commands::stitch`); both end in [`Stitcher::stitch_session`]'s
//! catalog-only path, so they agree byte for byte.

use anyhow::Context;
use chrono::Utc;
use vault::{Catalog, ConversationId, ConversationState, Enqueued, LeasedJob, TelephonySessionId};

use super::{Outcome, StitchOptions, Stitcher};
use crate::jobs::Job;

/// How long a `waiting` conversation sleeps before its stitch job looks
/// again by itself. News wakes it sooner ([`enqueue`]); a look reads only
/// the catalog, so it is cheap.
const WAIT_RETRY: chrono::Duration = chrono::Duration::minutes(1);

/// The conversation that a stitch of `session` settles into: the one named
/// after the earliest session of its attended-transfer chain, as
/// [`Stitcher`] names it when it merges the chain.
///
/// Every path that queues a stitch (a session job, a download that the sync
/// alone saw) keys it on this, so one conversation has one dedupe key and
/// never two stitch jobs at once. Keying on the row of whichever session
/// finished first gave the second session of an attended transfer its own
/// stitch job when the sync listed it before its webhooks arrived.
pub async fn conversation_of_chain(
    catalog: &Catalog,
    session: &TelephonySessionId,
) -> anyhow::Result<ConversationId> {
    let chain = super::gather::from_catalog(catalog, session, true).await?;
    let first = match chain.sessions.first() {
        Some(first) => TelephonySessionId::parse(first).context("session id")?,
        None => session.clone(),
    };
    conversation_named_after(catalog, &first).await
}

/// The conversation `first` belongs to, or the one named after it.
pub(super) async fn conversation_named_after(
    catalog: &Catalog,
    first: &TelephonySessionId,
) -> anyhow::Result<ConversationId> {
    Ok(match catalog.conversation_for_session(first).await? {
        Some(id) => id,
        None => ConversationId::from(first.clone()),
    })
}

/// Asks for a stitch of `conversation` now: enqueues one, or, when one is
/// pending already, makes it due now.
///
/// Callers ask because something changed (a recording stored, a session
/// settled). A pending job may be sleeping [`WAIT_RETRY`] after finding a
/// leg not yet stored; left asleep, it would stitch minutes after the last
/// leg arrived.
pub async fn enqueue(catalog: &Catalog, conversation: &ConversationId) -> anyhow::Result<Enqueued> {
    let job = Job::Stitch {
        conversation: conversation.clone(),
    };
    let enqueued = catalog
        .enqueue(&job.to_new_job().priority(crate::priority::LIVE))
        .await?;
    if let Enqueued::AlreadyLive(_) = enqueued {
        job.run_now(catalog).await?;
    }
    Ok(enqueued)
}

impl Stitcher {
    /// Runs one claimed stitch job and settles it in the queue: done when
    /// stitched, single or without recordings; snoozed while recordings are
    /// missing; failed (with the reason) when the payload is bad or the join
    /// fails.
    pub async fn run_job(
        &self,
        id: &ConversationId,
        job: &LeasedJob,
        options: &StitchOptions,
    ) -> anyhow::Result<Outcome> {
        let session = match self.job_session(id).await {
            Ok(JobTarget::Session(s)) => s,
            Ok(JobTarget::Merged(outcome)) => {
                // Whoever merged it (a stitch following a transfer, or a
                // session job joining a peer) stitches the survivor.
                tracing::info!(
                    ?outcome,
                    "conversation merged into another; nothing to stitch"
                );
                self.catalog.complete(&job.lease).await?;
                return Ok(outcome);
            }
            Err(e) => {
                let reason = format!("{e:#}");
                self.catalog.fail(&job.lease, &reason).await?;
                anyhow::bail!(reason);
            }
        };
        match self.stitch_session(&session, options).await {
            Ok(Outcome::Waiting {
                conversation,
                reason,
            }) => {
                let waited = self.waited(job).await?;
                match &options.queued {
                    Some(q) if waited > q.give_up_after => {
                        self.give_up(job, &session, &conversation, &reason, waited)
                            .await
                    }
                    _ => {
                        self.catalog
                            .snooze(&job.lease, Utc::now() + WAIT_RETRY, &reason)
                            .await?;
                        Ok(Outcome::Waiting {
                            conversation,
                            reason,
                        })
                    }
                }
            }
            Ok(outcome) => {
                self.catalog.complete(&job.lease).await?;
                Ok(outcome)
            }
            Err(e) => {
                let reason = format!("{e:#}");
                self.catalog.fail(&job.lease, &reason).await?;
                Err(e)
            }
        }
    }

    /// How long the job has existed (what it has waited for).
    async fn waited(&self, job: &LeasedJob) -> anyhow::Result<chrono::Duration> {
        let row = self.catalog.job(job.lease.job_id()).await?;
        Ok(row.map_or(chrono::Duration::zero(), |r| Utc::now() - r.created_at))
    }

    /// Past its deadline: the conversation is flagged `incomplete` with what
    /// it still lacked, and the job is done (not dead: nothing failed).
    async fn give_up(
        &self,
        job: &LeasedJob,
        session: &TelephonySessionId,
        conversation: &str,
        lacking: &str,
        waited: chrono::Duration,
    ) -> anyhow::Result<Outcome> {
        let reason = format!(
            "gave up stitching after {} min: {lacking}",
            waited.num_minutes()
        );
        let id = match ConversationId::parse(conversation) {
            Ok(id) if self.catalog.conversation(&id).await?.is_some() => id,
            _ => conversation_named_after(&self.catalog, session).await?,
        };
        if self.catalog.conversation(&id).await?.is_some() {
            self.catalog
                .set_conversation_state(&id, ConversationState::Incomplete, Some(&reason), None)
                .await?;
        }
        tracing::warn!(conversation = %id, %reason, "stitch given up");
        self.catalog.complete(&job.lease).await?;
        Ok(Outcome::Incomplete {
            conversation: id.as_str().to_owned(),
            reason,
        })
    }

    /// The first session of the job's conversation, or how it was merged
    /// away while the job waited.
    async fn job_session(&self, id: &ConversationId) -> anyhow::Result<JobTarget> {
        let Some(conversation) = self.catalog.conversation(id).await? else {
            // A conversation is named after its first session; when that
            // session now belongs to another conversation, this one was
            // merged into it (an attended transfer joined) and is gone.
            let into = match TelephonySessionId::parse(id.as_str()) {
                Ok(session) => self.catalog.conversation_for_session(&session).await?,
                Err(_) => None,
            };
            let into = into.with_context(|| format!("conversation {id} is not in the catalog"))?;
            return Ok(JobTarget::Merged(Outcome::Merged {
                conversation: id.as_str().to_owned(),
                into: into.as_str().to_owned(),
            }));
        };
        // The first session with records in the catalog: a session no leg
        // of which was recorded is not in a `recordingType=All` listing, and
        // the stitch follows the transfer links from the others anyway.
        for session in &conversation.sessions {
            if !super::gather::catalog_records(&self.catalog, session)
                .await?
                .is_empty()
            {
                return Ok(JobTarget::Session(session.clone()));
            }
        }
        conversation
            .sessions
            .first()
            .cloned()
            .map(JobTarget::Session)
            .with_context(|| format!("conversation {id} has no session"))
    }
}

/// What a stitch job turns out to be about.
enum JobTarget {
    /// Stitch the conversation of this session.
    Session(TelephonySessionId),
    /// Nothing: the conversation was merged into another ([`Outcome::Merged`]).
    Merged(Outcome),
}
