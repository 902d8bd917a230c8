//! `callvault jobs ls|retry` through the real binary, over a catalog made
//! with vault's own calls (enqueue, claim, fail): on SQLite in a tempdir,
//! and on a fresh PostgreSQL schema when `CALLVAULT_TEST_POSTGRES` is set.

mod helpers;
#[allow(dead_code)] // `partial_files` is for the backup and live tests.
#[path = "../support/common.rs"]
mod support;

use serde_json::{Value, json};
use vault::{JobId, JobState, NewJob};

use crate::helpers::{Backend, TestStore, on_both_backends};

/// The one entry of `jobs` with `id`.
fn entry(jobs: &Value, id: JobId) -> &Value {
    let found: Vec<&Value> = jobs
        .as_array()
        .expect("a JSON array")
        .iter()
        .filter(|j| j["id"] == json!(id.get()))
        .collect();
    assert_eq!(found.len(), 1, "job {id} once in {jobs:#}");
    found[0]
}

on_both_backends! {
    async fn a_dead_job_is_listed_with_its_reason_and_retried_once(backend) {
        let Some(store) = TestStore::new(backend).await else { return };
        let dead = store.dead_job("download", "rec:1", "404: recording <gone>").await;
        let queued = store.catalog.enqueue(&NewJob::new("stitch", "conv:1", json!({}))).await.unwrap().id();

        let out = store.callvault(&["jobs", "ls", "--dead", "--json"]).await;
        out.assert_success();
        let jobs = out.json();
        assert_eq!(jobs.as_array().map(Vec::len), Some(1), "only the dead job: {jobs:#}");
        let job = entry(&jobs, dead);
        assert_eq!(job["kind"], "download");
        assert_eq!(job["dedupeKey"], "rec:1");
        assert_eq!(job["state"], "dead");
        assert_eq!(job["lastError"], "404: recording <gone>");
        assert_eq!((job["attempts"].clone(), job["maxAttempts"].clone()), (json!(1), json!(3)));
        assert!(job["finishedAt"].is_string(), "{job}");

        // By default: the live and the dead, newest first.
        let all = store.callvault(&["jobs", "ls", "--json"]).await;
        all.assert_success();
        let ids: Vec<Value> = all.json().as_array().unwrap().iter().map(|j| j["id"].clone()).collect();
        assert_eq!(ids, vec![json!(queued.get()), json!(dead.get())]);
        let text = store.callvault(&["jobs", "ls", "--kind", "download"]).await;
        text.assert_success();
        assert!(text.stdout.contains("404: recording <gone>"), "{}", text.stdout);
        assert!(!text.stdout.contains("conv:1"), "--kind filters: {}", text.stdout);

        let id = dead.to_string();
        let retried = store.callvault(&["jobs", "retry", &id]).await;
        retried.assert_success();
        assert!(retried.stdout.contains(&format!("requeued job {id} (download rec:1)")), "{}", retried.stdout);
        let job = store.catalog.job(dead).await.unwrap().unwrap();
        assert_eq!((job.state, job.attempts), (JobState::Queued, 0));

        let again = store.callvault(&["jobs", "retry", &id]).await;
        assert_eq!(again.code, Some(1), "{again:?}");
        assert!(again.stderr.contains(&format!("job {id} (download rec:1) is queued, not dead")), "{}", again.stderr);

        let missing = store.callvault(&["jobs", "retry", "999999"]).await;
        assert_eq!(missing.code, Some(1), "{missing:?}");
        assert!(missing.stderr.contains("there is no job 999999"), "{}", missing.stderr);
        store.finish().await;
    }

    async fn retry_all_dead_requeues_every_dead_job_and_names_those_it_cannot(backend) {
        let Some(store) = TestStore::new(backend).await else { return };
        let first = store.dead_job("download", "rec:1", "timed out").await;
        let second = store.dead_job("stitch", "conv:1", "leg missing").await;

        let out = store.callvault(&["jobs", "retry", "--all-dead"]).await;
        out.assert_success();
        assert!(out.stdout.contains("requeued 2 dead job(s)"), "{}", out.stdout);
        for id in [first, second] {
            let job = store.catalog.job(id).await.unwrap().unwrap();
            assert_eq!((job.state, job.attempts), (JobState::Queued, 0), "job {id}");
        }
        let none = store.callvault(&["jobs", "ls", "--dead", "--json"]).await;
        none.assert_success();
        assert_eq!(none.json(), json!([]));

        // A dead job whose work a live twin already has is left dead, with why.
        let blocked = store.dead_job("download", "rec:2", "503").await;
        let twin = store.catalog.enqueue(&NewJob::new("download", "rec:2", json!({}))).await.unwrap().id();
        let lone = store.dead_job("download", "rec:3", "503").await;
        let out = store.callvault(&["jobs", "retry", "--all-dead"]).await;
        assert_eq!(out.code, Some(1), "{out:?}");
        assert!(out.stdout.contains("requeued 1 dead job(s)"), "{}", out.stdout);
        let why = format!("job {blocked} (download rec:2) was not requeued: job {twin} with the same kind and key is already queued");
        assert!(out.stdout.contains(&why), "{}", out.stdout);
        assert!(out.stderr.contains("1 dead job(s) could not be requeued"), "{}", out.stderr);
        assert_eq!(store.catalog.job(blocked).await.unwrap().unwrap().state, JobState::Dead);
        assert_eq!(store.catalog.job(lone).await.unwrap().unwrap().state, JobState::Queued);

        let single = store.callvault(&["jobs", "retry", &blocked.to_string()]).await;
        assert_eq!(single.code, Some(1), "{single:?}");
        assert!(single.stderr.contains(&why), "{}", single.stderr);
        store.finish().await;
    }
}

#[tokio::test]
async fn retry_wants_an_id_or_all_dead_but_not_both() {
    let store = TestStore::new(Backend::Sqlite).await.expect("SQLite");
    for args in [
        &["jobs", "retry"][..],
        &["jobs", "retry", "1", "--all-dead"],
        &["jobs", "retry", "not-a-number"],
        &["jobs", "ls", "--dead", "--state", "queued"],
    ] {
        let out = store.callvault(args).await;
        assert_eq!(out.code, Some(2), "a usage error for {args:?}: {out:?}");
    }
    store.finish().await;
}
