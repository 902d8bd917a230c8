//! Per (token owner, app, group) sliding-window rate limits with the penalty
//! trap.
//!
//! Time base: **real elapsed time** (`std::time::Instant`), not the sandbox
//! clock. Clients back off with real sleeps (`Retry-After`), so an
//! accelerated or frozen sandbox clock must not shorten or stretch them;
//! tests use 1–2 s windows instead ([`RateLimitConfig::window_secs`]).
//!
//! Rules: at most `limit` requests of a group in any `window_secs`; the
//! request over the limit is refused with 429 and starts a penalty of
//! `penalty_secs`; **every request during the penalty is refused and
//! restarts it**. Refused requests do not count towards the window.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::identity::TokenOwner;

/// Limits per group, window and penalty.
#[derive(Debug, Clone)]
pub struct RateLimitConfig {
    /// Sliding window length in seconds (production 60).
    pub window_secs: u64,
    /// Penalty length in seconds (production 60).
    pub penalty_secs: u64,
    /// Heavy group limit per window (production 10).
    pub heavy: u32,
    /// Medium group limit (production 40).
    pub medium: u32,
    /// Light group limit (production 50).
    pub light: u32,
    /// Auth group limit (production 5).
    pub auth: u32,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        RateLimitConfig {
            window_secs: 60,
            penalty_secs: 60,
            heavy: 10,
            medium: 40,
            light: 50,
            auth: 5,
        }
    }
}

impl RateLimitConfig {
    /// The limit of `group` per window.
    pub fn limit(&self, group: Group) -> u32 {
        match group {
            Group::Heavy => self.heavy,
            Group::Medium => self.medium,
            Group::Light => self.light,
            Group::Auth => self.auth,
        }
    }
}

/// The documented API rate-limit groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Group {
    /// Call log, sync, recording metadata and content.
    Heavy,
    /// Subscription create/update/delete.
    Medium,
    /// Subscription get/list/renew, telephony session GET.
    Light,
    /// Token and revoke.
    Auth,
}

impl Group {
    /// The `X-Rate-Limit-Group` value (lower case, as in the docs example).
    pub fn header_value(self) -> &'static str {
        match self {
            Group::Heavy => "heavy",
            Group::Medium => "medium",
            Group::Light => "light",
            Group::Auth => "auth",
        }
    }
}

/// The outcome of counting one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Admitted; `remaining` requests are left in the current window.
    Allowed {
        /// Limit per window.
        limit: u32,
        /// Left after this request.
        remaining: u32,
        /// Window length in seconds.
        window_secs: u64,
    },
    /// Refused; wait `retry_after_secs` (real time) before the next request of the group.
    Limited {
        /// Limit per window.
        limit: u32,
        /// Window length in seconds.
        window_secs: u64,
        /// Penalty length in seconds (restarted by this request).
        retry_after_secs: u64,
    },
}

#[derive(Debug, Default)]
struct Bucket {
    hits: VecDeque<Instant>,
    penalty_until: Option<Instant>,
}

/// Shared limiter state.
#[derive(Debug, Default)]
pub struct RateLimiter {
    buckets: Mutex<HashMap<(TokenOwner, Group), Bucket>>,
    /// Requests answered 429, for tests that must draw none.
    refused: std::sync::atomic::AtomicU64,
}

impl RateLimiter {
    /// Counts one request of `owner` in `group` now.
    pub fn check(&self, cfg: &RateLimitConfig, owner: &TokenOwner, group: Group) -> Decision {
        let decision = self.check_at(cfg, owner, group, Instant::now());
        if matches!(decision, Decision::Limited { .. }) {
            self.refused
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        decision
    }

    /// How many requests were answered 429 so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// [`RateLimiter::check`] at a given instant (for unit tests).
    pub fn check_at(
        &self,
        cfg: &RateLimitConfig,
        owner: &TokenOwner,
        group: Group,
        now: Instant,
    ) -> Decision {
        let limit = cfg.limit(group);
        let window = Duration::from_secs(cfg.window_secs);
        let penalty = Duration::from_secs(cfg.penalty_secs);
        let limited = Decision::Limited {
            limit,
            window_secs: cfg.window_secs,
            retry_after_secs: cfg.penalty_secs,
        };
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = match buckets.get_mut(&(owner.clone(), group)) {
            Some(b) => b,
            None => buckets.entry((owner.clone(), group)).or_default(),
        };
        if bucket.penalty_until.is_some_and(|until| now < until) {
            bucket.penalty_until = Some(now + penalty);
            return limited;
        }
        bucket.penalty_until = None;
        while bucket
            .hits
            .front()
            .is_some_and(|&t| now.saturating_duration_since(t) >= window)
        {
            bucket.hits.pop_front();
        }
        let used = u32::try_from(bucket.hits.len()).unwrap_or(u32::MAX);
        if used >= limit {
            bucket.penalty_until = Some(now + penalty);
            return limited;
        }
        bucket.hits.push_back(now);
        Decision::Allowed {
            limit,
            remaining: limit - used - 1,
            window_secs: cfg.window_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner() -> TokenOwner {
        TokenOwner {
            extension_id: 1,
            client_id: "c".into(),
        }
    }

    fn cfg() -> RateLimitConfig {
        RateLimitConfig {
            window_secs: 10,
            penalty_secs: 5,
            heavy: 2,
            ..Default::default()
        }
    }

    #[test]
    fn the_request_over_the_limit_is_refused_and_the_window_slides() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        let c = cfg();
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0),
            Decision::Allowed { remaining: 1, .. }
        ));
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(4)),
            Decision::Allowed { remaining: 0, .. }
        ));
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(5)),
            Decision::Limited { .. }
        ));
        // Penalty over at 10 s, and the first hit has left the window.
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(11)),
            Decision::Allowed { remaining: 0, .. }
        ));
    }

    #[test]
    fn every_request_during_the_penalty_restarts_it() {
        let l = RateLimiter::default();
        let t0 = Instant::now();
        let c = RateLimitConfig { heavy: 0, ..cfg() };
        for s in [0, 4, 8, 12] {
            assert!(matches!(
                l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(s)),
                Decision::Limited { .. }
            ));
        }
        let c = cfg();
        // Still trapped 4 s after the last refused request ...
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(16)),
            Decision::Limited { .. }
        ));
        // ... and free once a full penalty passes in silence.
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0 + Duration::from_secs(22)),
            Decision::Allowed { .. }
        ));
    }

    #[test]
    fn groups_are_independent() {
        let l = RateLimiter::default();
        let c = RateLimitConfig { heavy: 0, ..cfg() };
        let t0 = Instant::now();
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Heavy, t0),
            Decision::Limited { .. }
        ));
        assert!(matches!(
            l.check_at(&c, &owner(), Group::Light, t0),
            Decision::Allowed { .. }
        ));
    }
}
