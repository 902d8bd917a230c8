//! The runner's contract, through a real SQLite queue: whatever a handler
//! does (succeeds, errs, panics, never finishes), every job ends in a state
//! that says so, and the loop stops when its mode says.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration as StdDuration;

use serde_json::json;
use tokio::sync::watch;
use vault::{Catalog, JobState, LeasedJob, NewJob};

use super::*;
use crate::test_wait::{PATIENCE, eventually};

/// Does what a stitch job's conversation id says: `ok…` completes it,
/// `err…` fails, `panic…` panics, `hang…` never finishes.
struct Scripted {
    catalog: Catalog,
    runs: AtomicUsize,
}

impl Scripted {
    fn new(catalog: &Catalog) -> Arc<Scripted> {
        Arc::new(Scripted {
            catalog: catalog.clone(),
            runs: AtomicUsize::new(0),
        })
    }
}

impl Handler for Scripted {
    async fn handle(&self, job: Job, leased: &LeasedJob) -> anyhow::Result<()> {
        self.runs.fetch_add(1, Ordering::SeqCst);
        let Job::Stitch { conversation } = job else {
            anyhow::bail!("not a stitch job");
        };
        match conversation.as_str() {
            s if s.starts_with("ok") => {
                // A real handler settles its job with its effect.
                self.catalog.complete(&leased.lease).await?;
                Ok(())
            }
            s if s.starts_with("err") => anyhow::bail!("the script says fail"),
            s if s.starts_with("panic") => panic!("the script says panic"),
            _ => std::future::pending().await,
        }
    }
}

fn runner(catalog: &Catalog, handler: Arc<Scripted>) -> Runner<Scripted> {
    Runner {
        catalog: catalog.clone(),
        holder: "test".into(),
        settings: Settings {
            workers: 2,
            lease: StdDuration::from_secs(30),
            poll_interval: StdDuration::from_millis(50),
            shutdown_grace: StdDuration::from_millis(100),
            backoff: Backoff {
                base: StdDuration::from_millis(10),
                cap: StdDuration::from_millis(20),
            },
        },
        kinds: fixed_kinds(&["stitch"]),
        wake: Default::default(),
        handler,
        stop: Default::default(),
    }
}

async fn enqueue(catalog: &Catalog, conversation: &str, attempts: u32) -> vault::JobId {
    let job = NewJob::new(
        "stitch",
        format!("stitch:{conversation}"),
        json!({ "conversation": conversation }),
    )
    .max_attempts(attempts);
    catalog.enqueue(&job).await.unwrap().id()
}

async fn state(catalog: &Catalog, id: vault::JobId) -> vault::Job {
    catalog.job(id).await.unwrap().unwrap()
}

async fn done(catalog: &Catalog, id: vault::JobId, what: &str) {
    eventually(what, PATIENCE, || async {
        let job = state(catalog, id).await;
        if job.state == JobState::Done {
            Ok(())
        } else {
            Err(format!("{job:?}"))
        }
    })
    .await;
}

fn drain(max_wait_ms: i64) -> Mode {
    Mode::Drain {
        max_wait: chrono::Duration::milliseconds(max_wait_ms),
        producing: None,
    }
}

#[tokio::test]
async fn a_drain_runs_every_job_to_a_final_state_and_stops() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    let ok = enqueue(&catalog, "ok-1", 3).await;
    let err = enqueue(&catalog, "err-1", 3).await;
    let panics = enqueue(&catalog, "panic-1", 2).await;
    let bad = catalog
        .enqueue(&NewJob::new(
            "stitch",
            "stitch:bad",
            json!({"conversation": "../x"}),
        ))
        .await
        .unwrap()
        .id();
    let handler = Scripted::new(&catalog);
    // Retries are 10–20 ms apart: within the drain's 5 s horizon, so the
    // drain waits for every one of them.
    runner(&catalog, handler.clone())
        .run(drain(5_000))
        .await
        .unwrap();

    assert_eq!(state(&catalog, ok).await.state, JobState::Done);
    let err = state(&catalog, err).await;
    assert_eq!((err.state, err.attempts), (JobState::Dead, 3), "{err:?}");
    assert!(
        err.last_error
            .as_deref()
            .unwrap()
            .contains("the script says fail")
    );
    let panics = state(&catalog, panics).await;
    assert_eq!((panics.state, panics.attempts), (JobState::Dead, 2));
    assert_eq!(panics.last_error.as_deref(), Some("the job panicked"));
    // A payload that cannot parse is dead at once, never handed over.
    let bad = state(&catalog, bad).await;
    assert_eq!((bad.state, bad.attempts), (JobState::Dead, 1), "{bad:?}");
    assert!(bad.last_error.as_deref().unwrap().contains("conversation"));
    assert_eq!(handler.runs.load(Ordering::SeqCst), 1 + 3 + 2);
}

#[tokio::test]
async fn a_drain_leaves_a_job_due_beyond_its_horizon_and_waits_for_its_producer() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    let later = NewJob::new(
        "stitch",
        "stitch:ok-later",
        json!({"conversation": "ok-later"}),
    )
    .run_at(chrono::Utc::now() + chrono::Duration::hours(1));
    let later = catalog.enqueue(&later).await.unwrap().id();
    let handler = Scripted::new(&catalog);
    let (producing_tx, producing) = watch::channel(true);
    let r = runner(&catalog, handler.clone());
    let running = tokio::spawn(async move {
        r.run(Mode::Drain {
            max_wait: chrono::Duration::seconds(1),
            producing: Some(producing),
        })
        .await
    });
    // While the producer runs, the drain keeps going and takes its jobs.
    let produced = enqueue(&catalog, "ok-produced", 1).await;
    done(&catalog, produced, "the produced job ran").await;
    assert!(!running.is_finished());
    producing_tx.send_replace(false);
    tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the drain stops once its producer is done")
        .unwrap()
        .unwrap();
    assert_eq!(state(&catalog, later).await.state, JobState::Queued);
}

#[tokio::test]
async fn a_stop_releases_a_running_job_without_spending_its_attempt() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    let hung = enqueue(&catalog, "hang-1", 3).await;
    let handler = Scripted::new(&catalog);
    let r = runner(&catalog, handler.clone());
    let stop = r.stop.clone();
    let running = tokio::spawn(async move { r.run(Mode::Continuous).await });
    eventually("the job is running", PATIENCE, || async {
        (handler.runs.load(Ordering::SeqCst) == 1).then_some(())
    })
    .await;
    stop.cancel();
    tokio::time::timeout(PATIENCE, running)
        .await
        .expect("the runner stops within the grace period")
        .unwrap()
        .unwrap();
    let job = state(&catalog, hung).await;
    assert_eq!((job.state, job.attempts), (JobState::Queued, 0), "{job:?}");
}

#[tokio::test]
async fn a_continuous_runner_claims_what_its_kinds_allow_when_they_allow_it() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    let job = enqueue(&catalog, "ok-gated", 1).await;
    let handler = Scripted::new(&catalog);
    let (kinds_tx, kinds) = watch::channel(&[][..]);
    let r = Runner {
        kinds,
        // A long poll: only the kinds' change can make it run soon.
        settings: Settings {
            poll_interval: StdDuration::from_secs(600),
            ..runner(&catalog, handler.clone()).settings
        },
        ..runner(&catalog, handler.clone())
    };
    let stop = r.stop.clone();
    let running = tokio::spawn(async move { r.run(Mode::Continuous).await });
    tokio::task::yield_now().await;
    assert_eq!(state(&catalog, job).await.state, JobState::Queued);
    kinds_tx.send_replace(&["stitch"]);
    done(&catalog, job, "the job ran once its kind was allowed").await;
    stop.cancel();
    running.await.unwrap().unwrap();
}
