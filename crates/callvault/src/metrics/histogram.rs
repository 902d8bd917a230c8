//! A fixed-bucket histogram updated with atomics, and the bucket bounds
//! CallVault's series use.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A fixed-bucket histogram updated with atomics (no lock on the hot path).
#[derive(Debug)]
pub struct Histogram {
    /// Upper bounds of the buckets, ascending (`+Inf` is implicit).
    pub(super) bounds: &'static [f64],
    /// Observations per bucket (not cumulative); the last slot is `+Inf`.
    counts: Box<[AtomicU64]>,
    /// Sum of observations, in millionths of the unit.
    sum_micros: AtomicU64,
}

/// Bounds for durations in seconds: 1 ms to 10 min.
pub const SECONDS_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    120.0, 300.0, 600.0,
];

/// Bounds for batch sizes.
pub const SIZE_BOUNDS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];

/// The counts of a [`Histogram`] at one moment, for the writer.
pub(super) struct Snapshot {
    /// Observations per bucket (not cumulative), `+Inf` last.
    pub(super) buckets: Vec<u64>,
    /// All observations.
    pub(super) count: u64,
    /// Sum of the observations.
    pub(super) sum: f64,
}

impl Histogram {
    /// An empty histogram over `bounds` (ascending).
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    /// Records one observation (negative or NaN values count as 0).
    pub fn observe(&self, value: f64) {
        let value = if value.is_finite() && value > 0.0 {
            value
        } else {
            0.0
        };
        let slot = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(slot) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // Saturates at u64::MAX micro-units (about 585,000 years of seconds).
        let micros = (value * 1e6).round() as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// Records a duration in seconds.
    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.counts.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let buckets: Vec<u64> = self
            .counts
            .iter()
            .map(|c| c.load(Ordering::Relaxed))
            .collect();
        Snapshot {
            count: buckets.iter().sum(),
            buckets,
            sum: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}
