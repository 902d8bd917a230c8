//! Switchable faults with rates: 5xx, resets, truncated and slow bodies,
//! revoked tokens, deleted recordings, webhook duplicates and reordering.
//!
//! STUB (the switches are final; the REST owner implements the HTTP faults,
//! the live owner the webhook faults).

use std::sync::RwLock;

/// Fault rates, each a probability in [0, 1] per eligible request; all zero by default.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct FaultConfig {
    /// 500 CMN-203 on any REST or media request.
    pub http500: f64,
    /// 503 CMN-201 on any REST or media request.
    pub http503: f64,
    /// Recording content: the connection is reset part-way through the body.
    pub reset_mid_body: f64,
    /// Recording content: `Content-Length` says more than is sent.
    pub truncated_body: f64,
    /// Recording content: the body trickles out slowly.
    pub slow_body: f64,
    /// Bytes per second of a slow body.
    pub slow_body_bytes_per_sec: u64,
    /// A request's access token is revoked just before it is checked (401 OAU-213 mid-run).
    pub revoke_token: f64,
    /// A recording listed in the call log is deleted before its content is fetched (404 CMN-102).
    pub delete_recording: f64,
    /// A webhook notification is delivered twice.
    pub webhook_duplicate: f64,
    /// Webhook notifications of one session are delivered out of order.
    pub webhook_reorder: f64,
}

/// Live fault switches, changeable through the control API.
#[derive(Debug, Default)]
pub struct Faults {
    current: RwLock<FaultConfig>,
}

impl Faults {
    /// Switches with the given rates.
    pub fn new(config: FaultConfig) -> Faults {
        Faults {
            current: RwLock::new(config),
        }
    }

    /// The rates in force.
    pub fn current(&self) -> FaultConfig {
        self.current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces every rate.
    pub fn set(&self, config: FaultConfig) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
    }
}
