use std::collections::HashMap;
use std::time::Duration;

use chrono::Duration as ChronoDuration;
use serde_json::json;
use vault::{
    BlobExt, Enqueued, JobState, NewJob, NewRecording, RecordingId, RecordingState, Sha256Digest,
    StorageKey, TelephonySessionId,
};

use crate::helpers::{PATIENCE, eventually, on_both_backends};

const LONG: Duration = Duration::from_secs(60);

on_both_backends! {
    async fn enqueue_dedupes_live_jobs_but_allows_a_rerun_after_done(db) {
        let c = &db.catalog;
        let job = NewJob::new("download", "rec:1", json!({"recordingId": "1"}));
        let first = c.enqueue(&job).await.unwrap();
        assert!(matches!(first, Enqueued::Created(_)));
        assert_eq!(c.enqueue(&job).await.unwrap(), Enqueued::AlreadyLive(first.id()));
        // Another kind with the same key is a different job.
        assert!(matches!(c.enqueue(&NewJob::new("stitch", "rec:1", json!({}))).await.unwrap(), Enqueued::Created(_)));

        let leased = c.claim("w1", &["download"], LONG).await.unwrap().unwrap();
        assert_eq!(leased.payload, json!({"recordingId": "1"}));
        assert_eq!(c.enqueue(&job).await.unwrap(), Enqueued::AlreadyLive(first.id()), "a leased job is live");
        assert!(c.complete(&leased.lease).await.unwrap());
        let again = c.enqueue(&job).await.unwrap();
        assert!(matches!(again, Enqueued::Created(id) if id != first.id()));
    }

    async fn news_while_a_job_runs_makes_it_run_again_instead_of_finishing(db) {
        let c = &db.catalog;
        let later = chrono::Utc::now() + ChronoDuration::minutes(10);
        let id = c.enqueue(&NewJob::new("stitch", "stitch:c1", json!({}))).await.unwrap().id();
        // A sleeping job is made due now.
        let run = c.claim("w", &["stitch"], LONG).await.unwrap().unwrap();
        c.snooze(&run.lease, later, "a leg is missing").await.unwrap();
        assert!(c.claim("w", &["stitch"], LONG).await.unwrap().is_none(), "asleep");
        assert!(c.run_now("stitch", "stitch:c1").await.unwrap());
        let run = c.claim("w", &["stitch"], LONG).await.unwrap().expect("due now");

        // News during the run: its snooze becomes "at once".
        assert!(c.run_now("stitch", "stitch:c1").await.unwrap());
        c.snooze(&run.lease, later, "a leg is missing").await.unwrap();
        let run = c.claim("w", &["stitch"], LONG).await.unwrap().expect("snooze overridden");

        // News during the run: its completion becomes "run again", once.
        assert!(c.run_now("stitch", "stitch:c1").await.unwrap());
        assert!(c.complete(&run.lease).await.unwrap());
        let job = c.job(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.finished_at), (JobState::Queued, None));
        let run = c.claim("w", &["stitch"], LONG).await.unwrap().expect("runs again");
        assert_eq!(run.attempt, 1, "a rerun costs no attempt");
        assert!(c.complete(&run.lease).await.unwrap());
        assert_eq!(c.job(id).await.unwrap().unwrap().state, JobState::Done);
        assert!(!c.run_now("stitch", "stitch:c1").await.unwrap(), "nothing live");
    }

    async fn four_concurrent_claimers_never_get_the_same_job(db) {
        let c = &db.catalog;
        for i in 0..200 {
            c.enqueue(&NewJob::new("download", format!("rec:{i}"), json!({ "i": i }))).await.unwrap();
        }
        let started = std::time::Instant::now();
        let mut workers = Vec::new();
        for w in 0..4 {
            let c = c.clone();
            workers.push(tokio::spawn(async move {
                let mut done = Vec::new();
                while let Some(job) = c.claim(&format!("w{w}"), &[], LONG).await.unwrap() {
                    assert!(c.complete(&job.lease).await.unwrap());
                    done.push(job.payload["i"].as_i64().unwrap());
                }
                done
            }));
        }
        let mut seen: HashMap<i64, usize> = HashMap::new();
        let mut per_worker = Vec::new();
        for w in workers {
            let done = w.await.unwrap();
            per_worker.push(done.len());
            for i in done {
                *seen.entry(i).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), 200, "every job done");
        assert!(seen.values().all(|&n| n == 1), "no job done twice");
        let counts = c.counts_by_state().await.unwrap();
        assert_eq!((counts.done, counts.queued, counts.leased), (200, 0, 0));
        eprintln!(
            "{:?}: 200 jobs claimed+completed by 4 workers in {:?}; per worker {per_worker:?}",
            c.backend(),
            started.elapsed()
        );
    }

    async fn an_expired_lease_is_reclaimed_and_the_old_holder_is_fenced_off(db) {
        let c = &db.catalog;
        c.enqueue(&NewJob::new("download", "rec:9", json!({}))).await.unwrap();
        let lease = Duration::from_millis(1000);
        let claimed = std::time::Instant::now();
        let old = c.claim("old", &[], lease).await.unwrap().unwrap();
        let taken = c.claim("new", &[], LONG).await.unwrap();
        // Only meaningful while the lease runs: a stalled machine may have
        // let it expire in between, and then taking it is right.
        if claimed.elapsed() < lease {
            assert!(taken.is_none(), "held while the lease runs");
        }
        let new = match taken {
            Some(new) => new,
            None => eventually(PATIENCE, || async {
                c.claim("new", &[], LONG).await.unwrap()
            }).await,
        };
        assert_eq!(new.lease.job_id(), old.lease.job_id());
        assert!(new.lease.token() > old.lease.token());
        assert_eq!(new.attempt, 2);

        assert!(!c.heartbeat(&old.lease, LONG).await.unwrap());
        assert!(!c.complete(&old.lease).await.unwrap());
        assert_eq!(c.retry(&old.lease, chrono::Utc::now(), "stale").await.unwrap(), None);
        assert_eq!(c.fail(&old.lease, "stale").await.unwrap(), None);
        let job = c.job(new.lease.job_id()).await.unwrap().unwrap();
        assert_eq!((job.state, job.holder.as_deref()), (JobState::Leased, Some("new")));

        assert!(c.heartbeat(&new.lease, LONG).await.unwrap());
        assert!(c.complete(&new.lease).await.unwrap());
        assert!(!c.complete(&new.lease).await.unwrap(), "completing twice changes nothing");
    }

    async fn retries_wait_for_their_time_and_the_last_attempt_dies(db) {
        let c = &db.catalog;
        let id = c.enqueue(&NewJob::new("download", "rec:r", json!({})).max_attempts(2)).await.unwrap().id();
        let first = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!(first.attempt, 1);
        let later = c.now().await.unwrap() + ChronoDuration::hours(1);
        assert_eq!(c.retry(&first.lease, later, "503").await.unwrap(), Some(JobState::Retry));
        assert!(c.claim("w", &[], LONG).await.unwrap().is_none(), "not due yet");
        assert_eq!(c.next_run_at(&[]).await.unwrap(), Some(later));
        let job = c.job(id).await.unwrap().unwrap();
        assert_eq!((job.state, job.last_error.as_deref()), (JobState::Retry, Some("503")));

        assert!(!c.requeue_dead(id).await.unwrap(), "only dead jobs can be requeued");

        // A second job, retried with a due time in the past, runs out of attempts.
        let id2 = c.enqueue(&NewJob::new("download", "rec:r2", json!({})).max_attempts(2)).await.unwrap().id();
        let past = c.now().await.unwrap() - ChronoDuration::seconds(1);
        let a1 = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!(a1.lease.job_id(), id2);
        assert_eq!(c.retry(&a1.lease, past, "reset by peer").await.unwrap(), Some(JobState::Retry));
        let a2 = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!((a2.lease.job_id(), a2.attempt), (id2, 2));
        assert_eq!(c.retry(&a2.lease, past, "reset again").await.unwrap(), Some(JobState::Dead));
        assert_eq!(c.job(id2).await.unwrap().unwrap().state, JobState::Dead);
        let dead = c.jobs_in_state(JobState::Dead, 10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("reset again"));
        assert!(dead[0].finished_at.is_some());

        // An operator's retry brings it back with fresh attempts.
        assert!(c.requeue_dead(id2).await.unwrap());
        let a3 = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!((a3.lease.job_id(), a3.attempt), (id2, 1));
    }

    async fn a_snooze_does_not_count_as_an_attempt_and_fail_is_final(db) {
        let c = &db.catalog;
        let id = c.enqueue(&NewJob::new("download", "rec:s", json!({})).max_attempts(1)).await.unwrap().id();
        let past = c.now().await.unwrap() - ChronoDuration::seconds(1);
        for _ in 0..3 {
            let job = c.claim("w", &[], LONG).await.unwrap().unwrap();
            assert_eq!(job.attempt, 1, "snoozes give their attempt back");
            assert_eq!(c.snooze(&job.lease, past, "recording not ready").await.unwrap(), Some(JobState::Retry));
        }
        let job = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!(c.release(&job.lease).await.unwrap(), Some(JobState::Queued));
        let job = c.claim("w", &[], LONG).await.unwrap().unwrap();
        assert_eq!(job.attempt, 1, "a release gives its attempt back");
        assert_eq!(c.fail(&job.lease, "404: gone").await.unwrap(), Some(JobState::Dead));
        assert!(c.claim("w", &[], LONG).await.unwrap().is_none());
        assert_eq!(c.job(id).await.unwrap().unwrap().state, JobState::Dead);
    }

    async fn claims_take_only_the_asked_kinds_highest_priority_first(db) {
        let c = &db.catalog;
        c.enqueue(&NewJob::new("stitch", "conv:1", json!({}))).await.unwrap();
        c.enqueue(&NewJob::new("download", "rec:low", json!({}))).await.unwrap();
        c.enqueue(&NewJob::new("download", "rec:high", json!({})).priority(5)).await.unwrap();
        let later = c.now().await.unwrap() + ChronoDuration::hours(1);
        c.enqueue(&NewJob::new("download", "rec:later", json!({})).run_at(later).priority(9)).await.unwrap();

        let j = c.claim("w", &["download"], LONG).await.unwrap().unwrap();
        assert_eq!(j.dedupe_key, "rec:high");
        let j = c.claim("w", &["download", "verify"], LONG).await.unwrap().unwrap();
        assert_eq!(j.dedupe_key, "rec:low");
        assert!(c.claim("w", &["download"], LONG).await.unwrap().is_none());
        let j = c.claim("w", &["stitch"], LONG).await.unwrap().unwrap();
        assert_eq!(j.kind, "stitch");
        let counts = c.counts_by_state().await.unwrap();
        assert_eq!((counts.leased, counts.queued), (3, 1));
    }

    async fn asking_again_with_more_urgency_moves_a_queued_job_up_never_down(db) {
        let c = &db.catalog;
        c.enqueue(&NewJob::new("download", "rec:old", json!({}))).await.unwrap();
        let backfilled = c.enqueue(&NewJob::new("download", "rec:live", json!({}))).await.unwrap();
        let relisted = NewJob::new("download", "rec:live", json!({})).priority(10);
        assert_eq!(c.enqueue(&relisted).await.unwrap(), Enqueued::AlreadyLive(backfilled.id()));
        // Asked for again at the lower priority: it keeps the higher one.
        c.enqueue(&NewJob::new("download", "rec:live", json!({}))).await.unwrap();
        let j = c.claim("w", &["download"], LONG).await.unwrap().unwrap();
        assert_eq!(j.dedupe_key, "rec:live", "the urgent twin is claimed first");
        let j = c.claim("w", &["download"], LONG).await.unwrap().unwrap();
        assert_eq!(j.dedupe_key, "rec:old");
    }

    async fn a_lease_lost_before_commit_leaves_the_recording_untouched(db) {
        let c = &db.catalog;
        let rec = RecordingId::parse("555").unwrap();
        let session = TelephonySessionId::parse("s-555").unwrap();
        let start = c.now().await.unwrap();
        c.upsert_recording(&NewRecording {
            id: rec.clone(),
            call_record_id: None,
            telephony_session_id: Some(session.clone()),
            content_uri: None,
            content_type: None,
            call_start_time: start,
            call_end_time: None,
        }).await.unwrap();
        c.enqueue(&NewJob::new("download", "rec:555", json!({}))).await.unwrap();
        let old = c.claim("old", &[], Duration::from_millis(100)).await.unwrap().unwrap();
        let new = eventually(PATIENCE, || async {
            c.claim("new", &[], LONG).await.unwrap()
        }).await;
        let key = StorageKey::for_recording(start, &session, &rec, BlobExt::Mp3);
        let sha = Sha256Digest::of(b"bytes");
        assert!(!c.complete_with_recording_stored(&old.lease, &rec, &key, &sha, 5, "audio/mpeg").await.unwrap());
        assert_eq!(c.recording(&rec).await.unwrap().unwrap().state, RecordingState::Listed);
        assert!(c.complete_with_recording_stored(&new.lease, &rec, &key, &sha, 5, "audio/mpeg").await.unwrap());
        let stored = c.recording(&rec).await.unwrap().unwrap();
        assert_eq!((stored.state, stored.sha256), (RecordingState::Stored, Some(sha)));
        assert_eq!(c.job(new.lease.job_id()).await.unwrap().unwrap().state, JobState::Done);
    }

    async fn an_expired_lease_on_the_last_attempt_is_reaped_as_dead(db) {
        let c = &db.catalog;
        let id = c.enqueue(&NewJob::new("download", "rec:x", json!({})).max_attempts(1)).await.unwrap().id();
        let _lost = c.claim("w", &[], Duration::from_millis(50)).await.unwrap().unwrap();
        eventually(PATIENCE, || async {
            (c.reap_expired().await.unwrap() == 1).then_some(())
        }).await;
        let job = c.job(id).await.unwrap().unwrap();
        assert_eq!(job.state, JobState::Dead);
        assert!(c.claim("w", &[], LONG).await.unwrap().is_none());
        assert_eq!(c.prune_done(Duration::ZERO).await.unwrap(), 0, "dead jobs are kept");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgres_an_enqueue_wakes_listeners_in_other_processes() {
    let Some(db) = crate::helpers::postgres().await else {
        return;
    };
    let c = &db.catalog;
    let mut listener = c.job_listener().await.unwrap().unwrap();
    // The channel is database-wide: other tests' enqueues arrive too.
    let kind = format!("stitch-{}", uuid::Uuid::new_v4().simple());
    c.enqueue(&NewJob::new(kind.as_str(), "conv:1", json!({})))
        .await
        .unwrap();
    tokio::time::timeout(PATIENCE, async {
        while listener.recv().await.unwrap() != kind {}
    })
    .await
    .unwrap();
    drop(listener);
    db.finish().await;
}

#[tokio::test]
async fn on_sqlite_there_is_no_cross_process_listener_and_missing_folders_are_created() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("a/b/catalog.sqlite").display());
    let c = vault::Catalog::open(&url).await.unwrap();
    assert!(c.job_listener().await.unwrap().is_none());
    c.close().await;
}

on_both_backends! {
    async fn operators_list_jobs_newest_first_by_state_and_kind_and_learn_a_dead_jobs_live_twin(db) {
        let c = &db.catalog;
        let dead = c.enqueue(&NewJob::new("download", "rec:d", json!({}))).await.unwrap().id();
        let run = c.claim("w", &["download"], LONG).await.unwrap().unwrap();
        assert_eq!(c.fail(&run.lease, "404: gone").await.unwrap(), Some(JobState::Dead));
        let stitch = c.enqueue(&NewJob::new("stitch", "conv:1", json!({}))).await.unwrap().id();
        let twin = c.enqueue(&NewJob::new("download", "rec:d", json!({}))).await.unwrap().id();

        let ids = |jobs: Vec<vault::Job>| jobs.into_iter().map(|j| j.id).collect::<Vec<_>>();
        let live_and_dead = [JobState::Queued, JobState::Leased, JobState::Retry, JobState::Dead];
        assert_eq!(ids(c.list_jobs(&live_and_dead, None, 10).await.unwrap()), vec![twin, stitch, dead]);
        assert_eq!(ids(c.list_jobs(&live_and_dead, None, 2).await.unwrap()), vec![twin, stitch], "the newest");
        assert_eq!(ids(c.list_jobs(&live_and_dead, Some("download"), 10).await.unwrap()), vec![twin, dead]);
        assert_eq!(ids(c.list_jobs(&[JobState::Dead], None, 10).await.unwrap()), vec![dead]);
        assert_eq!(ids(c.list_jobs(&[JobState::Done], None, 10).await.unwrap()), vec![]);
        assert_eq!(ids(c.list_jobs(&[], None, 10).await.unwrap()), vec![]);
        assert_eq!(ids(c.list_jobs(&live_and_dead, Some("x' OR '1'='1"), 10).await.unwrap()), vec![], "the kind is bound");

        // The twin is why the dead job cannot be requeued.
        assert!(!c.requeue_dead(dead).await.unwrap());
        let found = c.live_job("download", "rec:d").await.unwrap().expect("the twin");
        assert_eq!((found.id, found.state), (twin, JobState::Queued));
        assert!(c.live_job("download", "rec:none").await.unwrap().is_none());
        let run = c.claim("w", &["download"], LONG).await.unwrap().unwrap();
        assert!(c.complete(&run.lease).await.unwrap());
        assert!(c.live_job("download", "rec:d").await.unwrap().is_none(), "done is not live");
        assert!(c.requeue_dead(dead).await.unwrap(), "no twin any more");
    }
}
