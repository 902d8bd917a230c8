//! Recordings not downloadable yet, and recordings deleted at the source.

use chrono::{Duration, Utc};
use rc_api::availability::NotReadySchedule;
use rc_sandbox::model::CallScript;
use vault::{RecordingId, RecordingState};

use crate::helpers::{TestApp, on_both_backends, spawn_app};

/// Adds a recorded one-segment call that ends at the sandbox's "now" and
/// returns its recording id.
fn call_ending_now(app: &TestApp) -> String {
    let state = app.sandbox.state();
    let now = state.clock().now();
    let script: CallScript = serde_json::from_value(serde_json::json!({
        "start": now - Duration::milliseconds(32_000),
        "direction": "Inbound",
        "external": {"phone_number": "+16505550199", "name": "Late Caller"},
        "segments": [{"extension": 0, "ring_ms": 1000, "talk_ms": 31_000,
                      "recorded": true, "handoff": "HangUp"}],
        "recording_kind": "Automatic",
    }))
    .unwrap();
    let (index, id) = {
        let mut world = state.world_mut();
        let c = world.add(script).unwrap();
        (c.index, c.ordered_recordings().next().unwrap().id.clone())
    };
    state.telephony().conversation_added(index, now);
    id
}

fn short_schedule() -> NotReadySchedule {
    NotReadySchedule {
        steps: vec![Duration::seconds(3)],
        give_up_after: Duration::seconds(6),
    }
}

on_both_backends! {
    async fn a_fresh_recording_is_not_ready_first_and_stored_later_while_a_deleted_one_ends_gone(backend) {
        let Some(app) = spawn_app(backend, 16, |c| {
            c.recording_lag = Duration::seconds(30);
        })
        .await else { return };
        let late = call_ending_now(&app);
        let deleted = call_ending_now(&app);
        assert!(app.sandbox.state().world_mut().delete_recording(&deleted));
        let catalog = app.catalog().await;
        let state_of = |id: String| {
            let catalog = catalog.clone();
            async move {
                catalog
                    .recording(&RecordingId::parse(&id).unwrap())
                    .await
                    .unwrap()
                    .unwrap()
            }
        };

        // First sync: neither is downloadable; both wait, counted from the call's end.
        let (first, _) = app.sync_with(short_schedule(), Duration::zero()).await;
        assert_eq!(first.not_ready, 2, "{first:?}");
        for id in [&late, &deleted] {
            let rec = state_of(id.clone()).await;
            assert_eq!(rec.state, RecordingState::NotReady, "{id}");
            assert!(rec.next_attempt_at.unwrap() > Utc::now() - Duration::seconds(1));
        }

        // The sandbox's clock passes the recording lag; a later sync stores
        // the late one and, past the schedule, calls the deleted one gone.
        app.sandbox.state().clock().advance(Duration::seconds(60));
        let (second, _) = app.sync_with(short_schedule(), Duration::seconds(15)).await;
        assert_eq!(second.gone, 1, "{second:?}");
        assert_eq!(state_of(late.clone()).await.state, RecordingState::Stored);
        let gone = state_of(deleted.clone()).await;
        assert_eq!(gone.state, RecordingState::Gone);
        assert!(gone.last_error.is_some_and(|e| !e.is_empty()));
        let truth = app.assert_exact().await;
        assert!(truth.present.contains_key(&late) && truth.deleted.contains(&deleted));
        app.finish().await;
    }
}
