//! Live traffic: new conversations starting "now" at a configurable rate
//! (calls per sandbox minute, exponential gaps from a seeded RNG).
//!
//! Scripts come from the scenario generator ([`crate::scenario::random_script`]),
//! so live calls have the same shape as the generated history.

use chrono::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::state::AppState;

/// The live-traffic switch kept in the server state.
#[derive(Debug)]
pub struct LiveTraffic {
    rate: watch::Sender<f64>,
}

impl LiveTraffic {
    /// A switch starting at `calls_per_minute` (0 = off).
    pub fn new(calls_per_minute: f64) -> LiveTraffic {
        LiveTraffic {
            rate: watch::channel(sanitize(calls_per_minute)).0,
        }
    }

    /// Calls per sandbox minute now in force.
    pub fn calls_per_minute(&self) -> f64 {
        *self.rate.borrow()
    }

    /// Changes the rate (0 stops live traffic).
    pub fn set_calls_per_minute(&self, calls_per_minute: f64) {
        self.rate.send_replace(sanitize(calls_per_minute));
    }
}

fn sanitize(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}

/// Runs until `stop` turns true. Started by [`crate::server`].
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(state.config().seed ^ 0x11fe_ca11);
    let mut rate = state.live().rate.subscribe();
    loop {
        let cpm = *rate.borrow_and_update();
        if cpm <= 0.0 {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                r = rate.changed() => if r.is_err() { return },
            }
            continue;
        }
        // Exponential gap with mean 60/cpm sandbox seconds.
        let u: f64 = rng.random_range(f64::EPSILON..1.0);
        let gap_ms = (-u.ln() * 60_000.0 / cpm).min(86_400_000.0);
        let at = state.clock().now() + Duration::milliseconds(gap_ms as i64);
        tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            r = rate.changed() => { if r.is_err() { return } continue; }
            _ = state.clock().sleep_until(at) => {}
        }
        let start = state.clock().now();
        let added = {
            let mut world = state.world_mut();
            let script =
                crate::scenario::random_script(&mut rng, &world, start, &state.config().scenario);
            world.add(script).map(|c| c.index)
        };
        match added {
            Ok(index) => {
                tracing::debug!(conversation = index, "live call started");
                state.telephony().conversation_added(index, start);
            }
            Err(e) => tracing::warn!(error = %e, "live call script refused"),
        }
    }
}
