//! `callvault status [--json]`: where the backup stands — recordings and
//! jobs by state, the last sync watermark, and failures with their reasons.

use chrono::{DateTime, Utc};
use clap::Args;
use serde::Serialize;
use vault::{JobCounts, RecordingCounts, RecordingState};

use crate::capacity::Capacity;
use crate::capacity::trend::rate;
use crate::configuration::StoreArgs;

/// Arguments of `callvault status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Failures (and not-ready recordings) listed at most.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
}

/// A recording that is not stored, with why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The recording.
    pub recording_id: String,
    /// Its state.
    pub state: RecordingState,
    /// Tries so far.
    pub attempts: u32,
    /// The last reason.
    pub reason: Option<String>,
    /// When a not-ready recording is tried again.
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// The status.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// Recordings per state.
    pub recordings: RecordingCounts,
    /// Jobs per state.
    pub jobs: JobCounts,
    /// Everything up to here was listed by the last sync.
    pub last_sync: Option<DateTime<Utc>>,
    /// Recordings failed for good, with reasons.
    pub failed: Vec<Pending>,
    /// Recordings gone at the source, with reasons.
    pub gone: Vec<Pending>,
    /// Recordings waiting for their content.
    pub not_ready: Vec<Pending>,
    /// Whether the call volume fits RingCentral's Heavy budget: the backlog
    /// and, while the live gateway reports, its rates, trend and warning.
    pub capacity: Capacity,
}

/// Reads the status from the catalog.
pub async fn run(args: &StatusArgs) -> anyhow::Result<Status> {
    let catalog = crate::app::catalog(&args.store).await?;
    let pending = |state| {
        let catalog = catalog.clone();
        async move {
            anyhow::Ok(
                catalog
                    .recordings_in_state(state, args.limit, 0)
                    .await?
                    .into_iter()
                    .map(|r| Pending {
                        recording_id: r.id.as_str().to_owned(),
                        state: r.state,
                        attempts: r.attempts,
                        reason: r.last_error,
                        next_attempt_at: r.next_attempt_at,
                    })
                    .collect::<Vec<_>>(),
            )
        }
    };
    Ok(Status {
        recordings: catalog.recording_counts().await?,
        jobs: catalog.counts_by_state().await?,
        last_sync: catalog.watermark(crate::sync::WATERMARK).await?,
        failed: pending(RecordingState::Failed).await?,
        gone: pending(RecordingState::Gone).await?,
        not_ready: pending(RecordingState::NotReady).await?,
        capacity: Capacity::read(&catalog).await?,
    })
}

/// Prints the status as JSON or as lines.
pub fn print(status: &Status, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(status)?);
        return Ok(());
    }
    let r = &status.recordings;
    let j = &status.jobs;
    println!(
        "recordings: {} stored, {} listed, {} not ready, {} gone, {} failed",
        r.stored, r.listed, r.not_ready, r.gone, r.failed
    );
    println!(
        "jobs: {} queued, {} leased, {} retry, {} done, {} dead",
        j.queued, j.leased, j.retry, j.done, j.dead
    );
    match status.last_sync {
        Some(t) => println!("last sync listed up to {t}"),
        None => println!("never synced"),
    }
    let c = &status.capacity;
    match c.oldest_waiting_secs {
        Some(age) => println!(
            "backlog: {} recordings, the oldest known for {age} s",
            c.backlog
        ),
        None => println!("backlog: {} recordings", c.backlog),
    }
    if let (Some(used), Some(allowed), Some(needed)) = (
        c.heavy_used_per_minute,
        c.heavy_allowed_per_minute,
        c.heavy_needed_per_minute,
    ) {
        println!(
            "heavy requests a minute: {} used of {} allowed; {} needed",
            rate(used),
            rate(allowed),
            rate(needed)
        );
    }
    if let Some(warning) = &c.warning {
        println!("{warning}");
    }
    if c.degraded {
        println!("degraded: the backlog has grown for longer than allowed");
    }
    for p in status
        .failed
        .iter()
        .chain(&status.gone)
        .chain(&status.not_ready)
    {
        println!(
            "{} {} (attempts {}): {}",
            p.state.as_str(),
            p.recording_id,
            p.attempts,
            p.reason.as_deref().unwrap_or("-")
        );
    }
    Ok(())
}
