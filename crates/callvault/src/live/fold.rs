//! Folding one telephony session's notifications into party states (pure).
//!
//! Notifications arrive out of order, duplicated, and usually carry only the
//! party whose state changed (RingCentral sends a party only in the events
//! that change it). Each party's state is the one of
//! its notification with the highest `sequence`, so the fold gives the same
//! answer whatever order the notifications are applied in, and applying one
//! twice changes nothing. A session is over when every party seen has
//! reached `Disconnected` or `Gone` (the states after which RingCentral sends
//! nothing more for it); the recording ids named
//! anywhere in it, and the sessions an attended transfer continues in
//! (`Gone` + `AttendedTransfer` + `peerId.telephonySessionId`), are
//! collected along the way.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rc_api::models::{
    PartyStatusCode, PartyStatusReason, TelephonyParty, TelephonySessionNotification,
};
use vault::{RecordingId, TelephonySessionId};

/// The latest known state of one party.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyState {
    /// `sequence` of the notification this state came from.
    pub sequence: i64,
    /// `status.code`.
    pub code: PartyStatusCode,
    /// `status.reason`, if any.
    pub reason: Option<PartyStatusReason>,
    /// The party's extension (absent for the outside party).
    pub extension_id: Option<String>,
}

impl PartyState {
    /// Whether the party has left this session.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.code,
            PartyStatusCode::Disconnected | PartyStatusCode::Gone
        )
    }
}

/// One session folded so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionFold {
    /// The session.
    pub session: TelephonySessionId,
    /// Party id → its latest state.
    pub parties: BTreeMap<String, PartyState>,
    /// Every recording id any party named.
    pub recordings: BTreeSet<RecordingId>,
    /// Sessions this one continues in through an attended transfer.
    pub attended_peers: BTreeSet<TelephonySessionId>,
    /// Earliest `eventTime` seen.
    pub first_event: Option<DateTime<Utc>>,
    /// Latest `eventTime` seen (the call's end once the session is over).
    pub last_event: Option<DateTime<Utc>>,
    /// Highest `sequence` seen.
    pub last_sequence: Option<i64>,
}

impl SessionFold {
    /// An empty fold for `session`.
    pub fn new(session: TelephonySessionId) -> SessionFold {
        SessionFold {
            session,
            parties: BTreeMap::new(),
            recordings: BTreeSet::new(),
            attended_peers: BTreeSet::new(),
            first_event: None,
            last_event: None,
            last_sequence: None,
        }
    }

    /// Folds `notifications` of `session` (others are ignored), in any order.
    pub fn of<'a>(
        session: TelephonySessionId,
        notifications: impl IntoIterator<Item = &'a TelephonySessionNotification>,
    ) -> SessionFold {
        let mut fold = SessionFold::new(session);
        for n in notifications {
            fold.apply(n);
        }
        fold
    }

    /// Applies one notification. Idempotent and order-independent: a party's
    /// state only moves to a notification with a higher `sequence` (a
    /// missing `sequence` counts as 0).
    pub fn apply(&mut self, n: &TelephonySessionNotification) {
        let body = &n.body;
        if body.telephony_session_id.as_str() != self.session.as_str() {
            return;
        }
        let sequence = body.sequence.unwrap_or(0);
        self.last_sequence = Some(self.last_sequence.map_or(sequence, |s| s.max(sequence)));
        if let Some(t) = body.event_time {
            self.first_event = Some(self.first_event.map_or(t, |f| f.min(t)));
            self.last_event = Some(self.last_event.map_or(t, |l| l.max(t)));
        }
        for party in &body.parties {
            self.apply_party(sequence, party);
        }
    }

    fn apply_party(&mut self, sequence: i64, party: &TelephonyParty) {
        for r in &party.recordings {
            self.recordings.insert(r.id.clone());
        }
        let Some(status) = &party.status else {
            return;
        };
        if status.code == PartyStatusCode::Gone
            && status.reason == Some(PartyStatusReason::AttendedTransfer)
            && let Some(peer) = status.peer_id.as_ref().and_then(|p| {
                p.telephony_session_id
                    .as_deref()
                    .or(p.session_id.as_deref().filter(|s| s.starts_with("s-")))
            })
            && peer != self.session.as_str()
            && let Ok(peer) = TelephonySessionId::parse(peer)
        {
            self.attended_peers.insert(peer);
        }
        let newer = self
            .parties
            .get(&party.id)
            .is_none_or(|known| sequence > known.sequence);
        if newer {
            self.parties.insert(
                party.id.clone(),
                PartyState {
                    sequence,
                    code: status.code.clone(),
                    reason: status.reason.clone(),
                    extension_id: party.extension_id.clone(),
                },
            );
        }
    }

    /// Whether the session is over: at least one party seen, and every party
    /// seen is `Disconnected` or `Gone`.
    pub fn is_over(&self) -> bool {
        !self.parties.is_empty() && self.parties.values().all(PartyState::is_terminal)
    }
}

/// Whether a notification reports a party leaving (the only kind of event
/// that can end a session).
pub fn reports_a_departure(n: &TelephonySessionNotification) -> bool {
    n.body
        .parties
        .iter()
        .any(|p| p.status.as_ref().is_some_and(|s| s.is_terminal()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TSID: &str = "s-a0d7b1c2d3e4f5z0123456789abcdef";
    const PEER: &str = "s-b1e8c2d3e4f5a6z0123456789abcdef";

    fn note(seq: i64, party: &str, ext: Option<&str>, code: &str) -> TelephonySessionNotification {
        note_with(seq, party, ext, json!({ "code": code }), json!([]))
    }

    fn note_with(
        seq: i64,
        party: &str,
        ext: Option<&str>,
        status: serde_json::Value,
        recordings: serde_json::Value,
    ) -> TelephonySessionNotification {
        let mut p = json!({ "id": party, "status": status, "recordings": recordings });
        if let Some(e) = ext {
            p["extensionId"] = json!(e);
        }
        serde_json::from_value(json!({
            "uuid": format!("u-{seq}-{party}"),
            "event": "/restapi/v1.0/account/1/telephony/sessions",
            "body": {
                "sequence": seq,
                "telephonySessionId": TSID,
                "eventTime": format!("2026-11-25T10:00:{:02}Z", seq),
                "parties": [p],
            }
        }))
        .unwrap()
    }

    fn tsid() -> TelephonySessionId {
        TelephonySessionId::parse(TSID).unwrap()
    }

    /// A blind transfer: caller p1, first agent p2 (recorded), second agent p3 (recorded).
    fn blind_transfer() -> Vec<TelephonySessionNotification> {
        vec![
            note(2, "p-1", None, "Setup"),
            note(3, "p-2", Some("101"), "Setup"),
            note(4, "p-2", Some("101"), "Proceeding"),
            note_with(
                5,
                "p-2",
                Some("101"),
                json!({"code": "Answered"}),
                json!([{"id": "9001", "active": true}]),
            ),
            note(6, "p-1", None, "Answered"),
            note_with(
                7,
                "p-2",
                Some("101"),
                json!({"code": "Disconnected", "reason": "BlindTransfer"}),
                json!([]),
            ),
            note(8, "p-3", Some("102"), "Setup"),
            note(9, "p-3", Some("102"), "Proceeding"),
            note_with(
                10,
                "p-3",
                Some("102"),
                json!({"code": "Answered"}),
                json!([{"id": "9002", "active": true}]),
            ),
            note(11, "p-3", Some("102"), "Disconnected"),
            note(12, "p-1", None, "Disconnected"),
        ]
    }

    #[test]
    fn a_blind_transfer_in_order_ends_with_both_recordings_named() {
        let fold = SessionFold::of(tsid(), &blind_transfer());
        assert!(fold.is_over());
        let ids: Vec<&str> = fold.recordings.iter().map(|r| r.as_str()).collect();
        assert_eq!(ids, ["9001", "9002"]);
        assert!(fold.attended_peers.is_empty());
        assert_eq!(fold.last_sequence, Some(12));
        assert_eq!(fold.parties.len(), 3);
    }

    #[test]
    fn the_session_is_not_over_while_the_caller_waits_for_the_transfer_target() {
        let events = blind_transfer();
        let fold = SessionFold::of(tsid(), &events[..7]);
        assert!(!fold.is_over(), "{:?}", fold.parties);
    }

    #[test]
    fn any_order_and_any_duplicates_give_the_same_fold() {
        let events = blind_transfer();
        let reference = SessionFold::of(tsid(), &events);
        // Reversed, rotated, interleaved with duplicates.
        let reversed: Vec<_> = events.iter().rev().cloned().collect();
        let mut doubled = events.clone();
        doubled.extend(events.iter().step_by(2).cloned());
        doubled.rotate_left(5);
        for variant in [reversed, doubled] {
            assert_eq!(SessionFold::of(tsid(), &variant), reference);
        }
    }

    #[test]
    fn a_late_earlier_event_does_not_revive_a_party_that_hung_up() {
        let events = blind_transfer();
        let mut fold = SessionFold::of(tsid(), &events);
        fold.apply(&note(6, "p-1", None, "Answered"));
        fold.apply(&note(3, "p-2", Some("101"), "Setup"));
        assert!(fold.is_over());
        assert_eq!(fold.parties["p-1"].code, PartyStatusCode::Disconnected);
    }

    #[test]
    fn a_session_with_no_party_states_is_not_over() {
        assert!(!SessionFold::new(tsid()).is_over());
        let mut fold = SessionFold::new(tsid());
        fold.apply(&note_with(2, "p-1", None, json!(null), json!([])));
        assert!(!fold.is_over());
    }

    #[test]
    fn an_attended_transfer_names_the_session_it_continues_in() {
        let gone = |seq, party: &str, ext| {
            note_with(
                seq,
                party,
                ext,
                json!({"code": "Gone", "reason": "AttendedTransfer",
                       "peerId": {"telephonySessionId": PEER, "sessionId": "123", "partyId": "p-x-1"}}),
                json!([]),
            )
        };
        let events = vec![
            note(2, "p-1", None, "Answered"),
            note(3, "p-2", Some("101"), "Answered"),
            gone(4, "p-2", Some("101")),
            gone(5, "p-1", None),
        ];
        let fold = SessionFold::of(tsid(), &events);
        assert!(fold.is_over());
        let peers: Vec<&str> = fold.attended_peers.iter().map(|p| p.as_str()).collect();
        assert_eq!(peers, [PEER]);
    }

    #[test]
    fn a_blind_transfer_names_no_peer_session() {
        let fold = SessionFold::of(tsid(), &blind_transfer());
        assert!(fold.attended_peers.is_empty());
    }

    #[test]
    fn notifications_of_another_session_are_ignored() {
        let mut other = note(2, "p-9", None, "Answered");
        other.body.telephony_session_id = rc_api::ids::TelephonySessionId::parse(PEER).unwrap();
        let mut fold = SessionFold::of(tsid(), &blind_transfer());
        fold.apply(&other);
        assert!(fold.is_over());
        assert!(!fold.parties.contains_key("p-9"));
    }

    #[test]
    fn only_departures_can_end_a_session() {
        let events = blind_transfer();
        let departures: Vec<bool> = events.iter().map(reports_a_departure).collect();
        assert_eq!(
            departures,
            [
                false, false, false, false, false, true, false, false, false, true, true
            ]
        );
    }
}
