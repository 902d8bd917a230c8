//! Telephony-session notifications over real HTTP: envelope and headers,
//! blind and attended transfers, filter levels, the webhook faults, the call
//! engine on a frozen / advanced / accelerated clock, and the control API.

mod live_support;

use std::collections::{BTreeMap, HashMap, HashSet};

use live_support::*;
use serde_json::{Value, json};

fn sequences_by_session(notes: &[Value]) -> BTreeMap<String, Vec<u64>> {
    let mut m: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for n in notes {
        m.entry(
            n["body"]["telephonySessionId"]
                .as_str()
                .unwrap()
                .to_string(),
        )
        .or_default()
        .push(n["body"]["sequence"].as_u64().unwrap());
    }
    m
}

fn s(p: &str, c: &str, r: Option<&str>) -> (String, String, Option<String>) {
    (p.to_string(), c.to_string(), r.map(str::to_string))
}

#[tokio::test]
async fn a_blind_transfer_is_one_session_whose_parties_all_end_disconnected() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    let sub = h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    let call = h
        .call(inbound(vec![
            seg(0, 40, "BlindTransfer"),
            seg(1, 35, "HangUp"),
        ]))
        .await;
    h.advance(200.0).await;
    let hits = rx.wait_for("11 notifications", |h| h.len() >= 11).await;

    // Headers of every delivery.
    for hit in &hits {
        assert_eq!(
            hit.headers["Content-Type"],
            "application/json; charset=UTF-8"
        );
        assert_eq!(hit.headers["Accept"], "application/json");
        assert_eq!(hit.headers["User-Agent"], "RingCentral-Webhook/8.3");
        assert_eq!(hit.headers["Verification-Token"], "vt-secret");
    }
    let notes: Vec<Value> = hits.iter().map(|h| h.json()).collect();
    // Envelope: exactly the webhook fields, not the pn_apns wrapper.
    let acc = h.account_id();
    for n in &notes {
        let keys: HashSet<&str> = n.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            HashSet::from([
                "uuid",
                "event",
                "timestamp",
                "subscriptionId",
                "ownerId",
                "body"
            ])
        );
        assert_eq!(
            n["event"],
            json!(format!("/restapi/v1.0/account/{acc}/telephony/sessions"))
        );
        assert_eq!(n["subscriptionId"], json!(sub));
        assert_eq!(n["ownerId"], json!(h.extension_id(0).to_string()));
        assert!(n["uuid"].as_str().unwrap().parse::<u64>().is_ok());
        assert_eq!(n["body"]["origin"]["type"], "Call");
        assert_eq!(n["body"]["parties"].as_array().unwrap().len(), 1);
        assert_eq!(
            n["body"]["telephonySessionId"],
            call["telephonySessionIds"][0]
        );
    }
    assert_eq!(
        party_changes(&notes),
        vec![
            s("1", "Setup", None),
            s("2", "Setup", None),
            s("2", "Proceeding", None),
            s("2", "Answered", None),
            s("1", "Answered", None),
            s("2", "Disconnected", Some("BlindTransfer")),
            s("3", "Setup", None),
            s("3", "Proceeding", None),
            s("3", "Answered", None),
            s("3", "Disconnected", None),
            s("1", "Disconnected", None),
        ]
    );
    let seqs = &sequences_by_session(&notes)[call["telephonySessionIds"][0].as_str().unwrap()];
    assert_eq!(seqs, &(2..=12).collect::<Vec<u64>>());
    // Party ids and recordings agree with the materialised conversation.
    let answered: Vec<&Value> = notes
        .iter()
        .map(|n| &n["body"]["parties"][0])
        .filter(|p| p["status"]["code"] == "Answered" && p.get("extensionId").is_some())
        .collect();
    assert_eq!(answered[0]["id"], call["partyIds"][0]);
    assert_eq!(answered[1]["id"], call["partyIds"][1]);
    assert_eq!(
        answered[0]["recordings"],
        json!([{"id": call["recordingIds"][0], "active": true}])
    );
    assert_eq!(answered[1]["recordings"][0]["id"], call["recordingIds"][1]);
    assert_eq!(
        answered[1]["extensionId"],
        json!(h.extension_id(1).to_string())
    );
    let outside = &notes[0]["body"]["parties"][0];
    assert!(outside.get("extensionId").is_none());
    assert_eq!(outside["from"]["phoneNumber"], "+14155550123");
}

#[tokio::test]
async fn an_attended_transfer_spans_two_sessions_linked_by_peer_ids() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    let call = h
        .call(inbound(vec![
            seg(0, 40, "AttendedTransfer"),
            seg(2, 50, "HangUp"),
        ]))
        .await;
    h.advance(300.0).await;
    let notes = rx.wait_count(14).await;

    let first = call["telephonySessionIds"][0].as_str().unwrap();
    let second = call["telephonySessionIds"][1].as_str().unwrap();
    let by_session = sequences_by_session(&notes);
    assert_eq!(by_session.len(), 2);
    for seqs in by_session.values() {
        assert_eq!(seqs[0], 2);
        assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    }
    let gone: Vec<&Value> = notes
        .iter()
        .filter(|n| n["body"]["parties"][0]["status"]["code"] == "Gone")
        .collect();
    assert_eq!(
        gone.len(),
        2,
        "the transferor and the outside party leave the first session"
    );
    for g in &gone {
        assert_eq!(g["body"]["telephonySessionId"], first);
        let st = &g["body"]["parties"][0]["status"];
        assert_eq!(st["reason"], "AttendedTransfer");
        assert_eq!(st["peerId"]["telephonySessionId"], second);
        assert_eq!(st["peerId"]["sessionId"], call["sessionIds"][1]);
    }
    let agent_peer = gone
        .iter()
        .map(|g| &g["body"]["parties"][0])
        .find(|p| p.get("extensionId").is_some())
        .unwrap();
    assert_eq!(
        agent_peer["status"]["peerId"]["partyId"],
        call["partyIds"][1]
    );
    let last_of_second: HashMap<String, String> = notes
        .iter()
        .filter(|n| n["body"]["telephonySessionId"] == second)
        .map(|n| {
            let p = &n["body"]["parties"][0];
            (
                p["id"].as_str().unwrap().to_string(),
                p["status"]["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(last_of_second.len(), 2);
    assert!(
        last_of_second.values().all(|c| c == "Disconnected"),
        "{last_of_second:?}"
    );
}

#[tokio::test]
async fn with_both_filters_each_event_arrives_once_under_the_most_specific_one() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER, EXTENSION_FILTER])
        .await;
    let ext_only = Receiver::start().await;
    h.subscribe_ok(&ext_only, &[EXTENSION_FILTER]).await;

    h.call(inbound(vec![
        seg(0, 40, "BlindTransfer"),
        seg(1, 35, "HangUp"),
    ]))
    .await;
    h.advance(200.0).await;
    let notes = rx.wait_count(11).await;
    let own = ext_only.wait_count(4).await;

    let acc = h.account_id();
    let me = h.extension_id(0);
    let ext_event = format!("/restapi/v1.0/account/{acc}/extension/{me}/telephony/sessions");
    let (mine, rest): (Vec<&Value>, Vec<&Value>) =
        notes.iter().partition(|n| n["event"] == json!(ext_event));
    assert_eq!(mine.len(), 4);
    assert!(
        mine.iter()
            .all(|n| n["body"]["parties"][0]["extensionId"] == json!(me.to_string()))
    );
    assert!(rest.iter().all(|n| n["event"] == json!(format!("/restapi/v1.0/account/{acc}/telephony/sessions"))));
    assert_eq!(
        party_changes(&own)
            .iter()
            .map(|c| c.1.as_str())
            .collect::<Vec<_>>(),
        ["Setup", "Proceeding", "Answered", "Disconnected"]
    );
}

#[tokio::test]
async fn query_parameters_narrow_a_filter() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    let filter = "/restapi/v1.0/account/~/telephony/sessions?statusCode=Answered&sipData=true";
    h.subscribe_ok(&rx, &[filter]).await;

    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    h.advance(100.0).await;
    let notes = rx.wait_count(2).await;

    let acc = h.account_id();
    for n in &notes {
        assert_eq!(
            n["event"],
            json!(format!(
                "/restapi/v1.0/account/{acc}/telephony/sessions?statusCode=Answered&sipData=true"
            ))
        );
        let p = &n["body"]["parties"][0];
        assert_eq!(p["status"]["code"], "Answered");
        assert!(p["sipData"]["callId"].is_string());
    }
}

#[tokio::test]
async fn the_duplicate_fault_delivers_each_notification_twice_with_the_same_uuid() {
    let h = Harness::start(|_| {}).await;
    let resp = h
        .http
        .put(h.url("/sandbox/faults"))
        .json(&json!({"webhookDuplicate": 1.0}))
        .send()
        .await
        .unwrap();
    assert!(resp.status().is_success());
    assert_eq!(
        h.control_get("/sandbox/faults").await["webhookDuplicate"],
        1.0
    );
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    h.advance(100.0).await;
    let notes = rx.wait_count(14).await;

    let mut counts: HashMap<String, usize> = HashMap::new();
    for n in &notes {
        *counts
            .entry(n["uuid"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(counts.len(), 7);
    assert!(counts.values().all(|c| *c == 2));
}

#[tokio::test]
async fn the_reorder_fault_swaps_notifications_within_a_session_without_losing_any() {
    let h = Harness::start(|c| c.faults.webhook_reorder = 1.0).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    let call = h
        .call(inbound(vec![
            seg(0, 40, "BlindTransfer"),
            seg(1, 35, "HangUp"),
        ]))
        .await;
    h.advance(200.0).await;
    let notes = rx.wait_count(11).await;

    let seqs = &sequences_by_session(&notes)[call["telephonySessionIds"][0].as_str().unwrap()];
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (2..=12).collect::<Vec<u64>>());
    assert_ne!(seqs, &sorted, "order must differ from sequence order");
    assert_eq!(
        seqs.last(),
        Some(&12),
        "the session's last event is never held back"
    );
}

#[tokio::test]
async fn events_wait_for_the_sandbox_clock_and_history_stays_silent() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    // A call that ended an hour ago is history: no events.
    let past = (chrono::Utc::now() - chrono::Duration::hours(2)).to_rfc3339();
    let mut old = inbound(vec![seg(0, 40, "HangUp")]);
    old["start"] = json!(past);
    h.call(old).await;
    // A call starting now: with the clock frozen only the caller's Setup (due at "now") arrives.
    let call = h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    let first = rx.wait_count(1).await;
    assert_eq!(
        party_changes(&first),
        vec![("1".to_string(), "Setup".to_string(), None)]
    );
    // One sandbox second later the extension is ringing; ringing lasts 4 s.
    h.advance(1.0).await;
    let ringing = rx.wait_count(3).await;
    assert_eq!(
        party_changes(&ringing)
            .iter()
            .map(|c| c.1.as_str())
            .collect::<Vec<_>>(),
        ["Setup", "Setup", "Proceeding"]
    );
    h.advance(30.0).await;
    let answered = rx.wait_count(5).await;
    assert_eq!(
        answered[3]["body"]["parties"][0]["status"]["code"],
        "Answered"
    );
    h.advance(60.0).await;
    let all = rx.wait_count(7).await;
    let sessions: HashSet<&str> = all
        .iter()
        .map(|n| n["body"]["telephonySessionId"].as_str().unwrap())
        .collect();
    assert_eq!(
        sessions,
        HashSet::from([call["telephonySessionIds"][0].as_str().unwrap()])
    );
    assert_eq!(all.len(), 7);
}

#[tokio::test]
async fn a_call_added_live_plays_in_full_even_if_the_clock_passes_its_end_first() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;

    // Single-threaded test runtime: the engine cannot run between these lines.
    let state = h.sandbox.state();
    let now = state.clock().now();
    let mut body = inbound(vec![seg(0, 40, "HangUp")]);
    body["start"] = json!(now);
    body["recording_kind"] = json!("Automatic");
    let script: rc_sandbox::model::CallScript = serde_json::from_value(body).unwrap();
    let index = state.world_mut().add(script).unwrap().index;
    state.telephony().conversation_added(index, now);
    state.clock().advance(chrono::Duration::seconds(3600));

    let notes = rx.wait_count(7).await;
    assert_eq!(party_changes(&notes).last().unwrap().1, "Disconnected");
}

#[tokio::test]
async fn an_accelerated_clock_plays_a_call_without_manual_advances() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;
    let clock = h
        .control("/sandbox/clock", json!({"speed": 500.0, "resume": true}))
        .await;
    assert_eq!(clock["frozen"], false);
    assert_eq!(clock["speed"], 500.0);

    h.call(inbound(vec![seg(0, 40, "HangUp")])).await;
    let notes = rx.wait_count(7).await;
    assert_eq!(party_changes(&notes).last().unwrap().1, "Disconnected");
}

#[tokio::test]
async fn live_traffic_adds_calls_until_switched_off() {
    let h = Harness::start(|_| {}).await;
    let rx = Receiver::start().await;
    h.subscribe_ok(&rx, &[ACCOUNT_FILTER]).await;
    let count = || h.sandbox.state().world().conversations.len();
    let before = count();

    assert_eq!(
        h.control("/sandbox/live", json!({"callsPerMinute": 60}))
            .await["callsPerMinute"],
        60.0
    );
    let end = tokio::time::Instant::now() + DEADLINE;
    loop {
        h.advance(600.0).await;
        if count() >= before + 2 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "live traffic produced no calls"
        );
        tokio::task::yield_now().await;
    }
    rx.wait_count(1).await;
    h.control("/sandbox/live", json!({"callsPerMinute": 0}))
        .await;
    assert_eq!(h.control_get("/sandbox/live").await["callsPerMinute"], 0.0);
}

#[tokio::test]
async fn the_truth_lists_legs_recordings_and_their_stitching_order() {
    let h = Harness::start(|_| {}).await;
    let call = h
        .call(inbound(vec![
            seg(0, 40, "BlindTransfer"),
            seg(1, 12, "AttendedTransfer"),
            seg(2, 45, "HangUp"),
        ]))
        .await;
    let truth_path = format!("/sandbox/truth?conversation={}", call["conversationIndex"]);
    let truth = h.control_get(&truth_path).await;
    assert_eq!(truth["conversations"].as_array().unwrap().len(), 1);
    let conv = truth["conversations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["index"] == call["conversationIndex"])
        .unwrap();

    assert_eq!(conv["orderedRecordings"], call["recordingIds"]);
    assert_eq!(
        conv["orderedRecordings"].as_array().unwrap().len(),
        2,
        "the 12 s leg is too short to keep"
    );
    let legs = conv["legs"].as_array().unwrap();
    assert_eq!(legs.len(), 3);
    assert_eq!(legs[1]["shortRecording"], true);
    assert!(legs[1]["recording"].is_null());
    assert_eq!(conv["sessions"].as_array().unwrap().len(), 2);
    let rec_id = legs[0]["recording"]["id"].as_str().unwrap().to_string();
    let expected = {
        let world = h.sandbox.state().world();
        let (_, _, rec) = world.recording(&rec_id).unwrap();
        rc_sandbox::audio::render(&h.sandbox.state().config().audio, rec)
    };
    use sha2::Digest;
    assert_eq!(
        legs[0]["recording"]["sha256"],
        json!(hex::encode(sha2::Sha256::digest(&expected)))
    );
    assert_eq!(legs[0]["callRecordId"], call["callRecordIds"][0]);

    let resp = h
        .http
        .post(h.url(&format!("/sandbox/recordings/{rec_id}/delete")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::NO_CONTENT);
    let truth = h.control_get(&truth_path).await;
    let deleted = truth.to_string().contains(&format!(
        "\"deleted\":true,\"durationMs\":40000,\"id\":\"{rec_id}\""
    ));
    assert!(deleted, "recording marked deleted");
    let cheap = h.control_get("/sandbox/truth?hashes=false").await;
    assert!(!cheap["conversations"].as_array().unwrap().is_empty());
    assert!(!cheap.to_string().contains("sha256"));
    let bad = h
        .http
        .get(h.url("/sandbox/truth?conversation=x"))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    let resp = h
        .http
        .post(h.url("/sandbox/recordings/nope/delete"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), reqwest::StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_session_can_be_read_while_live_and_is_gone_once_over() {
    let h = Harness::start(|_| {}).await;
    let call = h
        .call(inbound(vec![
            seg(0, 40, "BlindTransfer"),
            seg(1, 40, "HangUp"),
        ]))
        .await;
    let tsid = call["telephonySessionIds"][0].as_str().unwrap();
    let path = format!("/restapi/v1.0/account/~/telephony/sessions/{tsid}");

    h.advance(10.0).await;
    let (status, v) = h.rc(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, axum::http::StatusCode::OK, "{v}");
    assert_eq!(v["id"], tsid);
    let parties = v["parties"].as_array().unwrap();
    assert_eq!(parties.len(), 2);
    assert!(parties.iter().all(|p| p["status"]["code"] == "Answered"));
    let agent = parties
        .iter()
        .find(|p| p["id"] == call["partyIds"][0])
        .unwrap();
    assert_eq!(
        agent["owner"]["extensionId"],
        json!(h.extension_id(0).to_string())
    );
    assert_eq!(agent["recordings"][0]["id"], call["recordingIds"][0]);

    h.advance(50.0).await;
    let (_, v) = h.rc(reqwest::Method::GET, &path, None).await;
    let codes: HashMap<&str, &str> = v["parties"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                p["status"]["code"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(codes[call["partyIds"][0].as_str().unwrap()], "Disconnected");
    assert_eq!(codes[call["partyIds"][1].as_str().unwrap()], "Answered");

    h.advance(100.0).await;
    let (status, v) = h.rc(reqwest::Method::GET, &path, None).await;
    assert_eq!(status, axum::http::StatusCode::NOT_FOUND);
    assert_eq!(v["errors"][0]["errorCode"], "CMN-102");
}

#[tokio::test]
async fn the_clock_api_freezes_advances_and_changes_speed() {
    let h = Harness::start(|_| {}).await;
    let a = h.control_get("/sandbox/clock").await;
    assert_eq!(a["frozen"], true);
    let b = h
        .control("/sandbox/clock", json!({"advanceSecs": 3600}))
        .await;
    let t = |v: &Value| chrono::DateTime::parse_from_rfc3339(v["now"].as_str().unwrap()).unwrap();
    assert_eq!((t(&b) - t(&a)).num_seconds(), 3600);
    let c = h
        .control("/sandbox/clock", json!({"speed": 2.5, "resume": true}))
        .await;
    assert_eq!(
        (c["speed"].as_f64(), c["frozen"].as_bool()),
        (Some(2.5), Some(false))
    );
    let bad = h
        .http
        .post(h.url("/sandbox/clock"))
        .json(&json!({"speed": -1}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
    let bad = h
        .http
        .post(h.url("/sandbox/calls"))
        .json(&json!({"direction": "Inbound"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), reqwest::StatusCode::BAD_REQUEST);
}
