//! WebHook subscriptions over real HTTP: the validation handshake, the
//! subscription lifecycle (list, get, renew, update, delete, expiry, limit),
//! and blacklisting of failing receivers.

mod live_support;

use std::time::Duration;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use live_support::*;
use reqwest::Method;
use serde_json::{Value, json};

fn error_code(v: &Value) -> &str {
    v["errors"][0]["errorCode"].as_str().unwrap_or_default()
}

fn time(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_receiver_that_echoes_the_validation_token_gets_an_active_subscription() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;

    let (status, v) = h
        .subscribe(
            &[ACCOUNT_FILTER, EXTENSION_FILTER],
            &rx.url,
            Some("s3cret"),
            None,
        )
        .await;

    assert_eq!(status, StatusCode::OK, "{v}");
    let validations = rx.validations();
    assert_eq!(validations.len(), 1);
    let vh = &validations[0].headers;
    assert!(!vh["Validation-Token"].to_str().unwrap().is_empty());
    assert_eq!(vh["User-Agent"], "RingCentral-Webhook/8.3");
    assert_eq!(v["status"], "Active");
    assert_eq!(v["expiresIn"], 604_799);
    assert_eq!(
        (time(&v["expirationTime"]) - time(&v["creationTime"])).num_seconds(),
        604_800
    );
    let acc = h.account_id();
    let ext = h.extension_id(0);
    assert_eq!(
        v["eventFilters"],
        json!([
            format!("/restapi/v1.0/account/{acc}/telephony/sessions"),
            format!("/restapi/v1.0/account/{acc}/extension/{ext}/telephony/sessions"),
        ])
    );
    assert_eq!(
        v["deliveryMode"],
        json!({"transportType": "WebHook", "encryption": false, "address": rx.url})
    );
    assert!(
        !v.to_string().contains("s3cret"),
        "verificationToken must not be echoed"
    );
    let id = v["id"].as_str().unwrap();
    assert!(uuid::Uuid::parse_str(id).is_ok());
    assert_eq!(
        v["uri"],
        json!(h.url(&format!("/restapi/v1.0/subscription/{id}")))
    );
}

#[tokio::test]
async fn a_receiver_slower_than_the_limit_fails_with_sub_521() {
    let h = Harness::start(|c| c.subscriptions.webhook_timeout_ms = 300).await;
    let rx = Receiver::with(Reply::Sleep(Duration::from_millis(1500)), Reply::Ok).await;

    let (status, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, None).await;

    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "SUB-521");
    assert_eq!(v["errors"][0]["message"], "WebHook is not reachable");
}

#[tokio::test]
async fn wrong_or_missing_echo_bad_status_oversize_and_unreachable_receivers_are_refused() {
    let h = Harness::start(|_| {}).await;
    for (reply, code) in [
        (Reply::WrongEcho, "SUB-520"),
        (Reply::NoEcho, "SUB-520"),
        (Reply::Status(500), "SUB-525"),
        (Reply::Oversize, "SUB-525"),
    ] {
        let rx = Receiver::with(reply.clone(), Reply::Ok).await;
        let (status, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{reply:?}");
        assert_eq!(error_code(&v), code, "{reply:?}: {v}");
    }
    let gone = Receiver::start().await;
    let url = gone.url.clone();
    gone.shutdown().await;
    let (status, v) = h.subscribe(&[ACCOUNT_FILTER], &url, None, None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_code(&v), "SUB-521");
    let (_, list) = h.rc(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(
        list["records"],
        json!([]),
        "failed creations leave nothing behind"
    );
}

#[tokio::test]
async fn bad_requests_are_refused_before_any_handshake() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    let (s, v) = h
        .subscribe(
            &["/restapi/v1.0/account/~/extension/~/presence"],
            &rx.url,
            None,
            None,
        )
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "SUB-508"));
    let (s, v) = h
        .subscribe(
            &["/restapi/v1.0/account/~/telephony/sessions?bogus=1"],
            &rx.url,
            None,
            None,
        )
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "SUB-508"));
    let (s, v) = h
        .subscribe(
            &["/restapi/v1.0/account/12345/telephony/sessions"],
            &rx.url,
            None,
            None,
        )
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "SUB-406"));
    let body = json!({"eventFilters": [ACCOUNT_FILTER], "deliveryMode": {"transportType": "Webhook", "address": rx.url}});
    let (s, v) = h
        .rc(Method::POST, "/restapi/v1.0/subscription", Some(body))
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "CMN-101"));
    let body = json!({"eventFilters": [ACCOUNT_FILTER], "deliveryMode": {"transportType": "WebHook", "address": "ftp://x"}});
    let (s, v) = h
        .rc(Method::POST, "/restapi/v1.0/subscription", Some(body))
        .await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "CMN-101"));
    let (s, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, Some(0)).await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "CMN-101"));
    assert!(rx.validations().is_empty());
}

#[tokio::test]
async fn with_https_required_a_plain_http_address_fails_with_sub_523() {
    let h = Harness::start(|c| c.subscriptions.require_https = true).await;
    let rx = Receiver::start().await;
    let (s, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::BAD_REQUEST, "SUB-523"));
    assert!(rx.validations().is_empty());
}

#[tokio::test]
async fn list_get_renew_update_and_delete_follow_the_sandbox_clock() {
    let h = Harness::start(|c| c.subscriptions.max_expires_in = 1_000_000).await;
    let rx = Receiver::start().await;
    let (_, created) = h
        .subscribe(&[ACCOUNT_FILTER], &rx.url, None, Some(2_000_000))
        .await;
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["expiresIn"], 999_999,
        "expiresIn is clamped to the cap"
    );
    let path = format!("/restapi/v1.0/subscription/{id}");

    // expiresIn counts down on the sandbox clock.
    h.advance(1000.0).await;
    let (s, got) = h.rc(Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["expiresIn"], 998_999);
    let (_, list) = h.rc(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["uri"], json!(h.url("/restapi/v1.0/subscription")));
    assert_eq!(list["records"].as_array().unwrap().len(), 1);
    assert_eq!(list["records"][0]["id"], json!(id));

    // Renew keeps the subscription's own lifetime, from now.
    let (s, renewed) = h.rc(Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(renewed["expiresIn"], 999_999);
    assert!(time(&renewed["expirationTime"]) > time(&created["expirationTime"]));

    // PUT with filters replaces them; an empty PUT renews with the default lifetime.
    let (s, put) = h
        .rc(
            Method::PUT,
            &path,
            Some(json!({"eventFilters": [EXTENSION_FILTER], "expiresIn": 3600})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{put}");
    assert_eq!(put["expiresIn"], 3599);
    assert!(
        put["eventFilters"][0]
            .as_str()
            .unwrap()
            .contains("/extension/")
    );
    let resp = h
        .http
        .put(h.url(&path))
        .bearer_auth(&h.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::OK);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["expiresIn"], 604_799);

    let (s, _) = h.rc(Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, v) = h.rc(Method::GET, &path, None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "CMN-102"));
}

#[tokio::test]
async fn an_expired_subscription_answers_sub_507_and_receives_nothing() {
    let h = Harness::start(|_| {}).await;
    let expiring = Receiver::start().await;
    let witness = Receiver::start().await;
    let (_, v) = h
        .subscribe(&[ACCOUNT_FILTER], &expiring.url, None, Some(60))
        .await;
    let path = format!("/restapi/v1.0/subscription/{}", v["id"].as_str().unwrap());

    h.advance(61.0).await;
    let (s, v) = h.rc(Method::GET, &path, None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::NOT_FOUND, "SUB-507"));
    let (s, _) = h.rc(Method::POST, &format!("{path}/renew"), None).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list) = h.rc(Method::GET, "/restapi/v1.0/subscription", None).await;
    assert_eq!(list["records"], json!([]));

    h.subscribe_ok(&witness, &[ACCOUNT_FILTER]).await;
    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    h.advance(120.0).await;
    let all = witness.wait_count(7).await;
    assert_eq!(party_changes(&all).last().unwrap().1, "Disconnected");
    assert!(expiring.deliveries().is_empty());
}

#[tokio::test]
async fn the_thirty_first_subscription_of_a_user_and_app_is_refused() {
    let h = Harness::start(|c| c.rate_limits = None).await;
    let rx = Receiver::start().await;
    for _ in 0..30 {
        let (s, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let (s, v) = h.subscribe(&[ACCOUNT_FILTER], &rx.url, None, None).await;
    assert_eq!((s, error_code(&v)), (StatusCode::FORBIDDEN, "SUB-505"));
}

async fn wait_blacklisted(h: &Harness, id: &str) -> Value {
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (_, v) = h
            .rc(
                Method::GET,
                &format!("/restapi/v1.0/subscription/{id}"),
                None,
            )
            .await;
        if v["status"] == "Blacklisted" {
            return v;
        }
        assert!(tokio::time::Instant::now() < end, "never blacklisted: {v}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn three_failed_deliveries_blacklist_a_subscription_for_good() {
    let h = Harness::start(|_| {}).await;
    let failing = Receiver::with(Reply::Ok, Reply::Status(404)).await;
    let witness = Receiver::start().await;
    let id = h.subscribe_ok(&failing, &[ACCOUNT_FILTER]).await;

    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    h.advance(120.0).await;
    failing
        .wait_for("3 failed deliveries", |hits| hits.len() >= 3)
        .await;
    let v = wait_blacklisted(&h, &id).await;

    assert_eq!(
        v["blacklistedData"]["reason"],
        "Webhook responses with code: [404], reason: [Not Found]"
    );
    assert!(v["blacklistedData"]["blacklistedAt"].is_string());
    // The receiver recovers, the client renews: still blacklisted, nothing delivered.
    failing.set_delivery(Reply::Ok);
    let (s, renewed) = h
        .rc(
            Method::POST,
            &format!("/restapi/v1.0/subscription/{id}/renew"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(renewed["status"], "Blacklisted");
    h.subscribe_ok(&witness, &[ACCOUNT_FILTER]).await;
    h.call(inbound(vec![seg(1, 40, "HangUp")])).await;
    h.advance(120.0).await;
    witness.wait_count(7).await;
    assert_eq!(
        failing.deliveries().len(),
        3,
        "no delivery after blacklisting"
    );
    let (_, list) = h.rc(Method::GET, "/restapi/v1.0/subscription", None).await;
    let statuses: Vec<&str> = list["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert!(statuses.contains(&"Blacklisted") && statuses.contains(&"Active"));
}

#[tokio::test]
async fn slow_and_vanished_receivers_are_blacklisted_with_io_reasons() {
    let h = Harness::start(|c| {
        c.subscriptions.webhook_timeout_ms = 300;
        c.subscriptions.blacklist_after = 2;
    })
    .await;
    let slow = Receiver::with(Reply::Ok, Reply::Sleep(Duration::from_millis(1500))).await;
    let slow_id = h.subscribe_ok(&slow, &[ACCOUNT_FILTER]).await;
    let vanishing = Receiver::start().await;
    let gone_id = h.subscribe_ok(&vanishing, &[ACCOUNT_FILTER]).await;
    vanishing.shutdown().await;

    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    h.advance(120.0).await;

    let v = wait_blacklisted(&h, &slow_id).await;
    assert_eq!(
        v["blacklistedData"]["reason"],
        "I/O operation is failed. Details: [Read timed out]"
    );
    let v = wait_blacklisted(&h, &gone_id).await;
    assert_eq!(
        v["blacklistedData"]["reason"],
        "I/O operation is failed. Details: [Connection refused]"
    );
}
