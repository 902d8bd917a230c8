//! Every official sample payload parses into the right model.
//!
//! Strict-JSON files parse as published. The not-strict ones are handled as
//! documented beside each: `//` comments and trailing commas are stripped,
//! fragments (`"legs": [...]`, `"recording": {...}`) are wrapped in `{}`, the
//! unquoted placeholder `EXTENSION_ID` becomes a number, and the elided
//! second record of `list-detailed` (`...`) gets the one required field it
//! lacks. The CSN `.txt` streams are Python reprs, not JSON: their derived
//! `.jsonl` twins (values unchanged) are parsed instead. The multipart bulk
//! response is split on its boundary and each JSON part parsed.

use std::path::PathBuf;

use rc_api::models::*;
use serde::de::DeserializeOwned;

fn path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(rel)
}

fn text(rel: &str) -> String {
    std::fs::read_to_string(path(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn parse<T: DeserializeOwned>(rel: &str) -> T {
    parse_str(rel, &text(rel))
}

fn parse_str<T: DeserializeOwned>(rel: &str, s: &str) -> T {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Removes `//` comments outside strings and commas before `}`/`]`.
fn jsonc_to_json(src: &str) -> String {
    let mut out = String::with_capacity(src.len());
    let mut chars = src.chars().peekable();
    let mut in_string = false;
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(n) = chars.next() {
                    out.push(n);
                }
            } else if c == '"' {
                in_string = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '/' if chars.peek() == Some(&'/') => {
                while chars.peek().is_some_and(|&n| n != '\n') {
                    chars.next();
                }
            }
            _ => out.push(c),
        }
    }
    // Trailing commas: a comma followed only by whitespace and a closer.
    let mut cleaned = String::with_capacity(out.len());
    let bytes: Vec<char> = out.chars().collect();
    for (i, &c) in bytes.iter().enumerate() {
        if c == ',' {
            let next = bytes[i + 1..].iter().find(|ch| !ch.is_whitespace());
            if matches!(next, Some('}') | Some(']')) {
                continue;
            }
        }
        cleaned.push(c);
    }
    cleaned
}

#[test]
fn jsonc_cleanup_keeps_urls_and_drops_comments() {
    let s = jsonc_to_json("{\"u\": \"https://x/y\", // note\n \"a\": [1,2,], }");
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["u"], "https://x/y");
    assert_eq!(v["a"], serde_json::json!([1, 2]));
}

#[test]
fn every_fixture_file_is_covered_by_this_test() {
    let covered = COVERED;
    for dir in [
        "auth",
        "call-log",
        "recordings",
        "subscriptions",
        "telephony-sessions",
        "errors",
    ] {
        for entry in std::fs::read_dir(path(dir)).unwrap() {
            let name = format!("{dir}/{}", entry.unwrap().file_name().to_string_lossy());
            assert!(
                covered.contains(&name.as_str()),
                "{name} is not parsed by any test"
            );
        }
    }
}

const COVERED: &[&str] = &[
    "auth/docs.jwt-flow-md.token-response.json",
    "auth/docs.refresh-tokens-md.token-response.json",
    "call-log/docs.api-md.detailed-inbound-record.jsonc",
    "call-log/docs.api-md.simple-inbound-record.jsonc",
    "call-log/docs.call-log-sample.record-simple-with-recording.json",
    "call-log/docs.details-md.list-detailed.jsonc",
    "call-log/docs.details-md.list-simple.json",
    "call-log/docs.details-md.multi-leg-legs-fragment.jsonc",
    "call-log/docs.sync-md.fsync-response.json",
    "call-log/docs.sync-md.isync-response.json",
    "call-log/spec-1.0.46.readCompanyCallLog.detailed.json",
    "call-log/spec-1.0.46.readCompanyCallLog.simple.json",
    "call-log/spec-1.0.46.readCompanyCallRecord.bulk-multipart.txt",
    "call-log/spec-1.0.46.readCompanyCallRecord.single-detailed.json",
    "call-log/spec-1.0.46.readUserCallLog.detailed.json",
    "call-log/spec-1.0.46.readUserCallLog.simple.json",
    "call-log/spec-1.0.46.readUserCallRecord.single-with-recording.json",
    "call-log/spec-1.0.46.syncUserCallLog.fsync.json",
    "call-log/spec-1.0.46.syncUserCallLog.isync.json",
    "recordings/docs.recordings-md.recording-object-fragment.jsonc",
    "recordings/spec-1.0.46.readCallRecording.metadata.json",
    "subscriptions/docs.webhooks.blacklist.subscription-list.json",
    "subscriptions/docs.webhooks.create-webhook-request.json",
    "subscriptions/spec-1.0.46.listSubscriptions.json",
    "subscriptions/spec-1.0.46.readSubscription.with-disabledFilters.json",
    "subscriptions/spec-1.0.46.updateSubscription.response.json",
    "subscriptions/spec-1.0.46.renewSubscription.response.json",
    "subscriptions/spec-1.0.46.createSubscription.webhook.request.json",
    "subscriptions/spec-1.0.46.createSubscription.webhook.response.json",
    "telephony-sessions/ccjs.get-call-session.callout-wrapped.json",
    "telephony-sessions/ccjs.get-call-session.inbound-two-parties.json",
    "telephony-sessions/ccjs.notification.account.inbound-proceeding.json",
    "telephony-sessions/ccjs.notification.extension.outbound-disconnected.json",
    "telephony-sessions/ccjs.notification.extension.outbound-setup.json",
    "telephony-sessions/ccjs.party.disconnected-blindtransfer.json",
    "telephony-sessions/ccjs.party.gone-attendedtransfer-peerId.json",
    "telephony-sessions/csn-data.PSTN-RingCentral-DataStreams.txt",
    "telephony-sessions/csn-data.RingCentral-PSTN.txt",
    "telephony-sessions/csn-data.RingCentral-RingCentral.txt",
    "telephony-sessions/docs.call-control-sessions-md.extension-event-apns.json",
    "telephony-sessions/docs.events.account-telephony-sessions.json",
    "telephony-sessions/docs.events.extension-telephony-sessions.json",
    "telephony-sessions/docs.voice.cust-to-oper-event.answered.json",
    "telephony-sessions/docs.voice.oper-to-cust-event.answered.json",
    "telephony-sessions/docs.voice.telephony-session-event.setup-inbound.json",
    "errors/docs.basics.sample-error.jsonc",
    "errors/docs.access-md.403-insufficient-permissions-ReadCallLog.json",
    "errors/docs.access-md.403-insufficient-permissions-ReadCallRecording.json",
    "errors/spec-1.0.46.x-error-codes.call-log-recording-subscription.json",
];

#[test]
fn token_responses_parse_and_debug_hides_the_tokens() {
    for f in [
        "auth/docs.jwt-flow-md.token-response.json",
        "auth/docs.refresh-tokens-md.token-response.json",
    ] {
        let t: TokenInfo = parse(f);
        assert_eq!(t.expires_in, 7199);
        assert_eq!(t.refresh_token_expires_in, Some(604799));
        assert_eq!(t.owner_id.as_deref(), Some("256440016"));
        assert!(t.refresh_token.is_some());
        let dbg = format!("{t:?}");
        assert!(
            !dbg.contains("U1BCMDFUMDRKV1Mw"),
            "{f}: token leaked in Debug"
        );
    }
}

#[test]
fn call_log_list_responses_parse_with_paging_and_navigation() {
    let p: CallLogResponse = parse("call-log/spec-1.0.46.readUserCallLog.simple.json");
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.paging.per_page, Some(2));
    assert!(p.navigation.next_page.unwrap().uri.contains("page=2"));
    let fax = &p.records[1];
    assert_eq!(fax.call_type, Some(CallType::Fax));
    assert_eq!(fax.action, Some(CallAction::OutgoingFax));
    assert_eq!(
        fax.message.as_ref().unwrap().id.as_deref(),
        Some("401678422008")
    );
    assert_eq!(fax.id.as_str(), "8vsAH84JRCeg-DLA");

    let p: CallLogResponse = parse("call-log/spec-1.0.46.readUserCallLog.detailed.json");
    assert_eq!(p.records[0].legs.len(), 1);
    assert!(p.records[0].legs[0].master);
    assert_eq!(p.records[0].legs[0].leg_type, Some(LegType::Accept));
    assert_eq!(
        p.records[1].legs[0].leg_type,
        Some(LegType::SipToPstnMetered)
    );
    assert!(p.navigation.last_page.is_some());
    assert_eq!(
        p.records[0].last_modified_time.unwrap().to_rfc3339(),
        "2018-06-14T23:16:36.006+00:00"
    );

    let p: CallLogResponse = parse("call-log/spec-1.0.46.readCompanyCallLog.detailed.json");
    let leg = &p.records[0].legs[1];
    assert_eq!(
        leg.extension
            .as_ref()
            .unwrap()
            .id
            .as_ref()
            .unwrap()
            .as_str(),
        "404350835008",
        "extension.id is a JSON number"
    );
    assert_eq!(leg.billing.as_ref().unwrap().cost_included, Some(1.26));
    assert_eq!(
        p.records[1].telephony_session_id.as_ref().unwrap().as_str(),
        "w-9a03590172ea4d39a7cf7d5b6dba6a3b"
    );

    let p: CallLogResponse = parse("call-log/spec-1.0.46.readCompanyCallLog.simple.json");
    assert_eq!(p.records[0].result, Some(CallResult::CallConnected));
    assert!(p.navigation.next_page.is_some());

    let p: CallLogResponse = parse("call-log/docs.details-md.list-simple.json");
    assert_eq!(p.records.len(), 2);
    assert_eq!(p.records[0].duration_ms, Some(194060));
    assert_eq!(
        p.records[0].internal_type,
        Some(InternalType::TollFreeNumber)
    );
    assert_eq!(
        p.records[0].recording.as_ref().unwrap().id.as_str(),
        "1662272004"
    );
    assert!(p.navigation.next_page.is_none());
}

#[test]
fn the_detailed_list_sample_parses_after_filling_its_elided_record() {
    // The docs elide the second record with "..."; give it its one required field.
    let src = text("call-log/docs.details-md.list-detailed.jsonc").replace(
        "\"id\": \"ASaoSC9FIMaOF24\",\n            ...",
        "\"id\": \"ASaoSC9FIMaOF24\",\n            \"startTime\": \"2023-04-11T07:26:35.028Z\"",
    );
    let p: CallLogResponse = parse_str("list-detailed.jsonc", &jsonc_to_json(&src));
    let r = &p.records[0];
    assert_eq!(r.legs.len(), 2);
    assert_eq!(r.legs[1].leg_type, Some(LegType::PstnToSip));
    assert_eq!(r.legs[1].transport, Some(CallTransport::VoIp));
    // Both legs repeat the record's recording: one distinct recording.
    assert_eq!(r.recordings().len(), 1);
    assert!(
        r.recordings()[0]
            .content_uri
            .starts_with("https://media.ringcentral.com:443/")
    );
    assert_eq!(p.records[1].id.as_str(), "ASaoSC9FIMaOF24");
}

#[test]
fn single_records_parse_with_recordings_legs_and_numeric_extension_ids() {
    let r: CallLogRecord = parse("call-log/docs.call-log-sample.record-simple-with-recording.json");
    let rec = r.recording.unwrap();
    assert_eq!(rec.id.as_str(), "1662272004");
    assert_eq!(rec.recording_type, Some(RecordingType::OnDemand));

    let r: CallLogRecord =
        parse("call-log/spec-1.0.46.readUserCallRecord.single-with-recording.json");
    assert_eq!(
        r.recording.unwrap().content_uri,
        "https://media.ringcentral.com/restapi/v1.0/account/401190149008/recording/401547458008/content"
    );

    let r: CallLogRecord = parse("call-log/spec-1.0.46.readCompanyCallRecord.single-detailed.json");
    assert!(r.legs[0].master);
    assert_eq!(r.extension.unwrap().id.unwrap().as_str(), "1477535004");

    let r: CallLogRecord = parse_str(
        "simple-inbound-record.jsonc",
        &jsonc_to_json(&text("call-log/docs.api-md.simple-inbound-record.jsonc")),
    );
    assert_eq!(r.direction, Some(Direction::Inbound));
    assert_eq!(
        r.telephony_session_id.unwrap().as_str(),
        "s-a0d178729c49dz1876d9b9d11z19269ec0000"
    );

    // Unquoted placeholder `EXTENSION_ID` becomes a number.
    let src = text("call-log/docs.api-md.detailed-inbound-record.jsonc")
        .replace("\"id\": EXTENSION_ID", "\"id\": 123456");
    let r: CallLogRecord = parse_str("detailed-inbound-record.jsonc", &jsonc_to_json(&src));
    assert_eq!(r.legs.len(), 3);
    assert_eq!(r.legs[2].leg_type, Some(LegType::FindMe));
    assert_eq!(r.legs[2].action, Some(CallAction::FindMe));
    assert_eq!(
        r.legs[1]
            .extension
            .as_ref()
            .unwrap()
            .id
            .as_ref()
            .unwrap()
            .as_str(),
        "123456"
    );
}

#[test]
fn the_multi_leg_fragment_parses_as_legs() {
    #[derive(serde::Deserialize)]
    struct Wrap {
        legs: Vec<CallLogLeg>,
    }
    let src = format!(
        "{{{}}}",
        text("call-log/docs.details-md.multi-leg-legs-fragment.jsonc")
    );
    let w: Wrap = parse_str("multi-leg-legs-fragment.jsonc", &jsonc_to_json(&src));
    assert_eq!(w.legs.len(), 2);
    assert_eq!(
        w.legs[0].recording.as_ref().unwrap().id.as_str(),
        "1662272004"
    );
    assert_eq!(w.legs[1].leg_type, Some(LegType::PstnToSip));
}

#[test]
fn the_bulk_multipart_response_parses_part_by_part() {
    let body = text("call-log/spec-1.0.46.readCompanyCallRecord.bulk-multipart.txt");
    let boundary = body.lines().next().unwrap().trim().to_owned();
    let parts: Vec<&str> = body
        .split(boundary.as_str())
        .map(|p| p.trim())
        .filter(|p| !p.is_empty() && *p != "--")
        .map(|p| {
            let start = p.find('{').unwrap();
            &p[start..]
        })
        .collect();
    assert_eq!(parts.len(), 3);
    let summary: serde_json::Value = parse_str("multipart part 1", parts[0]);
    assert_eq!(summary["response"].as_array().unwrap().len(), 2);
    for part in &parts[1..] {
        let r: CallLogRecord = parse_str("multipart record", part);
        assert_eq!(r.extension.unwrap().id.unwrap().as_str(), "1477535004");
    }
}

#[test]
fn sync_responses_parse_even_without_session_ids() {
    for f in [
        "call-log/docs.sync-md.fsync-response.json",
        "call-log/docs.sync-md.isync-response.json",
        "call-log/spec-1.0.46.syncUserCallLog.fsync.json",
        "call-log/spec-1.0.46.syncUserCallLog.isync.json",
    ] {
        let s: CallLogSyncResponse = parse(f);
        assert!(!s.records.is_empty(), "{f}");
        assert!(s.sync_info.sync_token.is_some(), "{f}");
    }
    let s: CallLogSyncResponse = parse("call-log/docs.sync-md.fsync-response.json");
    assert_eq!(s.records.len(), 3);
    assert!(s.records[0].session_id.is_none());
    assert_eq!(s.records[0].result, Some(CallResult::Unknown));
}

#[test]
fn recording_samples_parse() {
    let m: RecordingMetadata = parse("recordings/spec-1.0.46.readCallRecording.metadata.json");
    assert_eq!(m.id.as_str(), "401786818008");
    assert_eq!(m.content_type.as_deref(), Some("audio/x-wav"));
    assert_eq!(m.duration, Some(30));

    #[derive(serde::Deserialize)]
    struct Wrap {
        recording: RecordingInfo,
    }
    let src = format!(
        "{{{}}}",
        text("recordings/docs.recordings-md.recording-object-fragment.jsonc")
    );
    let w: Wrap = parse_str("recording-object-fragment.jsonc", &jsonc_to_json(&src));
    assert_eq!(w.recording.id.as_str(), "RECORDING_ID");
    assert!(w.recording.content_uri.contains(":443/"));
}

#[test]
fn subscription_samples_parse_with_statuses_and_transports() {
    let l: SubscriptionList = parse("subscriptions/docs.webhooks.blacklist.subscription-list.json");
    let s = &l.records[0];
    assert_eq!(s.status, Some(SubscriptionStatus::Blacklisted));
    assert_eq!(
        s.blacklisted_data.as_ref().unwrap().reason.as_deref(),
        Some("I/O operation is failed. Details: [Read timed out]")
    );
    assert_eq!(
        s.delivery_mode.as_ref().unwrap().transport_type,
        Some(TransportType::WebHook)
    );

    let l: SubscriptionList = parse("subscriptions/spec-1.0.46.listSubscriptions.json");
    let transports: Vec<_> = l
        .records
        .iter()
        .map(|r| {
            r.delivery_mode
                .as_ref()
                .unwrap()
                .transport_type
                .clone()
                .unwrap()
        })
        .collect();
    assert!(transports.contains(&TransportType::RcApns));
    assert!(transports.contains(&TransportType::PubNub));
    assert!(transports.contains(&TransportType::WebHook));

    let s: SubscriptionInfo =
        parse("subscriptions/spec-1.0.46.readSubscription.with-disabledFilters.json");
    assert_eq!(s.disabled_filters[0].reason.as_deref(), Some("SUB-412"));
    assert_eq!(s.expires_in, Some(687));

    for f in [
        "subscriptions/spec-1.0.46.updateSubscription.response.json",
        "subscriptions/spec-1.0.46.renewSubscription.response.json",
    ] {
        let s: SubscriptionInfo = parse(f);
        assert_eq!(s.expires_in, Some(2591999), "{f}");
        assert_eq!(s.status, Some(SubscriptionStatus::Active));
    }

    let s: SubscriptionInfo =
        parse("subscriptions/spec-1.0.46.createSubscription.webhook.response.json");
    assert_eq!(s.id.as_str(), "dd2f0ff2-580e-4581-a277-76f9c9a54bc9");
    assert_eq!(s.expires_in, Some(604799));
    assert_eq!(
        s.event_filters[0],
        "/restapi/v1.0/account/10366034004/extension/10366034004/presence"
    );

    for f in [
        "subscriptions/docs.webhooks.create-webhook-request.json",
        "subscriptions/spec-1.0.46.createSubscription.webhook.request.json",
    ] {
        let r: CreateSubscriptionRequest = parse(f);
        assert_eq!(
            r.delivery_mode.transport_type,
            TransportType::WebHook,
            "{f}"
        );
        assert!(r.delivery_mode.verification_token.is_none());
        assert!(!r.event_filters.is_empty());
    }
}

#[test]
fn a_create_request_serializes_with_its_verification_token_and_debug_hides_it() {
    let r = CreateSubscriptionRequest::webhook(
        vec!["/restapi/v1.0/account/~/telephony/sessions".into()],
        "https://example.com/webhook/ringcentral",
        Some(rc_api::Secret::new("verify-me-0123456789")),
        Some(315_360_000),
    );
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["deliveryMode"]["transportType"], "WebHook");
    assert_eq!(
        json["deliveryMode"]["verificationToken"],
        "verify-me-0123456789"
    );
    assert_eq!(json["expiresIn"], 315_360_000);
    assert!(!format!("{r:?}").contains("verify-me-0123456789"));
}

#[test]
fn webhook_notifications_parse_with_their_changed_party() {
    let n: TelephonySessionNotification =
        parse("telephony-sessions/docs.voice.telephony-session-event.setup-inbound.json");
    assert_eq!(n.body.sequence, Some(3));
    assert_eq!(
        n.body.telephony_session_id.as_str(),
        "s-a6abd24ca6774373a8120a3390d3cbe8"
    );
    let party = &n.body.parties[0];
    assert_eq!(party.id, "p-a6abd24ca6774373a8120a3390d3cbe8-2");
    assert_eq!(party.status.as_ref().unwrap().code, PartyStatusCode::Setup);
    assert_eq!(
        n.body.origin.as_ref().unwrap().origin_type,
        Some(OriginType::Call)
    );

    let n: TelephonySessionNotification =
        parse("telephony-sessions/ccjs.notification.account.inbound-proceeding.json");
    assert!(n.event.ends_with("/telephony/sessions"));
    assert!(n.body.parties[0].extension_id.is_none(), "far-end party");

    let n: TelephonySessionNotification =
        parse("telephony-sessions/ccjs.notification.extension.outbound-disconnected.json");
    let st = n.body.parties[0].status.as_ref().unwrap();
    assert!(st.is_terminal());
    assert!(st.reason.is_none(), "plain hang-up");

    let n: TelephonySessionNotification =
        parse("telephony-sessions/ccjs.notification.extension.outbound-setup.json");
    assert_eq!(
        n.body.parties[0]
            .from
            .as_ref()
            .unwrap()
            .device_id
            .as_deref(),
        Some("52294004")
    );

    for f in [
        "telephony-sessions/docs.voice.cust-to-oper-event.answered.json",
        "telephony-sessions/docs.voice.oper-to-cust-event.answered.json",
    ] {
        let n: TelephonySessionNotification = parse(f);
        assert_eq!(
            n.body.parties[0].status.as_ref().unwrap().code,
            PartyStatusCode::Answered,
            "{f}"
        );
    }
}

#[test]
fn push_wrapped_samples_parse_once_unwrapped() {
    #[derive(serde::Deserialize)]
    struct Apns {
        pn_apns: TelephonySessionNotification,
    }
    for f in [
        "telephony-sessions/docs.call-control-sessions-md.extension-event-apns.json",
        "telephony-sessions/docs.events.account-telephony-sessions.json",
        "telephony-sessions/docs.events.extension-telephony-sessions.json",
    ] {
        let a: Apns = parse(f);
        assert_eq!(a.pn_apns.body.sequence, Some(5), "{f}");
        assert_eq!(a.pn_apns.body.parties[0].id, "cs171841903434018384-2");
    }
    let a: Apns = parse("telephony-sessions/docs.events.account-telephony-sessions.json");
    assert_eq!(
        a.pn_apns.body.parties[0]
            .sip_data
            .as_ref()
            .unwrap()
            .call_id
            .as_deref(),
        Some("555555555555")
    );
}

#[test]
fn transfer_parties_carry_their_reason_and_peer() {
    let p: TelephonyParty = parse("telephony-sessions/ccjs.party.disconnected-blindtransfer.json");
    let st = p.status.unwrap();
    assert_eq!(st.code, PartyStatusCode::Disconnected);
    assert_eq!(st.reason, Some(PartyStatusReason::BlindTransfer));

    let p: TelephonyParty =
        parse("telephony-sessions/ccjs.party.gone-attendedtransfer-peerId.json");
    let st = p.status.unwrap();
    assert_eq!(st.code, PartyStatusCode::Gone);
    assert_eq!(st.reason, Some(PartyStatusReason::AttendedTransfer));
    let peer = st.peer_id.unwrap();
    assert_eq!(
        peer.session_id.as_deref(),
        Some("s-a4a0d812557c5z1803a3eee14z97f6290000")
    );
    assert_eq!(
        peer.party_id.as_deref(),
        Some("p-a4a0d812557c5z1803a3eee14z97f6290000-1")
    );
}

#[test]
fn call_session_objects_parse() {
    let s: CallSession = parse("telephony-sessions/ccjs.get-call-session.inbound-two-parties.json");
    assert_eq!(s.parties.len(), 2);
    assert_eq!(s.id.as_str(), "s-279e175539444bdc96d16c1e2fe4dbe9");
    #[derive(serde::Deserialize)]
    struct Wrap {
        session: CallSession,
    }
    let w: Wrap = parse("telephony-sessions/ccjs.get-call-session.callout-wrapped.json");
    assert_eq!(
        w.session.parties[0]
            .owner
            .as_ref()
            .unwrap()
            .extension_id
            .as_deref(),
        Some("170848004")
    );
}

#[test]
fn captured_notification_streams_parse_event_by_event() {
    // The .txt captures are Python reprs; their .jsonl twins hold the same values.
    for (txt, jsonl) in [
        (
            "telephony-sessions/csn-data.PSTN-RingCentral-DataStreams.txt",
            "derived/csn-data.PSTN-RingCentral-DataStreams.jsonl",
        ),
        (
            "telephony-sessions/csn-data.RingCentral-PSTN.txt",
            "derived/csn-data.RingCentral-PSTN.jsonl",
        ),
        (
            "telephony-sessions/csn-data.RingCentral-RingCentral.txt",
            "derived/csn-data.RingCentral-RingCentral.jsonl",
        ),
    ] {
        let txt_lines = text(txt).lines().filter(|l| !l.trim().is_empty()).count();
        let events: Vec<TelephonySessionNotification> = text(jsonl)
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| parse_str(jsonl, l))
            .collect();
        assert_eq!(events.len(), txt_lines, "{jsonl} mirrors {txt}");
        let tsid = &events[0].body.telephony_session_id;
        assert!(events.iter().all(|e| &e.body.telephony_session_id == tsid));
        assert!(events.iter().any(|e| {
            e.body
                .parties
                .iter()
                .any(|p| p.status.as_ref().is_some_and(|s| s.is_terminal()))
        }));
        let mut seqs: Vec<i64> = events.iter().filter_map(|e| e.body.sequence).collect();
        seqs.sort();
        seqs.dedup();
        assert_eq!(seqs.len(), events.len(), "{jsonl}: one sequence per event");
    }
}

#[test]
fn error_bodies_parse_and_yield_the_specific_code() {
    for (f, perm) in [
        (
            "errors/docs.access-md.403-insufficient-permissions-ReadCallLog.json",
            "ReadCallLog",
        ),
        (
            "errors/docs.access-md.403-insufficient-permissions-ReadCallRecording.json",
            "ReadCallRecording",
        ),
    ] {
        let b: ApiErrorBody = parse(f);
        assert_eq!(b.code(), Some("CMN-401"));
        assert_eq!(b.error_code.as_deref(), Some("InsufficientPermissions"));
        assert_eq!(b.permission_name.as_deref(), Some(perm));
    }
    let b: ApiErrorBody = parse_str(
        "sample-error.jsonc",
        &jsonc_to_json(&text("errors/docs.basics.sample-error.jsonc")),
    );
    assert_eq!(b.code(), Some("ABC-123"));
    assert_eq!(b.errors.len(), 2);

    let table: std::collections::HashMap<String, Vec<ApiErrorItem>> =
        parse("errors/spec-1.0.46.x-error-codes.call-log-recording-subscription.json");
    let rec = &table["GET /restapi/v1.0/account/{accountId}/recording/{recordingId}/content"];
    assert!(
        rec.iter()
            .any(|e| e.error_code.as_deref() == Some("CMN-102"))
    );

    #[derive(serde::Deserialize)]
    struct Constructed {
        name: String,
        status: u16,
        body: ApiErrorBody,
    }
    let all: Vec<Constructed> = parse("derived/error-bodies.constructed.json");
    let revoked = all
        .iter()
        .find(|c| c.name.contains("token-not-found"))
        .unwrap();
    assert_eq!(
        (revoked.status, revoked.body.code()),
        (401, Some("OAU-213"))
    );
    let oauth = all
        .iter()
        .find(|c| c.body.error.is_some())
        .expect("an OAuth-style body");
    assert!(oauth.body.code().is_some());
}

#[test]
fn unknown_enum_values_and_fields_are_accepted() {
    let r: CallLogRecord = serde_json::from_str(
        r#"{"id":"abc","uri":"u","startTime":"2026-11-25T10:00:00Z","action":"Hologram Call",
            "result":"Teleported","legs":[{"legType":"Wormhole","brandNewField":{"x":1}}],
            "brandNewTopLevel":[1,2,3]}"#,
    )
    .unwrap();
    assert_eq!(r.action, Some(CallAction::Other("Hologram Call".into())));
    assert_eq!(r.result.as_ref().unwrap().as_str(), "Teleported");
    assert_eq!(r.legs[0].leg_type, Some(LegType::Other("Wormhole".into())));
    assert_eq!(
        serde_json::to_value(&r.action).unwrap(),
        serde_json::json!("Hologram Call"),
        "unknown values round-trip verbatim"
    );
}

#[test]
fn a_listed_record_keeps_its_raw_json_with_fields_the_model_does_not_know() {
    let page: CallLogResponse = serde_json::from_str(
        r#"{"uri":"u","records":[{"id":"abc","uri":"u","startTime":"2026-11-25T10:00:00Z",
            "brandNewTopLevel":[1,2,3],"legs":[{"legType":"Accept","brandNewLegField":"x"}]}],
            "paging":{},"navigation":{}}"#,
    )
    .unwrap();
    let raw: serde_json::Value = serde_json::from_str(
        page.records[0]
            .raw
            .as_ref()
            .expect("raw kept for a listed record")
            .get(),
    )
    .unwrap();
    assert_eq!(raw["brandNewTopLevel"], serde_json::json!([1, 2, 3]));
    assert_eq!(raw["legs"][0]["brandNewLegField"], "x");
}

#[test]
fn ids_with_path_characters_make_the_payload_fail_to_parse() {
    let bad = r#"{"id":"401786818008","contentUri":"https://media.ringcentral.com/x","contentType":"audio/mpeg"}"#
        .replace("401786818008", "../../etc/passwd");
    assert!(serde_json::from_str::<RecordingMetadata>(&bad).is_err());
}
