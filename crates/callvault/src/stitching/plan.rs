//! From call-log records to the legs of one conversation, in playing order:
//! pure functions, no I/O.
//!
//! RingCentral's recipe: keep the records of the telephony session(s), sort
//! them by `startTime`, take each record's recording. A record without a
//! recording (too short, or not recorded) stays in the list as a missing
//! leg, so the manifest says what the file lacks.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use rc_api::models::{CallLogParty, CallLogRecord};

/// One leg of a conversation as planned: a recording to play, or a gap to
/// name in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedLeg {
    /// The call record the leg comes from.
    pub record_id: String,
    /// The telephony session of that record.
    pub session: String,
    /// When the leg started (wall clock).
    pub start: DateTime<Utc>,
    /// When the leg ended (wall clock).
    pub end: DateTime<Utc>,
    /// The recording to play; `None` for a missing leg.
    pub recording: Option<String>,
    /// RingCentral flagged the recording as too short to keep.
    pub short_recording: bool,
    /// Chapter title: `Leg N: FROM → TO (ext X)`.
    pub label: String,
}

impl PlannedLeg {
    /// The id the manifest lists the leg under: its recording, or for a
    /// missing leg `record:<call record id>`.
    pub fn manifest_id(&self) -> String {
        match &self.recording {
            Some(r) => r.clone(),
            None => format!("record:{}", self.record_id),
        }
    }
}

/// Telephony sessions a record links to by an attended transfer
/// (`transferTarget` / `transferee`, on the record or any of its legs).
pub fn linked_sessions(rec: &CallLogRecord) -> Vec<String> {
    let record = [rec.transfer_target.as_ref(), rec.transferee.as_ref()];
    let legs = rec
        .legs
        .iter()
        .flat_map(|l| [l.transfer_target.as_ref(), l.transferee.as_ref()]);
    let mut out: Vec<String> = Vec::new();
    for info in record.into_iter().chain(legs).flatten() {
        if let Some(t) = &info.telephony_session_id {
            let t = t.as_str().to_owned();
            if !out.contains(&t) {
                out.push(t);
            }
        }
    }
    out
}

/// Telephony sessions a record's own legs ran in (the record's and each
/// leg's `telephonySessionId`): those the call log ties to it, whether or
/// not a transfer links them.
pub fn sessions_named(rec: &CallLogRecord) -> impl Iterator<Item = &str> {
    rec.legs
        .iter()
        .filter_map(|l| l.telephony_session_id.as_ref())
        .chain(rec.telephony_session_id.as_ref())
        .map(|t| t.as_str())
}

/// Orders the records of a conversation's sessions (`sessions` in
/// conversation order) into legs: by `startTime`, ties by session order, then
/// by record id. One leg per distinct recording (a recording named by several
/// records plays once); a record with no recording becomes a missing leg.
pub fn order_legs(records: &[CallLogRecord], sessions: &[String]) -> Vec<PlannedLeg> {
    let position = |r: &CallLogRecord| {
        r.telephony_session_id
            .as_ref()
            .and_then(|t| sessions.iter().position(|s| s == t.as_str()))
            .unwrap_or(usize::MAX)
    };
    let mut sorted: Vec<&CallLogRecord> = records.iter().filter(|r| !r.deleted).collect();
    sorted.sort_by(|a, b| {
        (a.start_time, position(a), a.id.as_str()).cmp(&(b.start_time, position(b), b.id.as_str()))
    });
    let mut seen_records: HashSet<&str> = HashSet::new();
    let mut seen_recordings: HashSet<String> = HashSet::new();
    let mut legs = Vec::new();
    for rec in sorted {
        if !seen_records.insert(rec.id.as_str()) {
            continue;
        }
        let session = rec
            .telephony_session_id
            .as_ref()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let end = crate::sync::ledger::call_end(rec);
        let base = PlannedLeg {
            record_id: rec.id.as_str().to_owned(),
            session,
            start: rec.start_time,
            end,
            recording: None,
            short_recording: rec.short_recording,
            label: describe(rec),
        };
        let recordings = rec.recordings();
        if recordings.is_empty() {
            legs.push(base);
            continue;
        }
        for info in recordings {
            let id = info.id.as_str().to_owned();
            if seen_recordings.insert(id.clone()) {
                legs.push(PlannedLeg {
                    recording: Some(id),
                    ..base.clone()
                });
            }
        }
    }
    for (n, leg) in legs.iter_mut().enumerate() {
        leg.label = format!("Leg {}: {}", n + 1, leg.label);
    }
    legs
}

/// Longest silence between one leg's end and the next one's start that
/// still counts as a hand-over (ringing of the next extension).
pub const HANDOVER_GAP_SECS: i64 = 2;

/// Whether the records look like only part of the conversation: the sync
/// stores only recorded calls (`recordingType=All`), so a leg without a
/// recording shows as a hole between two legs, or as a first leg that was
/// itself handed over (`legType: TransferCall`).
pub fn looks_incomplete(records: &[CallLogRecord]) -> bool {
    let mut sorted: Vec<&CallLogRecord> = records.iter().collect();
    sorted.sort_by_key(|r| r.start_time);
    let handed_over_first = sorted.first().is_some_and(|r| {
        r.legs.iter().any(|l| {
            l.master
                && l.leg_type
                    .as_ref()
                    .is_some_and(|t| t.as_str() == "TransferCall")
        })
    });
    let mut latest_end: Option<DateTime<Utc>> = None;
    let mut hole = false;
    for r in &sorted {
        if let Some(end) = latest_end
            && r.start_time - end > chrono::Duration::seconds(HANDOVER_GAP_SECS)
        {
            hole = true;
        }
        let end = crate::sync::ledger::call_end(r);
        latest_end = Some(latest_end.map_or(end, |e| e.max(end)));
    }
    handed_over_first || hole
}

/// `FROM → TO (ext X)` of a record; the extension is the company side's.
fn describe(rec: &CallLogRecord) -> String {
    let from = party(rec.from.as_ref());
    let to = party(rec.to.as_ref());
    let ext = [rec.to.as_ref(), rec.from.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|p| p.extension_number.clone());
    match ext {
        Some(x) => format!("{from} → {to} (ext {x})"),
        None => format!("{from} → {to}"),
    }
}

fn party(p: Option<&CallLogParty>) -> String {
    p.and_then(|p| {
        p.name
            .clone()
            .or_else(|| p.phone_number.clone())
            .or_else(|| p.extension_number.clone())
    })
    .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, tsid: &str, start: &str, recording: Option<&str>) -> CallLogRecord {
        let mut v = serde_json::json!({
            "id": id,
            "uri": "",
            "sessionId": "1",
            "telephonySessionId": tsid,
            "startTime": start,
            "durationMs": 40000,
            "type": "Voice",
            "direction": "Inbound",
            "action": "Phone Call",
            "from": {"phoneNumber": "+14155550123"},
            "to": {"phoneNumber": "+14155550100", "extensionNumber": "101", "name": "Ann"},
        });
        if let Some(r) = recording {
            v["recording"] = serde_json::json!({
                "id": r, "uri": "u", "type": "Automatic",
                "contentUri": format!("https://media.example/{r}/content"),
            });
        } else {
            v["shortRecording"] = serde_json::json!(true);
        }
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn legs_follow_start_time_and_a_record_without_recording_stays_as_a_missing_leg() {
        let recs = vec![
            record("c", "s-1", "2026-11-01T10:02:00Z", Some("3")),
            record("a", "s-1", "2026-11-01T10:00:00Z", Some("1")),
            record("b", "s-1", "2026-11-01T10:01:00Z", None),
        ];
        let legs = order_legs(&recs, &["s-1".into()]);
        let ids: Vec<_> = legs.iter().map(|l| l.manifest_id()).collect();
        assert_eq!(ids, ["1", "record:b", "3"]);
        assert!(legs[1].short_recording);
        assert_eq!(legs[0].label, "Leg 1: +14155550123 → Ann (ext 101)");
        assert!(legs[2].label.starts_with("Leg 3: "));
    }

    #[test]
    fn ties_in_start_time_go_by_session_order_and_a_repeated_recording_plays_once() {
        let recs = vec![
            record("z", "s-2", "2026-11-01T10:00:00Z", Some("2")),
            record("y", "s-1", "2026-11-01T10:00:00Z", Some("1")),
            record("x", "s-1", "2026-11-01T10:05:00Z", Some("1")),
        ];
        let legs = order_legs(&recs, &["s-1".into(), "s-2".into()]);
        let ids: Vec<_> = legs.iter().map(|l| l.manifest_id()).collect();
        assert_eq!(ids, ["1", "2"]);
    }

    #[test]
    fn a_hole_between_legs_or_a_handed_over_first_leg_marks_the_records_incomplete() {
        let a = record("a", "s-1", "2026-11-01T10:00:00Z", Some("1"));
        let b = record("b", "s-1", "2026-11-01T10:00:41Z", Some("2"));
        let c = record("c", "s-1", "2026-11-01T10:02:00Z", Some("3"));
        assert!(!looks_incomplete(&[a.clone(), b.clone()]));
        assert!(looks_incomplete(&[a, c]));
        let mut v = serde_json::to_value(b).unwrap();
        v["legs"] = serde_json::json!([{"legType": "TransferCall", "master": true}]);
        let b: CallLogRecord = serde_json::from_value(v).unwrap();
        assert!(looks_incomplete(&[b]));
    }

    #[test]
    fn transfer_links_are_read_from_the_record_and_its_legs() {
        let mut v =
            serde_json::to_value(record("a", "s-1", "2026-11-01T10:00:00Z", Some("1"))).unwrap();
        v["transferTarget"] = serde_json::json!({"telephonySessionId": "s-2"});
        v["legs"] = serde_json::json!([{"transferee": {"telephonySessionId": "s-0"}},
                                       {"transferTarget": {"telephonySessionId": "s-2"}}]);
        let rec: CallLogRecord = serde_json::from_value(v).unwrap();
        assert_eq!(linked_sessions(&rec), ["s-2", "s-0"]);
    }
}
