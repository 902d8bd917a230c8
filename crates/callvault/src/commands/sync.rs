//! `callvault sync [--from DATE] [--to DATE] [--plan] [--json]`: back up
//! every recording in range, exactly once, verified by sha256.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use clap::Args;

use crate::configuration::{RcArgs, StoreArgs};
use crate::gateway::{COMMAND_LEASE, CommandHold};
use crate::sync::{self, Downloader, Progress, Report};

/// Arguments of `callvault sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// RingCentral settings.
    #[command(flatten)]
    pub rc: RcArgs,
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Start of the range (RFC 3339 or YYYY-MM-DD); default: the last
    /// watermark minus the overlap, or a full backfill.
    #[arg(long, value_parser = parse_time)]
    pub from: Option<DateTime<Utc>>,
    /// End of the range (RFC 3339 or YYYY-MM-DD); default: now.
    #[arg(long, value_parser = parse_time)]
    pub to: Option<DateTime<Utc>>,
    /// Days a first backfill reaches back (RingCentral keeps call logs ~12 months).
    #[arg(long, default_value_t = 366)]
    pub backfill_days: i64,
    /// Minutes re-listed before the watermark, so records that appear late are caught.
    #[arg(long, default_value_t = 120)]
    pub overlap_minutes: i64,
    /// Parallel downloads.
    #[arg(long, default_value_t = 4)]
    pub workers: usize,
    /// Seconds to wait within this run for downloads due soon (retries, fresh recordings).
    #[arg(long, default_value_t = 60)]
    pub max_wait: i64,
    /// Only count what is in range and estimate the time; download and
    /// write nothing.
    #[arg(long)]
    pub plan: bool,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// Parses `2026-11-01` or an RFC 3339 time.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        .map_err(|_| format!("{s:?} is neither YYYY-MM-DD nor an RFC 3339 time"))
}

/// Runs the sync and returns its report; `Err` only when it could not run.
///
/// It holds the RingCentral gateway for its whole run (plan or backup), so
/// it never spends the rate-limit budget beside a running `serve` or
/// `worker` ([`crate::gateway`]).
pub async fn run(args: &SyncArgs) -> anyhow::Result<Report> {
    let catalog = crate::app::catalog(&args.store).await?;
    run_over(args, &catalog, None).await
}

/// [`run`] over the process's already open `catalog` and, when given,
/// `blobs` (which must be the ones `args.store` names; without it a backup
/// opens `args.store`'s, and a plan, which writes nothing, opens none):
/// `demo` syncs, checks and serves over one pool and one store.
pub async fn run_over(
    args: &SyncArgs,
    catalog: &vault::Catalog,
    blobs: Option<&vault::BlobStore>,
) -> anyhow::Result<Report> {
    let client = crate::app::rc_client(&args.rc)?;
    let command = if args.plan { "sync --plan" } else { "sync" };
    let hold = CommandHold::take(catalog, command, COMMAND_LEASE + COMMAND_LEASE / 2).await?;
    let result = run_holding_the_gateway(args, client, catalog, blobs).await;
    hold.release().await;
    result
}

async fn run_holding_the_gateway(
    args: &SyncArgs,
    client: rc_api::RcClient,
    catalog: &vault::Catalog,
    blobs: Option<&vault::BlobStore>,
) -> anyhow::Result<Report> {
    let catalog = catalog.clone();
    let (from, to) = sync::range(
        &client,
        &catalog,
        args.from,
        args.to,
        Duration::minutes(args.overlap_minutes),
        Duration::days(args.backfill_days),
    )
    .await?;
    if args.plan {
        return run_plan(&client, &catalog, (from, to), args.json).await;
    }
    let blobs = match blobs {
        Some(blobs) => blobs.clone(),
        None => crate::app::writable_blobs(&args.store).await?,
    };
    // The status page shows our rate-limit state while we run.
    let stop_publishing = tokio_util::sync::CancellationToken::new();
    let _stop_on_error = stop_publishing.clone().drop_guard();
    let publisher = crate::rate_snapshot::spawn_publisher(
        catalog.clone(),
        client.scheduler().clone(),
        "sync",
        stop_publishing.clone(),
    );
    let progress = Arc::new(Progress::default());
    let display = Display::start(progress.clone(), args.json);
    let mut report = Report::default();

    let downloader = Downloader {
        client: client.clone(),
        catalog: catalog.clone(),
        blobs,
        layout: vault::KeyLayout::default(),
        schedule: rc_api::ladder::Ladder::recording_content(),
        backoff: crate::jobs::Backoff::DEFAULT,
    };
    tracing::info!(%from, %to, "listing the call log and downloading");
    sync::backup(
        &downloader,
        (from, to),
        args.workers,
        Duration::seconds(args.max_wait),
        progress,
        &mut report,
    )
    .await?;
    display.finish();
    stop_publishing.cancel();
    let _ = publisher.await;
    if let Err(e) = client.revoke().await {
        tracing::warn!(error = %e, "revoking the session token failed");
    }
    Ok(report)
}

/// Prints the report, as JSON or as lines, and says whether anything failed for good.
pub fn print_report(report: &Report, json: bool) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        println!(
            "listed {} call records ({} new) naming {} recordings; stored {} ({:.1} MB), {} already stored, \
             {} not available yet, {} gone at the source, {} failed",
            report.records,
            report.new_records,
            report.recordings,
            report.stored,
            report.bytes as f64 / 1e6,
            report.already_stored,
            report.not_ready,
            report.gone,
            report.failed
        );
    }
    Ok(report.failed == 0)
}

/// `sync --plan`: lists the range and prints what a sync would download and
/// how long that takes, writing nothing ([`sync::plan`]). The report holds
/// the range and the listing's counts.
async fn run_plan(
    client: &rc_api::RcClient,
    catalog: &vault::Catalog,
    (from, to): (DateTime<Utc>, DateTime<Utc>),
    json: bool,
) -> anyhow::Result<Report> {
    // Waiting downloads already in the ledger, read before the listing.
    let counts = catalog.recording_counts().await?;
    let progress = Arc::new(Progress::default());
    let display = Display::start(progress.clone(), json);
    tracing::info!(%from, %to, "listing the call log (plan: nothing is written)");
    let plan = sync::plan::plan(client, catalog, from, to, &progress).await;
    display.finish();
    let plan = plan?;
    let report = Report {
        from: Some(from),
        to: Some(to),
        records: plan.records,
        new_records: plan.new_records,
        recordings: plan.recordings,
        ..Report::default()
    };
    let to_download = counts.listed + counts.not_ready + counts.failed + plan.new_recordings;
    print_plan(client, &report, to_download);
    Ok(report)
}

/// Prints the plan's line: what is in range, what to download, how long.
fn print_plan(client: &rc_api::RcClient, report: &Report, to_download: u64) {
    // The whole backup path (list pages + content) shares the Heavy group.
    let heavy = client
        .rate_limit_metrics()
        .into_iter()
        .find(|m| m.group == rc_api::RateGroup::heavy());
    let (limit, window) = heavy
        .and_then(|m| Some((m.limit?, m.window?)))
        .unwrap_or((10, StdDuration::from_secs(60)));
    let secs = (to_download as f64 / f64::from(limit.max(1))) * window.as_secs_f64();
    println!(
        "{} call records and {} recordings in range; {} recordings to download; \
         at {} requests per {} s that takes about {}",
        report.records,
        report.recordings,
        to_download,
        limit,
        window.as_secs(),
        human(secs)
    );
}

fn human(secs: f64) -> String {
    let s = secs.max(0.0).round() as u64;
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{:.1} h", s as f64 / 3600.0),
        _ => format!("{:.1} days", s as f64 / 86_400.0),
    }
}

/// Progress bars on a terminal; periodic log lines otherwise.
struct Display {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Display {
    fn start(progress: Arc<Progress>, quiet: bool) -> Display {
        let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
        let tty = std::io::stderr().is_terminal() && !quiet;
        tokio::spawn(async move {
            let bar = tty.then(|| {
                let b = indicatif::ProgressBar::new(0);
                b.set_style(
                    indicatif::ProgressStyle::with_template(
                        "{spinner} {msg} [{bar:30}] {pos}/{len} recordings, eta {eta}",
                    )
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                b
            });
            let mut tick =
                tokio::time::interval(StdDuration::from_millis(if tty { 200 } else { 10_000 }));
            loop {
                tokio::select! {
                    _ = &mut rx => break,
                    _ = tick.tick() => {}
                }
                let records = progress.records.load(Ordering::Relaxed);
                let stored = progress.stored.load(Ordering::Relaxed);
                let finished = progress.finished.load(Ordering::Relaxed);
                let enqueued = progress.enqueued.load(Ordering::Relaxed);
                let mb = progress.bytes.load(Ordering::Relaxed) as f64 / 1e6;
                match &bar {
                    Some(b) => {
                        b.set_length(enqueued);
                        b.set_position(finished.min(enqueued));
                        b.set_message(format!(
                            "{records} records listed, {stored} stored, {mb:.1} MB"
                        ));
                    }
                    None if !quiet => {
                        tracing::info!(records, stored, finished, enqueued, mb, "sync progress")
                    }
                    None => {}
                }
            }
            if let Some(b) = bar {
                b.finish_and_clear();
            }
        });
        Display { stop: Some(tx) }
    }

    fn finish(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
    }
}
