//! The PCM a recording is made of: one period of "speech-like" bed with the
//! marker's tone sequence near its start, repeated for the whole recording.

use super::code::{self, Symbol};

/// Lead-in of bed before the first tone of each period.
const LEAD_IN_S: f64 = 0.25;
/// Length of one tone symbol.
pub(crate) const TONE_S: f64 = 0.100;
/// Silence (bed only) after each tone symbol.
pub(crate) const GAP_S: f64 = 0.050;
/// Target length of one period; the real one is a whole number of `align` samples.
const PERIOD_TARGET_S: f64 = 10.0;
/// Peak amplitude of each of the two tones of a symbol.
pub(crate) const TONE_AMPLITUDE: f32 = 0.3;
/// Peak amplitude of the bed.
const BED_AMPLITUDE: f32 = 0.06;
/// Tone ramps (raised cosine) at both ends, against clicks and splatter.
const RAMP_S: f64 = 0.005;

/// Samples in one period at `sample_rate`: the multiple of `align` nearest
/// to 10 s (at least one). The MP3 encoder aligns periods with whole frames
/// and LAME's padding cycle; 1152 (one MPEG-1 frame, two MPEG-2 frames) is
/// the default.
pub(crate) fn period_len(sample_rate: u32, align: usize) -> usize {
    let align = align.max(1);
    let units = (PERIOD_TARGET_S * f64::from(sample_rate) / align as f64).round();
    // At least one unit; the cast is of a small positive value.
    (units.max(1.0) as usize) * align
}

/// One period (`len` samples) of the recording's audio, in [-1, 1].
/// Deterministic in (`marker`, `sample_rate`, `len`).
pub(crate) fn period(marker: u32, sample_rate: u32, len: usize) -> Vec<f32> {
    let mut pcm = bed(marker, sample_rate, len);
    add_tones(&mut pcm, &code::encode(marker), sample_rate);
    pcm
}

/// `n` samples of the recording (the period repeated), for tests.
#[cfg(test)]
pub(crate) fn samples(marker: u32, sample_rate: u32, n: usize) -> Vec<f32> {
    let one = period(marker, sample_rate, period_len(sample_rate, 1152));
    one.iter().copied().cycle().take(n).collect()
}

fn secs(s: f64, sample_rate: u32) -> usize {
    (s * f64::from(sample_rate)).round() as usize
}

fn add_tones(pcm: &mut [f32], symbols: &[Symbol], sample_rate: u32) {
    let sr = f64::from(sample_rate);
    let tone = secs(TONE_S, sample_rate);
    let step = tone + secs(GAP_S, sample_rate);
    let ramp = secs(RAMP_S, sample_rate).max(1);
    let mut start = secs(LEAD_IN_S, sample_rate);
    for sym in symbols {
        let (lo, hi) = sym.frequencies();
        let end = (start + tone).min(pcm.len());
        for (k, i) in (start..end).enumerate() {
            let t = k as f64 / sr;
            let edge = k.min(tone - 1 - k);
            let gain = if edge < ramp {
                0.5 - 0.5 * (std::f64::consts::PI * edge as f64 / ramp as f64).cos()
            } else {
                1.0
            };
            let v = (std::f64::consts::TAU * lo * t).sin() + (std::f64::consts::TAU * hi * t).sin();
            if let Some(s) = pcm.get_mut(i) {
                *s += (f64::from(TONE_AMPLITUDE) * gain * v) as f32;
            }
        }
        start += step;
    }
}

/// A quiet voice-like bed: a harmonic "vowel" whose pitch glides per
/// syllable, switched on and off in syllables and pauses, all drawn from a
/// small PRNG seeded by the marker. Zero at both ends of the period so the
/// repetition has no click.
pub(crate) fn bed(marker: u32, sample_rate: u32, len: usize) -> Vec<f32> {
    let sr = f64::from(sample_rate);
    let mut rng = SplitMix::new(u64::from(marker) ^ 0x5EED_CA11_0000_0000);
    let base_f0 = 95.0 + 120.0 * rng.unit();
    // Harmonic table of one pitch cycle, band-limited for the highest pitch.
    let max_f0 = base_f0 * 1.25;
    let top = (0.42 * sr / max_f0).floor().max(1.0) as usize;
    let formants = [
        500.0 + 300.0 * rng.unit(),
        1200.0 + 600.0 * rng.unit(),
        2400.0 + 400.0 * rng.unit(),
    ];
    const TABLE: usize = 2048;
    let mut table = vec![0f64; TABLE];
    let mut peak = 0f64;
    for (j, v) in table.iter_mut().enumerate() {
        let ph = std::f64::consts::TAU * j as f64 / TABLE as f64;
        for k in 1..=top {
            let f = base_f0 * k as f64;
            let shape: f64 = formants
                .iter()
                .map(|fc| 1.0 / (1.0 + ((f - fc) / 180.0).powi(2)))
                .sum();
            *v += shape / k as f64 * (k as f64 * ph + 0.7 * k as f64).sin();
        }
        peak = peak.max(v.abs());
    }
    let norm = if peak > 0.0 { 1.0 / peak } else { 0.0 };

    let mut out = vec![0f32; len];
    let guard = secs(0.05, sample_rate);
    let mut i = guard;
    let mut phase = 0f64;
    while i + guard < len {
        let syl = secs(0.12 + 0.22 * rng.unit(), sample_rate).max(2);
        let pause = secs(0.04 + 0.25 * rng.unit(), sample_rate);
        let glide_from = base_f0 * (0.9 + 0.2 * rng.unit());
        let glide_to = base_f0 * (0.9 + 0.2 * rng.unit());
        let level = 0.5 + 0.5 * rng.unit();
        let end = (i + syl).min(len - guard);
        let n = end - i;
        for k in 0..n {
            let x = k as f64 / n as f64;
            let f0 = glide_from + (glide_to - glide_from) * x;
            phase = (phase + f0 / sr).fract();
            let env = (std::f64::consts::PI * x).sin().powi(2) * level;
            let idx = phase * TABLE as f64;
            let j = (idx as usize).min(TABLE - 1);
            let frac = idx - j as f64;
            let a = table[j];
            let b = table[(j + 1) % TABLE];
            let v = (a + (b - a) * frac) * norm * env;
            out[i + k] = BED_AMPLITUDE * v as f32;
        }
        i = end + pause;
    }
    out
}

/// SplitMix64: a tiny, stable PRNG (the bed must not change when a
/// dependency's generator does).
struct SplitMix(u64);

impl SplitMix {
    fn new(seed: u64) -> Self {
        SplitMix(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_whole_mpeg1_frames_near_ten_seconds() {
        for sr in [8000, 11025, 16000, 22050, 44100] {
            let p = period_len(sr, 1152);
            assert_eq!(p % 1152, 0);
            assert!((p as f64 / sr as f64 - 10.0).abs() < 0.2);
        }
    }

    #[test]
    fn period_stays_in_range_and_starts_and_ends_silent() {
        let p = period(4_294_967_295, 8000, period_len(8000, 1152));
        assert!(p.iter().all(|s| s.abs() <= 1.0));
        assert_eq!(p[0], 0.0);
        assert_eq!(*p.last().unwrap(), 0.0);
    }
}
