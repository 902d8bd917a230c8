//! The worker loop of `serve` and `worker`.
//!
//! Only one process of the cluster talks to RingCentral at a time (the rate
//! limit belongs to the user and app, not to a process): the holder of the
//! vault singleton `rc-gateway`. While this process holds it, its workers
//! claim `download` and `session` jobs, and its duty loop keeps the
//! subscription and runs the safety-net sync; without it, they take only
//! jobs that need no RingCentral call (none of this module's kinds) and wait
//! to take over when the holder's lease runs out.
//!
//! Each worker follows six steps: (1) register for the wake-up before
//! looking, so no enqueue is missed; (2) claim; (3) run the job in a
//! `job{id, kind}` span, a panic caught and turned into a retry, a heartbeat
//! beside it; (4) the job settles its own outcome (done, snoozed, dead) and
//! an error becomes a retry with jittered backoff; (5) on an empty queue,
//! sleep until the next due job, the poll interval, a wake-up or shutdown;
//! (6) log every error with its chain and carry on. On shutdown, in-flight
//! jobs get [`LiveConfig::shutdown_grace`] to finish, then are released
//! back to the queue without losing an attempt, and the gateway is released.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::Utc;
use futures::FutureExt;
use rc_api::models::SubscriptionStatus;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use vault::{Catalog, LeasedJob, SingletonLease};

use super::look;
use super::session::SessionRunner;
use super::subscription::ensure_subscription;
use super::{LiveConfig, LiveState};
use crate::jobs::{Job, JobKind};
use crate::sync::{self, Downloader};

/// Name of the cluster-wide singleton that may talk to RingCentral.
pub const GATEWAY: &str = "rc-gateway";

/// Job kinds that call RingCentral (taken only by the gateway).
pub const RC_KINDS: [&str; 3] = [
    JobKind::Download.as_str(),
    JobKind::Session.as_str(),
    JobKind::Look.as_str(),
];

/// Jobs any worker may run: they need no RingCentral call.
pub const LOCAL_KINDS: [&str; 1] = [JobKind::Stitch.as_str()];

/// Everything the gateway holder runs.
const ALL_KINDS: [&str; 4] = [
    JobKind::Download.as_str(),
    JobKind::Session.as_str(),
    JobKind::Look.as_str(),
    JobKind::Stitch.as_str(),
];

/// Where the subscription should deliver, for the gateway to keep it.
#[derive(Debug, Clone)]
pub struct SubscriptionPlan {
    /// Public base URL of this service (the receiver is at
    /// `/webhook/ringcentral` below it).
    pub public_url: String,
    /// Event filters ([`super::telephony_filters`]).
    pub filters: Vec<String>,
}

/// Everything the workers need.
#[derive(Clone)]
pub struct Workers {
    /// Shared with the receiver: catalog, config, wake-ups.
    pub state: LiveState,
    /// Runs `download` jobs (its client is the RingCentral client).
    pub downloader: Downloader,
    /// The subscription to keep, if this process should (`serve`).
    pub subscription: Option<SubscriptionPlan>,
    /// Who we are, for leases (`host:pid:random`).
    pub holder: String,
    /// Where the gateway sends alerts, if anywhere ([`crate::alerts`]).
    pub alerts: Option<crate::alerts::AlertSender>,
}

impl Workers {
    /// Workers for `state`, downloading with `downloader`.
    pub fn new(state: LiveState, downloader: Downloader) -> Workers {
        Workers {
            state,
            downloader,
            subscription: None,
            holder: holder_id(),
            alerts: None,
        }
    }

    fn catalog(&self) -> &Catalog {
        &self.state.catalog
    }

    fn config(&self) -> &LiveConfig {
        &self.state.config
    }
}

/// A holder id unique to this process: `host:pid:random`.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let tag: u32 = rand::random();
    format!("{host}:{}:{tag:08x}", std::process::id())
}

/// Runs the gateway, the duty loop and [`LiveConfig::workers`] workers until
/// `shutdown` is cancelled; returns once in-flight jobs are finished or
/// released and the gateway is given up.
pub async fn run_workers(w: Workers, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (held_tx, held_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let w = w.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move { gateway(w, held_tx, stop).await });
    }
    {
        let w = w.clone();
        let stop = shutdown.clone();
        let held = held_rx.clone();
        tasks.spawn(async move { duties(w, held, stop).await });
    }
    {
        let w = w.clone();
        let stop = shutdown.clone();
        let held = held_rx.clone();
        tasks.spawn(async move { crate::capacity::watch::run(w, held, stop).await });
    }
    for n in 0..w.config().workers.max(1) {
        let w = w.clone();
        let stop = shutdown.clone();
        let held = held_rx.clone();
        tasks.spawn(async move { worker(w, n, held, stop).await });
    }
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a live task panicked");
        }
    }
    Ok(())
}

/// Holds `rc-gateway` when it can, publishing whether it does.
async fn gateway(w: Workers, held: watch::Sender<bool>, stop: CancellationToken) {
    let lease_for = w.config().gateway_lease;
    let mut lease: Option<SingletonLease> = None;
    loop {
        let result = match &lease {
            None => w
                .catalog()
                .acquire_singleton(GATEWAY, &w.holder, lease_for)
                .await
                .inspect(|l| {
                    if l.is_some() {
                        tracing::info!(holder = %w.holder, "became the RingCentral gateway");
                    }
                }),
            Some(l) => w.catalog().renew_singleton(l, lease_for).await.map(|ok| {
                if !ok {
                    tracing::warn!("lost the RingCentral gateway lease");
                }
                ok.then(|| l.clone())
            }),
        };
        match result {
            Ok(l) => lease = l,
            Err(e) => {
                // Cannot prove we still hold it: act as if we did not.
                tracing::error!(error = %format!("{e:#}"), "gateway lease check failed");
                lease = None;
            }
        }
        held.send_replace(lease.is_some());
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(lease_for / 3) => {}
        }
    }
    held.send_replace(false);
    if let Some(l) = lease
        && let Err(e) = w.catalog().release_singleton(&l).await
    {
        tracing::warn!(error = %e, "releasing the gateway failed");
    }
}

/// The gateway's periodic duties (subscription, safety-net sync) and the
/// lease reaper, which any process may run.
async fn duties(w: Workers, mut held: watch::Receiver<bool>, stop: CancellationToken) {
    let mut last_sync: Option<tokio::time::Instant> = None;
    let mut last_subscription: Option<tokio::time::Instant> = None;
    let tick = w.config().poll_interval;
    loop {
        if *held.borrow_and_update() {
            let due = |last: Option<tokio::time::Instant>, every: StdDuration| {
                last.is_none_or(|t| t.elapsed() >= every)
            };
            if let Some(plan) = &w.subscription
                && due(last_subscription, w.config().subscription_check_every)
            {
                last_subscription = Some(tokio::time::Instant::now());
                let client = &w.downloader.client;
                match ensure_subscription(
                    client,
                    w.catalog(),
                    &plan.public_url,
                    &plan.filters,
                    w.config(),
                )
                .await
                {
                    Ok((info, what)) => {
                        let active = info
                            .status
                            .as_ref()
                            .is_none_or(|s| *s == SubscriptionStatus::Active);
                        w.state
                            .metrics
                            .subscription_active
                            .store(active, Ordering::Relaxed);
                        let status = if active {
                            "Active"
                        } else {
                            info.status.as_ref().map_or("Unknown", |s| s.as_str())
                        };
                        store_subscription_state(&w, status).await;
                        tracing::debug!(subscription = %info.id, ?what, "subscription checked");
                    }
                    Err(e) => {
                        w.state
                            .metrics
                            .subscription_active
                            .store(false, Ordering::Relaxed);
                        store_subscription_state(&w, "Error").await;
                        tracing::error!(error = %format!("{e:#}"), "keeping the subscription failed");
                    }
                }
            }
            // The status page's view of our rate limits and subscription.
            let subscription_active = w
                .subscription
                .as_ref()
                .map(|_| w.state.metrics.subscription_active.load(Ordering::Relaxed));
            let snapshot = crate::rate_snapshot::Snapshot::of(
                w.downloader.client.scheduler(),
                &w.holder,
                subscription_active,
            );
            crate::rate_snapshot::publish(w.catalog(), &snapshot).await;
            if due(last_sync, w.config().safety_net_every) {
                last_sync = Some(tokio::time::Instant::now());
                match safety_net(&w).await {
                    Ok(report) => tracing::info!(
                        records = report.records,
                        new = report.new_records,
                        "safety-net sync done"
                    ),
                    Err(e) => tracing::error!(error = %format!("{e:#}"), "safety-net sync failed"),
                }
                w.state.wake.notify_waiters();
            }
        } else {
            // A new tenure starts with fresh checks.
            last_sync = None;
            last_subscription = None;
        }
        if let Err(e) = w.catalog().reap_expired().await {
            tracing::error!(error = %e, "reaping expired leases failed");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = held.changed() => {}
            _ = tokio::time::sleep(tick) => {}
        }
    }
}

/// Keeps the subscription status in the catalog, where every process's
/// `/healthz` reads it (only the gateway checks RingCentral).
async fn store_subscription_state(w: &Workers, status: &str) {
    if let Err(e) = w
        .catalog()
        .set_setting(crate::health::SUBSCRIPTION_STATE_SETTING, status)
        .await
    {
        tracing::error!(error = %e, "storing the subscription state failed");
    }
}

/// The incremental sync from the watermark: catches calls whose webhooks
/// were missed (receiver down, subscription blacklisted).
pub async fn safety_net(w: &Workers) -> anyhow::Result<sync::Report> {
    let c = w.catalog();
    let (from, to) = sync::range(
        &w.downloader.client,
        c,
        None,
        None,
        w.config().safety_net_overlap,
        w.config().safety_net_backfill,
    )
    .await?;
    let progress = sync::Progress::default();
    let mut report = sync::Report::default();
    sync::list(&w.downloader.client, c, from, to, &progress, &mut report).await?;
    c.advance_watermark(sync::WATERMARK, to)
        .await
        .context("saving the watermark")?;
    // A process killed mid-download leaves a staged partial file behind.
    sync::sweep_partials_if_idle(&w.downloader).await?;
    Ok(report)
}

async fn worker(w: Workers, n: usize, held: watch::Receiver<bool>, stop: CancellationToken) {
    let holder = format!("{}:{n}", w.holder);
    let sessions = SessionRunner {
        client: w.downloader.client.clone(),
        catalog: w.catalog().clone(),
        config: w.state.config.clone(),
    };
    let wake = w.state.wake.clone();
    loop {
        // (1) Register for wake-ups before looking.
        let notified = wake.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if stop.is_cancelled() {
            return;
        }
        let gateway = *held.borrow();
        let kinds: &[&str] = if gateway { &ALL_KINDS } else { &LOCAL_KINDS };
        // (2) Claim (an empty list would mean "any kind": claim nothing).
        let claimed = if kinds.is_empty() {
            Ok(None)
        } else {
            w.catalog()
                .claim(&holder, kinds, w.config().job_lease)
                .await
        };
        let nap = match claimed {
            Ok(Some(job)) => {
                run_one(&w, &sessions, job, &stop).await;
                continue;
            }
            // (5) Nothing due: sleep until the next due job, at most a poll interval.
            Ok(None) => match w.catalog().next_run_at(kinds).await {
                Ok(Some(next)) if !kinds.is_empty() => (next - Utc::now())
                    .to_std()
                    .unwrap_or_default()
                    .clamp(StdDuration::from_millis(10), w.config().poll_interval),
                Ok(_) => w.config().poll_interval,
                Err(e) => {
                    tracing::error!(error = %e, "looking for the next job failed");
                    w.config().poll_interval
                }
            },
            // (6) Log and back off; never drop the error.
            Err(e) => {
                tracing::error!(error = %e, "claiming a job failed");
                w.config().poll_interval
            }
        };
        let mut held_changes = held.clone();
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = &mut notified => {}
            _ = held_changes.changed() => {}
            _ = tokio::time::sleep(nap) => {}
        }
    }
}

/// (3)–(4): runs one job with a heartbeat, settles errors and panics, and
/// on shutdown lets it finish within the grace period or releases it.
async fn run_one(w: &Workers, sessions: &SessionRunner, job: LeasedJob, stop: &CancellationToken) {
    let span = tracing::info_span!("job", id = job.lease.job_id().get(), kind = %job.kind);
    let lease = job.lease;
    let heartbeat = {
        let catalog = w.catalog().clone();
        let lease_for = w.config().job_lease;
        async move {
            loop {
                tokio::time::sleep(lease_for / 3).await;
                match catalog.heartbeat(&lease, lease_for).await {
                    Ok(true) => {}
                    Ok(false) => return,
                    Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                }
            }
        }
    };
    let work = AssertUnwindSafe(execute(w, sessions, &job))
        .catch_unwind()
        .instrument(span.clone());
    tokio::pin!(work);
    let finished = tokio::select! {
        r = &mut work => Some(r),
        _ = heartbeat => None,
        _ = stop.cancelled() => {
            let grace = w.config().shutdown_grace;
            tokio::select! {
                r = &mut work => Some(r),
                _ = tokio::time::sleep(grace) => None,
            }
        }
    };
    let _enter = span.enter();
    let failure = match finished {
        Some(Ok(Ok(()))) => return,
        Some(Ok(Err(e))) => format!("{e:#}"),
        Some(Err(_panic)) => "the job panicked".to_owned(),
        None if stop.is_cancelled() => {
            tracing::info!("shutting down: returning the job to the queue");
            if let Err(e) = w.catalog().release(&job.lease).await {
                tracing::error!(error = %e, "releasing the job failed");
            }
            return;
        }
        None => {
            tracing::warn!("lease lost while running; the new holder finishes the job");
            return;
        }
    };
    tracing::error!(error = %failure, "job failed; retrying");
    let backoff = crate::jobs::Backoff {
        base: w.config().retry_base,
        cap: w.config().retry_cap,
    };
    if let Err(e) = crate::jobs::retry_failed(w.catalog(), &job, &failure, backoff).await {
        tracing::error!(error = %e, "scheduling the retry failed");
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
async fn queue_stitch_if_sync_only(catalog: &Catalog, job: &LeasedJob) -> anyhow::Result<()> {
    let Ok(id) = Job::recording_of(job) else {
        return Ok(());
    };
    let Some(session) = catalog
        .recording(&id)
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

pub(super) async fn execute(
    w: &Workers,
    sessions: &SessionRunner,
    job: &LeasedJob,
) -> anyhow::Result<()> {
    match JobKind::parse(&job.kind) {
        Ok(JobKind::Download) => {
            let started = std::time::Instant::now();
            let outcome = w.downloader.run(job).await;
            w.state
                .metrics
                .download_seconds
                .observe_duration(started.elapsed());
            let outcome = outcome?;
            tracing::info!(?outcome, "download finished");
            if matches!(outcome, sync::Outcome::Stored { .. }) {
                queue_stitch_if_sync_only(w.catalog(), job).await?;
            }
            if matches!(
                outcome,
                sync::Outcome::Stored { .. }
                    | sync::Outcome::Gone { .. }
                    | sync::Outcome::Failed { .. }
            ) && let Ok(id) = Job::recording_of(job)
            {
                // A session job may be waiting on this download.
                super::session::wake_for_download(w.catalog(), &id).await?;
                w.state.wake.notify_waiters();
            }
        }
        Ok(JobKind::Session) => {
            let outcome = sessions.run(job).await?;
            if outcome.is_settled() {
                tracing::info!(?outcome, "session job finished");
            } else {
                // It looks again in a moment: every look is no news.
                tracing::debug!(?outcome, "session job snoozed");
            }
            w.state.wake.notify_waiters();
        }
        Ok(JobKind::Look) => {
            w.state.metrics.looks.fetch_add(1, Ordering::Relaxed);
            let looked = look::look(&w.downloader.client, w.catalog()).await?;
            w.catalog().complete(&job.lease).await?;
            tracing::debug!(?looked, "look finished");
            w.state.wake.notify_waiters();
        }
        Ok(JobKind::Stitch) => {
            let stitcher = crate::stitching::Stitcher {
                catalog: w.catalog().clone(),
                blobs: w.downloader.blobs.clone(),
                layout: w.downloader.layout.clone(),
                rc: None,
            };
            let started = std::time::Instant::now();
            let options = crate::stitching::StitchOptions {
                queued: Some(crate::stitching::QueuedStitch {
                    give_up_after: w.config().deadline,
                }),
                ..Default::default()
            };
            let outcome = stitcher.run_job(job, &options).await;
            w.state
                .metrics
                .stitch_seconds
                .observe_duration(started.elapsed());
            let outcome = outcome?;
            tracing::info!(?outcome, "stitch job finished");
        }
        Err(_) => {
            w.catalog()
                .fail(&job.lease, &format!("no handler for job kind {}", job.kind))
                .await?;
        }
    }
    Ok(())
}
