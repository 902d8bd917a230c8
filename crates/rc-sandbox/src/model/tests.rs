use super::*;

fn seg(extension: usize, talk_s: u64, handoff: Handoff) -> SegmentScript {
    SegmentScript {
        extension,
        ring_ms: 5_000,
        talk_ms: talk_s * 1000,
        recorded: true,
        handoff,
    }
}

fn script(segments: Vec<SegmentScript>) -> CallScript {
    CallScript {
        start: DateTime::parse_from_rfc3339("2026-11-20T10:00:00Z")
            .unwrap()
            .with_timezone(&Utc),
        direction: Direction::Inbound,
        external: ExternalParty {
            phone_number: "+14155550123".into(),
            name: None,
        },
        segments,
        recording_kind: RecordingKind::Automatic,
    }
}

#[test]
fn blind_transfer_keeps_one_session_and_orders_legs_by_time() {
    let mut w = World::new(7, 3, AudioFormat::Mp3);
    let c = w
        .add(script(vec![
            seg(0, 40, Handoff::BlindTransfer),
            seg(1, 60, Handoff::HangUp),
        ]))
        .unwrap()
        .clone();
    assert_eq!(c.sessions.len(), 1);
    assert_eq!(c.legs.len(), 2);
    assert!(c.legs[0].end <= c.legs[1].start);
    assert_eq!(c.ordered_recordings().count(), 2);
    assert_eq!(c.end, c.legs[1].end);
}

#[test]
fn attended_transfer_opens_a_second_session() {
    let mut w = World::new(7, 3, AudioFormat::Mp3);
    let c = w
        .add(script(vec![
            seg(0, 40, Handoff::AttendedTransfer),
            seg(2, 45, Handoff::HangUp),
        ]))
        .unwrap();
    assert_eq!(c.sessions.len(), 2);
    assert_eq!(c.legs[1].session, 1);
    assert_ne!(
        c.sessions[0].telephony_session_id,
        c.sessions[1].telephony_session_id
    );
}

#[test]
fn short_recordings_are_flagged_not_kept() {
    let mut w = World::new(7, 2, AudioFormat::Wav);
    let c = w.add(script(vec![seg(0, 12, Handoff::HangUp)])).unwrap();
    assert!(c.legs[0].recording.is_none());
    assert!(c.legs[0].short_recording);
}

#[test]
fn same_seed_same_ids() {
    let mk = || {
        let mut w = World::new(42, 2, AudioFormat::Mp3);
        w.add(script(vec![seg(0, 40, Handoff::HangUp)]))
            .unwrap()
            .legs[0]
            .call_record_id
            .clone()
    };
    assert_eq!(mk(), mk());
}

#[test]
fn bad_scripts_are_refused() {
    let mut w = World::new(1, 2, AudioFormat::Mp3);
    assert_eq!(w.add(script(vec![])).unwrap_err(), ScriptError::NoSegments);
    assert_eq!(
        w.add(script(vec![seg(0, 40, Handoff::BlindTransfer)]))
            .unwrap_err(),
        ScriptError::BadHandoff(0)
    );
    assert_eq!(
        w.add(script(vec![seg(9, 40, Handoff::HangUp)]))
            .unwrap_err(),
        ScriptError::NoSuchExtension(0)
    );
}
