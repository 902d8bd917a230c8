//! The sandbox clock: real time, accelerated by a factor, frozen, or moved
//! by hand through the control API.
//!
//! Everything time-dependent in the sandbox (token lifetimes, recording lag,
//! live calls, subscription expiry) reads this clock, never the system clock,
//! so tests can make minutes pass in milliseconds without sleeping.

use std::sync::Mutex;
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::watch;

/// A shareable clock. Cheap to read; writers notify waiters.
#[derive(Debug)]
pub struct SandboxClock {
    state: Mutex<ClockState>,
    changed: watch::Sender<u64>,
}

#[derive(Debug, Clone, Copy)]
struct ClockState {
    anchor_real: Instant,
    anchor_sandbox: DateTime<Utc>,
    speed: f64,
    frozen: bool,
}

impl SandboxClock {
    /// A clock that starts at `start` and runs `speed` times faster than real time.
    pub fn new(start: DateTime<Utc>, speed: f64) -> SandboxClock {
        let (changed, _) = watch::channel(0);
        SandboxClock {
            state: Mutex::new(ClockState {
                anchor_real: Instant::now(),
                anchor_sandbox: start,
                speed: sanitize_speed(speed),
                frozen: false,
            }),
            changed,
        }
    }

    /// The current sandbox time.
    pub fn now(&self) -> DateTime<Utc> {
        let s = *self.lock();
        now_of(&s)
    }

    /// Speed factor (1.0 = real time).
    pub fn speed(&self) -> f64 {
        self.lock().speed
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.lock().frozen
    }

    /// Moves the clock forward by `by` (never backwards).
    pub fn advance(&self, by: Duration) {
        self.update(|s| {
            let now = now_of(s);
            s.anchor_sandbox = now + by.max(Duration::zero());
            s.anchor_real = Instant::now();
        });
    }

    /// Stops time until [`SandboxClock::resume`].
    pub fn freeze(&self) {
        self.update(|s| {
            s.anchor_sandbox = now_of(s);
            s.anchor_real = Instant::now();
            s.frozen = true;
        });
    }

    /// Lets time run again from where it stood.
    pub fn resume(&self) {
        self.update(|s| {
            s.anchor_sandbox = now_of(s);
            s.anchor_real = Instant::now();
            s.frozen = false;
        });
    }

    /// Changes the speed factor from now on.
    pub fn set_speed(&self, speed: f64) {
        self.update(|s| {
            s.anchor_sandbox = now_of(s);
            s.anchor_real = Instant::now();
            s.speed = sanitize_speed(speed);
        });
    }

    /// Resolves when sandbox time reaches `t` (wakes early on clock changes
    /// and re-checks, so advancing the clock releases waiters at once).
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        let mut rx = self.changed.subscribe();
        loop {
            let (now, speed, frozen) = {
                let s = *self.lock();
                (now_of(&s), s.speed, s.frozen)
            };
            if now >= t {
                return;
            }
            let sandbox_left = (t - now).to_std().unwrap_or_default();
            if frozen {
                if rx.changed().await.is_err() {
                    return;
                }
                continue;
            }
            let real_left = sandbox_left.div_f64(speed);
            tokio::select! {
                _ = tokio::time::sleep(real_left) => {}
                r = rx.changed() => if r.is_err() { return; },
            }
        }
    }

    fn update(&self, f: impl FnOnce(&mut ClockState)) {
        {
            let mut s = self.lock();
            f(&mut s);
        }
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ClockState> {
        // A poisoned clock still holds a valid state: the closures above never panic mid-update.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn sanitize_speed(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

fn now_of(s: &ClockState) -> DateTime<Utc> {
    if s.frozen {
        return s.anchor_sandbox;
    }
    let real = s.anchor_real.elapsed().mul_f64(s.speed);
    s.anchor_sandbox + Duration::from_std(real).unwrap_or(Duration::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn advancing_releases_sleepers() {
        let c = std::sync::Arc::new(SandboxClock::new(Utc::now(), 1.0));
        c.freeze();
        let target = c.now() + Duration::hours(1);
        let c2 = c.clone();
        let waiter = tokio::spawn(async move { c2.sleep_until(target).await });
        c.advance(Duration::hours(2));
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
        assert!(c.now() >= target);
    }

    #[test]
    fn frozen_clock_stands_still() {
        let c = SandboxClock::new(Utc::now(), 1000.0);
        c.freeze();
        let a = c.now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(a, c.now());
    }
}
