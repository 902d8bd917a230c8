//! Switchable faults with rates: 5xx, resets, truncated and slow bodies,
//! revoked tokens, deleted recordings, webhook duplicates and reordering.
//!
//! The HTTP faults are drawn here and applied in [`crate::gate`] (5xx,
//! revoked token) and [`crate::recordings`] (body faults, deleted
//! recordings); the webhook faults belong to the live engine. Draws come
//! from one seeded RNG, so a single-threaded client sees the same faults
//! for the same seed (concurrent clients interleave their draws).

use std::sync::{Mutex, RwLock};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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

/// Which fault to draw for (one per [`FaultConfig`] rate).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// [`FaultConfig::http500`].
    Http500,
    /// [`FaultConfig::http503`].
    Http503,
    /// [`FaultConfig::reset_mid_body`].
    ResetMidBody,
    /// [`FaultConfig::truncated_body`].
    TruncatedBody,
    /// [`FaultConfig::slow_body`].
    SlowBody,
    /// [`FaultConfig::revoke_token`].
    RevokeToken,
    /// [`FaultConfig::delete_recording`].
    DeleteRecording,
    /// [`FaultConfig::webhook_duplicate`].
    WebhookDuplicate,
    /// [`FaultConfig::webhook_reorder`].
    WebhookReorder,
}

impl FaultConfig {
    /// The rate of one fault.
    pub fn rate(&self, fault: Fault) -> f64 {
        match fault {
            Fault::Http500 => self.http500,
            Fault::Http503 => self.http503,
            Fault::ResetMidBody => self.reset_mid_body,
            Fault::TruncatedBody => self.truncated_body,
            Fault::SlowBody => self.slow_body,
            Fault::RevokeToken => self.revoke_token,
            Fault::DeleteRecording => self.delete_recording,
            Fault::WebhookDuplicate => self.webhook_duplicate,
            Fault::WebhookReorder => self.webhook_reorder,
        }
    }

    /// Speed of a slow body; 0 in the config means the default 64 KiB/s.
    pub fn slow_bytes_per_sec(&self) -> u64 {
        if self.slow_body_bytes_per_sec == 0 {
            64 * 1024
        } else {
            self.slow_body_bytes_per_sec
        }
    }
}

/// Seed of [`Faults::new`]; use [`Faults::with_seed`] to tie draws to the sandbox seed.
pub const DEFAULT_FAULT_SEED: u64 = 0x5eed_fa17;

/// Live fault switches, changeable through the control API.
#[derive(Debug)]
pub struct Faults {
    current: RwLock<FaultConfig>,
    rng: Mutex<ChaCha8Rng>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults::new(FaultConfig::default())
    }
}

impl Faults {
    /// Switches with the given rates, drawing from [`DEFAULT_FAULT_SEED`].
    pub fn new(config: FaultConfig) -> Faults {
        Faults::with_seed(config, DEFAULT_FAULT_SEED)
    }

    /// Switches with the given rates and RNG seed.
    pub fn with_seed(config: FaultConfig, seed: u64) -> Faults {
        Faults {
            current: RwLock::new(config),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
        }
    }

    /// Draws whether `fault` strikes this time. A zero rate never strikes
    /// (and costs no RNG draw); a rate ≥ 1 always does.
    pub fn strikes(&self, fault: Fault) -> bool {
        let rate = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .rate(fault);
        if rate <= 0.0 || rate.is_nan() {
            return false;
        }
        if rate >= 1.0 {
            return true;
        }
        let draw: f64 = self.rng.lock().unwrap_or_else(|e| e.into_inner()).random();
        draw < rate
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
