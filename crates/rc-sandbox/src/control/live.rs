//! Live traffic: new conversations starting "now" at a configurable rate
//! (calls per sandbox minute, exponential gaps from a seeded RNG).
//!
//! Scripts come from [`fallback_script`] until the scenario generator's
//! `scenario::random_script` lands; then this module switches to it.

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::sync::watch;

use crate::model::{
    CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript, World,
};
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
            let script = fallback_script(&mut rng, &world, start);
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

/// A small random call: 1–3 segments, blind or attended transfers between
/// them, mostly recorded. Stand-in for `scenario::random_script`.
pub fn fallback_script(rng: &mut ChaCha8Rng, world: &World, start: DateTime<Utc>) -> CallScript {
    let n_ext = world.extensions.len().max(1);
    let n_seg = match rng.random_range(0..10) {
        0..=5 => 1,
        6..=8 => 2,
        _ => 3,
    };
    let mut segments = Vec::with_capacity(n_seg);
    let mut ext = rng.random_range(0..n_ext);
    for i in 0..n_seg {
        let handoff = if i + 1 == n_seg {
            Handoff::HangUp
        } else if rng.random_bool(0.5) {
            Handoff::BlindTransfer
        } else {
            Handoff::AttendedTransfer
        };
        segments.push(SegmentScript {
            extension: ext,
            ring_ms: rng.random_range(2_000..12_000),
            talk_ms: rng.random_range(15_000..180_000),
            recorded: rng.random_bool(0.8),
            handoff,
        });
        if n_ext > 1 {
            ext = (ext + rng.random_range(1..n_ext)) % n_ext;
        }
    }
    CallScript {
        start,
        direction: if rng.random_bool(0.6) {
            Direction::Inbound
        } else {
            Direction::Outbound
        },
        external: ExternalParty {
            phone_number: format!("+1415555{:04}", rng.random_range(0..10_000)),
            name: None,
        },
        segments,
        recording_kind: if rng.random_bool(0.9) {
            RecordingKind::Automatic
        } else {
            RecordingKind::OnDemand
        },
    }
}
