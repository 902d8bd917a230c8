//! Retention and deletion at the source as jobs of the one job runtime
//! ([`crate::runner`]), so a cluster runs each run exactly once.
//!
//! Two standing jobs, at most one of each live in the queue (their dedupe
//! keys `retention-apply` and `delete-at-source`):
//! * `retention_apply` needs no RingCentral call: any worker may claim it.
//!   It runs [`super::apply`] (holds swept, due recordings and then their
//!   stitched files disposed of).
//! * `delete_at_source` is one of the RingCentral kinds, so only the
//!   process holding the `rc-gateway` lease claims it, and it spends that
//!   process's Heavy budget through the same client as its downloads. It
//!   runs [`super::source::run`] with `execute` (the CLI's `--execute`),
//!   which acts only under rules that opted in, and stops while backups
//!   are owed.
//!
//! Both run at [`crate::priority::RECORDS`], below live work and backfill.
//! A run ends by snoozing its own job until the next run: the interval is
//! a catalog setting written by `serve` ([`schedule`]), so every worker of
//! a cluster follows the last `serve` started, and 0 ends the job. The
//! snooze reason (the job's `last_error`, shown by `callvault jobs ls`) is
//! the run's summary. A run that fails is retried with the runner's
//! backoff like any job.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use tokio_util::sync::CancellationToken;
use vault::{BlobStore, Catalog, Enqueued, LeasedJob};

use super::ApplyReport;
use crate::jobs::{Backoff, Job, JobKind};
use crate::runner::{Handler, Mode, Runner, Settings, fixed_kinds};

/// Seconds between retention runs (0: none), as `serve` set it.
pub const APPLY_EVERY_SETTING: &str = "retention_apply_every_secs";
/// Seconds between deletion-at-source runs (0: none), as `serve` set it.
pub const SOURCE_EVERY_SETTING: &str = "delete_at_source_every_secs";

/// How soon a deletion run that stopped because backups are owed looks
/// again (a count query).
const DEFERRED_RETRY: Duration = Duration::from_secs(60);

/// Stores the intervals and enqueues each standing job with a non-zero
/// interval, due now, unless one is live already (then it is made due no
/// later than one new interval from now, so a shorter one applies at once).
pub async fn schedule(
    catalog: &Catalog,
    apply_every: Duration,
    source_every: Duration,
) -> anyhow::Result<()> {
    for (job, setting, every) in [
        (Job::RetentionApply, APPLY_EVERY_SETTING, apply_every),
        (Job::DeleteAtSource, SOURCE_EVERY_SETTING, source_every),
    ] {
        catalog
            .set_setting(setting, &every.as_secs().to_string())
            .await
            .with_context(|| format!("storing {setting}"))?;
        if every.is_zero() {
            continue;
        }
        let new = job.to_new_job().priority(crate::priority::RECORDS);
        if let Enqueued::AlreadyLive(_) = catalog.enqueue(&new).await? {
            let by = Utc::now() + chrono::Duration::from_std(every)?;
            catalog
                .due_by(job.kind().as_str(), &job.dedupe_key(), by)
                .await?;
        }
    }
    Ok(())
}

/// [`schedule`]s the standing jobs for `serve`; and when no job workers
/// run in this process or elsewhere (`serve` without RingCentral), runs a
/// worker for `retention_apply` alone until `stop`, and schedules no
/// deletion at the source (nothing could run it).
pub async fn start(
    catalog: &Catalog,
    blobs: &BlobStore,
    apply_every: Duration,
    source_every: Duration,
    workers_elsewhere: bool,
    stop: CancellationToken,
) -> anyhow::Result<Option<tokio::task::JoinHandle<()>>> {
    let source_every = if workers_elsewhere {
        source_every
    } else {
        Duration::ZERO
    };
    schedule(catalog, apply_every, source_every).await?;
    if workers_elsewhere || apply_every.is_zero() {
        return Ok(None);
    }
    static KINDS: [&str; 1] = [JobKind::RetentionApply.as_str()];
    let runner = Runner {
        catalog: catalog.clone(),
        holder: crate::gateway::holder_id(),
        settings: Settings {
            workers: 1,
            lease: Duration::from_secs(300),
            poll_interval: Duration::from_secs(30),
            shutdown_grace: Duration::from_secs(10),
            backoff: Backoff::DEFAULT,
        },
        kinds: fixed_kinds(&KINDS),
        wake: Arc::new(tokio::sync::Notify::new()),
        handler: Arc::new(RecordsJobs {
            catalog: catalog.clone(),
            blobs: blobs.clone(),
            client: None,
        }),
        stop,
    };
    Ok(Some(tokio::spawn(async move {
        if let Err(e) = runner.run(Mode::Continuous).await {
            tracing::error!(error = %format!("{e:#}"), "the retention runner stopped");
        }
    })))
}

/// Runs the records-management jobs.
pub struct RecordsJobs {
    /// The catalog.
    pub catalog: Catalog,
    /// The blob store (writable, WORM-checked).
    pub blobs: BlobStore,
    /// RingCentral (the gateway's client); `None` where none is configured.
    pub client: Option<rc_api::RcClient>,
}

/// One line on what happened to stitched files in a retention run.
pub fn stitched_summary(r: &ApplyReport) -> String {
    format!(
        "stitched files: {} disposed of with their legs, {} kept by a hold, {} kept with kept legs, {} blob deletions to retry",
        r.stitched_disposed.len(),
        r.stitched_held.len(),
        r.stitched_kept,
        r.stitched_blob_failures.len()
    )
}

impl RecordsJobs {
    async fn apply(&self, leased: &LeasedJob) -> anyhow::Result<()> {
        let r = super::apply(&self.catalog, &self.blobs).await?;
        let summary = format!(
            "last run: disposed of {} recordings; {} due but on hold; {} skipped; {} blob deletions to retry; {}",
            r.disposed.len(),
            r.held.len(),
            r.skipped,
            r.blob_failures.len(),
            stitched_summary(&r)
        );
        tracing::info!(%summary, "retention run done");
        self.again(leased, APPLY_EVERY_SETTING, None, &summary)
            .await
    }

    async fn delete_at_source(&self, leased: &LeasedJob) -> anyhow::Result<()> {
        let client = self
            .client
            .as_ref()
            .context("deleting at the source needs RingCentral configured")?;
        let r = super::source::run(client, &self.catalog, &self.blobs, true).await?;
        let mut summary = format!(
            "last run: deleted {} at RingCentral ({} already gone) in {} requests; kept {} unverified, {} unlocked, {} held; {} failed",
            r.deleted.len(),
            r.already_gone.len(),
            r.requests,
            r.unverified.len(),
            r.unlocked.len(),
            r.held.len(),
            r.failed.len()
        );
        if let Some(e) = &r.error {
            tracing::error!(error = %e, "RingCentral refused a deletion; retried next run");
            summary.push_str(&format!("; RingCentral refused: {e}"));
        }
        if let Some(why) = &r.deferred {
            summary.push_str(&format!("; stopped early: {why}"));
        }
        tracing::info!(%summary, "deletion-at-source run done");
        let sooner = r.deferred.is_some().then_some(DEFERRED_RETRY);
        self.again(leased, SOURCE_EVERY_SETTING, sooner, &summary)
            .await
    }

    /// Snoozes the standing job until its next run (`sooner` at the
    /// latest), with `summary` as the reason; completes it when its
    /// interval is 0 or unset.
    async fn again(
        &self,
        leased: &LeasedJob,
        setting: &str,
        sooner: Option<Duration>,
        summary: &str,
    ) -> anyhow::Result<()> {
        let every = self
            .catalog
            .setting(setting)
            .await?
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|s| *s > 0)
            .map(Duration::from_secs);
        match every {
            Some(every) => {
                let wait = sooner.map_or(every, |s| s.min(every));
                let at = Utc::now() + chrono::Duration::from_std(wait)?;
                self.catalog.snooze(&leased.lease, at, summary).await?;
            }
            None => {
                self.catalog.complete(&leased.lease).await?;
            }
        }
        Ok(())
    }
}

impl Handler for RecordsJobs {
    async fn handle(&self, job: Job, leased: &LeasedJob) -> anyhow::Result<()> {
        match job {
            Job::RetentionApply => self.apply(leased).await,
            Job::DeleteAtSource => self.delete_at_source(leased).await,
            other => anyhow::bail!("a {} job is not a records job", other.kind()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{LOCAL_KINDS, RC_KINDS};

    #[test]
    fn only_the_gateway_deletes_at_the_source_and_any_worker_applies_retention() {
        let (source, apply) = (
            JobKind::DeleteAtSource.as_str(),
            JobKind::RetentionApply.as_str(),
        );
        assert!(RC_KINDS.contains(&source) && !LOCAL_KINDS.contains(&source));
        assert!(LOCAL_KINDS.contains(&apply) && !RC_KINDS.contains(&apply));
    }

    #[tokio::test]
    async fn schedule_keeps_one_standing_job_of_each_kind_below_backfill() {
        let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
        let hour = Duration::from_secs(3600);
        schedule(&catalog, hour, hour).await.unwrap();
        schedule(&catalog, hour, Duration::from_secs(60))
            .await
            .unwrap();
        for job in [Job::RetentionApply, Job::DeleteAtSource] {
            let live = catalog
                .live_job(job.kind().as_str(), &job.dedupe_key())
                .await
                .unwrap()
                .expect("a standing job");
            assert_eq!(live.priority, crate::priority::RECORDS);
            assert!(live.run_at <= Utc::now(), "due at once: {live:?}");
        }
        let all = catalog
            .list_jobs(&[vault::JobState::Queued], None, 10)
            .await
            .unwrap();
        assert_eq!(all.len(), 2, "{all:?}");
        assert_eq!(
            catalog.setting(SOURCE_EVERY_SETTING).await.unwrap(),
            Some("60".into())
        );
    }

    #[tokio::test]
    async fn a_run_snoozes_until_the_next_one_and_an_interval_of_zero_ends_the_job() {
        let (catalog, dir) = crate::test_catalog::sqlite_catalog().await;
        let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
        let records = RecordsJobs {
            catalog: catalog.clone(),
            blobs,
            client: None,
        };
        let kinds = [JobKind::RetentionApply.as_str()];
        let lease = Duration::from_secs(60);
        schedule(&catalog, Duration::from_secs(600), Duration::ZERO)
            .await
            .unwrap();
        let leased = catalog.claim("t", &kinds, lease).await.unwrap().unwrap();
        records
            .handle(Job::from_leased(&leased).unwrap(), &leased)
            .await
            .unwrap();
        let job = catalog
            .live_job(kinds[0], "retention-apply")
            .await
            .unwrap()
            .expect("still standing");
        assert_eq!(job.state, vault::JobState::Retry);
        assert!(job.run_at > Utc::now() + chrono::Duration::seconds(500));
        assert!(
            job.last_error
                .as_deref()
                .is_some_and(|e| e.starts_with("last run: disposed of 0 recordings")),
            "{job:?}"
        );
        assert_eq!(job.attempts, 0, "a run is not a failed attempt");

        catalog.set_setting(APPLY_EVERY_SETTING, "0").await.unwrap();
        catalog
            .due_by(kinds[0], "retention-apply", Utc::now())
            .await
            .unwrap();
        let leased = catalog.claim("t", &kinds, lease).await.unwrap().unwrap();
        records
            .handle(Job::from_leased(&leased).unwrap(), &leased)
            .await
            .unwrap();
        assert!(
            catalog
                .live_job(kinds[0], "retention-apply")
                .await
                .unwrap()
                .is_none()
        );
        assert!(
            catalog
                .live_job("delete_at_source", "delete-at-source")
                .await
                .unwrap()
                .is_none(),
            "an interval of 0 schedules nothing"
        );
    }
}
