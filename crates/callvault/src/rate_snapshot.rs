//! The rate-limit state of the process that talks to RingCentral, published
//! into the catalog's settings so that the status page (often served by
//! another process) can show it and estimate how long the sync will take.
//!
//! Why a snapshot in the catalog: the rate-limit scheduler lives in memory
//! of the `sync` command or of the live gateway; the web server has no line
//! to either, but every process shares the catalog.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use vault::Catalog;

/// Setting that holds the latest snapshot, as JSON.
pub const SNAPSHOT_SETTING: &str = "ratelimit.snapshot";

/// How often a running sync publishes its snapshot.
pub const PUBLISH_EVERY: Duration = Duration::from_secs(5);

/// One rate-limit group as last seen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupState {
    /// `heavy`, `medium`, `light`, `auth`.
    pub group: String,
    /// Requests allowed per window (from headers, else the documented default).
    pub limit: Option<u32>,
    /// The window in seconds.
    pub window_secs: Option<u64>,
    /// Last `X-Rate-Limit-Remaining` seen.
    pub remaining: Option<u32>,
    /// Requests sent in this group by the publishing process.
    pub requests: u64,
    /// Total time its requests waited for a slot, in ms.
    pub waited_ms: u64,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Time left in a penalty, in ms, when the snapshot was taken.
    pub blocked_for_ms: Option<u64>,
}

impl GroupState {
    /// Requests per second this group allows, if known.
    pub fn per_second(&self) -> Option<f64> {
        match (self.limit, self.window_secs) {
            (Some(limit), Some(w)) if w > 0 => Some(f64::from(limit) / w as f64),
            _ => None,
        }
    }
}

/// What [`publish`] stores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When it was taken (ms since the epoch, UTC).
    pub at_ms: i64,
    /// Which process: `sync` or the gateway's holder id.
    pub source: String,
    /// Whether the live subscription was active at the last check (`None`:
    /// this process does not keep one).
    pub subscription_active: Option<bool>,
    /// The groups, by name.
    pub groups: Vec<GroupState>,
}

impl Snapshot {
    /// A snapshot of `scheduler` now.
    pub fn of(
        scheduler: &rc_api::Scheduler,
        source: &str,
        subscription_active: Option<bool>,
    ) -> Snapshot {
        let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Snapshot {
            at_ms: chrono::Utc::now().timestamp_millis(),
            source: source.to_owned(),
            subscription_active,
            groups: scheduler
                .metrics()
                .into_iter()
                .map(|g| GroupState {
                    group: g.group.to_string(),
                    limit: g.limit,
                    window_secs: g.window.map(|w| w.as_secs()),
                    remaining: g.remaining,
                    requests: g.requests,
                    waited_ms: ms(g.waited),
                    rate_limited: g.rate_limited,
                    blocked_for_ms: g.blocked_for.map(ms),
                })
                .collect(),
        }
    }
}

/// Stores `snapshot` (a failure is logged, not returned: the status page is
/// not worth stopping a sync for).
pub async fn publish(catalog: &Catalog, snapshot: &Snapshot) {
    crate::published::publish(catalog, SNAPSHOT_SETTING, snapshot).await;
}

/// The latest snapshot, if any process published one (an unreadable one
/// counts as none).
pub async fn latest(catalog: &Catalog) -> Result<Option<Snapshot>, vault::CatalogError> {
    Ok(catalog
        .setting(SNAPSHOT_SETTING)
        .await?
        .and_then(|json| serde_json::from_str(&json).ok()))
}

/// Publishes `scheduler`'s state every [`PUBLISH_EVERY`] until `stop` is
/// cancelled, then once more; for the `sync` command.
pub fn spawn_publisher(
    catalog: Catalog,
    scheduler: rc_api::Scheduler,
    source: &'static str,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            publish(&catalog, &Snapshot::of(&scheduler, source, None)).await;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = tokio::time::sleep(PUBLISH_EVERY) => {}
            }
        }
        publish(&catalog, &Snapshot::of(&scheduler, source, None)).await;
    })
}
