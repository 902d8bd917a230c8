//! Backup: list the call log into the ledger and drain the download queue.
//!
//! Listing walks the account call log (Detailed, `recordingType=All`) in
//! bounded date windows, writing every record, leg, recording and
//! conversation and enqueuing a download for each recording not yet stored.
//! Downloading runs several workers over the leased job queue; the shared
//! rate-limit scheduler inside the client keeps them out of the 429 trap.
//! [`backup`] runs both at once: the workers start on the first page's
//! recordings while later records are still being written, so the rate
//! limit, not the ledger, sets the pace. The watermark advances only once a
//! whole range was listed, so an interrupted sync resumes where the ledger
//! says, and nothing is lost.

pub mod bridge;
pub mod download;
mod drain;
pub mod ledger;
pub mod plan;
pub mod sniff;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration as StdDuration;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use futures::{StreamExt, TryStreamExt};
use vault::{Catalog, Source};

use crate::jobs::JobKind;

pub use download::{Downloader, Outcome};

/// The ledger watermark of the call-log sync.
pub const WATERMARK: &str = "call_log";

/// Longest date window one call-log walk covers, so a page walk stays bounded.
const WINDOW: i64 = 7;

/// Most call-log records written in one catalog transaction: a page's worth
/// of commits saved, while a SQLite write lock is held for well under a
/// second (download workers commit in between).
pub const LEDGER_BATCH: usize = 250;

/// How long a worker holds a download before another may take it over. A
/// live worker extends it every third of it; a killed one's job becomes
/// claimable again this soon, so a restarted sync picks it up within the run.
const LEASE: StdDuration = StdDuration::from_secs(15);

/// The job kinds a sync runs.
const DOWNLOADS: [&str; 1] = [JobKind::Download.as_str()];

/// Staged partial blobs untouched this long belong to no live writer.
const STALE_PARTIAL: StdDuration = StdDuration::from_secs(5);

/// Counts of one sync, for the summary and `--json`.
#[derive(Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Range listed.
    pub from: Option<DateTime<Utc>>,
    /// Range listed.
    pub to: Option<DateTime<Utc>>,
    /// Call-log records seen.
    pub records: u64,
    /// Of which new to the ledger.
    pub new_records: u64,
    /// Recordings the records name.
    pub recordings: u64,
    /// Downloads stored now.
    pub stored: u64,
    /// Bytes stored now.
    pub bytes: u64,
    /// Jobs that found their recording already stored.
    pub already_stored: u64,
    /// Recordings not downloadable yet (retried on a schedule from the call's end).
    pub not_ready: u64,
    /// Recordings gone at the source.
    pub gone: u64,
    /// Permanent failures.
    pub failed: u64,
    /// Transient failures that will be retried.
    pub retried: u64,
}

/// Live counters the progress display reads while workers run, and the
/// signal from the listing to the download workers.
#[derive(Debug)]
pub struct Progress {
    /// Records listed so far.
    pub records: AtomicU64,
    /// Recordings stored so far.
    pub stored: AtomicU64,
    /// Bytes stored so far.
    pub bytes: AtomicU64,
    /// Downloads finished in any way.
    pub finished: AtomicU64,
    /// Downloads enqueued.
    pub enqueued: AtomicU64,
    /// `true` while a listing may still enqueue downloads; bumped at each
    /// enqueue. A worker that finds the queue empty waits on it instead of
    /// stopping.
    listing: tokio::sync::watch::Sender<bool>,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            records: AtomicU64::default(),
            stored: AtomicU64::default(),
            bytes: AtomicU64::default(),
            finished: AtomicU64::default(),
            enqueued: AtomicU64::default(),
            listing: tokio::sync::watch::Sender::new(false),
        }
    }
}

/// Marks a listing as running for as long as it lives, however it ends.
struct Listing<'a>(&'a Progress);

impl<'a> Listing<'a> {
    fn start(progress: &'a Progress) -> Listing<'a> {
        progress.listing.send_replace(true);
        Listing(progress)
    }
}

impl Drop for Listing<'_> {
    fn drop(&mut self) {
        self.0.listing.send_replace(false);
    }
}

/// The range a sync lists: explicit, or from the watermark (minus an overlap
/// so records that appeared late are not missed), or a full backfill. It
/// ends, unless told, at RingCentral's "now": its clock stamps the call log
/// and the watermark, and ours may be off (signing in tells the offset).
pub async fn range(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    overlap: Duration,
    backfill: Duration,
) -> anyhow::Result<(DateTime<Utc>, DateTime<Utc>)> {
    let to = match to {
        Some(to) => to,
        None => {
            client
                .authenticate()
                .await
                .context("signing in to RingCentral")?;
            client.server_clock().now()
        }
    };
    let from = match from {
        Some(f) => f,
        None => match catalog.watermark(WATERMARK).await? {
            Some(w) => w - overlap,
            None => to - backfill,
        },
    };
    anyhow::ensure!(from < to, "the range is empty: {from} is not before {to}");
    Ok((from, to))
}

/// Lists `[from, to]` into the ledger and enqueues downloads.
pub async fn list(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    progress: &Progress,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut start = from;
    while start < to {
        let end = (start + Duration::days(WINDOW)).min(to);
        let query = rc_api::CallLogQuery::new(start, end);
        // What one page brought (records ready together), written in one
        // transaction of at most LEDGER_BATCH records.
        let mut pages = std::pin::pin!(
            client
                .list_company_call_log_records(&query)
                .try_ready_chunks(LEDGER_BATCH)
        );
        while let Some(chunk) = pages.next().await {
            let (recs, failed) = match chunk {
                Ok(recs) => (recs, None),
                Err(e) => (e.0, Some(e.1)),
            };
            for w in ledger::records(catalog, &recs, Source::Sync).await? {
                report.records += 1;
                report.new_records += u64::from(w.new_record);
                report.recordings += u64::from(w.recordings);
                progress.records.fetch_add(1, Ordering::Relaxed);
                if w.enqueued > 0 {
                    progress
                        .enqueued
                        .fetch_add(u64::from(w.enqueued), Ordering::Relaxed);
                }
            }
            // One wake-up per batch for workers waiting on an empty queue.
            progress.listing.send_modify(|_| {});
            if let Some(e) = failed {
                return Err(
                    anyhow::Error::new(e).context(format!("listing the call log {start} .. {end}"))
                );
            }
        }
        start = end;
    }
    report.from = Some(from);
    report.to = Some(to);
    Ok(())
}

/// A whole sync of `[from, to]`: lists it and downloads at the same time,
/// advances the watermark once the listing is complete, and returns when
/// the listing is done and no download is due within `max_wait`. A listing
/// that fails still lets the workers finish what it enqueued before its
/// error is returned.
pub async fn backup(
    downloader: &Downloader,
    window: (DateTime<Utc>, DateTime<Utc>),
    workers: usize,
    max_wait: Duration,
    progress: Arc<Progress>,
    report: &mut Report,
) -> anyhow::Result<()> {
    let (from, to) = window;
    let mut drained = Report::default();
    let listing = Listing::start(&progress);
    let listed = async {
        let _listing = listing;
        list(
            &downloader.client,
            &downloader.catalog,
            from,
            to,
            &progress,
            report,
        )
        .await?;
        downloader
            .catalog
            .advance_watermark(WATERMARK, to)
            .await
            .context("saving the watermark")
    };
    let (listed, drain) = tokio::join!(
        listed,
        drain(
            downloader,
            workers,
            max_wait,
            progress.clone(),
            &mut drained
        )
    );
    report.add_downloads(&drained);
    listed?;
    drain
}

impl Report {
    /// Adds the download outcomes of `other`.
    fn add_downloads(&mut self, other: &Report) {
        self.stored += other.stored;
        self.bytes += other.bytes;
        self.already_stored += other.already_stored;
        self.not_ready += other.not_ready;
        self.gone += other.gone;
        self.failed += other.failed;
        self.retried += other.retried;
    }
}

/// Runs `workers` download workers (a draining [`crate::runner::Runner`])
/// until no download is due within `max_wait` and the listing, if one is
/// running, is done (transient failures retry within the run; recordings
/// not available for longer are left for the next sync), and adds their
/// outcomes to `report`.
pub async fn drain(
    downloader: &Downloader,
    workers: usize,
    max_wait: Duration,
    progress: Arc<Progress>,
    report: &mut Report,
) -> anyhow::Result<()> {
    sweep_partials(downloader, LEASE).await;
    let handler = Arc::new(drain::Downloads::new(downloader.clone(), progress.clone()));
    let runner = crate::runner::Runner {
        catalog: downloader.catalog.clone(),
        holder: format!("sync:{}:{}", hostname(), std::process::id()),
        settings: crate::runner::Settings {
            workers,
            lease: LEASE,
            poll_interval: StdDuration::from_secs(2),
            shutdown_grace: StdDuration::ZERO,
            backoff: downloader.backoff,
        },
        kinds: crate::runner::fixed_kinds(&DOWNLOADS),
        wake: Default::default(),
        handler: handler.clone(),
        stop: Default::default(),
    };
    let ran = runner
        .run(crate::runner::Mode::Drain {
            max_wait,
            producing: Some(progress.listing.subscribe()),
        })
        .await;
    report.add_downloads(&handler.report());
    ran?;
    sweep_partials_if_idle(downloader).await
}

/// Removes the staged partial blobs a killed process left behind, once no
/// job is leased: partial files of a killed run are younger than its lease
/// when the next run starts, and once nothing is leased nobody is writing
/// them. Run at the end of `sync` and of each safety-net sync of `serve`.
pub async fn sweep_partials_if_idle(downloader: &Downloader) -> anyhow::Result<()> {
    if downloader.catalog.counts_by_state().await?.leased == 0 {
        sweep_partials(downloader, STALE_PARTIAL).await;
    }
    Ok(())
}

/// Removes staged partial blobs a killed process left behind.
async fn sweep_partials(downloader: &Downloader, older_than: StdDuration) {
    match downloader.blobs.remove_stale_partials(older_than).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            removed = n,
            "removed partial files left by an interrupted run"
        ),
        Err(e) => tracing::warn!(error = %e, "sweeping partial files failed"),
    }
}

fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}
