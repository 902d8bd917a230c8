use std::time::Duration;

use serde_json::json;
use vault::{JobState, NewJob, NewNotification, NotificationWrite, TelephonySessionId};

use crate::helpers::{PATIENCE, eventually, on_both_backends};

fn note(uuid: &str, session: &str, sequence: i64) -> NewNotification {
    NewNotification {
        uuid: uuid.into(),
        telephony_session_id: Some(TelephonySessionId::parse(session).unwrap()),
        sequence: Some(sequence),
        event_time: None,
        body: json!({"uuid": uuid, "body": {"sequence": sequence}}).to_string(),
    }
}

on_both_backends! {
    async fn duplicate_notifications_are_absorbed_and_sessions_read_in_sequence(db) {
        let c = &db.catalog;
        assert!(c.insert_notification(&note("u3", "s-1", 3)).await.unwrap());
        assert!(c.insert_notification(&note("u1", "s-1", 1)).await.unwrap());
        assert!(!c.insert_notification(&note("u1", "s-1", 1)).await.unwrap());
        assert!(c.insert_notification(&note("u2", "s-2", 2)).await.unwrap());
        let got = c.notifications_for_session(&TelephonySessionId::parse("s-1").unwrap()).await.unwrap();
        let order: Vec<_> = got.iter().map(|n| n.uuid.as_str()).collect();
        assert_eq!(order, ["u1", "u3"]);
        assert_eq!(got[0].body, json!({"uuid": "u1", "body": {"sequence": 1}}));
    }

    async fn a_group_commit_stores_each_uuid_once_and_queues_jobs_only_for_new_ones(db) {
        let c = &db.catalog;
        let job = |session: &str| Some(NewJob::new("session", format!("session:{session}"), json!({"tsid": session})));
        let w = |uuid: &str, session: &str, seq: i64, departs: bool| NotificationWrite {
            notification: note(uuid, session, seq),
            job: if departs { job(session) } else { None },
        };
        // Committed before: its redelivery must not queue its job again.
        assert_eq!(c.commit_notifications(&[w("old", "s-9", 1, false)]).await.unwrap(), [true]);
        let batch = [
            w("a", "s-1", 1, false),
            w("b", "s-1", 2, true),
            w("a", "s-1", 1, false), // duplicate inside the batch
            w("old", "s-9", 1, true), // duplicate of a committed one, with a job
            w("c", "s-2", 5, true),
            w("d", "s-2", 6, true),  // second departure of s-2: one live job
        ];
        let got = c.commit_notifications(&batch).await.unwrap();
        assert_eq!(got, [true, true, false, false, true, true]);
        let s1 = c.notifications_for_session(&TelephonySessionId::parse("s-1").unwrap()).await.unwrap();
        assert_eq!(s1.iter().map(|n| n.uuid.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        let queued = c.jobs_in_state(JobState::Queued, 10).await.unwrap();
        let mut keys: Vec<_> = queued.iter().map(|j| j.dedupe_key.as_str()).collect();
        keys.sort();
        assert_eq!(keys, ["session:s-1", "session:s-2"]);
        // An empty batch is a no-op.
        assert!(c.commit_notifications(&[]).await.unwrap().is_empty());
        // The same batch again: all duplicates, nothing queued twice.
        let again = c.commit_notifications(&batch).await.unwrap();
        assert_eq!(again, [false; 6]);
        assert_eq!(c.jobs_in_state(JobState::Queued, 10).await.unwrap().len(), 2);
    }

    async fn a_large_group_commit_spans_several_statements(db) {
        let c = &db.catalog;
        let batch: Vec<_> = (0..1200)
            .map(|i| NotificationWrite { notification: note(&format!("n{i}"), "s-big", i), job: None })
            .collect();
        let got = c.commit_notifications(&batch).await.unwrap();
        assert!(got.iter().all(|new| *new));
        let stored = c.notifications_for_session(&TelephonySessionId::parse("s-big").unwrap()).await.unwrap();
        assert_eq!(stored.len(), 1200);
    }

    async fn a_setting_reports_its_age(db) {
        let c = &db.catalog;
        assert_eq!(c.setting_with_age("x").await.unwrap(), None);
        c.set_setting("x", "Active").await.unwrap();
        let (value, age) = c.setting_with_age("x").await.unwrap().unwrap();
        assert_eq!(value, "Active");
        assert!(age < Duration::from_secs(60), "{age:?}");
    }

    async fn settings_are_kept_by_name(db) {
        let c = &db.catalog;
        assert_eq!(c.setting("subscription.id").await.unwrap(), None);
        c.set_setting("subscription.id", "abc").await.unwrap();
        c.set_setting("subscription.id", "def").await.unwrap();
        assert_eq!(c.setting("subscription.id").await.unwrap().as_deref(), Some("def"));
    }

    async fn one_process_at_a_time_holds_a_singleton(db) {
        let c = &db.catalog;
        let long = Duration::from_secs(60);
        let lease = Duration::from_millis(1000);
        let acquired = std::time::Instant::now();
        let a = c.acquire_singleton("rc-gateway", "host-a", lease).await.unwrap().unwrap();
        let early = c.acquire_singleton("rc-gateway", "host-b", long).await.unwrap();
        // Only meaningful while a's lease runs: a stalled machine may have
        // let it expire in between, and then b taking over is right.
        if acquired.elapsed() < lease {
            assert!(early.is_none(), "held while the lease runs");
        }
        assert!(c.acquire_singleton("other", "host-b", long).await.unwrap().is_some());
        // host-a stops renewing; host-b takes over once the lease runs out.
        let b = match early {
            Some(b) => b,
            None => eventually(PATIENCE, || async {
                c.acquire_singleton("rc-gateway", "host-b", long).await.unwrap()
            }).await,
        };
        assert!(b.token() > a.token());
        assert!(!c.renew_singleton(&a, long).await.unwrap(), "the old holder learns it lost");
        assert!(c.renew_singleton(&b, long).await.unwrap());
        assert!(c.release_singleton(&b).await.unwrap());
        assert!(c.acquire_singleton("rc-gateway", "host-a", long).await.unwrap().is_some());
    }
}

/// A rough ingest figure for the webhook receiver (run with `--ignored
/// --nocapture`): 16 concurrent writers commit 5,000 notifications.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement, not a check"]
async fn notification_ingest_rate() {
    let mut dbs = vec![crate::helpers::sqlite().await];
    if let Some(pg) = crate::helpers::postgres().await {
        dbs.push(pg);
    }
    for db in dbs {
        let started = std::time::Instant::now();
        let mut tasks = Vec::new();
        for w in 0..16 {
            let c = db.catalog.clone();
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                for i in 0..(5000 / 16 + 1) {
                    let t = std::time::Instant::now();
                    c.insert_notification(&note(
                        &format!("u{w}-{i}"),
                        &format!("s-{w}-{}", i % 7),
                        i,
                    ))
                    .await
                    .unwrap();
                    lat.push(t.elapsed());
                }
                lat
            }));
        }
        let mut lat = Vec::new();
        for t in tasks {
            lat.extend(t.await.unwrap());
        }
        let elapsed = started.elapsed();
        lat.sort();
        let p = |q: f64| lat[((lat.len() as f64 - 1.0) * q) as usize];
        eprintln!(
            "{:?}: {} notifications in {:?} = {:.0}/s, p50 {:?}, p99 {:?}",
            db.catalog.backend(),
            lat.len(),
            elapsed,
            lat.len() as f64 / elapsed.as_secs_f64(),
            p(0.5),
            p(0.99)
        );
        db.finish().await;
    }
}
