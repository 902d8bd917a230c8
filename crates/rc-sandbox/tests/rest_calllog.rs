//! Call log: paging, default window, validation, lag, levels, views,
//! transfers and single records.

mod rest_support;

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use rc_sandbox::model::{Direction, Handoff};
use rest_support::*;
use serde_json::Value;

fn ids(page: &Value) -> Vec<String> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

fn start_times(page: &Value) -> Vec<DateTime<Utc>> {
    page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["startTime"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn walking_next_page_until_absent_returns_every_record_once_newest_first() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add_many(&h, 25, now - Duration::hours(1), Duration::minutes(30));
    let c = client();
    let t = token(&h, &c).await;
    let mut url = call_log_url(&h, "perPage=10");
    let mut seen = Vec::new();
    let mut times = Vec::new();
    let mut pages = 0;
    loop {
        let page = get_json(&c, &url, &t).await;
        pages += 1;
        let n = ids(&page).len();
        assert_eq!(page["paging"]["perPage"], 10);
        assert_eq!(page["paging"]["page"], pages);
        assert_eq!(page["paging"]["pageStart"], (pages - 1) * 10);
        assert_eq!(page["paging"]["pageEnd"], (pages - 1) * 10 + n - 1);
        assert!(
            page["navigation"]["firstPage"]["uri"]
                .as_str()
                .unwrap()
                .contains("page=1&perPage=10")
        );
        seen.extend(ids(&page));
        times.extend(start_times(&page));
        match page["navigation"]["nextPage"]["uri"].as_str() {
            Some(next) => url = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 25);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), 25);
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first");
}

#[tokio::test]
async fn without_date_from_only_the_last_24_hours_are_listed() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add(
        &h,
        script(
            now - Duration::hours(2),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    add(
        &h,
        script(
            now - Duration::hours(30),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    let page = get_json(&c, &call_log_url(&h, ""), &t).await;
    assert_eq!(ids(&page).len(), 1);
    // The echoed window is dateTo − 24 h .. dateTo.
    let uri = url::Url::parse(page["uri"].as_str().unwrap()).unwrap();
    let q: std::collections::HashMap<_, _> = uri.query_pairs().into_owned().collect();
    let from: DateTime<Utc> = q["dateFrom"].parse().unwrap();
    let to: DateTime<Utc> = q["dateTo"].parse().unwrap();
    assert_eq!(to - from, Duration::hours(24));
    assert_eq!(q["view"], "Simple");
    assert_eq!(q["perPage"], "100");

    let from = (now - Duration::days(2)).to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let page = get_json(&c, &call_log_url(&h, &format!("dateFrom={from}")), &t).await;
    assert_eq!(ids(&page).len(), 2);
}

#[tokio::test]
async fn invalid_parameters_get_400_cmn_101_naming_the_parameter() {
    let h = spawn(|_| {}).await;
    let c = client();
    let t = token(&h, &c).await;
    for (q, name) in [
        ("view=Full", "view"),
        ("perPage=0", "perPage"),
        ("perPage=ten", "perPage"),
        ("page=0", "page"),
        ("dateFrom=yesterday", "dateFrom"),
        ("direction=Sideways", "direction"),
        ("type=SMS", "type"),
        ("recordingType=Maybe", "recordingType"),
        ("withRecording=yes", "withRecording"),
    ] {
        let r = get(&c, &call_log_url(&h, q), &t).await;
        assert_eq!(r.status(), 400, "{q}");
        let b: Value = r.json().await.unwrap();
        assert_eq!(code(&b), "CMN-101", "{q}");
        assert_eq!(b["errors"][0]["parameterName"], name, "{q}");
        assert!(b["errors"][0]["parameterValue"].is_string(), "{q}");
    }
    let r = get(
        &c,
        &call_log_url(&h, "sessionId=1&dateFrom=2026-01-01T00:00:00Z"),
        &t,
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(code(&r.json().await.unwrap()), "CLG-110");
}

#[tokio::test]
async fn per_page_above_1000_clamps_and_max_means_1000() {
    let h = spawn(|_| {}).await;
    let c = client();
    let t = token(&h, &c).await;
    for q in ["perPage=5000", "perPage=max"] {
        let page = get_json(&c, &call_log_url(&h, q), &t).await;
        assert_eq!(page["paging"]["perPage"], 1000, "{q}");
    }
}

#[tokio::test]
async fn live_and_just_ended_calls_appear_only_after_the_lag() {
    let h = spawn(|c| c.call_log_lag = Duration::seconds(20)).await;
    h.state().clock().freeze();
    let now = h.state().clock().now();
    // Ended 5 s ago, and one still live.
    add(
        &h,
        script(
            now - Duration::seconds(50),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    add(
        &h,
        script(
            now - Duration::seconds(10),
            Direction::Outbound,
            vec![seg(1, 40, Handoff::HangUp)],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    assert_eq!(ids(&get_json(&c, &call_log_url(&h, ""), &t).await).len(), 0);
    h.state().clock().advance(Duration::seconds(16));
    assert_eq!(ids(&get_json(&c, &call_log_url(&h, ""), &t).await).len(), 1);
    h.state().clock().advance(Duration::seconds(60));
    assert_eq!(ids(&get_json(&c, &call_log_url(&h, ""), &t).await).len(), 2);
}

#[tokio::test]
async fn an_extension_level_list_shows_only_that_extensions_legs() {
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
            Direction::Outbound,
            vec![seg(1, 40, Handoff::HangUp)],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    let ext1 = h.state().world().extensions[1].id;
    let base = h.platform_url().to_owned();
    let page = get_json(
        &c,
        &format!("{base}/restapi/v1.0/account/~/extension/{ext1}/call-log"),
        &t,
    )
    .await;
    let recs = page["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    assert!(recs.iter().all(|r| r["extension"]["id"] == ext1));
    assert!(
        page["uri"]
            .as_str()
            .unwrap()
            .contains(&format!("/extension/{ext1}/call-log?"))
    );
    // `~` is the token owner (extension 0).
    let page = get_json(
        &c,
        &format!("{base}/restapi/v1.0/account/~/extension/~/call-log"),
        &t,
    )
    .await;
    assert_eq!(ids(&page).len(), 1);
    // The account list has all three legs.
    assert_eq!(ids(&get_json(&c, &call_log_url(&h, ""), &t).await).len(), 3);
}

#[tokio::test]
async fn detailed_view_adds_legs_billing_and_last_modified_time() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add(
        &h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    let simple = get_json(&c, &call_log_url(&h, ""), &t).await;
    let r = &simple["records"][0];
    assert!(
        r.get("legs").is_none()
            && r.get("billing").is_none()
            && r.get("lastModifiedTime").is_none()
    );
    assert!(r["uri"].as_str().unwrap().ends_with("?view=Simple"));
    let st = r["startTime"].as_str().unwrap();
    assert!(
        st.len() == 24 && st.ends_with('Z') && &st[19..20] == ".",
        "{st}"
    );
    assert_eq!(r["duration"], 45);
    assert_eq!(r["durationMs"], 45_000);
    assert!(r["extension"]["id"].is_u64());
    let rec = &r["recording"];
    assert!(
        rec["contentUri"]
            .as_str()
            .unwrap()
            .starts_with(h.media_url())
    );
    assert!(rec["uri"].as_str().unwrap().starts_with(h.platform_url()));

    let detailed = get_json(&c, &call_log_url(&h, "view=Detailed"), &t).await;
    let r = &detailed["records"][0];
    assert!(r["billing"].is_object() && r["lastModifiedTime"].is_string());
    let legs = r["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 2);
    assert_eq!(legs[0]["legType"], "Accept");
    assert_eq!(legs[0]["master"], true);
    assert_eq!(legs[1]["legType"], "PstnToSip");
    for l in legs {
        assert_eq!(
            l["recording"], r["recording"],
            "legs repeat the record's recording"
        );
        assert_eq!(l["telephonySessionId"], r["telephonySessionId"]);
        assert!(l.get("id").is_none() && l.get("uri").is_none());
    }
}

#[tokio::test]
async fn attended_transfers_link_the_two_sessions() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add(
        &h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![
                seg(0, 40, Handoff::AttendedTransfer),
                seg(2, 45, Handoff::HangUp),
            ],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    let page = get_json(&c, &call_log_url(&h, "view=Detailed"), &t).await;
    let recs = page["records"].as_array().unwrap();
    assert_eq!(recs.len(), 2);
    let (second, first) = (&recs[0], &recs[1]);
    assert_ne!(first["telephonySessionId"], second["telephonySessionId"]);
    assert_eq!(
        first["transferTarget"]["telephonySessionId"],
        second["telephonySessionId"]
    );
    assert_eq!(
        second["transferee"]["telephonySessionId"],
        first["telephonySessionId"]
    );
    assert_eq!(second["legs"][0]["legType"], "TransferCall");
    assert_eq!(first["legs"][0]["transferTarget"], first["transferTarget"]);
    // Filtering by telephonySessionId finds each half.
    let tsid = first["telephonySessionId"].as_str().unwrap();
    let page = get_json(
        &c,
        &call_log_url(&h, &format!("telephonySessionId={tsid}")),
        &t,
    )
    .await;
    assert_eq!(ids(&page), vec![first["id"].as_str().unwrap().to_owned()]);
}

#[tokio::test]
async fn filters_narrow_the_list() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    add(
        &h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let mut unrecorded = seg(1, 40, Handoff::HangUp);
    unrecorded.recorded = false;
    add(
        &h,
        script(
            now - Duration::hours(2),
            Direction::Outbound,
            vec![unrecorded],
        ),
    );
    let c = client();
    let t = token(&h, &c).await;
    let n = |q: &'static str| {
        let (c, t, url) = (c.clone(), t.clone(), call_log_url(&h, q));
        async move { ids(&get_json(&c, &url, &t).await).len() }
    };
    assert_eq!(n("recordingType=All").await, 1);
    assert_eq!(n("recordingType=OnDemand").await, 0);
    assert_eq!(n("withRecording=true").await, 1);
    assert_eq!(n("direction=Outbound").await, 1);
    assert_eq!(n("direction=Outbound&direction=Inbound").await, 2);
    assert_eq!(n("type=Fax").await, 0);
    assert_eq!(n("extensionNumber=101").await, 1);
}

#[tokio::test]
async fn single_records_are_served_at_both_levels_and_unknown_ids_are_404() {
    let h = spawn(|_| {}).await;
    let now = h.state().clock().now();
    let i = add(
        &h,
        script(
            now - Duration::hours(1),
            Direction::Inbound,
            vec![seg(0, 40, Handoff::HangUp)],
        ),
    );
    let id = h.state().world().conversations[i].legs[0]
        .call_record_id
        .clone();
    let c = client();
    let t = token(&h, &c).await;
    let base = format!("{}/restapi/v1.0/account/~", h.platform_url());
    let r = get_json(&c, &format!("{base}/call-log/{id}?view=Detailed"), &t).await;
    assert_eq!(r["id"], id.as_str());
    assert!(r["legs"].is_array());
    let r = get_json(&c, &format!("{base}/extension/~/call-log/{id}"), &t).await;
    assert_eq!(r["id"], id.as_str());
    let r = get(&c, &format!("{base}/call-log/nope"), &t).await;
    assert_eq!(r.status(), 404);
    assert_eq!(code(&r.json().await.unwrap()), "CMN-102");
    let ext1 = h.state().world().extensions[1].id;
    let r = get(&c, &format!("{base}/extension/{ext1}/call-log/{id}"), &t).await;
    assert_eq!(r.status(), 404, "another extension's record");
    let r = get(
        &c,
        &format!("{}/restapi/v1.0/account/123/call-log", h.platform_url()),
        &t,
    )
    .await;
    assert_eq!(r.status(), 404);
    let account = h.state().account_id();
    let r = get(
        &c,
        &format!(
            "{}/restapi/v1.0/account/{account}/call-log",
            h.platform_url()
        ),
        &t,
    )
    .await;
    assert_eq!(r.status(), 200);
}
