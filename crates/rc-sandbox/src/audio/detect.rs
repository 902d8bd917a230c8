//! Finds marker tone sequences in decoded PCM with Goertzel filters.
//!
//! The PCM is cut into Hann-windowed blocks of 32 ms, every 16 ms. A block
//! holds a symbol when one row tone and one column tone clearly dominate the
//! other tones of their group, both are loud enough, and together they carry
//! most of the block's energy (so the voice-like bed and codec noise never
//! pass). Runs of equal blocks become symbol events; events become markers
//! through [`code::decode`](super::code::decode).

use super::code::{self, COLS, ROWS, Symbol};
use super::signal::{GAP_S, TONE_AMPLITUDE, TONE_S};

const BLOCK_S: f64 = 0.032;
/// Minimum estimated amplitude of each tone (the generator uses 0.3).
const MIN_AMPLITUDE: f64 = TONE_AMPLITUDE as f64 * 0.25;
/// The runner-up in a group must stay below this share of the winner's amplitude.
const DOMINANCE: f64 = 0.3;
/// Share of the block's energy the two tones must carry.
const MIN_TONE_SHARE: f64 = 0.6;
/// Blocks in a row needed to accept a symbol.
const MIN_RUN: usize = 2;

/// A symbol heard, with the block where it started.
#[derive(Debug, Clone, Copy)]
struct Event {
    symbol: Symbol,
    block: usize,
}

/// See [`crate::audio::detect_markers`].
pub(crate) fn detect_markers(pcm: &[f32], sample_rate: u32) -> Vec<u32> {
    if sample_rate < 4000 {
        return Vec::new();
    }
    let sr = f64::from(sample_rate);
    let block = ((BLOCK_S * sr).round() as usize).max(16);
    let hop = block / 2;
    let detector = Detector::new(block, sr);

    // 1. One symbol (or none) per block.
    let mut per_block = Vec::with_capacity(pcm.len() / hop + 1);
    let mut start = 0;
    while start + block <= pcm.len() {
        per_block.push(detector.classify(&pcm[start..start + block]));
        start += hop;
    }

    // 2. Runs of at least MIN_RUN equal blocks; equal neighbours merge
    //    (the code never sends the same symbol twice in a row).
    let mut events: Vec<Event> = Vec::new();
    let mut i = 0;
    while i < per_block.len() {
        let cur = per_block[i];
        let mut j = i;
        while j < per_block.len() && per_block[j] == cur {
            j += 1;
        }
        if let Some(symbol) = cur
            && j - i >= MIN_RUN
            && events.last().map(|e| e.symbol) != Some(symbol)
        {
            events.push(Event { symbol, block: i });
        }
        i = j;
    }

    // 3. Events → markers. A sequence is dropped when a symbol is missing
    //    for too long (a cut leg, a join in the middle of a sequence).
    let max_silence_blocks = (((TONE_S + GAP_S) * 3.0) / (hop as f64 / sr)).ceil() as usize;
    let mut markers: Vec<u32> = Vec::new();
    let mut body: Option<Vec<Symbol>> = None;
    let mut last_block = 0usize;
    for e in events {
        if e.block.saturating_sub(last_block) > max_silence_blocks {
            body = None;
        }
        last_block = e.block;
        match e.symbol {
            Symbol::Start => body = Some(Vec::new()),
            Symbol::Stop => {
                if let Some(m) = body.take().and_then(|b| code::decode(&b))
                    && markers.last() != Some(&m)
                {
                    markers.push(m);
                }
            }
            Symbol::Other => body = None,
            s => {
                if let Some(b) = body.as_mut() {
                    b.push(s);
                }
            }
        }
    }
    markers
}

/// Precomputed window and Goertzel coefficients for one block length.
struct Detector {
    window: Vec<f64>,
    /// Sum of squared window values (energy of a unit-power signal).
    window_energy: f64,
    /// Coherent gain of the window (sum / len).
    coherent_gain: f64,
    rows: [f64; 4],
    cols: [f64; 4],
}

impl Detector {
    fn new(block: usize, sr: f64) -> Self {
        let window: Vec<f64> = (0..block)
            .map(|n| 0.5 - 0.5 * (std::f64::consts::TAU * n as f64 / block as f64).cos())
            .collect();
        let window_energy = window.iter().map(|w| w * w).sum();
        let coherent_gain = window.iter().sum::<f64>() / block as f64;
        let coeff = |f: f64| 2.0 * (std::f64::consts::TAU * f / sr).cos();
        Detector {
            window,
            window_energy,
            coherent_gain,
            rows: ROWS.map(coeff),
            cols: COLS.map(coeff),
        }
    }

    /// Estimated amplitude of the sinusoid at the filter's frequency.
    fn amplitude(&self, x: &[f64], coeff: f64) -> f64 {
        let (mut s1, mut s2) = (0.0, 0.0);
        for v in x {
            let s0 = v + coeff * s1 - s2;
            s2 = s1;
            s1 = s0;
        }
        let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
        2.0 * power.sqrt() / (x.len() as f64 * self.coherent_gain)
    }

    fn classify(&self, block: &[f32]) -> Option<Symbol> {
        let x: Vec<f64> = block
            .iter()
            .zip(&self.window)
            .map(|(s, w)| f64::from(*s) * w)
            .collect();
        let energy: f64 = x.iter().map(|v| v * v).sum();
        let rows = self.rows.map(|c| self.amplitude(&x, c));
        let cols = self.cols.map(|c| self.amplitude(&x, c));
        let (r, ra, r2) = best_two(&rows);
        let (c, ca, c2) = best_two(&cols);
        if ra < MIN_AMPLITUDE || ca < MIN_AMPLITUDE {
            return None;
        }
        if r2 > DOMINANCE * ra || c2 > DOMINANCE * ca {
            return None;
        }
        let tone_energy = (ra * ra + ca * ca) / 2.0 * self.window_energy;
        if energy <= 0.0 || tone_energy < MIN_TONE_SHARE * energy {
            return None;
        }
        Some(Symbol::at(r, c))
    }
}

/// Index and value of the largest element, and the second largest value.
fn best_two(v: &[f64; 4]) -> (usize, f64, f64) {
    let mut best = 0;
    for i in 1..4 {
        if v[i] > v[best] {
            best = i;
        }
    }
    let second = (0..4)
        .filter(|&i| i != best)
        .map(|i| v[i])
        .fold(0.0, f64::max);
    (best, v[best], second)
}

#[cfg(test)]
mod tests {
    use super::super::signal;
    use super::*;

    #[test]
    fn a_clean_period_yields_its_marker_once() {
        for sr in [8000, 16000, 44100] {
            let pcm = signal::samples(1_000_203, sr, signal::period_len(sr, 1152) * 3);
            assert_eq!(detect_markers(&pcm, sr), vec![1_000_203], "{sr} Hz");
        }
    }

    #[test]
    fn silence_and_the_voice_like_bed_alone_yield_nothing() {
        assert!(detect_markers(&vec![0.0; 80_000], 8000).is_empty());
        let detector = Detector::new(256, 8000.0);
        for marker in 1..40 {
            let bed = signal::bed(marker, 8000, 80_000);
            let hits = bed
                .chunks_exact(256)
                .filter(|b| detector.classify(b).is_some())
                .count();
            assert_eq!(hits, 0, "bed of marker {marker} looks like a tone");
        }
    }

    #[test]
    fn markers_survive_resampling_to_16khz_and_a_9db_quieter_level() {
        let pcm = signal::samples(2_718_281, 8000, 25_000);
        // Linear interpolation to 16 kHz, at 0.35 of the level.
        let up: Vec<f32> = (0..pcm.len() * 2)
            .map(|i| {
                let a = pcm[i / 2];
                let b = *pcm.get(i / 2 + 1).unwrap_or(&a);
                0.35 * if i % 2 == 0 { a } else { (a + b) / 2.0 }
            })
            .collect();
        assert_eq!(detect_markers(&up, 16000), vec![2_718_281]);
    }

    #[test]
    fn markers_of_joined_recordings_come_out_in_order() {
        let mut pcm = signal::samples(12, 8000, 100_000);
        pcm.extend(signal::samples(3_000_000_001, 8000, 30_000));
        pcm.extend(signal::samples(12, 8000, 30_000));
        assert_eq!(detect_markers(&pcm, 8000), vec![12, 3_000_000_001, 12]);
    }
}
