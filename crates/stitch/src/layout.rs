//! Where each leg lands in the joined file: the gaps between legs, the
//! placements (in samples at the output rate) and the chapters and manifest
//! entries derived from them. Pure arithmetic: no reader, no writer.

use crate::chapters::ChapterMark;
use crate::manifest::ManifestLeg;
use crate::options::{Gaps, Leg};

/// What the caller said about one leg, kept after its reader has moved on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LegMeta {
    /// The caller's id for the leg (the manifest's `id`).
    pub id: String,
    /// The chapter title.
    pub label: String,
    /// Wall-clock start, ms since the epoch (for [`Gaps::Real`]).
    pub start_ms: Option<i64>,
    /// Wall-clock end, ms since the epoch (for [`Gaps::Real`]).
    pub end_ms: Option<i64>,
}

impl LegMeta {
    /// The metadata of `leg`, whether or not it has audio.
    pub fn of<R>(leg: &Leg<R>) -> LegMeta {
        LegMeta {
            id: leg.id.clone(),
            label: leg.label.clone(),
            start_ms: leg.start_ms,
            end_ms: leg.end_ms,
        }
    }
}

/// Where a present leg landed in the output, in samples at the output rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Placement {
    /// 0-based position of the leg in the caller's list.
    pub index: usize,
    /// Silence written before the leg.
    pub gap: u64,
    /// First sample of the leg's audio.
    pub start: u64,
    /// The leg's length.
    pub len: u64,
}

/// Places legs one after another: each `(index, gap, len)` starts after the
/// previous leg's end plus its own gap.
pub(crate) fn place_in_order(legs: impl IntoIterator<Item = (usize, u64, u64)>) -> Vec<Placement> {
    let mut cursor = 0u64;
    legs.into_iter()
        .map(|(index, gap, len)| {
            let placement = Placement {
                index,
                gap,
                start: cursor + gap,
                len,
            };
            cursor += gap + len;
            placement
        })
        .collect()
}

/// The real-time gap (ms) before each present leg, `present` being the
/// caller's indexes of the legs that have audio, in order. The first leg has
/// none; each later one gets the wall-clock time since the previous present
/// leg ended, capped (for [`Gaps::Real`]), or none.
pub(crate) fn gaps_ms(gaps: Gaps, metas: &[LegMeta], present: &[usize]) -> Vec<u64> {
    let mut out = Vec::with_capacity(present.len());
    let mut prev_end: Option<i64> = None;
    for &index in present {
        let meta = metas.get(index);
        out.push(if out.is_empty() {
            0
        } else {
            gap_ms(gaps, prev_end, meta.and_then(|m| m.start_ms))
        });
        prev_end = meta.and_then(|m| m.end_ms);
    }
    out
}

/// Real-time gap before a leg starting at `start`, after the previous present leg's end.
fn gap_ms(gaps: Gaps, prev_end: Option<i64>, start: Option<i64>) -> u64 {
    match (gaps, prev_end, start) {
        (Gaps::Real { cap_ms }, Some(end), Some(start)) => u64::try_from(start.saturating_sub(end))
            .unwrap_or(0)
            .min(cap_ms),
        _ => 0,
    }
}

/// `units` samples (or frames) at `units_per_second`, in whole ms (rounded down).
pub(crate) fn units_to_ms(units: u64, units_per_second: u64) -> u64 {
    let ms = u128::from(units) * 1000 / u128::from(units_per_second.max(1));
    u64::try_from(ms).unwrap_or(u64::MAX)
}

/// `ms` in samples at `units_per_second`, rounded to the nearest.
pub(crate) fn ms_to_units(ms: u64, units_per_second: u64) -> u64 {
    let u = (u128::from(ms) * u128::from(units_per_second) + 500) / 1000;
    u64::try_from(u).unwrap_or(u64::MAX)
}

/// One chapter per placed leg, titled with the leg's label.
pub(crate) fn chapter_marks(
    metas: &[LegMeta],
    placements: &[Placement],
    unit_rate: u64,
) -> Vec<ChapterMark> {
    placements
        .iter()
        .map(|p| ChapterMark {
            element_id: format!("chp{}", p.index),
            title: metas
                .get(p.index)
                .map(|m| m.label.clone())
                .unwrap_or_default(),
            start_ms: units_to_ms(p.start, unit_rate),
            end_ms: units_to_ms(p.start + p.len, unit_rate),
        })
        .collect()
}

/// What the manifest says about a present leg's input, gathered before the
/// readers move on.
#[derive(Debug, Clone, Default)]
pub(crate) struct InputFacts {
    /// SHA-256 of the input bytes (when asked for).
    pub sha256: Option<String>,
    /// The input's stream format, as text.
    pub format: String,
    /// MP3 frames read.
    pub frames: Option<u64>,
    /// Bytes skipped between MP3 frames.
    pub junk: Option<u64>,
}

/// One manifest entry per leg, in the caller's order: a placed leg gets its
/// times; a missing one sits, zero-length, where the previous leg ended.
pub(crate) fn manifest_legs(
    metas: &[LegMeta],
    placements: &[Placement],
    unit_rate: u64,
    facts: &mut std::collections::BTreeMap<usize, InputFacts>,
) -> Vec<ManifestLeg> {
    let mut out = Vec::with_capacity(metas.len());
    let mut cursor_ms = 0u64;
    for (index, meta) in metas.iter().enumerate() {
        let placed = placements.iter().find(|p| p.index == index);
        let facts = facts.remove(&index);
        let (start_ms, end_ms, gap_before_ms) = match placed {
            Some(p) => (
                units_to_ms(p.start, unit_rate),
                units_to_ms(p.start + p.len, unit_rate),
                units_to_ms(p.start, unit_rate)
                    .saturating_sub(units_to_ms(p.start - p.gap, unit_rate)),
            ),
            None => (cursor_ms, cursor_ms, 0),
        };
        cursor_ms = end_ms;
        out.push(ManifestLeg {
            index,
            id: meta.id.clone(),
            label: meta.label.clone(),
            missing: placed.is_none(),
            start_ms,
            end_ms,
            gap_before_ms,
            input_sha256: facts.as_ref().and_then(|f| f.sha256.clone()),
            input_format: facts.as_ref().map(|f| f.format.clone()),
            frames: facts.as_ref().and_then(|f| f.frames),
            junk_bytes: facts.as_ref().and_then(|f| f.junk),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(start_ms: i64, end_ms: i64) -> LegMeta {
        LegMeta {
            id: String::new(),
            label: String::new(),
            start_ms: Some(start_ms),
            end_ms: Some(end_ms),
        }
    }

    #[test]
    fn real_gaps_are_measured_from_the_previous_present_leg_and_capped() {
        let metas = [meta(0, 1000), meta(1500, 2000), meta(9000, 9500)];
        let gaps = Gaps::Real { cap_ms: 5000 };
        assert_eq!(gaps_ms(gaps, &metas, &[0, 1, 2]), vec![0, 500, 5000]);
        assert_eq!(gaps_ms(gaps, &metas, &[0, 2]), vec![0, 5000]);
        assert_eq!(gaps_ms(Gaps::None, &metas, &[0, 1, 2]), vec![0, 0, 0]);
    }

    #[test]
    fn legs_are_placed_end_to_end_after_their_gaps() {
        let placements = place_in_order([(0, 0, 100), (2, 10, 50)]);
        assert_eq!(placements[1].start, 110);
        assert_eq!(placements[1].index, 2);
    }
}
