//! Conformance: subscription responses and notification bodies validate
//! against RingCentral's published OpenAPI schemas (`SubscriptionInfo`,
//! `SubscriptionListResource`, `AccountTelephonySessionsEvent`,
//! `ExtensionTelephonySessionsEvent`, `CallSessionObject`).
//!
//! The schemas come from `rc-public-openapi.relevant-extract.yaml`, looked up
//! in `RC_OPENAPI_EXTRACT`, then the REST tests' fixture copy
//! (`tests/rest_fixtures/`), then the shared fixtures directory; the tests
//! say "skipped" when none exists. The checker is strict about
//! what we emit: required fields, types, enums, `format: date-time`, `$ref`,
//! `allOf`/`anyOf`/`oneOf`, and no properties the schema does not declare.

mod live_support;

use std::time::Duration;

use live_support::*;
use reqwest::Method;
use serde_json::{Value, json};

const SHARED_EXTRACT: &str =
    "/work/shared/ringcentral/fixtures/openapi/rc-public-openapi.relevant-extract.yaml";

struct Schemas(Value);

impl Schemas {
    fn load() -> Option<Schemas> {
        let candidates = [
            std::env::var("RC_OPENAPI_EXTRACT").ok(),
            Some(format!(
                "{}/tests/rest_fixtures/rc-public-openapi.relevant-extract.yaml",
                env!("CARGO_MANIFEST_DIR")
            )),
            Some(SHARED_EXTRACT.to_string()),
        ];
        let text = candidates
            .into_iter()
            .flatten()
            .find_map(|p| std::fs::read_to_string(p).ok())?;
        let doc: Value = serde_yaml_ng::from_str(&text).unwrap();
        Some(Schemas(doc["components"]["schemas"].clone()))
    }

    /// Problems found validating `v` against the named schema (empty = valid).
    fn check(&self, name: &str, v: &Value) -> Vec<String> {
        let mut errs = Vec::new();
        self.walk(
            &json!({"$ref": format!("#/components/schemas/{name}")}),
            v,
            name,
            &mut errs,
        );
        errs
    }

    fn resolve<'a>(&'a self, schema: &'a Value) -> &'a Value {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap();
                let target = &self.0[name];
                assert!(!target.is_null(), "unresolved $ref {r}");
                self.resolve(target)
            }
            None => schema,
        }
    }

    fn walk(&self, schema: &Value, v: &Value, at: &str, errs: &mut Vec<String>) {
        let schema = self.resolve(schema);
        if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
            // Merge the branches' properties so strictness sees all of them.
            let mut merged = json!({"type": "object", "properties": {}, "required": []});
            for part in all {
                let part = self.resolve(part);
                if let Some(p) = part.get("properties").and_then(Value::as_object) {
                    for (k, s) in p {
                        merged["properties"][k] = s.clone();
                    }
                }
                if let Some(r) = part.get("required").and_then(Value::as_array) {
                    merged["required"]
                        .as_array_mut()
                        .unwrap()
                        .extend(r.iter().cloned());
                }
            }
            return self.walk(&merged, v, at, errs);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema.get(key).and_then(Value::as_array) {
                let results: Vec<Vec<String>> = branches
                    .iter()
                    .map(|b| {
                        let mut e = Vec::new();
                        self.walk(b, v, at, &mut e);
                        e
                    })
                    .collect();
                if !results.iter().any(Vec::is_empty) {
                    errs.push(format!("{at}: matches no {key} branch: {results:?}"));
                }
                return;
            }
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array)
            && !values.contains(v)
        {
            errs.push(format!("{at}: {v} not in enum {values:?}"));
        }
        let ty = schema.get("type").and_then(Value::as_str);
        let type_ok = match ty {
            Some("object") => v.is_object(),
            Some("array") => v.is_array(),
            Some("string") => v.is_string(),
            Some("integer") => v.is_i64() || v.is_u64(),
            Some("number") => v.is_number(),
            Some("boolean") => v.is_boolean(),
            _ => true,
        };
        if !type_ok {
            errs.push(format!("{at}: {v} is not {}", ty.unwrap_or("?")));
            return;
        }
        if schema.get("format").and_then(Value::as_str) == Some("date-time")
            && let Some(s) = v.as_str()
            && chrono::DateTime::parse_from_rfc3339(s).is_err()
        {
            errs.push(format!("{at}: {s:?} is not a date-time"));
        }
        if let Some(min) = schema.get("minimum").and_then(Value::as_i64)
            && v.as_i64().is_some_and(|n| n < min)
        {
            errs.push(format!("{at}: {v} below minimum {min}"));
        }
        if let Some(obj) = v.as_object() {
            let props = schema.get("properties").and_then(Value::as_object);
            for r in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let r = r.as_str().unwrap();
                if !obj.contains_key(r) {
                    errs.push(format!("{at}: missing required {r}"));
                }
            }
            if let Some(props) = props {
                let open = schema
                    .get("additionalProperties")
                    .is_some_and(|a| a != &json!(false));
                for (k, val) in obj {
                    match props.get(k) {
                        Some(s) => self.walk(s, val, &format!("{at}.{k}"), errs),
                        None if !open => errs.push(format!("{at}: undeclared property {k}")),
                        None => {}
                    }
                }
            }
        }
        if let (Some(items), Some(arr)) = (schema.get("items"), v.as_array()) {
            for (i, x) in arr.iter().enumerate() {
                self.walk(items, x, &format!("{at}[{i}]"), errs);
            }
        }
    }
}

fn assert_valid(schemas: &Schemas, name: &str, v: &Value) {
    let errs = schemas.check(name, v);
    assert!(
        errs.is_empty(),
        "{name} invalid:\n{}\n{v:#}",
        errs.join("\n")
    );
}

#[test]
fn the_checker_rejects_what_the_schema_forbids() {
    let Some(schemas) = Schemas::load() else {
        eprintln!("skipped: OpenAPI extract not found");
        return;
    };
    let good = json!({"id": "x", "uri": "u", "eventFilters": [], "creationTime": "2026-01-01T00:00:00.000Z",
        "expirationTime": "2026-01-01T00:00:00.000Z", "status": "Active",
        "deliveryMode": {"transportType": "WebHook", "address": "http://a", "encryption": false}});
    assert_valid(&schemas, "SubscriptionInfo", &good);
    let mut bad = good.clone();
    bad["status"] = json!("Sleeping");
    bad["deliveryMode"]["encryption"] = json!(true);
    bad["expiresIn"] = json!("soon");
    bad["extra"] = json!(1);
    bad.as_object_mut().unwrap().remove("creationTime");
    let errs = schemas.check("SubscriptionInfo", &bad);
    assert_eq!(errs.len(), 5, "{errs:#?}");
}

#[tokio::test]
async fn subscription_responses_and_notifications_match_the_published_schemas() {
    let Some(schemas) = Schemas::load() else {
        eprintln!("skipped: OpenAPI extract not found (set RC_OPENAPI_EXTRACT)");
        return;
    };
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
