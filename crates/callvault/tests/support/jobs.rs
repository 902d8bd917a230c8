//! crates.io's `check_for_failed_jobs`: a backup test ends by asserting
//! that every job of its catalog ended `done`. A job left `dead`, waiting
//! for a `retry`, `leased` or still `queued` fails the test with the jobs
//! listed, unless the test said it expects exactly those.

use vault::{Catalog, JobState};

/// Jobs a test expects to end in a state other than `done`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Unfinished {
    /// Still `queued`.
    pub queued: u64,
    /// Still `leased`.
    pub leased: u64,
    /// Waiting for a `retry`.
    pub retry: u64,
    /// `dead`.
    pub dead: u64,
}

/// Fails unless every job in `catalog` ended `done`.
pub async fn check_for_failed_jobs(catalog: &Catalog) {
    check_jobs(catalog, Unfinished::default()).await;
}

/// Fails unless the jobs not `done` in `catalog` are exactly `expected`.
pub async fn check_jobs(catalog: &Catalog, expected: Unfinished) {
    let c = catalog.counts_by_state().await.unwrap();
    let found = Unfinished {
        queued: c.queued,
        leased: c.leased,
        retry: c.retry,
        dead: c.dead,
    };
    if found == expected {
        return;
    }
    let states = [
        JobState::Queued,
        JobState::Leased,
        JobState::Retry,
        JobState::Dead,
    ];
    let jobs = catalog.list_jobs(&states, None, 50).await.unwrap();
    let listed: Vec<String> = jobs
        .iter()
        .map(|j| {
            format!(
                "  {:?} {} {} ({} attempts): {}",
                j.state,
                j.kind,
                j.dedupe_key,
                j.attempts,
                j.last_error.as_deref().unwrap_or("-")
            )
        })
        .collect();
    panic!(
        "jobs did not end as expected: besides `done`, expected {expected:?}, found {found:?}:\n{}",
        listed.join("\n")
    );
}
