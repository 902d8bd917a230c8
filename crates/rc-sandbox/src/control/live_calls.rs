//! Live traffic: new conversations starting "now" at the rate the
//! [`super::live::LiveTraffic`] switch says (calls per sandbox minute,
//! exponential gaps from a seeded RNG).
//!
//! Scripts come from the scenario generator ([`crate::scenario::random_script`]),
//! so live calls have the same shape as the generated history.

use chrono::Duration;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::state::AppState;

/// Runs until `stop` turns true. Started by [`crate::server`].
pub async fn run(state: AppState, mut stop: watch::Receiver<bool>) {
    let mut rng = ChaCha8Rng::seed_from_u64(state.config().seed ^ 0x11fe_ca11);
    let mut rate = state.live().subscribe();
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
