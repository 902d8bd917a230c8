//! What a job does in `sync`: downloads, counted for the run's summary and
//! its progress display. The loop around it is [`crate::runner`]'s, the
//! same one the live workers run.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use vault::LeasedJob;

use super::{Downloader, Outcome, Progress, Report};
use crate::jobs::Job;
use crate::runner::Handler;

/// Runs download jobs and counts their outcomes.
pub(super) struct Downloads {
    downloader: Downloader,
    progress: Arc<Progress>,
    report: Mutex<Report>,
}

impl Downloads {
    pub(super) fn new(downloader: Downloader, progress: Arc<Progress>) -> Downloads {
        Downloads {
            downloader,
            progress,
            report: Mutex::default(),
        }
    }

    /// The outcomes counted so far.
    pub(super) fn report(&self) -> Report {
        let mut out = Report::default();
        out.add_downloads(&self.report.lock().unwrap_or_else(PoisonError::into_inner));
        out
    }

    fn count(&self, leased: &LeasedJob, outcome: &Outcome) {
        let job = leased.lease.job_id().get();
        let mut r = self.report.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            Outcome::Stored { size } => {
                r.stored += 1;
                r.bytes += size;
                self.progress.stored.fetch_add(1, Ordering::Relaxed);
                self.progress.bytes.fetch_add(*size, Ordering::Relaxed);
            }
            Outcome::AlreadyStored => r.already_stored += 1,
            Outcome::NotReady { next } => {
                tracing::info!(job, %next, "recording not available yet");
                r.not_ready += 1;
            }
            Outcome::Gone { reason } => {
                tracing::warn!(job, %reason, "recording gone at the source");
                r.gone += 1;
            }
            Outcome::Failed { reason } => {
                tracing::error!(job, %reason, "recording failed");
                r.failed += 1;
            }
            Outcome::Retry { reason } => {
                tracing::warn!(job, %reason, "download will be retried");
                r.retried += 1;
            }
        }
        self.progress.finished.fetch_add(1, Ordering::Relaxed);
    }
}

impl Handler for Downloads {
    async fn handle(&self, job: Job, leased: &LeasedJob) -> anyhow::Result<()> {
        let Job::Download { recording } = &job else {
            anyhow::bail!("sync runs downloads only, not {} jobs", job.kind());
        };
        match self.downloader.run(recording, leased).await {
            Ok(outcome) => {
                self.count(leased, &outcome);
                Ok(())
            }
            Err(e) => {
                // A ledger or store failure: the runner retries it after
                // its backoff, as it retries any job.
                self.report
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .retried += 1;
                Err(e)
            }
        }
    }
}
