//! Capacity planning end to end: live calls arrive faster than the Heavy
//! budget can download them, and every surface says so: `/status` (its
//! plain sentence), `callvault status --json`, `/metrics`
//! (`callvault_capacity_exceeded 1`), `/healthz` (200 `degraded: …`) and
//! the alert webhook (once, on the transition).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::routing::post;
use rc_sandbox::ratelimit::RateLimitConfig;
use rc_sandbox::scenario::ScenarioConfig;
use serde_json::Value;
use vault::users::{NewUser, Role};

use crate::helpers::*;
use crate::login_support::post_login;

/// What the alert webhook received, in order.
type Inbox = Arc<Mutex<Vec<Value>>>;

/// A chat server stand-in on loopback: records every JSON body POSTed to
/// `/hook`.
async fn alert_inbox() -> (String, Inbox) {
    async fn receive(State(inbox): State<Inbox>, body: axum::Json<Value>) {
        inbox.lock().unwrap().push(body.0);
    }
    let inbox: Inbox = Arc::default();
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(inbox.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, inbox)
}

const ADMIN: (&str, &str) = ("capacity-admin", "a long enough password 1");

/// A client logged in to `base` as [`ADMIN`].
async fn admin_client(base: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap();
    let login = post_login(&client, base, ADMIN.0, ADMIN.1, "/status").await;
    assert_eq!(login.status(), 303, "the admin logs in");
    client
}

/// `(status, body)` of a GET.
async fn get(client: &reqwest::Client, url: String) -> Result<(u16, String), String> {
    let r = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    Ok((status, r.text().await.map_err(|e| e.to_string())?))
}

/// The sentence's middle, which the limit in force fixes: 2 Heavy requests
/// per 4 s window are 30 a minute.
const ALLOWS: &str = "RingCentral allows 30 Heavy requests a minute; about ";

#[tokio::test]
async fn offered_load_above_the_heavy_budget_turns_the_capacity_warning_on_everywhere_and_alerts() {
    // Arrange: RingCentral allows 2 Heavy requests per 4 s window (30 a
    // minute); short calls, a third transferred; an admin; serve with the
    // alert webhook and a 3 s degraded limit.
    let (hook, inbox) = alert_inbox().await;
    let mut live = Live::new(23, Backend::Sqlite, |c| {
        c.rate_limits = Some(RateLimitConfig {
            window_secs: 4,
            penalty_secs: 4,
            heavy: 2,
            ..RateLimitConfig::default()
        });
        c.scenario = ScenarioConfig {
            calls: 0,
            ..short_calls()
        };
    })
    .await
    .expect("a catalog");
    live.catalog
        .create_user(&NewUser {
            name: ADMIN.0.into(),
            password_hash: callvault::web::auth::password::hash_password(ADMIN.1).unwrap(),
            role: Role::Admin,
            extensions: vec![],
        })
        .await
        .unwrap()
        .unwrap();
    live.start_serve_with(
        3600,
        &["--alert-webhook", &hook, "--degraded-after-secs", "3"],
    )
    .await;
    live.active_subscription(None).await;
    let started = std::time::Instant::now();

    // Act: 90 calls a minute, about 100 recordings: three times the budget.
    live.sandbox.state().live().set_calls_per_minute(90.0);

    // Assert: the alert webhook hears "degraded", with the sentence.
    let alert = eventually("a degraded alert", PATIENCE, || async {
        let seen = inbox.lock().unwrap().clone();
        seen.iter()
            .find(|a| a["event"] == "degraded")
            .cloned()
            .ok_or_else(|| format!("alerts so far: {seen:?}"))
    })
    .await;
    let degraded_after = started.elapsed();
    let text = alert["text"].as_str().expect("a Slack-compatible text");
    assert!(
        text.starts_with("CallVault is degraded: the backlog of recordings has grown"),
        "{text}"
    );
    assert!(text.contains(ALLOWS), "{text}");

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let base = live.public_url();
    // /healthz: still 200 (the node serves), saying why it is degraded.
    eventually("/healthz to say degraded", PATIENCE, || async {
        let (status, body) = get(&http, format!("{base}/healthz")).await?;
        (status == 200 && body.starts_with("degraded: the backlog of recordings has grown"))
            .then_some(())
            .ok_or(format!("{status} {body:?}"))
    })
    .await;
    // /metrics: the gauges, the budget in force, and the old series kept.
    eventually("/metrics to say exceeded", PATIENCE, || async {
        let (_, body) = get(&http, format!("{base}/metrics")).await?;
        let want = [
            "callvault_capacity_exceeded 1\n",
            "callvault_degraded 1\n",
            "callvault_heavy_allowed_per_minute 30\n",
            "callvault_ratelimit_requests_total{group=\"heavy\"}",
            "callvault_backlog_growth_per_hour ",
            "callvault_backlog_oldest_seconds ",
        ];
        match want.iter().find(|w| !body.contains(*w)) {
            None => Ok(()),
            Some(missing) => Err(format!(
                "missing {missing:?} in: {}",
                body.lines()
                    .filter(|l| !l.starts_with('#')
                        && (l.contains("capacity")
                            || l.contains("heavy")
                            || l.contains("backlog")
                            || l.contains("degraded")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            )),
        }
    })
    .await;
    // /status: the plain sentence, for the admin.
    let admin = admin_client(&base).await;
    let sentence = eventually("/status to show the warning", PATIENCE, || async {
        let (status, page) = get(&admin, format!("{base}/status")).await?;
        let marker = "id=\"capacity-warning\">";
        let Some(at) = page.find(marker) else {
            return Err(format!("{status}, no warning yet"));
        };
        let rest = &page[at + marker.len()..];
        Ok(rest[..rest.find('<').unwrap_or(rest.len())].to_owned())
    })
    .await;
    assert!(
        sentence.starts_with("At the current call rate the backlog grows by ")
            && sentence.contains(" recordings an hour; ")
            && sentence.contains(ALLOWS)
            && sentence.ends_with(" are needed (ask RingCentral to raise the limit)."),
        "{sentence}"
    );
    // status --json: new fields beside the counts scripts read.
    let status = eventually("status --json to say exceeded", PATIENCE, || async {
        let s = live.status_json().await;
        (s["capacity"]["exceeded"] == true)
            .then_some(s.clone())
            .ok_or(s["capacity"].to_string())
    })
    .await;
    assert!(status["recordings"]["stored"].is_u64() && status["jobs"]["dead"].is_u64());
    let capacity = &status["capacity"];
    assert_eq!(capacity["heavyAllowedPerMinute"], 30.0);
    assert!(
        capacity["heavyNeededPerMinute"].as_f64().unwrap() > 30.0,
        "{capacity}"
    );
    assert!(capacity["backlog"].as_u64().unwrap() > 0, "{capacity}");
    assert!(
        capacity["warning"].as_str().unwrap().contains(ALLOWS),
        "{capacity}"
    );

    // One alert per transition, and none carries a secret or an id.
    live.sandbox.state().live().set_calls_per_minute(0.0);
    let alerts = inbox.lock().unwrap().clone();
    assert_eq!(
        alerts.iter().filter(|a| a["event"] == "degraded").count(),
        1,
        "{alerts:?}"
    );
    let token = live
        .catalog
        .setting(callvault::live::TOKEN_SETTING)
        .await
        .unwrap()
        .expect("a verification token");
    let env = live.sandbox.client_env();
    for a in &alerts {
        let body = a.to_string();
        assert!(!body.contains(&token), "{body}");
        for (name, value) in &env {
            if name.contains("SECRET") || name.contains("JWT") || name.contains("URL") {
                assert!(!body.contains(value.as_str()), "{name} in {body}");
            }
        }
    }
    eprintln!(
        "degraded alert after {:.1} s of overload; whole test {:.1} s\n/status: {sentence}\nstatus --json capacity: {capacity}",
        degraded_after.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    live.finish().await;
}
