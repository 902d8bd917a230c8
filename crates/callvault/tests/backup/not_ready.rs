//! Recordings not downloadable yet, and recordings deleted at the source.

use chrono::{Duration, Utc};
use rc_api::ladder::Ladder;
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

/// Retry 10 s after the call's end, gone after 20 s (the client itself
/// retries a 404 for about 8 s before calling it not ready).
fn short_schedule() -> Ladder {
    Ladder {
        steps: vec![Duration::seconds(10)],
        min_gap: Duration::zero(),
        max_gap: Duration::seconds(20),
        give_up_after: Some(Duration::seconds(20)),
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

        // First sync: the late one is not downloadable yet and waits, counted
        // from the call's end; the deleted one waits too or, when the server
        // says so, is gone at once.
        let (first, _) = app.sync_with(short_schedule(), Duration::zero()).await;
        assert!(first.not_ready >= 1, "{first:?}");
        let rec = state_of(late.clone()).await;
        assert_eq!(rec.state, RecordingState::NotReady, "{late}");
        assert!(rec.next_attempt_at.unwrap() > Utc::now() - Duration::seconds(1));
        let rec = state_of(deleted.clone()).await;
        assert!(matches!(rec.state, RecordingState::NotReady | RecordingState::Gone), "{rec:?}");

        // The sandbox's clock passes the recording lag; a later sync stores
        // the late one and, past the schedule, calls the deleted one gone.
        app.sandbox.state().clock().advance(Duration::seconds(60));
        app.sync_with(short_schedule(), Duration::seconds(30)).await;
        assert_eq!(state_of(late.clone()).await.state, RecordingState::Stored);
        let gone = state_of(deleted.clone()).await;
        assert_eq!(gone.state, RecordingState::Gone);
        assert!(gone.last_error.is_some_and(|e| !e.is_empty()));
        let truth = app.assert_exact().await;
        assert!(truth.present.contains_key(&late) && truth.deleted.contains(&deleted));
        app.finish().await;
    }
}

on_both_backends! {
    async fn a_not_ready_retry_follows_ringcentrals_clock_even_when_it_is_hours_off_ours(backend) {
        let Some(app) = spawn_app(backend, 4, |c| {
            c.recording_lag = Duration::seconds(30);
        })
        .await else { return };
        // RingCentral's clock (the sandbox's, told in every `Date` header)
        // runs six hours ahead of ours: the call ends then.
        app.sandbox.state().clock().advance(Duration::hours(6));
        let late = call_ending_now(&app);
        let catalog = app.catalog().await;
        let id = RecordingId::parse(&late).unwrap();

        let (first, _) = app.sync_with(short_schedule(), Duration::zero()).await;
        assert!(first.not_ready >= 1, "{first:?}");
        let rec = catalog.recording(&id).await.unwrap().unwrap();
        assert_eq!(rec.state, RecordingState::NotReady);
        // 10 s after the call's end on RingCentral's clock is seconds away on
        // ours, not six hours.
        let wait = rec.next_attempt_at.unwrap() - Utc::now();
        assert!(wait < Duration::seconds(15), "retry in {wait}");

        // Past the lag, a sync that waits up to 30 s for due retries stores it.
        app.sandbox.state().clock().advance(Duration::seconds(60));
        app.sync_with(short_schedule(), Duration::seconds(30)).await;
        let rec = catalog.recording(&id).await.unwrap().unwrap();
        assert_eq!(rec.state, RecordingState::Stored, "{rec:?}");
        app.finish().await;
    }
}
