//! Conformance: every JSON body the sandbox serves is checked against the
//! response schema of the matching operation in RingCentral's public
//! OpenAPI spec (relevant extract), in a strict mode that also rejects
//! keys the schema does not define; and our shapes are compared with the
//! official sample payloads (same JSON types for the keys both use).

mod openapi_support;
mod rest_support;

use std::collections::{BTreeMap, BTreeSet};

use chrono::Duration;
use openapi_support::{Checker, response_schema, spec};
use rc_sandbox::SandboxHandle;
use rc_sandbox::model::{Direction, Handoff};
use rest_support::*;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/rest_fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Top-level keys real error bodies carry beyond the spec schemas
/// (RingCentral's documented error bodies: `errorCode`/`message` category copies, `parameterName` /
/// `permissionName` mirrors; RFC 6749 `error_description` on OAuth errors).
const DOCUMENTED_ERROR_EXTRAS: &[&str] = &[
    "errorCode",
    "message",
    "parameterName",
    "permissionName",
    "error_description",
];

fn assert_conforms(spec: &Value, path: &str, method: &str, status: &str, body: &Value) {
    let schema = response_schema(spec, path, method, status, "application/json");
    let checker = Checker {
        root: spec,
        strict: true,
    };
    let mut errs = Vec::new();
    checker.check(schema, body, "$", &mut errs);
    if !status.starts_with('2') {
        errs.retain(|e| {
            !DOCUMENTED_ERROR_EXTRAS
                .iter()
                .any(|k| *e == format!("$.{k}: not defined by the schema"))
        });
    }
    assert!(
        errs.is_empty(),
        "{method} {path} {status}:\n{}\nbody: {body:#}",
        errs.join("\n")
    );
}

async fn populated() -> (SandboxHandle, reqwest::Client, String) {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add(
        &h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![
                seg(0, 40, Handoff::BlindTransfer),
                seg(1, 50, Handoff::HangUp),
            ],
        ),
    );
    add(
        &h,
        script(
            now - Duration::hours(2),
            Direction::Inbound,
            vec![
                seg(0, 40, Handoff::AttendedTransfer),
                seg(2, 45, Handoff::HangUp),
            ],
        ),
    );
    add(
        &h,
        script(
            now - Duration::hours(3),
            Direction::Outbound,
            vec![seg(1, 12, Handoff::HangUp)],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    (h, c, t)
}

const LIST_ACCOUNT: &str = "/restapi/v1.0/account/{accountId}/call-log";
const LIST_EXTENSION: &str = "/restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log";
const ONE_ACCOUNT: &str = "/restapi/v1.0/account/{accountId}/call-log/{callRecordId}";
const ONE_EXTENSION: &str =
    "/restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log/{callRecordId}";
const METADATA: &str = "/restapi/v1.0/account/{accountId}/recording/{recordingId}";
const CONTENT: &str = "/restapi/v1.0/account/{accountId}/recording/{recordingId}/content";

#[tokio::test]
async fn call_log_lists_and_records_match_the_spec_in_both_views() {
    let spec = spec();
    let (h, c, t) = populated().await;
    let base = format!("{}/restapi/v1.0/account/~", h.platform_url());
    for view in ["Simple", "Detailed"] {
        let list = get_json(&c, &format!("{base}/call-log?view={view}&perPage=2"), &t).await;
        assert_eq!(list["records"].as_array().unwrap().len(), 2);
        assert_conforms(&spec, LIST_ACCOUNT, "get", "200", &list);
        if view == "Detailed" {
            // Strictness check: an unknown key deep inside is caught.
            let mut bad = list.clone();
            bad["records"][0]["legs"][0]["recordingId"] = "1".into();
            let schema = response_schema(&spec, LIST_ACCOUNT, "get", "200", "application/json");
            let mut errs = Vec::new();
            Checker {
                root: &spec,
                strict: true,
            }
            .check(schema, &bad, "$", &mut errs);
            assert_eq!(
                errs,
                vec!["$.records[0].legs[0].recordingId: not defined by the schema"]
            );
        }
        let list = get_json(
            &c,
            &format!("{base}/call-log?view={view}&page=2&perPage=2"),
            &t,
        )
        .await;
        assert_conforms(&spec, LIST_ACCOUNT, "get", "200", &list);
        let list = get_json(&c, &format!("{base}/extension/~/call-log?view={view}"), &t).await;
        assert_conforms(&spec, LIST_EXTENSION, "get", "200", &list);
        let empty = get_json(&c, &format!("{base}/call-log?view={view}&page=9"), &t).await;
        assert_conforms(&spec, LIST_ACCOUNT, "get", "200", &empty);
        let id = list["records"][0]["id"].as_str().unwrap();
        let one = get_json(&c, &format!("{base}/call-log/{id}?view={view}"), &t).await;
        assert_conforms(&spec, ONE_ACCOUNT, "get", "200", &one);
        let one = get_json(
            &c,
            &format!("{base}/extension/~/call-log/{id}?view={view}"),
            &t,
        )
        .await;
        assert_conforms(&spec, ONE_EXTENSION, "get", "200", &one);
    }
}

#[tokio::test]
async fn token_and_recording_responses_match_the_spec() {
    let spec = spec();
    let (h, c, t) = populated().await;
    let info = token_info(&h, &c).await;
    assert_conforms(&spec, "/restapi/oauth/token", "post", "200", &info);
    let (status, err) = token_request(
        &h,
        &c,
        &[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", "bad"),
        ],
    )
    .await;
    assert_eq!(status, 400);
    assert_conforms(&spec, "/restapi/oauth/token", "post", "400", &err);

    let list = get_json(
        &c,
        &format!(
            "{}/restapi/v1.0/account/~/call-log?recordingType=All",
            h.platform_url()
        ),
        &t,
    )
    .await;
    let rec = &list["records"][0]["recording"];
    let meta = get_json(&c, rec["uri"].as_str().unwrap(), &t).await;
    assert_conforms(&spec, METADATA, "get", "200", &meta);
    let r = get(&c, rec["contentUri"].as_str().unwrap(), &t).await;
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(
        !spec["paths"][CONTENT]["get"]["responses"]["200"]["content"][&ct].is_null(),
        "{ct} not declared"
    );
    assert_eq!(meta["contentType"], ct.as_str());
}

#[tokio::test]
async fn error_bodies_match_the_spec() {
    let spec = spec();
    let (h, c, t) = populated().await;
    let base = format!("{}/restapi/v1.0/account/~", h.platform_url());
    let r = get(&c, &format!("{base}/call-log?view=Wide"), &t).await;
    assert_eq!(r.status(), 400);
    assert_conforms(&spec, LIST_ACCOUNT, "get", "400", &r.json().await.unwrap());
    let r = get(&c, &format!("{base}/call-log/unknown"), &t).await;
    assert_eq!(r.status(), 404);
    assert_conforms(&spec, ONE_ACCOUNT, "get", "404", &r.json().await.unwrap());
    let r = get(&c, &format!("{base}/recording/1"), &t).await;
    assert_eq!(r.status(), 404);
    assert_conforms(&spec, METADATA, "get", "404", &r.json().await.unwrap());
    h.state().faults().set(rc_sandbox::faults::FaultConfig {
        http503: 1.0,
        ..Default::default()
    });
    let r = get(&c, &format!("{base}/call-log"), &t).await;
    assert_eq!(r.status(), 503);
    assert_conforms(&spec, LIST_ACCOUNT, "get", "503", &r.json().await.unwrap());
    h.state().faults().set(rc_sandbox::faults::FaultConfig {
        http500: 1.0,
        ..Default::default()
    });
    let r = get(&c, &format!("{base}/call-log"), &t).await;
    assert_conforms(&spec, LIST_ACCOUNT, "get", "500", &r.json().await.unwrap());
}

#[tokio::test]
async fn a_missing_app_permission_gets_the_official_403_body() {
    // Arrange: an app registered without ReadCallLog and ReadCallRecording.
    let spec = spec();
    let h = spawn(|c| {
        c.permissions.app =
            rc_sandbox::permissions::PermissionSet::parse("ReadAccounts,CallControl").unwrap();
    })
    .await;
    let c = client();
    let t = token(&h, &c).await;
    let base = format!("{}/restapi/v1.0/account/~", h.platform_url());
    // Act + Assert: each call answers the documented body, byte for byte
    // the same JSON as the official sample, and it conforms to the spec.
    for (url, path, fixture_name) in [
        (
            format!("{base}/call-log"),
            LIST_ACCOUNT,
            "docs.access-md.403-insufficient-permissions-ReadCallLog.json",
        ),
        (
            format!("{base}/extension/~/call-log"),
            "/restapi/v1.0/account/{accountId}/extension/{extensionId}/call-log",
            "docs.access-md.403-insufficient-permissions-ReadCallLog.json",
        ),
        (
            format!("{base}/recording/1"),
            METADATA,
            "docs.access-md.403-insufficient-permissions-ReadCallRecording.json",
        ),
    ] {
        let r = get(&c, &url, &t).await;
        assert_eq!(r.status(), 403, "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body, fixture(fixture_name), "{url}");
        assert_conforms(&spec, path, "get", "403", &body);
    }
}

#[tokio::test]
async fn a_user_without_the_company_call_log_gets_cmn_419_but_reads_their_own() {
    let spec = spec();
    let h = spawn(|c| c.permissions.company_call_log = false).await;
    let c = client();
    let t = token(&h, &c).await;
    let base = format!("{}/restapi/v1.0/account/~", h.platform_url());
    let other = h.state().world().extensions[1].id;
    for url in [
        format!("{base}/call-log?perPage=1"),
        format!("{base}/extension/{other}/call-log?perPage=1"),
    ] {
        let r = get(&c, &url, &t).await;
        assert_eq!(r.status(), 403, "{url}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(code(&body), "CMN-419", "{body}");
        assert_eq!(body["errorCode"], "InsufficientPermissions");
        assert_eq!(body["errors"][0]["permissionName"], "ReadCallLog");
        assert_conforms(&spec, LIST_ACCOUNT, "get", "403", &body);
    }
    get_json(&c, &format!("{base}/extension/~/call-log?perPage=1"), &t).await;
}

#[test]
fn the_official_samples_pass_the_checker() {
    // Guards the checker itself: published payloads must conform
    // (non-strict: old samples carry keys the current spec dropped).
    let spec = spec();
    let loose = Checker {
        root: &spec,
        strict: false,
    };
    for (file, path, method) in [
        ("docs.details-md.list-simple.json", LIST_EXTENSION, "get"),
        (
            "spec-1.0.46.readUserCallLog.detailed.json",
            LIST_EXTENSION,
            "get",
        ),
        (
            "spec-1.0.46.readCallRecording.metadata.json",
            METADATA,
            "get",
        ),
    ] {
        let schema = response_schema(&spec, path, method, "200", "application/json");
        let mut errs = Vec::new();
        loose.check(schema, &fixture(file), "$", &mut errs);
        // The 2021 samples elide hosts ("https//…") and the docs use "..snip.." URIs.
        errs.retain(|e| !e.contains("is not a uri"));
        assert!(errs.is_empty(), "{file}: {errs:?}");
    }
    // And a broken body fails it.
    let schema = response_schema(&spec, METADATA, "get", "200", "application/json");
    let mut errs = Vec::new();
    loose.check(schema, &serde_json::json!({"id": 5}), "$", &mut errs);
    assert!(errs.len() >= 4, "{errs:?}");
}

/// `key path → JSON type` of every value in `v` (array items merged as `[]`).
fn shape(v: &Value, path: String, out: &mut BTreeMap<String, BTreeSet<&'static str>>) {
    let t = match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    };
    out.entry(path.clone()).or_default().insert(t);
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| shape(x, format!("{path}.{k}"), out)),
        Value::Array(a) => a.iter().for_each(|x| shape(x, format!("{path}[]"), out)),
        _ => {}
    }
}

#[tokio::test]
async fn our_shapes_agree_with_the_official_samples() {
    let (h, c, t) = populated().await;
    let ours = get_json(
        &c,
        &format!(
            "{}/restapi/v1.0/account/~/call-log?view=Detailed",
            h.platform_url()
        ),
        &t,
    )
    .await;
    let mut our_shape = BTreeMap::new();
    shape(&ours, "$".into(), &mut our_shape);
    let mut seen_in_samples = BTreeSet::new();
    for file in [
        "docs.details-md.list-simple.json",
        "spec-1.0.46.readUserCallLog.detailed.json",
        "spec-1.0.46.readCompanyCallLog.detailed.json",
    ] {
        let mut theirs = BTreeMap::new();
        shape(&fixture(file), "$".into(), &mut theirs);
        for (path, types) in &theirs {
            if let Some(our_types) = our_shape.get(path) {
                seen_in_samples.insert(path.clone());
                // Numbers: samples write costs as 0 or 1.560; both are JSON numbers.
                let norm = |s: &BTreeSet<&'static str>| -> BTreeSet<&'static str> {
                    s.iter()
                        .map(|t| if *t == "integer" { "number" } else { *t })
                        .collect()
                };
                let numeric_ok = path.contains("billing") && norm(types) == norm(our_types);
                assert!(
                    types == our_types || numeric_ok,
                    "{file}: {path} is {types:?} there, {our_types:?} here"
                );
            }
        }
    }
    for must in [
        "$.uri",
        "$.records[].uri",
        "$.records[].id",
        "$.records[].sessionId",
        "$.records[].telephonySessionId",
        "$.records[].startTime",
        "$.records[].duration",
        "$.records[].durationMs",
        "$.records[].type",
        "$.records[].direction",
        "$.records[].action",
        "$.records[].result",
        "$.records[].from.phoneNumber",
        "$.records[].to.phoneNumber",
        "$.records[].recording.contentUri",
        "$.records[].recording.type",
        "$.records[].transport",
        "$.records[].lastModifiedTime",
        "$.records[].billing.costIncluded",
        "$.records[].legs[].legType",
        "$.records[].legs[].extension.id",
        "$.records[].recording.id",
        "$.paging.perPage",
        "$.paging.pageStart",
        "$.paging.pageEnd",
        "$.navigation.firstPage.uri",
    ] {
        assert!(
            seen_in_samples.contains(must),
            "{must} missing from our payload or from every sample"
        );
    }
    // Token info keys of the sample are all present in ours.
    let sample = fixture("docs.jwt-flow-md.token-response.json");
    let info = token_info(&h, &c).await;
    for k in sample.as_object().unwrap().keys() {
        assert!(info.get(k).is_some(), "token info lacks {k}");
    }
    // Recording metadata has exactly the sample's keys.
    let meta_sample = fixture("spec-1.0.46.readCallRecording.metadata.json");
    let rec = &ours["records"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r.get("recording").is_some())
        .unwrap()["recording"];
    let meta = get_json(&c, rec["uri"].as_str().unwrap(), &t).await;
    let keys = |v: &Value| {
        v.as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(keys(&meta), keys(&meta_sample));
}

const DELETE_RECORDINGS: &str = "/restapi/v1.0/account/{accountId}/call-recordings";

/// The ids of every recording of the populated world.
fn recording_ids(h: &SandboxHandle) -> Vec<String> {
    let w = h.state().world();
    w.conversations
        .iter()
        .flat_map(|c| c.legs.iter())
        .filter_map(|l| l.recording.as_ref().map(|r| r.id.clone()))
        .collect()
}

async fn delete_recordings(
    c: &reqwest::Client,
    h: &SandboxHandle,
    token: &str,
    body: &Value,
) -> reqwest::Response {
    c.delete(format!(
        "{}/restapi/v1.0/account/~/call-recordings",
        h.platform_url()
    ))
    .bearer_auth(token)
    .json(body)
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn deleting_recordings_answers_204_and_its_errors_match_the_spec() {
    let spec = spec();
    let (h, c, t) = populated().await;
    let ids = recording_ids(&h);
    assert!(!ids.is_empty());

    // 400: an empty batch, more than 100 ids, a body without `records`.
    let hundred_one: Vec<String> = (0..101).map(|i| format!("9{i:05}")).collect();
    for body in [
        serde_json::json!({"records": []}),
        serde_json::json!({ "records": hundred_one }),
        serde_json::json!({"ids": [ids[0]]}),
    ] {
        let r = delete_recordings(&c, &h, &t, &body).await;
        assert_eq!(r.status(), 400, "{body}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(code(&b), "CMN-101");
        assert_conforms(&spec, DELETE_RECORDINGS, "delete", "400", &b);
    }
    // 404: a batch naming an unknown id deletes nothing.
    let r = delete_recordings(&c, &h, &t, &serde_json::json!({"records": [ids[0], "1"]})).await;
    assert_eq!(r.status(), 404);
    let b: Value = r.json().await.unwrap();
    assert_eq!(code(&b), "CMN-102");
    assert_conforms(&spec, DELETE_RECORDINGS, "delete", "404", &b);
    let meta = format!(
        "{}/restapi/v1.0/account/~/recording/{}",
        h.platform_url(),
        ids[0]
    );
    assert_eq!(get(&c, &meta, &t).await.status(), 200, "nothing deleted");

    // 204, Heavy; then metadata and content answer 404 CMN-102.
    let r = delete_recordings(&c, &h, &t, &serde_json::json!({"records": [ids[0]]})).await;
    assert_eq!(r.status(), 204);
    assert!(r.bytes().await.unwrap().is_empty());
    let r = get(&c, &meta, &t).await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "CMN-102");
    let content = format!(
        "{}/restapi/v1.0/account/~/recording/{}/content",
        h.media_url(),
        ids[0]
    );
    let r = get(&c, &content, &t).await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "CMN-102");
    // Deleting it again: it is unknown now.
    let r = delete_recordings(&c, &h, &t, &serde_json::json!({"records": [ids[0]]})).await;
    assert_eq!(r.status(), 404);
    assert_eq!(h.state().deletions().batches(), vec![vec![ids[0].clone()]]);
}
