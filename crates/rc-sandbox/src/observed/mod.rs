//! What the platform can see of its callers beyond the rate limits, for
//! tests of a cluster that must look like ONE client to RingCentral:
//! - requests by access token, and how many arrived while a request made
//!   with a *different* token was still in flight (each process signs in
//!   on its own, so two tokens in flight at once are two processes talking
//!   at once; the real platform sees exactly this: bearer tokens and the
//!   time each request starts and its response ends);
//! - 429s answered;
//! - how often each recording's content was served to its last byte (a
//!   download cut off by a dying client does not count).
//!
//! Only bearer-authenticated requests are tracked (header or the media
//! host's `access_token` query); the token grant itself is not.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

mod track;

pub use track::track;

/// The counters (see the module doc).
#[derive(Debug, Default)]
pub struct Observed {
    in_flight: Mutex<HashMap<String, usize>>,
    tokens: Mutex<HashSet<String>>,
    requests: AtomicU64,
    overlapping: AtomicU64,
    rate_limited: AtomicU64,
    downloads: Mutex<BTreeMap<String, u32>>,
}

/// A snapshot of [`Observed`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObservedCounts {
    /// Bearer-authenticated requests.
    pub requests: u64,
    /// Distinct access tokens those requests carried.
    pub tokens_used: usize,
    /// Requests that arrived while a request with another token was in flight.
    pub overlapping_requests: u64,
    /// 429 answers.
    pub rate_limited: u64,
    /// Per recording id, content responses served to the last byte.
    pub downloads: BTreeMap<String, u32>,
}

impl Observed {
    /// A snapshot of the counters.
    pub fn counts(&self) -> ObservedCounts {
        ObservedCounts {
            requests: self.requests.load(Ordering::Relaxed),
            tokens_used: lock(&self.tokens).len(),
            overlapping_requests: self.overlapping.load(Ordering::Relaxed),
            rate_limited: self.rate_limited.load(Ordering::Relaxed),
            downloads: lock(&self.downloads).clone(),
        }
    }

    /// Bearer requests in flight now (any token).
    pub fn in_flight(&self) -> usize {
        lock(&self.in_flight).values().sum()
    }

    /// Counts one 429.
    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts one content response of `recording` served to its last byte.
    pub fn downloaded(&self, recording: &str) {
        *lock(&self.downloads)
            .entry(recording.to_owned())
            .or_default() += 1;
    }

    fn begin(&self, token: &str) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        lock(&self.tokens).insert(token.to_owned());
        let mut in_flight = lock(&self.in_flight);
        if in_flight.iter().any(|(t, n)| *n > 0 && t != token) {
            self.overlapping.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("a request with a second access token while another is in flight");
        }
        *in_flight.entry(token.to_owned()).or_default() += 1;
    }

    fn end(&self, token: &str) {
        let mut in_flight = lock(&self.in_flight);
        if let Some(n) = in_flight.get_mut(token) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                in_flight.remove(token);
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
