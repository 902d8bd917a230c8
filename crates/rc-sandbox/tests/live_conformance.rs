//! Conformance: subscription responses and notification bodies validate
//! against RingCentral's published OpenAPI schemas (`SubscriptionInfo`,
//! `SubscriptionListResource`, `AccountTelephonySessionsEvent`,
//! `ExtensionTelephonySessionsEvent`, `CallSessionObject`).
//!
//! The schemas come from the spec extract in `tests/rest_fixtures/`, checked
//! by the one strict checker the REST conformance tests use
//! (`openapi_support`): required fields, types, enums, formats, `$ref`,
//! `allOf`/`anyOf`/`oneOf`, and no properties the schema does not declare.

mod live_support;
mod openapi_support;

use std::time::Duration;

use live_support::*;
use openapi_support::{assert_valid, schema_errors, spec};
use reqwest::Method;
use serde_json::json;

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let schemas = spec();
    let good = json!({"id": "x", "uri": "https://platform.example/restapi/v1.0/subscription/x", "eventFilters": [], "creationTime": "2026-01-01T00:00:00.000Z",
        "expirationTime": "2026-01-01T00:00:00.000Z", "status": "Active",
        "deliveryMode": {"transportType": "WebHook", "address": "http://a", "encryption": false}});
    assert_valid(&schemas, "SubscriptionInfo", &good);
    let mut bad = good.clone();
    bad["status"] = json!("Sleeping");
    bad["deliveryMode"]["encryption"] = json!(true);
    bad["expiresIn"] = json!("soon");
    bad["extra"] = json!(1);
    bad.as_object_mut().unwrap().remove("creationTime");
    let errs = schema_errors(&schemas, "SubscriptionInfo", &bad);
    for expected in [
        "Sleeping",
        "deliveryMode",
        "expiresIn",
        "extra",
        "creationTime",
    ] {
        assert!(
            errs.iter().any(|e| e.contains(expected)),
            "no error about {expected}: {errs:#?}"
        );
    }
}

#[tokio::test]
async fn subscription_responses_and_notifications_match_the_published_schemas() {
    let schemas = spec();
    let h = Harness::start(|c| {
        c.subscriptions.blacklist_after = 1;
        c.subscriptions.webhook_timeout_ms = 500;
    })
    .await;
    let rx = Receiver::start().await;
    let id = h
        .subscribe_ok(&rx, &[ACCOUNT_FILTER, EXTENSION_FILTER])
        .await;
    let sipdata = Receiver::start().await;
    h.subscribe_ok(
        &sipdata,
        &["/restapi/v1.0/account/~/telephony/sessions?sipData=true"],
    )
    .await;
    let failing = Receiver::with(Reply::Ok, Reply::Sleep(Duration::from_secs(2))).await;
    let failing_id = h.subscribe_ok(&failing, &[ACCOUNT_FILTER]).await;

    let (_, created) = h
        .rc(
            Method::GET,
            &format!("/restapi/v1.0/subscription/{id}"),
            None,
        )
        .await;
    assert_valid(&schemas, "SubscriptionInfo", &created);
    let (_, renewed) = h
        .rc(
            Method::POST,
            &format!("/restapi/v1.0/subscription/{id}/renew"),
            None,
        )
        .await;
    assert_valid(&schemas, "SubscriptionInfo", &renewed);

    h.call(inbound(vec![
        seg(0, 40, "BlindTransfer"),
        seg(1, 40, "AttendedTransfer"),
        seg(2, 40, "HangUp"),
    ]))
    .await;
    h.advance(400.0).await;
    let notes = rx.wait_count(18).await;
    let with_sip = sipdata.wait_count(18).await;
    for n in notes.iter().chain(&with_sip) {
        let schema = if n["event"].as_str().unwrap().contains("/extension/") {
            "ExtensionTelephonySessionsEvent"
        } else {
            "AccountTelephonySessionsEvent"
        };
        assert_valid(&schemas, schema, n);
    }
    assert!(with_sip[0]["body"]["parties"][0]["sipData"].is_object());

    // A blacklisted subscription in the list still matches the schema.
    let end = tokio::time::Instant::now() + DEADLINE;
    let list = loop {
        let (_, list) = h.rc(Method::GET, "/restapi/v1.0/subscription", None).await;
        let blacklisted = list["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["id"] == json!(failing_id) && r["status"] == "Blacklisted");
        if blacklisted {
            break list;
        }
        assert!(tokio::time::Instant::now() < end, "never blacklisted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_valid(&schemas, "SubscriptionListResource", &list);
}
