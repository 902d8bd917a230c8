//! RIFF/WAVE writer: 16-bit PCM (format tag 1) or G.711 μ-law (format tag 7).

/// Sample encoding inside a WAV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WavEncoding {
    /// Linear 16-bit little-endian PCM (`WAVE_FORMAT_PCM`, tag 1).
    #[default]
    Pcm16,
    /// 8-bit G.711 μ-law (`WAVE_FORMAT_MULAW`, tag 7), as telephone systems store it.
    MuLaw,
}

/// A complete mono WAV file of `n` samples: `period` (samples in [-1, 1])
/// repeated. The period is encoded once and its bytes copied, so an hour
/// costs little more than the copy.
pub(crate) fn write(period: &[f32], n: usize, sample_rate: u32, encoding: WavEncoding) -> Vec<u8> {
    let n = if period.is_empty() { 0 } else { n };
    let (tag, bits, bytes_per_sample): (u16, u16, u32) = match encoding {
        WavEncoding::Pcm16 => (1, 16, 2),
        WavEncoding::MuLaw => (7, 8, 1),
    };
    // Non-PCM formats carry a cbSize field (and, by convention, a fact chunk).
    let extended = encoding != WavEncoding::Pcm16;
    let data_len = u32::try_from(n)
        .unwrap_or(u32::MAX)
        .saturating_mul(bytes_per_sample);
    let fmt_len: u32 = if extended { 18 } else { 16 };
    let fact_len: u32 = if extended { 12 } else { 0 };
    let pad = data_len % 2;
    let riff_len = (4 + (8 + fmt_len) + fact_len + 8)
        .saturating_add(data_len)
        .saturating_add(pad);

    let mut out = Vec::with_capacity(n.saturating_mul(bytes_per_sample as usize) + 64);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&riff_len.to_le_bytes());
    out.extend_from_slice(b"WAVE");
    out.extend_from_slice(b"fmt ");
    out.extend_from_slice(&fmt_len.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // channels
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * bytes_per_sample).to_le_bytes()); // byte rate
    out.extend_from_slice(&(bytes_per_sample as u16).to_le_bytes()); // block align
    out.extend_from_slice(&bits.to_le_bytes());
    if extended {
        out.extend_from_slice(&0u16.to_le_bytes()); // cbSize
        out.extend_from_slice(b"fact");
        out.extend_from_slice(&4u32.to_le_bytes());
        out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    let block: Vec<u8> = match encoding {
        WavEncoding::Pcm16 => period
            .iter()
            .flat_map(|s| to_i16(*s).to_le_bytes())
            .collect(),
        WavEncoding::MuLaw => period.iter().map(|s| mulaw(to_i16(*s))).collect(),
    };
    let mut left = n * bytes_per_sample as usize;
    while left > 0 {
        let take = left.min(block.len());
        out.extend_from_slice(&block[..take]);
        left -= take;
    }
    if pad == 1 {
        out.push(0);
    }
    out
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

/// G.711 μ-law encoding of one 16-bit sample (bias 0x84, 8 segments,
/// bits inverted on the wire).
fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let s = i32::from(sample);
    let sign: u8 = if s < 0 { 0x80 } else { 0 };
    let magnitude = s.abs().min(CLIP) + BIAS;
    // Segment = position of the highest set bit above bit 7.
    let mut exponent = 7u8;
    let mut mask = 0x4000;
    while exponent > 0 && magnitude & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = ((magnitude >> (exponent + 3)) & 0x0F) as u8;
    !(sign | (exponent << 4) | mantissa)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference decoder (G.711): expand a μ-law byte to 16-bit linear.
    fn expand(u: u8) -> i32 {
        let u = !u;
        let sign = u & 0x80;
        let exponent = (u >> 4) & 0x07;
        let mantissa = i32::from(u & 0x0F);
        let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
        if sign != 0 { -magnitude } else { magnitude }
    }

    #[test]
    fn mulaw_matches_known_codes_and_round_trips_closely() {
        assert_eq!(mulaw(0), 0xFF);
        assert_eq!(mulaw(-1), 0x7F);
        assert_eq!(mulaw(32767), 0x80);
        assert_eq!(mulaw(-32768), 0x00);
        for s in (-32768..=32767).step_by(97) {
            let back = expand(mulaw(s as i16));
            let err = (back - s).abs();
            assert!(err <= (s.abs() / 16).max(8) + 8, "{s} -> {back}");
        }
    }

    #[test]
    fn a_repeated_period_is_the_period_written_out_in_full() {
        let period: Vec<f32> = (0..100).map(|i| (i as f32 / 50.0) - 1.0).collect();
        let n = 250;
        let full: Vec<f32> = period.iter().copied().cycle().take(n).collect();
        for enc in [WavEncoding::Pcm16, WavEncoding::MuLaw] {
            assert_eq!(write(&period, n, 8000, enc), write(&full, n, 8000, enc));
        }
    }

    #[test]
    fn header_sizes_add_up() {
        for enc in [WavEncoding::Pcm16, WavEncoding::MuLaw] {
            let w = write(&[0.0; 1001], 1001, 8000, enc);
            let riff = u32::from_le_bytes(w[4..8].try_into().unwrap()) as usize;
            assert_eq!(riff + 8, w.len());
        }
    }
}
