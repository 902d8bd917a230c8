//! The one job runtime. Every queued job, whichever command runs it, goes
//! through a [`Runner`]: claim, run beside a heartbeat, settle, retry a
//! failure after the one [`Backoff`], sleep until the next due job.
//!
//! Two modes share the loop, so a job fails and retries the same way
//! wherever it runs:
//! - [`Mode::Drain`] (`sync`, `stitch`'s downloads): stop once nothing is
//!   due within `max_wait` and no producer (the call-log listing) may still
//!   enqueue.
//! - [`Mode::Continuous`] (`serve`, `worker`): run until [`Runner::stop`];
//!   in-flight jobs then get [`Settings::shutdown_grace`] and are released
//!   without losing an attempt.
//!
//! What a runner may claim can change while it runs (the RingCentral
//! gateway lease comes and goes), so [`Runner::kinds`] is a watch, and a
//! change wakes idle workers.
//!
//! A handler gets the job parsed ([`Job`]) and settles its own outcome in
//! the queue (done, snoozed, dead), in the same transaction as its effect
//! where it has one (a stored recording and its job's end commit
//! together). An `Err` or a panic is a failure,
//! retried after the backoff (dead after the last attempt). A stored job
//! that does not parse ([`crate::jobs::BadJob`]) is dead at once, with the
//! reason: running it again would not make it parse.

mod one_job;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Utc;
use tokio::sync::{Notify, watch};
use tokio_util::sync::CancellationToken;
use vault::{Catalog, LeasedJob};

use crate::jobs::{Backoff, Job};

/// Runs one kind of work. Implemented once per command family: the live
/// workers run every kind, `sync` runs downloads.
pub trait Handler: Send + Sync + 'static {
    /// Runs `job` (claimed as `leased`) and settles it in the queue. An
    /// `Err` is a failure the runner retries after its backoff; a job left
    /// leased is taken over once its lease runs out.
    fn handle(
        &self,
        job: Job,
        leased: &LeasedJob,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
}

/// How a runner paces its workers.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Worker tasks.
    pub workers: usize,
    /// How long a claim holds a job; the heartbeat extends it every third.
    pub lease: StdDuration,
    /// Longest sleep on an empty queue (an enqueue's wake-up cuts it short).
    pub poll_interval: StdDuration,
    /// On stop, how long an in-flight job may finish before it is released.
    pub shutdown_grace: StdDuration,
    /// When a failed job runs again.
    pub backoff: Backoff,
}

/// When a runner stops.
#[derive(Debug, Clone)]
pub enum Mode {
    /// Once nothing is due within `max_wait` and `producing` (when given)
    /// says no more jobs are coming.
    Drain {
        /// How far ahead a due job keeps the runner waiting for it.
        max_wait: chrono::Duration,
        /// `true` while a producer may still enqueue; every change wakes
        /// idle workers.
        producing: Option<watch::Receiver<bool>>,
    },
    /// Only when [`Runner::stop`] is cancelled.
    Continuous,
}

/// A pool of workers over the queue.
pub struct Runner<H> {
    /// The queue.
    pub catalog: Catalog,
    /// Who holds the leases (`host:pid:tag`); each worker adds `:n`.
    pub holder: String,
    /// Pacing.
    pub settings: Settings,
    /// The job kinds this runner may claim now (empty: none).
    pub kinds: watch::Receiver<&'static [&'static str]>,
    /// Notified on every enqueue a worker should see at once.
    pub wake: Arc<Notify>,
    /// Runs the jobs.
    pub handler: Arc<H>,
    /// Cancelled to stop (continuous mode) or abandon (drain mode).
    pub stop: CancellationToken,
}

impl<H> Clone for Runner<H> {
    fn clone(&self) -> Self {
        Runner {
            catalog: self.catalog.clone(),
            holder: self.holder.clone(),
            settings: self.settings.clone(),
            kinds: self.kinds.clone(),
            wake: self.wake.clone(),
            handler: self.handler.clone(),
            stop: self.stop.clone(),
        }
    }
}

/// Claims only `kinds`, for ever: a runner whose kinds never change.
pub fn fixed_kinds(kinds: &'static [&'static str]) -> watch::Receiver<&'static [&'static str]> {
    // The receiver keeps the last value once the sender is gone.
    watch::channel(kinds).1
}

impl<H: Handler> Runner<H> {
    /// Runs [`Settings::workers`] workers until `mode` says stop. In drain
    /// mode a catalog error ends the run with that error; in continuous
    /// mode it is logged and the worker tries again after a poll interval.
    pub async fn run(&self, mode: Mode) -> anyhow::Result<()> {
        let mut tasks = tokio::task::JoinSet::new();
        for n in 0..self.settings.workers.max(1) {
            let runner = self.clone();
            let mode = mode.clone();
            tasks.spawn(async move { runner.worker(n, mode).await });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let error = match joined {
                Ok(Ok(())) => continue,
                Ok(Err(e)) => e,
                Err(e) => anyhow::Error::new(e).context("a job worker panicked"),
            };
            tracing::error!(error = %format!("{error:#}"), "a job worker stopped");
            first_error.get_or_insert(error);
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn worker(self, n: usize, mode: Mode) -> anyhow::Result<()> {
        let holder = format!("{}:{n}", self.holder);
        let mut kinds = self.kinds.clone();
        let (max_wait, mut producing) = match mode {
            Mode::Drain {
                max_wait,
                producing,
            } => (Some(max_wait), producing),
            Mode::Continuous => (None, None),
        };
        loop {
            // Registered before looking, so an enqueue after the claim
            // below still wakes the sleep.
            let notified = self.wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stop.is_cancelled() {
                return Ok(());
            }
            let still_producing = producing.as_mut().is_some_and(|p| *p.borrow_and_update());
            let claimable = *kinds.borrow_and_update();
            let claimed = if claimable.is_empty() {
                Ok(None)
            } else {
                self.catalog
                    .claim(&holder, claimable, self.settings.lease)
                    .await
            };
            let nap = match claimed {
                Ok(Some(job)) => {
                    one_job::run(&self, job).await;
                    continue;
                }
                Ok(None) => match self.nap(claimable, max_wait, still_producing).await {
                    Ok(Some(nap)) => nap,
                    Ok(None) => return Ok(()),
                    Err(e) if max_wait.is_some() => return Err(e),
                    Err(e) => {
                        tracing::error!(error = %format!("{e:#}"), "looking for the next job failed");
                        self.settings.poll_interval
                    }
                },
                Err(e) if max_wait.is_some() => return Err(e.into()),
                Err(e) => {
                    tracing::error!(error = %e, "claiming a job failed");
                    self.settings.poll_interval
                }
            };
            let producer_gone = tokio::select! {
                _ = self.stop.cancelled() => return Ok(()),
                _ = &mut notified => false,
                () = changed(&mut kinds) => false,
                gone = producer_changed(&mut producing, still_producing) => gone,
                _ = tokio::time::sleep(nap) => false,
            };
            if producer_gone {
                producing = None;
            }
        }
    }

    /// How long to sleep on an empty queue, or `None` when a draining
    /// runner is done: nothing due within `max_wait` and nothing more coming.
    async fn nap(
        &self,
        claimable: &[&str],
        max_wait: Option<chrono::Duration>,
        still_producing: bool,
    ) -> anyhow::Result<Option<StdDuration>> {
        let poll = self.settings.poll_interval;
        if claimable.is_empty() {
            return Ok(Some(poll));
        }
        let next = self.catalog.next_run_at(claimable).await?;
        let now = Utc::now();
        let until = |next: chrono::DateTime<Utc>| {
            (next - now)
                .to_std()
                .unwrap_or_default()
                .clamp(StdDuration::from_millis(10), poll)
        };
        Ok(match (next, max_wait) {
            (Some(next), None) => Some(until(next)),
            (None, None) => Some(poll),
            (Some(next), Some(max_wait)) if still_producing || next - now <= max_wait => {
                Some(until(next))
            }
            (None, Some(_)) if still_producing => Some(poll),
            (_, Some(_)) => None,
        })
    }
}

/// Resolves when `rx` sees a new value; never, once its sender is gone
/// (a fixed value never changes), so a select cannot spin on it.
async fn changed<T>(rx: &mut watch::Receiver<T>) {
    if rx.changed().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves when the producer's flag changes (`false`) or the producer is
/// gone (`true`); never while it is not producing.
async fn producer_changed(producing: &mut Option<watch::Receiver<bool>>, active: bool) -> bool {
    match producing {
        Some(rx) if active => rx.changed().await.is_err(),
        _ => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests;
