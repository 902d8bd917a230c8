use std::time::Duration;

use serde_json::json;
use vault::{NewNotification, TelephonySessionId};

use crate::helpers::{eventually, on_both_backends};

fn note(uuid: &str, session: &str, sequence: i64) -> NewNotification {
    NewNotification {
        uuid: uuid.into(),
        telephony_session_id: Some(TelephonySessionId::parse(session).unwrap()),
        sequence: Some(sequence),
        event_time: None,
        body: json!({"uuid": uuid, "body": {"sequence": sequence}}),
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
        let a = c.acquire_singleton("rc-gateway", "host-a", Duration::from_millis(150)).await.unwrap().unwrap();
        assert!(c.acquire_singleton("rc-gateway", "host-b", long).await.unwrap().is_none());
        assert!(c.acquire_singleton("other", "host-b", long).await.unwrap().is_some());
        // host-a stops renewing; host-b takes over once the lease runs out.
        let b = eventually(Duration::from_secs(10), || async {
            c.acquire_singleton("rc-gateway", "host-b", long).await.unwrap()
        }).await;
        assert!(b.token() > a.token());
        assert!(!c.renew_singleton(&a, long).await.unwrap(), "the old holder learns it lost");
        assert!(c.renew_singleton(&b, long).await.unwrap());
        assert!(c.release_singleton(&b).await.unwrap());
        assert!(c.acquire_singleton("rc-gateway", "host-a", long).await.unwrap().is_some());
    }
}
