//! The live-traffic switch: how many new conversations start per sandbox
//! minute (0 = off). The server state holds it; [`super::live_calls`] is the
//! task that starts the calls.

use tokio::sync::watch;

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

    /// Watches the rate, for the task that starts the calls.
    pub(crate) fn subscribe(&self) -> watch::Receiver<f64> {
        self.rate.subscribe()
    }

    /// Changes the rate (0 stops live traffic).
    pub fn set_calls_per_minute(&self, calls_per_minute: f64) {
        self.rate.send_replace(sanitize(calls_per_minute));
    }
}

fn sanitize(v: f64) -> f64 {
    if v.is_finite() && v > 0.0 { v } else { 0.0 }
}
