//! Tests of the parent module.

use super::*;

fn seen(degraded: bool, dead_jobs: u64, active: Option<bool>) -> Conditions {
    Conditions {
        degraded,
        dead_jobs,
        subscription_active: active,
    }
}

fn now(degraded: Option<&str>, dead_jobs: u64, subscription: Option<&str>) -> Observed {
    Observed {
        degraded: degraded.map(str::to_owned),
        dead_jobs,
        subscription: subscription.map(str::to_owned),
    }
}

#[test]
fn only_transitions_into_a_bad_state_alert() {
    let calm = seen(false, 2, Some(true));
    assert_eq!(transitions(&calm, &now(None, 2, Some("Active"))), vec![]);
    assert_eq!(
        transitions(&calm, &now(Some("grown 31 min"), 5, Some("Blacklisted"))),
        vec![
            Alert::Degraded {
                reason: "grown 31 min".into()
            },
            Alert::DeadJobs { new: 3, total: 5 },
            Alert::SubscriptionLost {
                state: "Blacklisted".into()
            },
        ]
    );
    // Still bad: nothing new to say.
    let bad = seen(true, 5, Some(false));
    assert_eq!(
        transitions(&bad, &now(Some("grown 40 min"), 5, Some("Error"))),
        vec![]
    );
    // Dead jobs retried (fewer), then one more dies: that one is news.
    assert_eq!(
        transitions(&seen(false, 0, Some(true)), &now(None, 1, None)),
        vec![Alert::DeadJobs { new: 1, total: 1 }]
    );
    // Not checked yet is not lost.
    assert_eq!(
        transitions(&seen(false, 0, None), &now(None, 0, None)),
        vec![]
    );
}

#[test]
fn the_body_is_slack_text_plus_an_event_and_shows_no_stored_junk() {
    let a = Alert::SubscriptionLost {
        state: sanitize_state("Bad\n<script>token=abc</script>"),
    };
    let body = a.body();
    assert_eq!(body["event"], "subscription_lost");
    let text = body["text"].as_str().unwrap();
    assert!(text.contains("(state: Badscripttokenabcscript)"), "{text}");
    assert!(!text.contains('\n') && !text.contains('<'));
}

/// A chat server on loopback that answers 500 to its first request and
/// 200 after, keeping every body.
async fn flaky_inbox() -> (
    AlertUrl,
    std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
) {
    use axum::http::StatusCode;
    type Inbox = std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>;
    async fn receive(
        axum::extract::State(inbox): axum::extract::State<Inbox>,
        body: axum::Json<serde_json::Value>,
    ) -> StatusCode {
        let mut seen = inbox.lock().unwrap();
        seen.push(body.0);
        if seen.len() == 1 {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }
    let inbox: Inbox = Default::default();
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url.parse().unwrap(), inbox)
}

/// Real catalog, real HTTP: a failed try is repeated, a lasting
/// condition is told once even across a restart (the state is in the
/// catalog), and new dead jobs and a lost subscription are told.
#[tokio::test]
async fn alerts_are_retried_told_once_and_survive_a_restart() {
    let (catalog, _dir) = crate::test_catalog::sqlite_catalog().await;
    let (hook, inbox) = flaky_inbox().await;
    let received = |n: usize| {
        let inbox = inbox.clone();
        async move {
            let seen = inbox.lock().unwrap().clone();
            (seen.len() >= n)
                .then_some(seen.clone())
                .ok_or_else(|| format!("{seen:?}"))
        }
    };

    // Degraded, with 1 dead job already there before alerts were on.
    let mut alerts = Alerts::new(AlertSender::spawn(hook.clone()));
    alerts
        .observe(&catalog, &now(Some("grown 31 min"), 1, Some("Active")))
        .await;
    let seen =
        crate::test_wait::eventually("the retried alert", crate::test_wait::PATIENCE, || {
            received(2)
        })
        .await;
    assert_eq!(
        seen[0], seen[1],
        "the same alert, tried again after the 500"
    );
    assert_eq!(seen[1]["event"], "degraded");
    assert_eq!(seen[1]["text"], "CallVault is degraded: grown 31 min");

    // A restart (a new Alerts, the state read back): still degraded,
    // nothing new. Then two more dead jobs and the subscription lost.
    let mut restarted = Alerts::new(AlertSender::spawn(hook));
    restarted
        .observe(&catalog, &now(Some("grown 32 min"), 1, Some("Active")))
        .await;
    restarted
        .observe(&catalog, &now(Some("grown 33 min"), 3, Some("Blacklisted")))
        .await;
    let seen = crate::test_wait::eventually("two more alerts", crate::test_wait::PATIENCE, || {
        received(4)
    })
    .await;
    let events: Vec<&str> = seen[2..]
        .iter()
        .map(|a| a["event"].as_str().unwrap())
        .collect();
    assert_eq!(events, ["dead_jobs", "subscription_lost"]);
    assert!(
        seen[2]["text"].as_str().unwrap().contains("2 more job(s)"),
        "{}",
        seen[2]
    );
    // Still the same: nothing. Proven by a sentinel sent after it (one
    // more dead job): the sender posts in order, so it arrives fifth.
    restarted
        .observe(&catalog, &now(Some("grown 34 min"), 3, Some("Blacklisted")))
        .await;
    restarted
        .observe(&catalog, &now(Some("grown 35 min"), 4, Some("Blacklisted")))
        .await;
    let seen =
        crate::test_wait::eventually("the sentinel", crate::test_wait::PATIENCE, || received(5))
            .await;
    assert_eq!(seen.len(), 5, "{seen:?}");
    assert_eq!(seen[4]["event"], "dead_jobs");
    assert!(
        seen[4]["text"].as_str().unwrap().contains("1 more job(s)"),
        "{}",
        seen[4]
    );
    catalog.close().await;
}

#[test]
fn alert_urls_must_be_http_and_never_show_their_path() {
    let url: AlertUrl = "https://hooks.slack.com/services/T000/B000/SECRETPART"
        .parse()
        .unwrap();
    for shown in [format!("{url}"), format!("{url:?}")] {
        assert!(!shown.contains("SECRETPART"), "{shown}");
        assert!(shown.contains("hooks.slack.com"), "{shown}");
    }
    assert_eq!("ftp://x/y".parse::<AlertUrl>(), Err(AlertUrlError::NotHttp));
    assert_eq!("not a url".parse::<AlertUrl>(), Err(AlertUrlError::NotAUrl));
    assert_eq!("".parse::<AlertUrl>(), Err(AlertUrlError::NotAUrl));
}
