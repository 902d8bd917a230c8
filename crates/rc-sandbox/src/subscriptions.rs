//! Subscriptions with WebHook transport: validation handshake, expiry,
//! renewal and blacklisting (API.md §6).
//!
//! STUB — to be completed by the live owner.

use axum::Router;

use crate::state::AppState;

/// Subscription limits.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// Default `expiresIn` when the request has none (604800).
    pub default_expires_in: i64,
    /// Largest accepted `expiresIn` (315360000 for WebHook).
    pub max_expires_in: i64,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            default_expires_in: 604_800,
            max_expires_in: 315_360_000,
        }
    }
}

/// All subscriptions.
#[derive(Debug, Default)]
pub struct Registry {}

/// `/restapi/v1.0/subscription…` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
}
