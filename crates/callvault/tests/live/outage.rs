//! The receiver is down while calls happen: every delivery fails, the
//! sandbox blacklists the subscription, and the notifications are gone for
//! good (RingCentral does not retry). After the restart the safety-net sync
//! backs those calls up from the call log, the subscription is recreated,
//! and later calls arrive by webhook again.

use std::time::Duration;

use rc_sandbox::model::Handoff;
use rc_sandbox::subscriptions::SubscriptionStatus;
use vault::ArrivedBy;

use crate::helpers::*;

/// On PostgreSQL when `CALLVAULT_TEST_POSTGRES` is set (as in CI), else on
/// SQLite: the traffic test covers SQLite, and one more `serve` at once
/// would push this binary past three minutes on the shared 2-core machine.
#[tokio::test]
async fn while_the_receiver_is_down_the_safety_net_fills_the_gap_and_the_subscription_is_recreated()
{
    let backend = if std::env::var_os("CALLVAULT_TEST_POSTGRES").is_some() {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    // Arrange: serve backs up a few calls by webhook.
    let mut live = Live::new(11, backend, |_| {}).await.expect("a catalog");
    live.start_serve(2).await;
    let first = live.active_subscription(None).await;
    let now = live.sandbox.state().clock().now();
    let before = live.add_calls(vec![
        scripted(now, &[(0, Handoff::HangUp)]),
        scripted(now, &[(1, Handoff::BlindTransfer), (2, Handoff::HangUp)]),
    ]);
    let before = live.truth(&before).await;
    wait_settled(&live, &before, PATIENCE).await;

    // Act: serve goes down; calls happen (one of them an attended transfer).
    live.kill_serve();
    let mut down = live.random_calls(8, Duration::from_millis(300));
    let now = live.sandbox.state().clock().now();
    down.extend(live.add_calls(vec![scripted(
        now,
        &[(3, Handoff::AttendedTransfer), (4, Handoff::HangUp)],
    )]));
    let down = live.truth(&down).await;
    let sandbox = live.sandbox.state().clone();
    let registry = sandbox.subscriptions();
    let reason = eventually(
        "the sandbox blacklists the subscription",
        PATIENCE,
        || async {
            match registry.status(&first) {
                Some(SubscriptionStatus::Blacklisted { reason, .. }) => Some(reason),
                _ => None,
            }
        },
    )
    .await;
    // The receiver could not be reached: refused by a host with nothing
    // listening, reset by the test's front (which keeps the webhook
    // address bound while serve is down, and closes what it accepts).
    assert!(
        reason.contains("Connection refused") || reason.contains("Connection reset"),
        "{reason}"
    );
    live.wait_until_listed(&down).await;
    live.start_serve(2).await;

    // Assert: a new subscription replaced the blacklisted one.
    let second = live.active_subscription(Some(&first)).await;
    assert_ne!(second, first);
    assert_eq!(
        registry.status(&first),
        None,
        "the blacklisted one is deleted"
    );

    // A forged delivery to the real receiver (no or a wrong
    // `Verification-Token`) is refused and stores nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let forged_session = "s-f0a9ed0000000000000000000000000z0000000000000";
    let forged = serde_json::json!({
        "uuid": "forged-1",
        "event": "/restapi/v1.0/account/~/telephony/sessions",
        "subscriptionId": second,
        "body": {"sequence": 1, "telephonySessionId": forged_session,
                 "parties": [{"id": "p-1", "status": {"code": "Disconnected"}}]}
    })
    .to_string();
    for token in [None, Some("not-the-token")] {
        let mut req = http
            .post(format!("{}/webhook/ringcentral", live.public_url()))
            .body(forged.clone());
        if let Some(t) = token {
            req = req.header("Verification-Token", t);
        }
        assert_eq!(req.send().await.unwrap().status(), 403, "token {token:?}");
    }
    let forged_session = vault::TelephonySessionId::parse(forged_session).unwrap();
    assert!(
        live.catalog
            .notifications_for_session(&forged_session)
            .await
            .unwrap()
            .is_empty()
    );

    // The safety-net sync backed every missed call up, and says so.
    eventually(
        "the safety net to back up the missed calls",
        PATIENCE,
        || async {
            match first_unstored(&live.catalog, &down).await {
                Some(missing) => Err(missing),
                None => Ok(()),
            }
        },
    )
    .await;
    for t in &down {
        assert!(!t.events.is_empty());
        for session in &t.sessions {
            assert!(
                live.catalog
                    .notifications_for_session(session)
                    .await
                    .unwrap()
                    .is_empty(),
                "no notification of {session} got through"
            );
            // (A stitch may already have folded an attended transfer's
            // second session into the first one's conversation.)
            let id = live
                .catalog
                .conversation_for_session(session)
                .await
                .unwrap();
            let id = id.unwrap_or_else(|| panic!("conversation of session {session}"));
            let conv = live.catalog.conversation(&id).await.unwrap().unwrap();
            assert_eq!(conv.arrived_by, ArrivedBy::Sync, "session {session}");
        }
    }
    // No webhook named them, so no session job finishes them: their last
    // download queues the stitch, and multi-leg ones play in order.
    wait_settled(&live, &down, PATIENCE).await;
    for t in &down {
        assert_backed_up(&live, t, &[ArrivedBy::Sync]).await;
    }

    // Calls after the restart arrive by webhook on the new subscription.
    let now = live.sandbox.state().clock().now();
    let after = live.add_calls(vec![
        scripted(now, &[(5, Handoff::AttendedTransfer), (6, Handoff::HangUp)]),
        scripted(
            now,
            &[
                (7, Handoff::BlindTransfer),
                (0, Handoff::BlindTransfer),
                (1, Handoff::HangUp),
            ],
        ),
    ]);
    let after = live.truth(&after).await;
    wait_settled(&live, &after, PATIENCE).await;
    for t in &after {
        assert_every_notification_once(&live.catalog, t).await;
        assert_backed_up(&live, t, &[ArrivedBy::Webhook, ArrivedBy::Both]).await;
    }
    // The calls from before the outage were left as they were (the
    // safety net saw them again: webhook and sync both).
    for t in &before {
        assert_backed_up(&live, t, &[ArrivedBy::Webhook, ArrivedBy::Both]).await;
    }
    let jobs = live.catalog.counts_by_state().await.unwrap();
    assert_eq!(jobs.dead, 0, "{jobs:?}");
    live.finish().await;
}
