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
//! The workers are the one job runtime ([`crate::runner`]) in continuous
//! mode, running [`LiveJobs`]; what they may claim follows the gateway
//! lease. On shutdown, in-flight jobs get [`LiveConfig::shutdown_grace`] to
//! finish, then are released back to the queue without losing an attempt,
//! and the gateway is released.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use anyhow::Context;
use rc_api::models::SubscriptionStatus;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vault::{Catalog, SingletonLease};

use super::handler::LiveJobs;
use super::subscription::ensure_subscription;
use super::{LiveConfig, LiveState};
use crate::gateway::{GATEWAY, LOCAL_KINDS, holder_id};
use crate::jobs::JobKind;
use crate::runner::{Mode, Runner, Settings};
use crate::sync::{self, Downloader};

/// Everything the gateway holder runs.
const ALL_KINDS: [&str; 6] = [
    JobKind::Download.as_str(),
    JobKind::Session.as_str(),
    JobKind::Look.as_str(),
    JobKind::Stitch.as_str(),
    JobKind::RetentionApply.as_str(),
    JobKind::DeleteAtSource.as_str(),
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

/// Runs the gateway, the duty loop and [`LiveConfig::workers`] workers
/// (a continuous [`Runner`] over [`LiveJobs`]) until `shutdown` is
/// cancelled; returns once in-flight jobs are finished or released and the
/// gateway is given up.
pub async fn run_workers(w: Workers, shutdown: CancellationToken) -> anyhow::Result<()> {
    let (held_tx, held_rx) = watch::channel(false);
    let (kinds_tx, kinds_rx) = watch::channel(&LOCAL_KINDS[..]);
    let mut tasks = tokio::task::JoinSet::new();
    {
        let w = w.clone();
        let stop = shutdown.clone();
        tasks.spawn(async move { gateway(w, held_tx, kinds_tx, stop).await });
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
        tasks.spawn(async move { super::capacity_watch::run(w, held, stop).await });
    }
    let runner = Runner {
        catalog: w.catalog().clone(),
        holder: w.holder.clone(),
        settings: runner_settings(w.config()),
        kinds: kinds_rx,
        wake: w.state.wake.clone(),
        handler: Arc::new(LiveJobs::new(w.clone())),
        stop: shutdown.clone(),
    };
    tasks.spawn(async move {
        if let Err(e) = runner.run(Mode::Continuous).await {
            tracing::error!(error = %format!("{e:#}"), "the job runner stopped");
        }
    });
    while let Some(joined) = tasks.join_next().await {
        if let Err(e) = joined {
            tracing::error!(error = %e, "a live task panicked");
        }
    }
    Ok(())
}

/// The job runner's pacing from the live configuration.
pub fn runner_settings(config: &LiveConfig) -> Settings {
    Settings {
        workers: config.workers,
        lease: config.job_lease,
        poll_interval: config.poll_interval,
        shutdown_grace: config.shutdown_grace,
        backoff: config.retry,
    }
}

/// Holds `rc-gateway` when it can, publishing whether it does, and with it
/// which job kinds this process may claim.
async fn gateway(
    w: Workers,
    held: watch::Sender<bool>,
    kinds: watch::Sender<&'static [&'static str]>,
    stop: CancellationToken,
) {
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
        kinds.send_replace(if lease.is_some() {
            &ALL_KINDS[..]
        } else {
            &LOCAL_KINDS[..]
        });
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tokio::time::sleep(lease_for / 3) => {}
        }
    }
    held.send_replace(false);
    kinds.send_replace(&LOCAL_KINDS[..]);
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
        .set_setting(crate::live::SUBSCRIPTION_STATE_SETTING, status)
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
