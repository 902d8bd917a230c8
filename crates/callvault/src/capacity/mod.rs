//! Capacity planning: does the call volume fit RingCentral's Heavy budget?
//!
//! Every call-log read and every recording download is one Heavy request
//! (10 a minute per user and app by default), the one resource CallVault
//! cannot buy more of. An admin needs to see, before the backlog is days
//! deep, whether the offered load fits it.
//!
//! # Brief overview
//! * [`crate::live::capacity_watch`] runs in the live gateway (the `rc-gateway` singleton, the only
//!   process that spends the budget, so the only one that can measure it):
//!   every [`CapacityConfig::sample_every`] it takes a [`trend::Sample`]
//!   (backlog, recordings known, its Heavy requests and looks so far), turns
//!   the last [`CapacityConfig::window`] into [`trend::Figures`], decides
//!   whether the backlog has grown for longer than
//!   [`CapacityConfig::degraded_after`] (degraded), publishes the
//!   [`Report`] into the catalog setting [`REPORT_SETTING`], and hands
//!   transitions to [`crate::alerts`].
//! * [`Capacity::read`] is what every reader shows (`/status`,
//!   `callvault status --json`, `/metrics`, `/healthz`): the backlog read
//!   from the catalog now, plus the gateway's last report while it is fresh.
//!   The report is in the catalog, not in memory, for the reason the rate
//!   snapshot is ([`crate::rate_snapshot`]): the web server answering may
//!   be another process than the gateway.
//!
//! The backlog is the recordings the ledger knows and does not hold yet
//! ([`vault::Backlog`]: `listed` or `not_ready`). Both are work the budget
//! owes: each still needs at least one download. `failed` ones wait for a
//! person and `gone` ones for nothing, so counting them would make the
//! backlog look stuck when the budget is fine. Sessions whose call-log
//! record no look has listed yet are not counted: their recordings join the
//! backlog at the next look, which takes at most one Heavy slot in five, so
//! they are minutes behind at worst.
//!
//! # Does not
//! Call RingCentral, or change any job: it only measures and tells.

pub mod trend;

use std::time::Duration;

use serde::{Deserialize, Serialize};
use vault::Catalog;

use trend::Figures;

/// Catalog setting holding the gateway's latest [`Report`], as JSON.
pub const REPORT_SETTING: &str = "capacity.report";

/// How capacity is measured and when a growing backlog counts as degraded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapacityConfig {
    /// How often the gateway samples.
    pub sample_every: Duration,
    /// How far back the rates and the trend look. Long enough to hold
    /// several call-log looks (each lists a batch of recordings at once).
    pub window: Duration,
    /// How long the backlog may keep growing before the node reports
    /// degraded (`/healthz`, the alert webhook).
    pub degraded_after: Duration,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig {
            sample_every: Duration::from_secs(30),
            window: Duration::from_secs(15 * 60),
            degraded_after: Duration::from_secs(30 * 60),
        }
    }
}

impl CapacityConfig {
    /// Production's settings scaled to `pace` per step, for tests and the
    /// demo (a sample every 5 steps, a window of 75); `degraded_after` is
    /// kept, since tests set it on its own.
    pub fn paced(pace: Duration) -> CapacityConfig {
        CapacityConfig {
            sample_every: (pace * 5).max(Duration::from_millis(100)),
            window: (pace * 75).max(Duration::from_secs(1)),
            ..CapacityConfig::default()
        }
    }

    /// Samples kept at most: the window's worth, plus slack for a late tick.
    pub fn max_samples(&self) -> usize {
        let per_window = self.window.as_secs_f64() / self.sample_every.as_secs_f64().max(0.001);
        (per_window.ceil() as usize).saturating_add(2).min(10_000)
    }

    /// The shortest span of samples the figures are computed from: half the
    /// window.
    pub fn min_span(&self) -> Duration {
        self.window / 2
    }

    /// How long the backlog may stop growing before a growth run ends
    /// ([`trend::GrowthRun`]): half the window. Far longer than the
    /// sawtooth of batched looks (seconds to a minute apart), short enough
    /// that one burst (a safety-net sync listing an outage's calls at
    /// once), whose fitted slope stays positive for about half a window,
    /// ends its run after about one window, well before `degraded_after`.
    pub fn growth_grace(&self) -> Duration {
        self.window / 2
    }
}

/// What the gateway publishes after each sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The window the figures look back over, in seconds.
    pub window_secs: u64,
    /// The figures, once the samples span half the window.
    pub figures: Option<Figures>,
    /// How long the backlog has grown without a break, in seconds.
    pub growing_for_secs: Option<u64>,
    /// After how long growing counts as degraded, in seconds.
    pub degraded_after_secs: u64,
    /// Whether the backlog has grown for longer than that.
    pub degraded: bool,
    /// After this age (the catalog's clock) readers ignore the report: its
    /// gateway has stopped sampling.
    pub valid_for_secs: u64,
}

impl Report {
    /// Whether the offered load exceeds the budget.
    pub fn exceeded(&self) -> bool {
        self.figures.as_ref().is_some_and(Figures::exceeded)
    }

    /// The sentence for admins, when exceeded.
    pub fn sentence(&self) -> Option<String> {
        self.figures.as_ref().and_then(Figures::sentence)
    }

    /// Why the node is degraded, in one line (no ids, no URLs), or `None`.
    pub fn degraded_reason(&self) -> Option<String> {
        if !self.degraded {
            return None;
        }
        let minutes = self.growing_for_secs.unwrap_or(0).div_ceil(60);
        Some(format!(
            "the backlog of recordings has grown for {minutes} min (limit {} min)",
            self.degraded_after_secs.div_ceil(60)
        ))
    }
}

/// Stores `report` (a failure is logged, not returned: a missed report only
/// makes the readers' figures a sample older).
pub async fn publish(catalog: &Catalog, report: &Report) {
    crate::published::publish(catalog, REPORT_SETTING, report).await;
}

/// The gateway's latest report while it is fresh (an unreadable or stale
/// one counts as none).
pub async fn latest(catalog: &Catalog) -> Result<Option<Report>, vault::CatalogError> {
    Ok(catalog
        .setting_with_age(REPORT_SETTING)
        .await?
        .and_then(|(json, age)| {
            let report: Report = serde_json::from_str(&json).ok()?;
            (age <= Duration::from_secs(report.valid_for_secs)).then_some(report)
        }))
}

/// What `/status`, `callvault status --json` and `/metrics` show. Field
/// names are a stable JSON shape for scripts.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Capacity {
    /// Recordings owed (listed or not ready).
    pub backlog: u64,
    /// How long the oldest of them has been known, in seconds.
    pub oldest_waiting_secs: Option<u64>,
    /// Heavy requests sent per minute over the window.
    pub heavy_used_per_minute: Option<f64>,
    /// Heavy requests RingCentral allows per minute.
    pub heavy_allowed_per_minute: Option<f64>,
    /// Heavy requests per minute the offered load needs.
    pub heavy_needed_per_minute: Option<f64>,
    /// Recordings arriving per minute.
    pub recordings_arriving_per_minute: Option<f64>,
    /// Backlog trend, recordings per hour (least-squares slope).
    pub backlog_growth_per_hour: Option<f64>,
    /// How long the backlog has grown without a break, in seconds.
    pub growing_for_secs: Option<u64>,
    /// The window the figures look back over, in seconds (`None`: no live
    /// gateway measures).
    pub window_secs: Option<u64>,
    /// Whether the offered load exceeds the budget.
    pub exceeded: bool,
    /// Whether the backlog has grown for longer than allowed.
    pub degraded: bool,
    /// The plain sentence, when exceeded.
    pub warning: Option<String>,
}

impl Capacity {
    /// The backlog from the catalog now, and the gateway's fresh report.
    pub async fn read(catalog: &Catalog) -> Result<Capacity, vault::CatalogError> {
        let backlog = catalog.backlog().await?;
        let oldest_waiting_secs = match backlog.oldest_listed_at {
            Some(at) => {
                let now = catalog.now().await?;
                Some(u64::try_from((now - at).num_seconds()).unwrap_or(0))
            }
            None => None,
        };
        let report = latest(catalog).await?;
        Ok(Capacity::of(
            backlog.recordings,
            oldest_waiting_secs,
            report.as_ref(),
        ))
    }

    /// The view of `backlog` and `report`.
    pub fn of(backlog: u64, oldest_waiting_secs: Option<u64>, report: Option<&Report>) -> Capacity {
        let figures = report.and_then(|r| r.figures.as_ref());
        Capacity {
            backlog,
            oldest_waiting_secs,
            heavy_used_per_minute: figures.map(|f| f.heavy_used_per_minute),
            heavy_allowed_per_minute: figures.and_then(|f| f.heavy_allowed_per_minute),
            heavy_needed_per_minute: figures.map(|f| f.heavy_needed_per_minute),
            recordings_arriving_per_minute: figures.map(|f| f.recordings_arriving_per_minute),
            backlog_growth_per_hour: figures.map(|f| f.backlog_growth_per_hour),
            growing_for_secs: report.and_then(|r| r.growing_for_secs),
            window_secs: report.map(|r| r.window_secs),
            exceeded: report.is_some_and(Report::exceeded),
            degraded: report.is_some_and(|r| r.degraded),
            warning: report.and_then(Report::sentence),
        }
    }
}
