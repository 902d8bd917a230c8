//! One claimed job, start to end: parsed, run in a `job{id, kind}` span
//! beside its heartbeat, a panic caught, a failure given back to the queue
//! after the backoff, and on stop either finished within the grace period
//! or released without losing an attempt.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use tracing::Instrument;
use vault::LeasedJob;

use super::{Handler, Runner};
use crate::jobs::Job;

/// Runs `leased` to its end. Never returns an error: every failure is
/// settled in the queue and logged with its chain.
pub(super) async fn run<H: Handler>(runner: &Runner<H>, leased: LeasedJob) {
    let span = tracing::info_span!("job", id = leased.lease.job_id().get(), kind = %leased.kind);
    let job = match Job::from_leased(&leased) {
        Ok(job) => job,
        Err(bad) => {
            let _enter = span.enter();
            tracing::error!(error = %bad, "the stored job cannot run");
            if let Err(e) = runner.catalog.fail(&leased.lease, &bad.to_string()).await {
                tracing::error!(error = %e, "marking the job dead failed");
            }
            return;
        }
    };
    let work = AssertUnwindSafe(runner.handler.handle(job, &leased))
        .catch_unwind()
        .instrument(span.clone());
    tokio::pin!(work);
    let finished = tokio::select! {
        r = &mut work => Some(r),
        () = heartbeat(runner, &leased) => None,
        _ = runner.stop.cancelled() => {
            tokio::select! {
                r = &mut work => Some(r),
                _ = tokio::time::sleep(runner.settings.shutdown_grace) => None,
            }
        }
    };
    let _enter = span.enter();
    let failure = match finished {
        Some(Ok(Ok(()))) => return,
        Some(Ok(Err(e))) => format!("{e:#}"),
        Some(Err(_panic)) => "the job panicked".to_owned(),
        None if runner.stop.is_cancelled() => {
            tracing::info!("stopping: returning the job to the queue");
            if let Err(e) = runner.catalog.release(&leased.lease).await {
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
    if let Err(e) =
        crate::jobs::retry_failed(&runner.catalog, &leased, &failure, runner.settings.backoff).await
    {
        tracing::error!(error = %e, "scheduling the retry failed");
    }
}

/// Extends the lease every third of it; resolves only when the lease is
/// lost (another holder took the job over).
async fn heartbeat<H>(runner: &Runner<H>, leased: &LeasedJob) {
    let lease_for = runner.settings.lease;
    loop {
        tokio::time::sleep(lease_for / 3).await;
        match runner.catalog.heartbeat(&leased.lease, lease_for).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => tracing::warn!(error = %e, "extending the job's lease failed"),
        }
    }
}
