//! Per (token owner, app, group) sliding-window rate limits with the penalty
//! trap (API.md §4).
//!
//! STUB — to be completed by the REST owner.

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

/// The API groups of API.md §4.2.
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

/// Shared limiter state.
#[derive(Debug, Default)]
pub struct RateLimiter {}
