//! The generated history: deterministic, within its window, accepted by the
//! world, and true to the configured shares.

use chrono::{DateTime, Duration, Utc};
use rand::SeedableRng;
use rc_sandbox::SandboxConfig;
use rc_sandbox::model::{AudioFormat, Handoff, RecordingKind, World};
use rc_sandbox::scenario::{ScenarioConfig, history, random_script};
use rc_sandbox::server::build_world;

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-25T12:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

fn config(calls: usize) -> SandboxConfig {
    let mut c = SandboxConfig {
        seed: 99,
        ..Default::default()
    };
    c.scenario.calls = calls;
    c.scenario.days = 14;
    c.scenario.extensions = 12;
    c
}

#[test]
fn the_same_seed_builds_the_same_world_and_another_seed_does_not() {
    let a = serde_json::to_string(&build_world(&config(200), now())).unwrap();
    let b = serde_json::to_string(&build_world(&config(200), now())).unwrap();
    assert_eq!(a, b);
    let mut other = config(200);
    other.seed = 100;
    assert_ne!(
        a,
        serde_json::to_string(&build_world(&other, now())).unwrap()
    );
}

#[test]
fn the_world_has_the_configured_extensions_format_and_every_call() {
    let mut c = config(300);
    c.audio.format = AudioFormat::Wav;
    let w = build_world(&c, now());
    assert_eq!(w.extensions.len(), 12);
    assert_eq!(w.account.audio_format, AudioFormat::Wav);
    assert_eq!(w.conversations.len(), 300);
}

#[test]
fn every_history_call_lies_in_its_window_and_ended_before_now() {
    let c = config(1000);
    let w = build_world(&c, now());
    let earliest = now() - Duration::days(14);
    for conv in &w.conversations {
        assert!(conv.start >= earliest, "{} starts too early", conv.start);
        assert!(conv.end < now(), "{} ends after now", conv.end);
        assert!(!conv.is_live(now()));
    }
    // Spread over the window, not bunched at one end.
    let first_half = w
        .conversations
        .iter()
        .filter(|c| c.start < now() - Duration::days(7))
        .count();
    assert!(
        (400..=600).contains(&first_half),
        "{first_half} of 1000 in the first week"
    );
}

#[test]
fn every_generated_script_is_accepted_by_the_world() {
    let c = config(1000);
    let scripts = history(&c.scenario, 5, now(), 12);
    assert_eq!(scripts.len(), 1000);
    assert!(scripts.windows(2).all(|w| w[0].start <= w[1].start));
    let mut w = World::new(5, 12, AudioFormat::Mp3);
    for s in scripts {
        w.add(s).unwrap();
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    for _ in 0..500 {
        let s = random_script(&mut rng, &w, now(), &c.scenario);
        assert_eq!(s.start, now());
        w.add(s).unwrap();
    }
    // A one-user account can still take calls (never transferred).
    let mut solo = World::new(5, 1, AudioFormat::Mp3);
    for s in history(&c.scenario, 5, now(), 1) {
        assert_eq!(s.segments.len(), 1);
        solo.add(s).unwrap();
    }
}

#[test]
fn shares_and_durations_are_roughly_respected_over_1000_calls() {
    let big = ScenarioConfig {
        calls: 1000,
        ..ScenarioConfig::default()
    };
    let scripts = history(&big, 42, now(), 8);
    let n_calls = scripts.len() as f64;
    let share = |f: &dyn Fn(&rc_sandbox::model::CallScript) -> bool| {
        scripts.iter().filter(|s| f(s)).count() as f64 / n_calls
    };
    let recorded = share(&|s| s.segments[0].recorded);
    let transferred = share(&|s| s.segments.len() > 1);
    let on_demand =
        share(&|s| s.segments[0].recorded && s.recording_kind == RecordingKind::OnDemand)
            / recorded;
    assert!((recorded - 0.8).abs() < 0.05, "recorded {recorded}");
    assert!(
        (transferred - 0.3).abs() < 0.05,
        "transferred {transferred}"
    );
    assert!((on_demand - 0.1).abs() < 0.05, "on demand {on_demand}");

    let handoffs: Vec<Handoff> = scripts
        .iter()
        .flat_map(|s| s.segments.iter().map(|g| g.handoff))
        .filter(|h| *h != Handoff::HangUp)
        .collect();
    let attended = handoffs
        .iter()
        .filter(|h| **h == Handoff::AttendedTransfer)
        .count() as f64
        / handoffs.len() as f64;
    assert!((attended - 0.3).abs() < 0.06, "attended {attended}");

    for s in scripts.iter().filter(|s| s.segments.len() > 1) {
        assert!((2..=4).contains(&s.segments.len()));
        assert!(
            s.segments
                .windows(2)
                .all(|w| w[0].extension != w[1].extension)
        );
    }
    let talks: Vec<u64> = scripts
        .iter()
        .flat_map(|s| s.segments.iter().map(|g| g.talk_ms))
        .collect();
    assert!(talks.iter().all(|t| (20_000..600_000).contains(t)));
    let short = talks.iter().filter(|t| **t < 30_000).count() as f64 / talks.len() as f64;
    assert!((0.05..0.25).contains(&short), "short share {short}");
    assert!(talks.iter().any(|t| *t > 300_000));
}

#[test]
fn short_recorded_segments_become_short_recordings_in_the_world() {
    let w = build_world(&config(500), now());
    let legs = w.conversations.iter().flat_map(|c| c.legs.iter());
    let (mut short, mut kept) = (0, 0);
    for l in legs {
        short += usize::from(l.short_recording);
        kept += usize::from(l.recording.is_some());
    }
    assert!(short > 10, "{short} short recordings");
    assert!(kept > 300, "{kept} recordings");
}

#[test]
fn invalid_shares_and_ranges_are_refused() {
    let mut c = ScenarioConfig::default();
    assert!(c.validate().is_ok());
    c.recorded_share = 1.5;
    assert!(c.validate().is_err());
    let c = ScenarioConfig {
        talk_ms: 5..5,
        ..ScenarioConfig::default()
    };
    assert!(c.validate().is_err());
}
