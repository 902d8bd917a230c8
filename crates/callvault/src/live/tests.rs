// Long because the live flow's end-to-end scenarios share one rig and read best side by side.
//! End-to-end tests of the live flow: the in-process sandbox delivers real
//! webhooks over loopback HTTP to the real receiver, which commits to a real
//! SQLite catalog; the real worker loop reads the call log and downloads.

use std::collections::BTreeSet;
use std::sync::atomic::Ordering;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rc_sandbox::model::{
    AudioFormat, CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript,
};
use rc_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use tokio_util::sync::CancellationToken;
use vault::{
    ArrivedBy, BlobStore, Catalog, ConversationId, ConversationState, JobState, RecordingId,
    RecordingState, TelephonySessionId,
};

use super::lossy_network::LossyNetwork;
use super::subscription::{Ensured, ensure_subscription, telephony_filters};
use super::workers::{SubscriptionPlan, Workers, run_workers};
use super::{LiveConfig, LiveState, TOKEN_SETTING, webhook_router};
use crate::gateway::GATEWAY;
use crate::sync::Downloader;
pub(super) use crate::test_wait::{PATIENCE, eventually};
use rc_api::ladder::Ladder;

/// One test's world: sandbox, catalog, blobs, receiver.
pub(super) struct Rig {
    sandbox: SandboxHandle,
    pub(super) client: rc_api::RcClient,
    pub(super) catalog: Catalog,
    blobs: BlobStore,
    pub(super) state: LiveState,
    public_url: String,
    _dir: tempfile::TempDir,
}

pub(super) fn fast_config() -> LiveConfig {
    LiveConfig {
        session_delay: chrono::Duration::zero(),
        schedule: Ladder {
            steps: vec![chrono::Duration::seconds(1)],
            min_gap: chrono::Duration::milliseconds(50),
            max_gap: chrono::Duration::milliseconds(200),
            give_up_after: None,
        },
        recheck: chrono::Duration::milliseconds(100),
        download_backstop: chrono::Duration::milliseconds(500),
        look_min_gap: chrono::Duration::milliseconds(100),
        workers: 2,
        poll_interval: Duration::from_millis(100),
        gateway_lease: Duration::from_secs(3),
        safety_net_backfill: chrono::Duration::hours(1),
        shutdown_grace: Duration::from_secs(2),
        retry: crate::jobs::Backoff {
            base: Duration::from_millis(50),
            cap: Duration::from_millis(500),
        },
        ..LiveConfig::default()
    }
}

pub(super) async fn rig(configure: impl FnOnce(&mut SandboxConfig), config: LiveConfig) -> Rig {
    if let Ok(filter) = std::env::var("TEST_LOG") {
        // `TEST_LOG=1` for the live flow's debug logs, or a filter of its own.
        let filter = if filter.contains('=') {
            filter
        } else {
            "callvault=debug,info".to_owned()
        };
        let _ = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_test_writer()
            .try_init();
    }
    let sandbox = Sandbox::builder()
        .seed(23)
        .configure(|c| {
            c.scenario.calls = 0;
            c.audio.format = AudioFormat::Wav;
            c.call_log_lag = chrono::Duration::seconds(10);
            c.recording_lag = chrono::Duration::seconds(10);
            // No Heavy limit to pace by: looks are paced by `look_min_gap`.
            c.rate_limits = None;
            configure(c);
        })
        .spawn()
        .await
        .expect("sandbox starts");
    let env: std::collections::HashMap<_, _> = sandbox.client_env().into_iter().collect();
    let mut rc = rc_api::Config::new(
        &env["RC_SERVER_URL"],
        &env["RC_CLIENT_ID"],
        env["RC_CLIENT_SECRET"].as_str(),
        env["RC_JWT"].as_str(),
    )
    .with_media_url(&env["RC_MEDIA_URL"]);
    rc.retry = rc_api::RetryPolicy {
        max_attempts: 8,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(100),
    };
    let client = rc_api::RcClient::new(rc).expect("client builds");
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite:{}?mode=rwc",
        dir.path().join("catalog.sqlite").display()
    );
    let catalog = Catalog::open(&url).await.unwrap();
    catalog.migrate().await.unwrap();
    let blobs = BlobStore::open(dir.path().join("blobs").to_str().unwrap()).unwrap();
    let state = LiveState::new(catalog.clone(), config);
    let public_url = serve(webhook_router(state.clone())).await;
    Rig {
        sandbox,
        client,
        catalog,
        blobs,
        state,
        public_url,
        _dir: dir,
    }
}

/// Serves `router` on an ephemeral loopback port; returns its base URL.
pub(super) async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

impl Rig {
    async fn subscribe(&self) -> (rc_api::models::SubscriptionInfo, Ensured) {
        ensure_subscription(
            &self.client,
            &self.catalog,
            &self.public_url,
            &telephony_filters(None),
            &self.state.config,
        )
        .await
        .expect("subscription")
    }

    pub(super) fn workers(&self) -> Workers {
        let downloader = Downloader {
            client: self.client.clone(),
            catalog: self.catalog.clone(),
            blobs: self.blobs.clone(),
            layout: vault::KeyLayout::default(),
            schedule: self.state.config.not_ready.clone(),
            backoff: self.state.config.retry,
        };
        let mut w = Workers::new(self.state.clone(), downloader);
        w.subscription = Some(SubscriptionPlan {
            public_url: self.public_url.clone(),
            filters: telephony_filters(None),
        });
        w
    }

    /// Adds a live call that started 5 s ago and lets sandbox time run past
    /// its end and the call-log lag, so every event fires.
    fn call(&self, segments: Vec<SegmentScript>) -> Call {
        self.call_with(segments, |_| {})
    }

    /// [`Rig::call`], with `before_events` told the call's sessions before
    /// the sandbox plays its first event.
    fn call_with(
        &self,
        segments: Vec<SegmentScript>,
        before_events: impl FnOnce(&[TelephonySessionId]),
    ) -> Call {
        let s = self.sandbox.state();
        let now = s.clock().now();
        let (index, sessions, recordings) = {
            let mut world = s.world_mut();
            let c = world
                .add(script(now - chrono::Duration::seconds(5), segments))
                .unwrap();
            (
                c.index,
                c.sessions
                    .iter()
                    .map(|x| TelephonySessionId::parse(&x.telephony_session_id).unwrap())
                    .collect::<Vec<_>>(),
                c.ordered_recordings()
                    .map(|r| RecordingId::parse(&r.id).unwrap())
                    .collect::<Vec<_>>(),
            )
        };
        before_events(&sessions);
        s.telephony().conversation_added(index, now);
        s.clock().advance(chrono::Duration::minutes(4));
        Call {
            sessions,
            recordings,
        }
    }
}

struct Call {
    sessions: Vec<TelephonySessionId>,
    recordings: Vec<RecordingId>,
}

fn segment(extension: usize, recorded: bool, handoff: Handoff) -> SegmentScript {
    SegmentScript {
        extension,
        ring_ms: 3_000,
        talk_ms: 40_000,
        recorded,
        handoff,
    }
}

fn script(start: DateTime<Utc>, segments: Vec<SegmentScript>) -> CallScript {
    CallScript {
        start,
        direction: Direction::Inbound,
        external: ExternalParty {
            phone_number: "+14155550123".into(),
            name: None,
        },
        segments,
        recording_kind: RecordingKind::Automatic,
    }
}

/// Waits until a stitch job and the session job of each of `sessions` have
/// run and no job is queued, leased or retrying; returns every job.
async fn settled(catalog: &Catalog, sessions: &[TelephonySessionId]) -> Vec<vault::Job> {
    eventually("the queue to settle", PATIENCE, || async {
        let mut jobs = Vec::new();
        for state in JobState::ALL {
            jobs.extend(catalog.jobs_in_state(state, 1000).await.unwrap());
        }
        let busy = jobs
            .iter()
            .any(|j| !matches!(j.state, JobState::Done | JobState::Dead));
        let stitched = jobs
            .iter()
            .any(|j| j.kind == crate::jobs::JobKind::Stitch.as_str());
        let followed = sessions.iter().all(|s| {
            let key = format!("session:{s}");
            jobs.iter().any(|j| j.dedupe_key == key)
        });
        if busy || !stitched || !followed {
            return Err(format!("{:#?}", summary(&jobs)));
        }
        Ok(jobs)
    })
    .await
}

/// `kind key state (last error)` per job, for failure messages.
fn summary(jobs: &[vault::Job]) -> Vec<String> {
    jobs.iter()
        .map(|j| {
            let why = j.last_error.as_deref().unwrap_or("");
            format!("{} {} {} {why}", j.kind, j.dedupe_key, j.state.as_str())
        })
        .collect()
}

/// The stitch jobs among `jobs`: at least one, all done and all keyed on
/// one conversation (a second one, queued while the first finished, finds
/// the legs unchanged and joins nothing). Returns the first.
fn one_stitch_job(jobs: &[vault::Job]) -> &vault::Job {
    let stitches: Vec<&vault::Job> = jobs
        .iter()
        .filter(|j| j.kind == crate::jobs::JobKind::Stitch.as_str())
        .collect();
    let keys: BTreeSet<&str> = stitches.iter().map(|j| j.dedupe_key.as_str()).collect();
    assert_eq!(
        keys.len(),
        1,
        "one conversation stitched: {:#?}",
        summary(jobs)
    );
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done),
        "{:#?}",
        summary(jobs)
    );
    stitches[0]
}

async fn all_stored(catalog: &Catalog, ids: &[RecordingId]) -> bool {
    for id in ids {
        match catalog.recording(id).await.unwrap() {
            Some(r) if r.state == RecordingState::Stored => {}
            _ => return false,
        }
    }
    true
}

#[tokio::test]
async fn a_blind_transfer_is_backed_up_from_webhooks_with_duplicates_absorbed() {
    let rig = rig(|_| {}, fast_config()).await;
    rig.sandbox
        .state()
        .faults()
        .set(rc_sandbox::faults::FaultConfig {
            webhook_duplicate: 0.5,
            webhook_reorder: 0.3,
            ..Default::default()
        });
    let (_, ensured) = rig.subscribe().await;
    assert!(matches!(ensured, Ensured::Created { .. }), "{ensured:?}");
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    eventually("the gateway reports the subscription", PATIENCE, || async {
        rig.state
            .metrics
            .subscription_active
            .load(Ordering::Relaxed)
            .then_some(())
    })
    .await;

    let call = rig.call(vec![
        segment(0, true, Handoff::BlindTransfer),
        segment(1, true, Handoff::HangUp),
    ]);
    let tsid = call.sessions[0].clone();
    assert_eq!(call.recordings.len(), 2);

    eventually("both recordings stored", PATIENCE, || async {
        all_stored(&rig.catalog, &call.recordings)
            .await
            .then_some(())
    })
    .await;
    let conversation = ConversationId::from(tsid.clone());
    // The workers run the stitch job and both session jobs: wait until the
    // queue is quiet (the sync may have listed the call before its webhooks
    // arrived, so the stitch alone is not the end).
    let jobs = settled(&rig.catalog, &call.sessions).await;
    let stitch = one_stitch_job(&jobs);
    assert_eq!(stitch.dedupe_key, format!("stitch:{conversation}"));
    assert_eq!(stitch.payload["conversation"], conversation.as_str());

    let conv = rig
        .catalog
        .conversation(&conversation)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.sessions, vec![tsid.clone()]);
    assert_eq!(conv.state, vault::ConversationState::Stitched);
    assert!(
        matches!(conv.arrived_by, ArrivedBy::Webhook | ArrivedBy::Both),
        "{:?}",
        conv.arrived_by
    );
    assert!(conv.ended_at.is_some());

    // Duplicates were delivered and absorbed: one row per uuid.
    let stored = rig.catalog.notifications_for_session(&tsid).await.unwrap();
    let uuids: BTreeSet<&str> = stored.iter().map(|n| n.uuid.as_str()).collect();
    assert_eq!(uuids.len(), stored.len());
    let m = &rig.state.metrics;
    assert!(m.notifications_duplicate.load(Ordering::Relaxed) > 0);
    assert_eq!(
        m.notifications_received.load(Ordering::Relaxed),
        stored.len() as u64
    );
    assert_eq!(m.notifications_rejected.load(Ordering::Relaxed), 0);

    stop.cancel();
    running.await.unwrap().unwrap();
    let jobs = rig.catalog.counts_by_state().await.unwrap();
    assert_eq!((jobs.leased, jobs.dead), (0, 0), "{jobs:?}");
}

#[tokio::test]
async fn an_attended_transfer_ends_as_one_conversation_of_two_sessions() {
    let rig = rig(|_| {}, fast_config()).await;
    rig.subscribe().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));

    let call = rig.call(vec![
        segment(0, true, Handoff::AttendedTransfer),
        segment(1, true, Handoff::HangUp),
    ]);
    assert_eq!(call.sessions.len(), 2);
    let first = ConversationId::from(call.sessions[0].clone());
    let second = ConversationId::from(call.sessions[1].clone());

    eventually("both recordings stored", PATIENCE, || async {
        all_stored(&rig.catalog, &call.recordings)
            .await
            .then_some(())
    })
    .await;
    // Whichever of the safety-net sync and the webhooks saw the call first,
    // the conversation is stitched once, keyed on the first session (the
    // sync listing the second session before its webhooks arrived once gave
    // it a stitch job of its own, keyed on the second session).
    let jobs = settled(&rig.catalog, &call.sessions).await;
    let stitch = one_stitch_job(&jobs);
    assert_eq!(stitch.dedupe_key, format!("stitch:{first}"));
    let sessions = jobs
        .iter()
        .filter(|j| j.kind == crate::jobs::JobKind::Session.as_str());
    assert_eq!(sessions.count(), 2, "{jobs:#?}");
    let conv = rig.catalog.conversation(&first).await.unwrap().unwrap();
    assert_eq!(conv.sessions, call.sessions);
    assert!(matches!(
        conv.arrived_by,
        ArrivedBy::Webhook | ArrivedBy::Both
    ));
    assert_eq!(
        rig.catalog
            .conversation_for_session(&call.sessions[1])
            .await
            .unwrap(),
        Some(first.clone())
    );
    assert!(rig.catalog.conversation(&second).await.unwrap().is_none());
    stop.cancel();
    running.await.unwrap().unwrap();
}

/// An attended transfer whose second session's notifications the network
/// holds back (RingCentral does not redeliver): the first session's job
/// finds the second in the batched look's call-log records, so the
/// conversation is stitched from both without them, and nothing dies.
/// `late`: the held notifications arrive after that, and change nothing.
async fn an_attended_transfer_whose_second_session_is_not_heard(late: bool) {
    let mut rig = rig(|_| {}, fast_config()).await;
    let network = LossyNetwork::new(&rig.public_url);
    rig.public_url = serve(network.router()).await;
    rig.subscribe().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));

    let call = rig.call_with(
        vec![
            segment(0, true, Handoff::AttendedTransfer),
            segment(1, true, Handoff::HangUp),
        ],
        |sessions| network.withhold(sessions[1].as_str()),
    );
    assert_eq!(call.sessions.len(), 2);
    let first = ConversationId::from(call.sessions[0].clone());
    let conv = eventually("the conversation stitched", PATIENCE, || async {
        match rig.catalog.conversation(&first).await.unwrap() {
            Some(c) if c.state == ConversationState::Stitched && c.sessions.len() == 2 => Ok(c),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    assert_eq!(conv.sessions, call.sessions);
    assert!(all_stored(&rig.catalog, &call.recordings).await);
    assert!(network.held() > 0, "the second session's events were sent");
    let heard = |tsid: &TelephonySessionId| {
        let catalog = rig.catalog.clone();
        let tsid = tsid.clone();
        async move {
            catalog
                .notifications_for_session(&tsid)
                .await
                .unwrap()
                .len()
        }
    };
    assert_eq!(heard(&call.sessions[1]).await, 0);

    let sessions: &[TelephonySessionId] = if late {
        network.release().await;
        assert!(heard(&call.sessions[1]).await > 0);
        &call.sessions
    } else {
        &call.sessions[..1]
    };
    let jobs = settled(&rig.catalog, sessions).await;
    assert_eq!(one_stitch_job(&jobs).dedupe_key, format!("stitch:{first}"));
    assert!(
        jobs.iter().all(|j| j.state == JobState::Done),
        "{:#?}",
        summary(&jobs)
    );
    let conv = rig.catalog.conversation(&first).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Stitched, "{conv:?}");
    assert_eq!(conv.sessions, call.sessions);
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn an_attended_transfer_whose_second_session_is_never_heard_is_stitched_from_the_call_log() {
    an_attended_transfer_whose_second_session_is_not_heard(false).await;
}

#[tokio::test]
async fn an_attended_transfer_whose_second_session_is_heard_late_is_stitched_once() {
    an_attended_transfer_whose_second_session_is_not_heard(true).await;
}

#[tokio::test]
async fn forged_or_malformed_deliveries_are_refused_and_store_nothing() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    catalog
        .set_setting(TOKEN_SETTING, "the-right-token")
        .await
        .unwrap();
    let config = LiveConfig {
        max_body_bytes: 4096,
        ..fast_config()
    };
    let state = LiveState::new(catalog.clone(), config);
    let base = serve(webhook_router(state.clone())).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let hook = format!("{base}/webhook/ringcentral");
    let tsid = "s-a0d7b1c2d3e4f5z0123456789abcdef";
    let body = serde_json::json!({
        "uuid": "1234567890",
        "event": "/restapi/v1.0/account/1/telephony/sessions",
        "body": {"sequence": 3, "telephonySessionId": tsid,
                 "parties": [{"id": "p-1", "status": {"code": "Disconnected"}}]}
    })
    .to_string();

    // The handshake is echoed only while we create a subscription.
    let handshake = || {
        http.post(&hook)
            .header("Validation-Token", "abc-123")
            .send()
    };
    let r = handshake().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(r.headers().get("validation-token").is_none());
    let open_until = Utc::now() + chrono::Duration::minutes(1);
    catalog
        .set_setting(super::VALIDATION_WINDOW_SETTING, &open_until.to_rfc3339())
        .await
        .unwrap();
    let r = handshake().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["validation-token"], "abc-123");
    let closed = Utc::now() - chrono::Duration::seconds(1);
    catalog
        .set_setting(super::VALIDATION_WINDOW_SETTING, &closed.to_rfc3339())
        .await
        .unwrap();
    assert_eq!(handshake().await.unwrap().status(), 403);

    let cases: Vec<(&str, Option<&str>, String, u16)> = vec![
        ("no token", None, body.clone(), 403),
        ("wrong token", Some("the-wrong-token"), body.clone(), 403),
        ("token prefix", Some("the-right"), body.clone(), 403),
        ("not JSON", Some("the-right-token"), "{nope".into(), 400),
        (
            "no session",
            Some("the-right-token"),
            r#"{"uuid":"1","body":{}}"#.into(),
            400,
        ),
        ("too large", Some("the-right-token"), "x".repeat(5000), 413),
    ];
    for (what, token, payload, want) in cases {
        let mut req = http.post(&hook).body(payload);
        if let Some(t) = token {
            req = req.header("Verification-Token", t);
        }
        let status = req.send().await.unwrap().status().as_u16();
        assert_eq!(status, want, "{what}");
    }
    let session = TelephonySessionId::parse(tsid).unwrap();
    assert!(
        catalog
            .notifications_for_session(&session)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(catalog.counts_by_state().await.unwrap().queued, 0);

    // The right token: stored once, the departure queues the session job once.
    for _ in 0..2 {
        let r = http
            .post(&hook)
            .header("Verification-Token", "the-right-token")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    assert_eq!(
        catalog
            .notifications_for_session(&session)
            .await
            .unwrap()
            .len(),
        1
    );
    let queued = catalog.jobs_in_state(JobState::Queued, 10).await.unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].dedupe_key, format!("session:{tsid}"));
}

#[tokio::test]
async fn a_blacklisted_subscription_is_recreated() {
    let rig = rig(|c| c.subscriptions.blacklist_after = 2, fast_config()).await;
    let (first, _) = rig.subscribe().await;
    let (again, ensured) = rig.subscribe().await;
    assert_eq!(
        (again.id.as_str(), ensured),
        (first.id.as_str(), Ensured::Reused)
    );

    // Our receiver stops recognising the token: deliveries fail with 403.
    rig.catalog
        .set_setting(TOKEN_SETTING, "rotated")
        .await
        .unwrap();
    rig.call(vec![segment(0, false, Handoff::HangUp)]);
    let registry = rig.sandbox.state().subscriptions();
    eventually("the sandbox blacklists us", PATIENCE, || async {
        matches!(
            registry.status(first.id.as_str()),
            Some(rc_sandbox::subscriptions::SubscriptionStatus::Blacklisted { .. })
        )
        .then_some(())
    })
    .await;

    let (fresh, ensured) = rig.subscribe().await;
    assert_ne!(fresh.id.as_str(), first.id.as_str());
    match ensured {
        Ensured::Created { because } => assert!(because.contains("Blacklisted"), "{because}"),
        other => panic!("expected a new subscription, got {other:?}"),
    }
    assert_eq!(
        registry.status(fresh.id.as_str()),
        Some(rc_sandbox::subscriptions::SubscriptionStatus::Active)
    );
    // The old one was deleted, and the new one is the one kept.
    assert_eq!(registry.status(first.id.as_str()), None);
    let (kept, ensured) = rig.subscribe().await;
    assert_eq!(
        (kept.id.as_str(), ensured),
        (fresh.id.as_str(), Ensured::Reused)
    );
}

#[tokio::test]
async fn recordings_that_never_reach_the_call_log_flag_the_conversation_incomplete() {
    let config = LiveConfig {
        // The sandbox clock runs minutes ahead of ours: a negative deadline
        // makes "past the deadline" true on the first look.
        deadline: chrono::Duration::hours(-1),
        ..fast_config()
    };
    let rig = rig(|c| c.call_log_lag = chrono::Duration::days(2), config).await;
    rig.subscribe().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    let call = rig.call(vec![segment(0, true, Handoff::HangUp)]);
    let id = ConversationId::from(call.sessions[0].clone());
    let conv = eventually("the conversation flagged", PATIENCE, || async {
        let c = rig.catalog.conversation(&id).await.unwrap()?;
        // (An early look, before the caller's hang-up arrived, may first
        // flag it for never ending; the final look names the recording.)
        let named = c.reason.as_deref().is_some_and(|r| r.contains("call log"));
        (c.state == ConversationState::Incomplete && named).then_some(c)
    })
    .await;
    let reason = conv.reason.unwrap_or_default();
    assert!(reason.contains(call.recordings[0].as_str()), "{reason}");
    assert!(
        reason.contains("never appeared in the call log"),
        "{reason}"
    );
    stop.cancel();
    running.await.unwrap().unwrap();
}

#[tokio::test]
async fn without_the_gateway_a_worker_leaves_ringcentral_jobs_alone_until_it_is_free() {
    let rig = rig(|_| {}, fast_config()).await;
    let other = rig
        .catalog
        .acquire_singleton(GATEWAY, "another-process", Duration::from_secs(60))
        .await
        .unwrap()
        .unwrap();
    let job = rig
        .catalog
        .enqueue(&vault::NewJob::new(
            crate::jobs::JobKind::Session.as_str(),
            "session:s-none",
            serde_json::json!({"tsid": "s-none"}),
        ))
        .await
        .unwrap()
        .id();
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    // Several poll intervals pass while another process holds the gateway.
    for _ in 0..5 {
        tokio::time::sleep(rig.state.config.poll_interval).await;
        let state = rig.catalog.job(job).await.unwrap().unwrap().state;
        assert_eq!(state, JobState::Queued);
    }
    rig.catalog.release_singleton(&other).await.unwrap();
    // Now it is ours: the job runs (and fails for good: no such session).
    eventually("the job taken", PATIENCE, || async {
        let j = rig.catalog.job(job).await.unwrap().unwrap();
        (j.state == JobState::Dead).then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    let holder = rig
        .catalog
        .acquire_singleton(GATEWAY, "a-third-process", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(holder.is_some(), "shutdown releases the gateway");
}

#[tokio::test]
async fn on_shutdown_a_download_in_flight_goes_back_to_the_queue() {
    let config = LiveConfig {
        shutdown_grace: Duration::from_millis(100),
        ..fast_config()
    };
    let rig = rig(|_| {}, config).await;
    // Recording content trickles out: the download is still running when we stop.
    rig.sandbox
        .state()
        .faults()
        .set(rc_sandbox::faults::FaultConfig {
            slow_body: 1.0,
            slow_body_bytes_per_sec: 2_000,
            ..Default::default()
        });
    rig.subscribe().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    rig.call(vec![segment(0, true, Handoff::HangUp)]);
    let leased = eventually("a download in flight", PATIENCE, || async {
        rig.catalog
            .jobs_in_state(JobState::Leased, 10)
            .await
            .unwrap()
            .into_iter()
            .find(|j| j.kind == crate::jobs::JobKind::Download.as_str())
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    let job = rig.catalog.job(leased.id).await.unwrap().unwrap();
    assert_eq!(job.state, JobState::Queued, "{job:?}");
    assert_eq!(job.attempts, 0, "a released job keeps its attempts");
    assert_eq!(job.holder, None);
}

#[tokio::test]
async fn with_no_webhooks_the_safety_net_sync_backs_the_call_up() {
    let rig = rig(|_| {}, fast_config()).await;
    // No subscription: the receiver never hears of this call.
    let call = rig.call(vec![segment(0, true, Handoff::HangUp)]);
    let stop = CancellationToken::new();
    // Without a plan the gateway keeps no subscription; its first duty is the sync.
    let mut workers = rig.workers();
    workers.subscription = None;
    let running = tokio::spawn(run_workers(workers, stop.clone()));
    eventually("the recording stored", PATIENCE, || async {
        all_stored(&rig.catalog, &call.recordings)
            .await
            .then_some(())
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    let conv = rig
        .catalog
        .conversation(&ConversationId::from(call.sessions[0].clone()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.arrived_by, ArrivedBy::Sync);
    assert!(
        rig.catalog
            .watermark(crate::sync::WATERMARK)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        rig.state
            .metrics
            .notifications_received
            .load(Ordering::Relaxed),
        0
    );
}

#[tokio::test]
async fn an_attended_transfer_only_the_sync_saw_is_stitched_once_under_its_first_session() {
    let rig = rig(|_| {}, fast_config()).await;
    // No subscription: only the safety-net sync hears of this call, and each
    // session's download may finish first.
    let call = rig.call(vec![
        segment(0, true, Handoff::AttendedTransfer),
        segment(1, true, Handoff::HangUp),
    ]);
    let first = ConversationId::from(call.sessions[0].clone());
    let stop = CancellationToken::new();
    let mut workers = rig.workers();
    workers.subscription = None;
    let running = tokio::spawn(run_workers(workers, stop.clone()));

    let conv = eventually("the conversation stitched", PATIENCE, || async {
        match rig.catalog.conversation(&first).await.unwrap() {
            Some(c) if c.state == ConversationState::Stitched => Ok(c),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    stop.cancel();
    running.await.unwrap().unwrap();
    assert_eq!(conv.sessions, call.sessions);
    assert_eq!(conv.arrived_by, ArrivedBy::Sync);
    let mut jobs = Vec::new();
    for state in [JobState::Done, JobState::Queued, JobState::Retry] {
        jobs.extend(rig.catalog.jobs_in_state(state, 100).await.unwrap());
    }
    let stitches: Vec<&str> = jobs
        .iter()
        .filter(|j| j.kind == crate::jobs::JobKind::Stitch.as_str())
        .map(|j| j.dedupe_key.as_str())
        .collect();
    assert_eq!(
        stitches,
        [format!("stitch:{first}")],
        "{:#?}",
        summary(&jobs)
    );
}

#[tokio::test]
async fn a_conversation_settled_single_on_one_listed_leg_is_stitched_when_the_sync_lists_the_other()
{
    let rig = rig(|_| {}, fast_config()).await;
    let start = rig.sandbox.state().clock().now() - chrono::Duration::seconds(5);
    let call = rig.call(vec![
        segment(0, true, Handoff::BlindTransfer),
        segment(1, true, Handoff::HangUp),
    ]);
    let id = ConversationId::from(call.sessions[0].clone());
    let workers = rig.workers();
    // Runs every due job of `kind` through the workers' own handler, in a
    // runner that drains.
    let drain = |kind: &'static [&'static str]| {
        let runner = crate::runner::Runner {
            catalog: rig.catalog.clone(),
            holder: "t".into(),
            settings: super::workers::runner_settings(&workers.state.config),
            kinds: crate::runner::fixed_kinds(kind),
            wake: Default::default(),
            handler: std::sync::Arc::new(super::handler::LiveJobs::new(workers.clone())),
            stop: Default::default(),
        };
        async move {
            let mode = crate::runner::Mode::Drain {
                max_wait: chrono::Duration::zero(),
                producing: None,
            };
            runner.run(mode).await.unwrap();
        }
    };
    let list = |to: DateTime<Utc>| {
        let (client, catalog) = (rig.client.clone(), rig.catalog.clone());
        async move {
            let mut report = crate::sync::Report::default();
            let progress = crate::sync::Progress::default();
            let from = start - chrono::Duration::hours(1);
            crate::sync::list(&client, &catalog, from, to, &progress, &mut report)
                .await
                .unwrap();
        }
    };

    // A sync whose range ends between the legs' starts lists the first leg
    // only: backed up, the conversation looks like one recording.
    list(start + chrono::Duration::seconds(20)).await;
    drain(&["download"]).await;
    let conv = rig.catalog.conversation(&id).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Single);

    // The next sync lists the second leg: once it is stored, the
    // conversation is stitched from both.
    list(rig.sandbox.state().clock().now()).await;
    drain(&["download"]).await;
    drain(&["stitch"]).await;
    assert!(all_stored(&rig.catalog, &call.recordings).await);
    let conv = rig.catalog.conversation(&id).await.unwrap().unwrap();
    assert_eq!(conv.state, ConversationState::Stitched, "{conv:?}");
}

/// One recorded call against a RingCentral clock `offset` from ours and
/// running `speed` times real time, whose record reaches the call log a few
/// sandbox seconds after the session job first looks: the job must find it
/// on the ladder, measured on RingCentral's clock (a stall would wait out
/// the hour-long `max_gap`), without looking in a busy loop.
async fn backed_up_despite_the_clocks(offset: chrono::Duration, speed: f64) {
    let config = LiveConfig {
        schedule: Ladder {
            steps: vec![chrono::Duration::seconds(2), chrono::Duration::seconds(4)],
            min_gap: chrono::Duration::seconds(1),
            max_gap: chrono::Duration::minutes(60),
            give_up_after: None,
        },
        ..fast_config()
    };
    let rig = rig(
        |c| {
            c.clock_offset = offset;
            c.speed = speed;
            // `Rig::call` moves the clock 4 min past a start 5 s ago; the
            // call ends 43 s after it starts: its record appears 3 s later.
            c.call_log_lag = chrono::Duration::seconds(240 - 38 + 3);
        },
        config,
    )
    .await;
    rig.subscribe().await;
    let stop = CancellationToken::new();
    let running = tokio::spawn(run_workers(rig.workers(), stop.clone()));
    let call = rig.call(vec![segment(0, true, Handoff::HangUp)]);
    let id = ConversationId::from(call.sessions[0].clone());
    let started = std::time::Instant::now();
    eventually("the call backed up", PATIENCE, || async {
        match rig.catalog.conversation(&id).await.unwrap() {
            Some(c) if c.state == ConversationState::Single => Ok(()),
            other => Err(format!("{other:?}")),
        }
    })
    .await;
    let took = started.elapsed();
    stop.cancel();
    running.await.unwrap().unwrap();
    let heavy = rig
        .client
        .rate_limit_metrics()
        .into_iter()
        .find(|m| m.group.as_str() == "heavy")
        .map_or(0, |m| m.requests);
    // A safety-net listing, a few looks at the call log, one download.
    assert!(heavy <= 8, "{heavy} Heavy requests: a busy loop");
    eprintln!("offset {offset}, speed {speed}: backed up in {took:?} with {heavy} Heavy requests");
}

#[tokio::test]
async fn a_ringcentral_clock_hours_ahead_of_ours_neither_stalls_nor_busy_loops() {
    backed_up_despite_the_clocks(chrono::Duration::hours(3), 1.0).await;
}

#[tokio::test]
async fn a_ringcentral_clock_hours_behind_ours_neither_stalls_nor_busy_loops() {
    backed_up_despite_the_clocks(chrono::Duration::hours(-3), 1.0).await;
}

#[tokio::test]
async fn a_ringcentral_clock_running_thirty_times_fast_neither_stalls_nor_busy_loops() {
    backed_up_despite_the_clocks(chrono::Duration::zero(), 30.0).await;
}
