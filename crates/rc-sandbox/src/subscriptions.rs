//! Subscriptions with WebHook transport: validation handshake, expiry,
//! renewal, blacklisting and notification delivery.
//!
//! # Routes (platform base; Bearer token; rate-limit group in brackets)
//! - `POST /restapi/v1.0/subscription` [Medium] — create. Body
//!   `{eventFilters, deliveryMode{transportType:"WebHook", address,
//!   verificationToken?}, expiresIn?}`. Before answering, the address gets the
//!   validation POST ([`handshake`]); failure → 400 SUB-521 (unreachable or no
//!   complete answer within `webhook_timeout_ms`), SUB-520 (200 without the
//!   echoed `Validation-Token`), SUB-525 (non-200 or more than 1024 bytes).
//!   Other transports or a non-http(s) address → 400 CMN-101 (`http:` →
//!   400 SUB-523 when `require_https` is set); bad filters →
//!   400 SUB-508 (another account → 403 SUB-406); more than
//!   `max_per_owner` (30) live subscriptions for the token's user + app → 403 SUB-505.
//!   `expiresIn` defaults to 604800 and is clamped to `max_expires_in`.
//! - `GET /restapi/v1.0/subscription` [Light] — `{uri, records}` of the
//!   caller's unexpired subscriptions (blacklisted ones included).
//! - `GET /restapi/v1.0/subscription/{id}` [Light] — `SubscriptionInfo`.
//! - `PUT /restapi/v1.0/subscription/{id}` [Medium] — body `{eventFilters,
//!   expiresIn?}` replaces the filters and restarts the lifetime (default
//!   604800 when `expiresIn` is absent); an empty body only renews with the
//!   default lifetime.
//! - `DELETE /restapi/v1.0/subscription/{id}` [Medium] — 204, also for an expired one.
//! - `POST /restapi/v1.0/subscription/{id}/renew` [Light] — restarts the
//!   subscription's own `expiresIn` from now.
//!
//! Every answer after authentication carries the `X-Rate-Limit-*` headers
//! of its admission, errors included. Unknown ids (or another user's) → 404 CMN-102. An expired subscription
//! (sandbox clock past `expirationTime`) receives nothing, leaves the list,
//! and answers GET/PUT/renew with 404 SUB-507. A blacklisted one stays
//! `Blacklisted` for good: PUT and renew extend its expiry but never revive
//! it. The handshake is not repeated on PUT/renew (unconfirmed).
//!
//! # Delivery ([`delivery`])
//! Each notification is a POST with `Content-Type: application/json;
//! charset=UTF-8`, `Accept: application/json`, `User-Agent:
//! RingCentral-Webhook/8.3` and `Verification-Token` when one was given; the
//! body is the envelope `{uuid, event, timestamp, subscriptionId, ownerId,
//! body}`. A subscription receives each event once, under its most specific
//! matching filter (extension level before account level, see [`filter`]).
//! Deliveries of one subscription are sent in order by its own task, are not
//! retried, and count as failed unless the receiver answers 200 within
//! `webhook_timeout_ms`. After `blacklist_after` consecutive failures (default
//! 3; the real threshold is unconfirmed; 0 = never) the
//! subscription becomes `Blacklisted` with `blacklistedData {blacklistedAt,
//! reason}`, e.g. `Webhook responses with code: [404], reason: [Not Found]` or
//! `I/O operation is failed. Details: [Read timed out]`. The
//! `webhookDuplicate` fault sends a notification twice (same `uuid`).

pub mod delivery;
pub mod filter;
pub mod handshake;
mod registry;
mod routes;

pub use filter::{EventFilter, FilterError, Scope};
pub use registry::{Registry, SubscriptionStatus};
pub use routes::routes;

/// Subscription limits and webhook behaviour.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// Default `expiresIn` when the request has none (604800).
    pub default_expires_in: i64,
    /// Largest accepted `expiresIn` (315360000 for WebHook); larger values are clamped.
    pub max_expires_in: i64,
    /// Real-time limit for the validation handshake and for each delivery (3000 ms).
    pub webhook_timeout_ms: u64,
    /// Largest validation answer (headers + body) accepted (1024 bytes).
    pub max_validation_response_bytes: usize,
    /// Consecutive failed deliveries that blacklist a subscription (0 = never).
    pub blacklist_after: u32,
    /// Live subscriptions per user + app (30).
    pub max_per_owner: usize,
    /// Refuse `http:` addresses with 400 SUB-523 "HTTPS is required", as
    /// production does (off by default: the sandbox and its receivers run on
    /// plain loopback HTTP).
    pub require_https: bool,
    /// Certificates (PEM) the webhook client trusts besides the system's
    /// roots: a test puts a TLS proxy with its own CA in front of a
    /// receiver, where production's receivers show a public CA's.
    pub extra_root_certificates: Vec<String>,
}

impl Default for SubscriptionConfig {
    fn default() -> Self {
        SubscriptionConfig {
            default_expires_in: 604_800,
            max_expires_in: 315_360_000,
            webhook_timeout_ms: 3000,
            max_validation_response_bytes: 1024,
            blacklist_after: 3,
            max_per_owner: 30,
            require_https: false,
            extra_root_certificates: Vec::new(),
        }
    }
}
