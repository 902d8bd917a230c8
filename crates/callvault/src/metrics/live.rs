//! The live flow's counters and histograms: the receiver and the workers
//! update them, `/metrics` ([`crate::health`]) reads them.

use std::sync::atomic::{AtomicBool, AtomicU64};

use super::{Histogram, SECONDS_BOUNDS, SIZE_BOUNDS};

/// Counters and histograms of the live flow, for `/metrics`.
#[derive(Debug)]
pub struct LiveMetrics {
    /// Notifications committed (new).
    pub notifications_received: AtomicU64,
    /// Notifications that were duplicates of one already committed.
    pub notifications_duplicate: AtomicU64,
    /// Requests refused (bad or missing token, unparsable, too large,
    /// failed commit).
    pub notifications_rejected: AtomicU64,
    /// Requests answered 503 because the commit queue stayed full or the
    /// commit took longer than [`crate::live::LiveConfig::commit_timeout`].
    pub notifications_shed: AtomicU64,
    /// Validation handshakes answered.
    pub validations: AtomicU64,
    /// Session jobs enqueued by departures (including absorbed duplicates).
    pub session_triggers: AtomicU64,
    /// Batched call-log looks run by this process (each one Heavy request
    /// or more), for capacity planning.
    pub looks: AtomicU64,
    /// Whether the last subscription check (by this process, as the
    /// gateway) found or made an `Active` subscription (`/healthz` reads
    /// the state the gateway stores in the catalog instead, so that every
    /// process answers the same).
    pub subscription_active: AtomicBool,
    /// Duration of each group commit.
    pub commit_seconds: Histogram,
    /// Notifications per group commit.
    pub commit_batch_size: Histogram,
    /// Duration of each `download` job.
    pub download_seconds: Histogram,
    /// Duration of each `stitch` job.
    pub stitch_seconds: Histogram,
}

impl Default for LiveMetrics {
    fn default() -> Self {
        LiveMetrics {
            notifications_received: AtomicU64::new(0),
            notifications_duplicate: AtomicU64::new(0),
            notifications_rejected: AtomicU64::new(0),
            notifications_shed: AtomicU64::new(0),
            validations: AtomicU64::new(0),
            session_triggers: AtomicU64::new(0),
            looks: AtomicU64::new(0),
            subscription_active: AtomicBool::new(false),
            commit_seconds: Histogram::new(SECONDS_BOUNDS),
            commit_batch_size: Histogram::new(SIZE_BOUNDS),
            download_seconds: Histogram::new(SECONDS_BOUNDS),
            stitch_seconds: Histogram::new(SECONDS_BOUNDS),
        }
    }
}
