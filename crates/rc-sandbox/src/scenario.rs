//! The seeded history generator: extensions, calls spread over N days,
//! recorded and transferred shares, ring and talk durations.
//!
//! [`history`] makes the past the sandbox starts with (every call ended
//! before "now"); [`random_script`] makes one more call for live traffic.
//! Both draw from the same [`ScenarioConfig`], so the shares hold for both.
//!
//! Talk time is log-uniform over [`ScenarioConfig::talk_ms`] (default
//! 20 s – 10 min): about one segment in eight is shorter than the
//! platform's 30 s minimum, so `shortRecording` legs (recorded, no
//! recording) occur naturally, as do very long calls.

use std::ops::Range;

use chrono::{DateTime, Duration, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{
    CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript, World,
};

/// What history (and what live calls) to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioConfig {
    /// Number of extensions.
    pub extensions: usize,
    /// Days of history before "now".
    pub days: u32,
    /// Total calls over those days.
    pub calls: usize,
    /// Share of calls that are recorded (every segment of such a call is).
    pub recorded_share: f64,
    /// Share of calls that are transferred (2–4 segments, i.e. 1–3 transfers).
    pub transferred_share: f64,
    /// Share of transfers that are attended (warm) rather than blind.
    pub attended_share: f64,
    /// Share of recorded calls recorded on demand rather than automatically.
    pub on_demand_share: f64,
    /// Share of calls that come in from outside (the rest go out).
    pub inbound_share: f64,
    /// Talk time of one segment, in ms (log-uniform over the range).
    pub talk_ms: Range<u64>,
    /// Ringing before a segment is answered, in ms (uniform).
    pub ring_ms: Range<u64>,
}

impl Default for ScenarioConfig {
    fn default() -> Self {
        ScenarioConfig {
            extensions: 8,
            days: 7,
            calls: 50,
            recorded_share: 0.8,
            transferred_share: 0.3,
            attended_share: 0.3,
            on_demand_share: 0.1,
            inbound_share: 0.6,
            talk_ms: 20_000..600_000,
            ring_ms: 2_000..20_000,
        }
    }
}

/// Why a scenario configuration was refused.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScenarioError {
    /// A share must lie in [0, 1].
    #[error("{name} must be between 0 and 1, got {value}")]
    Share {
        /// The field.
        name: &'static str,
        /// Its value.
        value: f64,
    },
    /// A duration range must not be empty.
    #[error("{0} must be a non-empty range")]
    EmptyRange(&'static str),
}

impl ScenarioConfig {
    /// Checks shares and ranges (the CLI calls this before starting).
    pub fn validate(&self) -> Result<(), ScenarioError> {
        for (name, value) in [
            ("recorded_share", self.recorded_share),
            ("transferred_share", self.transferred_share),
            ("attended_share", self.attended_share),
            ("on_demand_share", self.on_demand_share),
            ("inbound_share", self.inbound_share),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(ScenarioError::Share { name, value });
            }
        }
        if self.talk_ms.is_empty() || self.talk_ms.start == 0 {
            return Err(ScenarioError::EmptyRange("talk_ms"));
        }
        if self.ring_ms.is_empty() {
            return Err(ScenarioError::EmptyRange("ring_ms"));
        }
        Ok(())
    }

    /// The longest a generated call can last (4 segments at the maxima).
    pub fn max_call(&self) -> Duration {
        let per = self.talk_ms.end.saturating_add(self.ring_ms.end);
        Duration::milliseconds(i64::try_from(per.saturating_mul(4)).unwrap_or(i64::MAX / 2))
    }
}

/// `config.calls` calls spread uniformly over the `config.days` before
/// `now`, each ended at least a minute before `now`, sorted by start.
/// Deterministic in (`config`, `seed`, `now`, `extension_count`).
pub fn history(
    config: &ScenarioConfig,
    seed: u64,
    now: DateTime<Utc>,
    extension_count: usize,
) -> Vec<CallScript> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4849_5354_4f52_5900);
    let window = Duration::days(i64::from(config.days));
    let earliest = now - window;
    let margin = Duration::minutes(1);
    let mut scripts: Vec<CallScript> = (0..config.calls)
        .map(|_| {
            let mut script = script_for(&mut rng, extension_count, now, config);
            let length = script_length(&script);
            let latest = now - length - margin;
            let span_ms = (latest - earliest).num_milliseconds();
            script.start = if span_ms > 0 {
                earliest + Duration::milliseconds(rng.random_range(0..span_ms))
            } else {
                latest
            };
            script
        })
        .collect();
    scripts.sort_by_key(|s| s.start);
    scripts
}

/// One call starting at `start`, with extensions drawn from `world`'s
/// users, for live traffic. Accepted by [`World::add`].
pub fn random_script(
    rng: &mut impl Rng,
    world: &World,
    start: DateTime<Utc>,
    config: &ScenarioConfig,
) -> CallScript {
    script_for(rng, world.extensions.len(), start, config)
}

/// Ring plus talk time of every segment.
fn script_length(script: &CallScript) -> Duration {
    let ms: u64 = script
        .segments
        .iter()
        .map(|s| s.ring_ms.saturating_add(s.talk_ms))
        .sum();
    Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

fn chance(rng: &mut impl Rng, share: f64) -> bool {
    rng.random::<f64>() < share
}

fn script_for(
    rng: &mut impl Rng,
    extension_count: usize,
    start: DateTime<Utc>,
    config: &ScenarioConfig,
) -> CallScript {
    let extension_count = extension_count.max(1);
    let recorded = chance(rng, config.recorded_share);
    let transferred = extension_count > 1 && chance(rng, config.transferred_share);
    let count = if transferred {
        rng.random_range(2..=4)
    } else {
        1
    };
    let mut segments = Vec::with_capacity(count);
    let mut extension = rng.random_range(0..extension_count);
    for i in 0..count {
        if i > 0 {
            // Transfer to someone else: shift by 1..count-1 places.
            extension = (extension + rng.random_range(1..extension_count)) % extension_count;
        }
        let handoff = if i + 1 == count {
            Handoff::HangUp
        } else if chance(rng, config.attended_share) {
            Handoff::AttendedTransfer
        } else {
            Handoff::BlindTransfer
        };
        segments.push(SegmentScript {
            extension,
            ring_ms: uniform(rng, &config.ring_ms),
            talk_ms: log_uniform(rng, &config.talk_ms),
            recorded,
            handoff,
        });
    }
    let recording_kind = if chance(rng, config.on_demand_share) {
        RecordingKind::OnDemand
    } else {
        RecordingKind::Automatic
    };
    let direction = if chance(rng, config.inbound_share) {
        Direction::Inbound
    } else {
        Direction::Outbound
    };
    CallScript {
        start,
        direction,
        external: external_party(rng),
        segments,
        recording_kind,
    }
}

fn uniform(rng: &mut impl Rng, range: &Range<u64>) -> u64 {
    if range.is_empty() {
        range.start
    } else {
        rng.random_range(range.clone())
    }
}

fn log_uniform(rng: &mut impl Rng, range: &Range<u64>) -> u64 {
    if range.is_empty() || range.start == 0 {
        return uniform(rng, range);
    }
    let (lo, hi) = ((range.start as f64).ln(), (range.end as f64).ln());
    let v = (lo + (hi - lo) * rng.random::<f64>()).exp() as u64;
    v.clamp(range.start, range.end - 1)
}

const AREA_CODES: &[u16] = &[212, 305, 312, 415, 503, 617, 646, 702, 718, 773, 808, 917];
const CALLER_NAMES: &[&str] = &[
    "WIRELESS CALLER",
    "ACME SUPPLY",
    "J SMITH",
    "NORTHWIND",
    "M GARCIA",
    "CONTOSO LTD",
];

fn external_party(rng: &mut impl Rng) -> ExternalParty {
    let area = AREA_CODES[rng.random_range(0..AREA_CODES.len())];
    let line: u32 = rng.random_range(2_000_000..10_000_000);
    let name =
        chance(rng, 0.4).then(|| CALLER_NAMES[rng.random_range(0..CALLER_NAMES.len())].to_string());
    ExternalParty {
        phone_number: format!("+1{area}{line}"),
        name,
    }
}
