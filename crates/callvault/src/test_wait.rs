//! Waiting in tests for something the code under test does on its own
//! (a job settling, a webhook arriving): poll the condition until it holds.
//!
//! The deadline is only a backstop against a hang, so it is generous enough
//! for a 2-core machine kept busy by other builds (a slow pass beats a false
//! failure), and a test that gives up says what it saw last, so a failure
//! in CI can be read without running it again.

use std::fmt::Display;
use std::future::Future;
use std::time::{Duration, Instant};

/// How long a test waits for the system to do something it will do.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// A condition's answer: the awaited value, or what was seen instead.
pub(crate) trait Seen<T> {
    /// `Ok(value)` once the condition holds, else a description of the state.
    fn seen(self) -> Result<T, String>;
}

impl<T> Seen<T> for Option<T> {
    fn seen(self) -> Result<T, String> {
        self.ok_or_else(|| "not yet".to_owned())
    }
}

impl<T, E: Display> Seen<T> for Result<T, E> {
    fn seen(self) -> Result<T, String> {
        self.map_err(|e| e.to_string())
    }
}

/// Polls `check` every 50 ms until it yields a value; after `limit`, fails
/// naming `what` and the last state `check` reported.
pub(crate) async fn eventually<T, S, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    S: Seen<T>,
    F: FnMut() -> Fut,
    Fut: Future<Output = S>,
{
    let started = Instant::now();
    loop {
        let last = match check().await.seen() {
            Ok(value) => return value,
            Err(last) => last,
        };
        assert!(
            started.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}; last seen: {last}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
