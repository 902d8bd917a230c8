//! From a conversation to its ordered telephony events.
//!
//! Party layout (ids come from the model): the outside party is `p-…-1` in
//! every session (no `extensionId`), extension legs are `p-…-2`, `-3`, … in
//! the order they join. Per session, in order:
//! - first leg: caller Setup, callee Setup/Proceeding, leg Proceeding; at the
//!   answer the callee and then the caller are `Answered` (the leg's
//!   `Answered` carries `recordings[{id, active: true}]` when recorded);
//! - blind transfer: the leg is `Disconnected` + `BlindTransfer`, then the
//!   next leg (same session) goes Setup → Proceeding → Answered;
//! - attended transfer: the leg and the outside party are `Gone` +
//!   `AttendedTransfer` with `peerId {telephonySessionId, sessionId, partyId}`
//!   naming their continuation in the next session (the next leg's party and
//!   the outside party there); the next session then starts like a first leg;
//! - hang-up: the leg, then the outside party, are `Disconnected` without reason.
//!
//! Event times follow the model (leg start, answer, end) with 5 ms steps
//! between changes at the same moment, and never go backwards in a session.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Map, Value, json};

use super::{PartyFacts, TelephonyEvent, rc_time};
use crate::model::{Conversation, Direction, Handoff, Leg, World};

const STEP_MS: i64 = 5;

#[derive(Debug, Clone, Copy)]
enum Who {
    External,
    Leg(usize),
}

#[derive(Debug)]
struct Draft {
    at: DateTime<Utc>,
    who: Who,
    code: &'static str,
    reason: Option<&'static str>,
    peer: Option<Value>,
    recordings: bool,
}

impl Draft {
    fn new(at: DateTime<Utc>, who: Who, code: &'static str) -> Draft {
        Draft {
            at,
            who,
            code,
            reason: None,
            peer: None,
            recordings: false,
        }
    }
}

/// Every event of `conversation`, sorted by time (ties keep session order).
pub fn timeline(world: &World, conversation: &Conversation) -> Vec<TelephonyEvent> {
    let mut out = Vec::new();
    for s in 0..conversation.sessions.len() {
        out.extend(session_events(world, conversation, s));
    }
    out.sort_by_key(|e| e.at);
    out
}

fn step(t: DateTime<Utc>, n: i64) -> DateTime<Utc> {
    t + Duration::milliseconds(STEP_MS * n)
}

fn session_events(world: &World, c: &Conversation, s: usize) -> Vec<TelephonyEvent> {
    let inbound = c.script.direction == Direction::Inbound;
    let legs: Vec<usize> = (0..c.legs.len())
        .filter(|&i| c.legs[i].session == s)
        .collect();
    let mut drafts = Vec::new();
    for (k, &i) in legs.iter().enumerate() {
        let leg = &c.legs[i];
        if k == 0 {
            if inbound {
                drafts.push(Draft::new(leg.start, Who::External, "Setup"));
                drafts.push(Draft::new(step(leg.start, 1), Who::Leg(i), "Setup"));
            } else {
                drafts.push(Draft::new(leg.start, Who::Leg(i), "Setup"));
                drafts.push(Draft::new(step(leg.start, 1), Who::External, "Proceeding"));
            }
            drafts.push(Draft::new(step(leg.start, 2), Who::Leg(i), "Proceeding"));
            let mut answered = Draft::new(leg.answer, Who::Leg(i), "Answered");
            answered.recordings = leg.recording.is_some();
            if inbound {
                drafts.push(answered);
                drafts.push(Draft::new(step(leg.answer, 1), Who::External, "Answered"));
            } else {
                drafts.push(Draft::new(leg.answer, Who::External, "Answered"));
                answered.at = step(leg.answer, 1);
                drafts.push(answered);
            }
        } else {
            drafts.push(Draft::new(step(leg.start, 1), Who::Leg(i), "Setup"));
            drafts.push(Draft::new(step(leg.start, 2), Who::Leg(i), "Proceeding"));
            let mut answered = Draft::new(leg.answer, Who::Leg(i), "Answered");
            answered.recordings = leg.recording.is_some();
            drafts.push(answered);
        }
        match leg.handoff {
            Handoff::BlindTransfer => {
                let mut d = Draft::new(leg.end, Who::Leg(i), "Disconnected");
                d.reason = Some("BlindTransfer");
                drafts.push(d);
            }
            Handoff::AttendedTransfer => {
                let next = s + 1;
                let next_leg = c.legs.iter().find(|l| l.session == next);
                let mut d = Draft::new(leg.end, Who::Leg(i), "Gone");
                d.reason = Some("AttendedTransfer");
                d.peer = next_leg.map(|l| peer(c, next, &l.party_id));
                drafts.push(d);
                let mut e = Draft::new(step(leg.end, 1), Who::External, "Gone");
                e.reason = Some("AttendedTransfer");
                e.peer = c.external_party_ids.get(next).map(|p| peer(c, next, p));
                drafts.push(e);
            }
            Handoff::HangUp => {
                drafts.push(Draft::new(leg.end, Who::Leg(i), "Disconnected"));
                drafts.push(Draft::new(step(leg.end, 1), Who::External, "Disconnected"));
            }
        }
    }
    let has_recordings = legs.iter().any(|&i| c.legs[i].recording.is_some());
    let count = drafts.len();
    let mut last_at = None::<DateTime<Utc>>;
    drafts
        .into_iter()
        .enumerate()
        .map(|(n, mut d)| {
            if let Some(prev) = last_at
                && d.at < prev
            {
                d.at = prev;
            }
            last_at = Some(d.at);
            render(world, c, s, d, 2 + n as u64, n + 1 == count, has_recordings)
        })
        .collect()
}

fn peer(c: &Conversation, session: usize, party_id: &str) -> Value {
    match c.sessions.get(session) {
        Some(s) => json!({
            "telephonySessionId": s.telephony_session_id,
            "sessionId": s.session_id,
            "partyId": party_id,
        }),
        None => json!({ "partyId": party_id }),
    }
}

/// `{phoneNumber, name, extensionId}` of an extension.
fn extension_party(world: &World, leg: &Leg) -> (Value, Option<u64>, String) {
    match world.extensions.get(leg.extension) {
        Some(e) => (
            json!({"phoneNumber": e.phone_number, "name": e.name, "extensionId": e.id.to_string()}),
            Some(e.id),
            e.phone_number.clone(),
        ),
        None => (json!({}), None, String::new()),
    }
}

fn render(
    world: &World,
    c: &Conversation,
    s: usize,
    d: Draft,
    sequence: u64,
    last: bool,
    session_has_recordings: bool,
) -> TelephonyEvent {
    let session = &c.sessions[s];
    let inbound = c.script.direction == Direction::Inbound;
    let mut outside = Map::new();
    outside.insert("phoneNumber".into(), json!(c.script.external.phone_number));
    if let Some(n) = &c.script.external.name {
        outside.insert("name".into(), json!(n));
    }
    let outside = Value::Object(outside);
    // The extension the outside party talks to in this session: its first leg.
    let first_leg = c.legs.iter().find(|l| l.session == s);
    let (party_id, extension_id, direction, from, to, recording) = match d.who {
        Who::External => {
            let (ext, _, _) = first_leg.map(|l| extension_party(world, l)).unwrap_or((
                json!({}),
                None,
                String::new(),
            ));
            let (from, to, dir) = if inbound {
                (outside.clone(), ext, "Outbound")
            } else {
                (ext, outside.clone(), "Inbound")
            };
            let id = c.external_party_ids.get(s).cloned().unwrap_or_default();
            (id, None, dir, from, to, None)
        }
        Who::Leg(i) => {
            let leg = &c.legs[i];
            let (ext, ext_id, _) = extension_party(world, leg);
            let (from, to, dir) = if inbound {
                (outside.clone(), ext, "Inbound")
            } else {
                (ext, outside.clone(), "Outbound")
            };
            (
                leg.party_id.clone(),
                ext_id,
                dir,
                from,
                to,
                leg.recording.as_ref().map(|r| r.id.clone()),
            )
        }
    };
    let mut status = Map::new();
    status.insert("code".into(), json!(d.code));
    if let Some(r) = d.reason {
        status.insert("reason".into(), json!(r));
    }
    if let Some(p) = d.peer {
        status.insert("peerId".into(), p);
    }
    status.insert("rcc".into(), json!(false));
    let mut party = Map::new();
    party.insert("accountId".into(), json!(world.account.id.to_string()));
    if let Some(e) = extension_id {
        party.insert("extensionId".into(), json!(e.to_string()));
    }
    party.insert("id".into(), json!(party_id));
    party.insert("direction".into(), json!(direction));
    party.insert("to".into(), to.clone());
    party.insert("from".into(), from.clone());
    party.insert("status".into(), Value::Object(status));
    if d.recordings
        && let Some(id) = &recording
    {
        party.insert("recordings".into(), json!([{"id": id, "active": true}]));
    }
    party.insert("park".into(), json!({}));
    party.insert("missedCall".into(), json!(false));
    party.insert("standAlone".into(), json!(false));
    party.insert("muted".into(), json!(false));
    let phone_numbers = [&from, &to]
        .iter()
        .filter_map(|v| {
            v.get("phoneNumber")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .collect();
    let body = json!({
        "sequence": sequence,
        "sessionId": session.session_id,
        "telephonySessionId": session.telephony_session_id,
        "serverId": server_id(&session.telephony_session_id),
        "eventTime": rc_time(d.at),
        "parties": [Value::Object(party)],
        "origin": {"type": "Call"},
    });
    let core = session.telephony_session_id.trim_start_matches("s-");
    let sip_data = json!({
        "toTag": format!("{:.10}", core),
        "fromTag": format!("{party_id}-tag"),
        "callId": format!("{core}@sandbox"),
    });
    TelephonyEvent {
        at: d.at,
        conversation: c.index,
        telephony_session_id: session.telephony_session_id.clone(),
        sequence,
        last_in_session: last,
        party: PartyFacts {
            extension_id,
            direction,
            status_code: d.code,
            phone_numbers,
            missed_call: false,
        },
        session_has_recordings,
        body,
        sip_data,
    }
}

/// A stable `serverId` like `10.13.22.27.TAM` for a session.
fn server_id(telephony_session_id: &str) -> String {
    let n = telephony_session_id
        .bytes()
        .fold(0u32, |a, b| a.wrapping_mul(31).wrapping_add(u32::from(b)));
    format!("10.13.22.{}.TAM", n % 250 + 2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AudioFormat, CallScript, ExternalParty, RecordingKind, SegmentScript};

    fn world_with(handoffs: &[Handoff], direction: Direction) -> (World, Conversation) {
        let mut w = World::new(3, 4, AudioFormat::Mp3);
        let segments = handoffs
            .iter()
            .enumerate()
            .map(|(i, h)| SegmentScript {
                extension: i,
                ring_ms: 3000,
                talk_ms: 40_000,
                recorded: true,
                handoff: *h,
            })
            .collect();
        let c = w
            .add(CallScript {
                start: Utc::now(),
                direction,
                external: ExternalParty {
                    phone_number: "+14155550100".into(),
                    name: Some("Caller".into()),
                },
                segments,
                recording_kind: RecordingKind::Automatic,
            })
            .unwrap()
            .clone();
        (w, c)
    }

    fn codes(events: &[TelephonyEvent]) -> Vec<(String, &'static str, Option<String>)> {
        events
            .iter()
            .map(|e| {
                let p = &e.body["parties"][0];
                (
                    p["id"]
                        .as_str()
                        .unwrap()
                        .rsplit('-')
                        .next()
                        .unwrap()
                        .to_string(),
                    e.party.status_code,
                    p["status"]["reason"].as_str().map(str::to_string),
                )
            })
            .collect()
    }

    #[test]
    fn blind_transfer_stays_in_one_session_and_ends_all_parties_disconnected() {
        let (w, c) = world_with(
            &[Handoff::BlindTransfer, Handoff::HangUp],
            Direction::Inbound,
        );
        let ev = timeline(&w, &c);
        let got = codes(&ev);
        let s = |p: &str, c: &'static str, r: Option<&str>| (p.to_string(), c, r.map(String::from));
        assert_eq!(
            got,
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
        let seqs: Vec<u64> = ev.iter().map(|e| e.sequence).collect();
        assert_eq!(seqs, (2..13).collect::<Vec<_>>());
        assert!(ev.last().unwrap().last_in_session);
        assert!(ev.windows(2).all(|p| p[0].at <= p[1].at));
        let answered = &ev[3].body["parties"][0];
        assert_eq!(
            answered["recordings"][0]["id"].as_str(),
            c.legs[0].recording.as_ref().map(|r| r.id.as_str())
        );
        assert!(ev[0].body["parties"][0].get("extensionId").is_none());
    }

    #[test]
    fn attended_transfer_points_gone_parties_at_the_second_session() {
        let (w, c) = world_with(
            &[Handoff::AttendedTransfer, Handoff::HangUp],
            Direction::Outbound,
        );
        let ev = timeline(&w, &c);
        let s1 = &c.sessions[1];
        let gone: Vec<_> = ev
            .iter()
            .filter(|e| e.party.status_code == "Gone")
            .collect();
        assert_eq!(gone.len(), 2);
        for g in gone {
            let st = &g.body["parties"][0]["status"];
            assert_eq!(st["reason"], "AttendedTransfer");
            assert_eq!(
                st["peerId"]["telephonySessionId"],
                json!(s1.telephony_session_id)
            );
            assert_eq!(g.telephony_session_id, c.sessions[0].telephony_session_id);
        }
        let second: Vec<_> = ev
            .iter()
            .filter(|e| e.telephony_session_id == s1.telephony_session_id)
            .collect();
        assert_eq!(second.first().unwrap().sequence, 2);
        assert_eq!(second.last().unwrap().party.status_code, "Disconnected");
    }
}
