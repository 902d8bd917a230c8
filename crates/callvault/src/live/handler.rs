//! What each job kind does in `serve` and `worker`: the live workers'
//! [`Handler`], dispatching on the typed [`Job`]. The loop around it
//! (claim, heartbeat, retry, shutdown) is [`crate::runner`]'s.

use std::sync::atomic::Ordering;

use vault::{Catalog, ConversationId, LeasedJob, RecordingId, TelephonySessionId};

use super::Workers;
use super::look;
use super::session::SessionRunner;
use crate::jobs::Job;
use crate::runner::Handler;
use crate::sync;

/// Runs every kind of job for the live workers.
#[derive(Clone)]
pub struct LiveJobs {
    workers: Workers,
    sessions: SessionRunner,
}

impl LiveJobs {
    /// The handler of `workers`' jobs.
    pub fn new(workers: Workers) -> LiveJobs {
        let sessions = SessionRunner {
            client: workers.downloader.client.clone(),
            catalog: workers.state.catalog.clone(),
            config: workers.state.config.clone(),
        };
        LiveJobs { workers, sessions }
    }

    fn catalog(&self) -> &Catalog {
        &self.workers.state.catalog
    }

    async fn download(&self, id: &RecordingId, leased: &LeasedJob) -> anyhow::Result<()> {
        let w = &self.workers;
        let started = std::time::Instant::now();
        let outcome = w.downloader.run(id, leased).await;
        w.state
            .metrics
            .download_seconds
            .observe_duration(started.elapsed());
        let outcome = outcome?;
        tracing::info!(?outcome, "download finished");
        if matches!(outcome, sync::Outcome::Stored { .. }) {
            queue_stitch_if_sync_only(self.catalog(), id).await?;
        }
        if matches!(
            outcome,
            sync::Outcome::Stored { .. }
                | sync::Outcome::Gone { .. }
                | sync::Outcome::Failed { .. }
        ) {
            // A session job may be waiting on this download.
            super::session::wake_for_download(self.catalog(), id).await?;
            w.state.wake.notify_waiters();
        }
        Ok(())
    }

    async fn session(&self, tsid: &TelephonySessionId, leased: &LeasedJob) -> anyhow::Result<()> {
        let outcome = self.sessions.run(tsid, leased).await?;
        if outcome.is_settled() {
            tracing::info!(?outcome, "session job finished");
        } else {
            // It looks again in a moment: every look is no news.
            tracing::debug!(?outcome, "session job snoozed");
        }
        self.workers.state.wake.notify_waiters();
        Ok(())
    }

    async fn look(&self, leased: &LeasedJob) -> anyhow::Result<()> {
        let w = &self.workers;
        w.state.metrics.looks.fetch_add(1, Ordering::Relaxed);
        let looked = look::look(&w.downloader.client, self.catalog()).await?;
        self.catalog().complete(&leased.lease).await?;
        tracing::debug!(?looked, "look finished");
        w.state.wake.notify_waiters();
        Ok(())
    }

    async fn stitch(&self, id: &ConversationId, leased: &LeasedJob) -> anyhow::Result<()> {
        let w = &self.workers;
        let stitcher = crate::stitching::Stitcher {
            catalog: self.catalog().clone(),
            blobs: w.downloader.blobs.clone(),
            layout: w.downloader.layout.clone(),
            rc: None,
        };
        let started = std::time::Instant::now();
        let options = crate::stitching::StitchOptions {
            queued: Some(crate::stitching::QueuedStitch {
                give_up_after: w.state.config.deadline,
            }),
            ..Default::default()
        };
        let outcome = stitcher.run_job(id, leased, &options).await;
        w.state
            .metrics
            .stitch_seconds
            .observe_duration(started.elapsed());
        let outcome = outcome?;
        tracing::info!(?outcome, "stitch job finished");
        Ok(())
    }
}

impl Handler for LiveJobs {
    async fn handle(&self, job: Job, leased: &LeasedJob) -> anyhow::Result<()> {
        match &job {
            Job::Download { recording } => self.download(recording, leased).await,
            Job::Session { session } => self.session(session, leased).await,
            Job::Look => self.look(leased).await,
            Job::Stitch { conversation } => self.stitch(conversation, leased).await,
            Job::RetentionApply | Job::DeleteAtSource => {
                let w = &self.workers;
                let records = crate::retention::jobs::RecordsJobs {
                    catalog: self.catalog().clone(),
                    blobs: w.downloader.blobs.clone(),
                    client: Some(w.downloader.client.clone()),
                };
                records.handle(job.clone(), leased).await
            }
        }
    }
}

/// A conversation that only the sync has seen (no webhook ever named any
/// of its sessions) has no session job to finish it: once the last of its
/// recordings is stored, this settles it like a session job would. One
/// recording and no attended-transfer link to another session: `single`,
/// with no stitch job. Otherwise its stitch is queued (the stitcher follows
/// the links and joins the other sessions). A conversation a webhook named
/// is left to its session job, even while the conversation row says `sync`
/// only because the sync listed it before that job ran.
async fn queue_stitch_if_sync_only(catalog: &Catalog, id: &RecordingId) -> anyhow::Result<()> {
    let Some(session) = catalog
        .recording(id)
        .await?
        .and_then(|r| r.telephony_session_id)
    else {
        return Ok(());
    };
    let Some(conversation) = catalog.conversation_for_session(&session).await? else {
        return Ok(());
    };
    let Some(c) = catalog.conversation(&conversation).await? else {
        return Ok(());
    };
    // `waiting`: a stitch found more legs (an attended transfer's other
    // session) whose downloads were still running, and sleeps. `single`: an
    // earlier sync listed only one leg; this download may be another.
    let open = matches!(
        c.state,
        vault::ConversationState::Ended
            | vault::ConversationState::Waiting
            | vault::ConversationState::Single
    );
    if !open || c.arrived_by != vault::ArrivedBy::Sync {
        return Ok(());
    }
    let mut recordings = 0usize;
    for s in &c.sessions {
        if !catalog.notifications_for_session(s).await?.is_empty() {
            return Ok(());
        }
        let stored = catalog.recordings_for_session(s).await?;
        if stored.iter().any(|r| {
            matches!(
                r.state,
                vault::RecordingState::Listed | vault::RecordingState::NotReady
            )
        }) {
            return Ok(());
        }
        recordings += stored.len();
    }
    if recordings == 1 && !links_to_other_sessions(catalog, &c.sessions).await? {
        catalog
            .set_conversation_state(&conversation, vault::ConversationState::Single, None, None)
            .await?;
        return Ok(());
    }
    // Keyed on the conversation the stitch merges the chain into, which a
    // session job of the chain would key its stitch on too.
    let Some(first) = c.sessions.first() else {
        return Ok(());
    };
    let target = crate::stitching::job::conversation_of_chain(catalog, first).await?;
    // The link may be one-sided: only this conversation's record names the
    // chain's first session (`transferee`), so a stitch gathering from the
    // target would never find these sessions. They join it first; the
    // target, settled `single` on its own recording, is stitched again.
    if target != conversation {
        for session in &c.sessions {
            super::session::join_session(catalog, &target, session).await?;
        }
    }
    crate::stitching::job::enqueue(catalog, &target).await?;
    Ok(())
}

/// Whether a stored call record of `sessions` names, by an attended
/// transfer, a session outside them (whose legs the stitcher would join).
async fn links_to_other_sessions(
    catalog: &Catalog,
    sessions: &[vault::TelephonySessionId],
) -> anyhow::Result<bool> {
    for s in sessions {
        for rec in crate::stitching::gather::catalog_records(catalog, s).await? {
            if crate::stitching::plan::linked_sessions(&rec)
                .iter()
                .any(|linked| !sessions.iter().any(|known| known.as_str() == linked))
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}
