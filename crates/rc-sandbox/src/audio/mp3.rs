//! MP3 encoding with LAME (through `mp3lame-encoder`), made fast for long
//! recordings by encoding a few periods and repeating frames.
//!
//! The recording's PCM repeats with period P, chosen as whole frames and
//! whole cycles of LAME's padding pattern (see [`Params::period_len`]). Fed
//! a periodic signal, LAME settles after one period into output that repeats
//! every period or every other period (at 8 kHz / 16 kbit/s and in VBR one
//! byte alternates in most frames). So the encoder encodes 5.5–7.5 periods,
//! checks that the frames of periods 1–2 equal those of periods 3–4 byte for
//! byte and, if so, splices in as many more copies of them as the recording
//! needs. The result is a stream LAME really produced, bit reservoir
//! included: "periods 1–2 after periods 1–2" is exactly "periods 3–4 after
//! periods 1–2". A test checks the spliced stream is byte-identical to a
//! full encode. If the check fails the whole recording is encoded instead.
//! The LAME tag, if any, is then rewritten for the longer stream.

use std::num::NonZeroU32;

use mp3lame_encoder::{Bitrate, Builder, Encoder, FlushGap, Mode, MonoPcm, Quality, VbrMode};

use super::frames::{self, Version};
use super::{lametag, signal};

/// Why LAME could not produce a stream (with valid settings it always can;
/// `render` logs this and serves WAV instead).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Mp3Error {
    /// The LAME encoder rejected the parameters.
    #[error("LAME rejected the encoder settings: {0}")]
    Build(String),
    /// LAME failed while encoding.
    #[error("LAME failed to encode: {0}")]
    Encode(String),
    /// LAME's output was not a clean sequence of frames.
    #[error("LAME wrote something that is not a sequence of MP3 frames")]
    Malformed,
}

/// Encoder parameters, already checked against what MPEG allows.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) sample_rate: u32,
    pub(crate) version: Version,
    pub(crate) kbps: u32,
    pub(crate) vbr: Option<u8>,
}

impl Params {
    /// Whether LAME writes its Xing/Info + LAME tag frame with these
    /// parameters. LAME builds the tag frame at the stream's own bitrate
    /// (VBR: 64 kbit/s below 16 kHz, else 128) and silently drops it when
    /// side info + 156 tag bytes do not fit (e.g. 8 kHz at 16 kbit/s).
    pub(crate) fn writes_lame_tag(&self) -> bool {
        let header_kbps = match (self.vbr, self.version) {
            (None, _) => self.kbps,
            (Some(_), Version::Mpeg1) => 128,
            (Some(_), _) if self.sample_rate < 16000 => 64,
            (Some(_), _) => 128,
        };
        let size = self.version.frame_len(header_kbps, self.sample_rate);
        size >= 4 + self.version.mono_side_info_len() + 156
    }

    /// Frames after which LAME's padding pattern repeats (CBR). Rates of the
    /// 11.025 kHz family have fractional frame sizes, so LAME pads one frame
    /// in some: with `frac` = frame bytes × rate mod rate, the pattern
    /// repeats every `rate / gcd(rate, frac)` frames (at most 441).
    fn padding_cycle(&self) -> usize {
        let spf = self.version.samples_per_frame() as u64;
        let rate = u64::from(self.sample_rate.max(1));
        let frac = (spf / 8 * u64::from(self.kbps) * 1000) % rate;
        if frac == 0 || self.vbr.is_some() {
            1
        } else {
            (rate / gcd(rate, frac)) as usize
        }
    }

    /// Samples in one period of the signal: whole frames and whole padding
    /// cycles, so that the encoder's output can repeat with the input.
    pub(crate) fn period_len(&self) -> usize {
        let unit = (self.version.samples_per_frame() * self.padding_cycle()) as u64;
        let align = unit * 1152 / gcd(unit, 1152);
        signal::period_len(self.sample_rate, align as usize)
    }
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// Encodes `n` samples of the recording with marker `marker`.
pub(crate) fn encode(params: &Params, marker: u32, n: usize) -> Result<Vec<u8>, Mp3Error> {
    encode_reporting(params, marker, n).map(|(s, _)| s)
}

/// [`encode`], also telling whether frames were repeated.
fn encode_reporting(params: &Params, marker: u32, n: usize) -> Result<(Vec<u8>, bool), Mp3Error> {
    // Without a LAME tag a player's duration is frames × samples-per-frame,
    // which includes LAME's delay and flush padding (~1440 samples): feed
    // that much less so the file lasts `n` samples to within one frame.
    let m = if params.writes_lame_tag() {
        n
    } else {
        n.saturating_sub(1440)
    };
    let period = params.period_len();
    let one = signal::period(marker, params.sample_rate, period);
    let unit = 2 * period;
    let lead = period * 11 / 2;
    if m >= lead + unit {
        // Encode 5.5–7.5 periods and splice `extra` more copies of the
        // unit (two periods) that starts at period 1.
        let extra = (m - lead) / unit;
        let short = m - extra * unit;
        let (stream, frames) = encode_samples(params, &one, short)?;
        if let Some(out) = splice(params, &stream, &frames, period, extra) {
            return Ok((out, true));
        }
        tracing::debug!(marker, "LAME output did not settle; encoding in full");
    }
    encode_samples(params, &one, m).map(|(s, _)| (s, false))
}

/// Encodes `len` samples of the periodic signal `one`; returns the stream
/// (tag frame filled in) and its frame ranges.
fn encode_samples(
    params: &Params,
    one: &[f32],
    len: usize,
) -> Result<(Vec<u8>, Vec<std::ops::Range<usize>>), Mp3Error> {
    let mut encoder = build(params)?;
    let mut out = Vec::new();
    let chunk = one.len().max(1);
    let mut left = len;
    while left > 0 {
        let take = left.min(chunk);
        let input = &one[..take];
        out.reserve(mp3lame_encoder::max_required_buffer_size(take));
        encoder
            .encode_to_vec(MonoPcm(input), &mut out)
            .map_err(|e| Mp3Error::Encode(format!("{e:?}")))?;
        left -= take;
    }
    out.reserve(7200);
    encoder
        .flush_to_vec::<FlushGap>(&mut out)
        .map_err(|e| Mp3Error::Encode(format!("{e:?}")))?;
    // LAME leaves a placeholder frame for its tag at the start of the
    // stream; the tag itself is asked for at the end.
    let tag_len = encoder.lame_tag_size();
    if tag_len > 0 {
        let mut tag = Vec::with_capacity(tag_len + 16);
        encoder.lame_tag_encode_to_vec(&mut tag);
        match out.get_mut(..tag.len()) {
            Some(head) if tag.len() == tag_len => head.copy_from_slice(&tag),
            _ => return Err(Mp3Error::Malformed),
        }
    }
    let frames = frames::split(&out).ok_or(Mp3Error::Malformed)?;
    Ok((out, frames))
}

fn build(params: &Params) -> Result<Encoder, Mp3Error> {
    let err = |e: mp3lame_encoder::BuildError| Mp3Error::Build(format!("{e:?}"));
    let mut b = Builder::new().ok_or_else(|| Mp3Error::Build("out of memory".into()))?;
    b.set_num_channels(1).map_err(err)?;
    b.set_sample_rate(params.sample_rate).map_err(err)?;
    b.set_output_sample_rate(NonZeroU32::new(params.sample_rate))
        .map_err(err)?;
    b.set_mode(Mode::Mono).map_err(err)?;
    b.set_quality(Quality::Good).map_err(err)?;
    match params.vbr {
        None => {
            b.set_vbr_mode(VbrMode::Off).map_err(err)?;
            b.set_brate(bitrate(params.kbps)).map_err(err)?;
        }
        Some(q) => {
            b.set_vbr_mode(VbrMode::Mtrh).map_err(err)?;
            b.set_vbr_quality(quality(q)).map_err(err)?;
        }
    }
    b.set_to_write_vbr_tag(true).map_err(err)?;
    b.build().map_err(err)
}

/// Inserts `extra` copies of the frames of periods 1–2 after period 2, if
/// they equal the frames of periods 3–4. `None` when they do not.
///
/// The unit is two periods because LAME's output, though it settles after
/// one period, can alternate between two variants (seen at 8 kHz / 16 kbit/s
/// CBR and in VBR: one byte differs in most frames).
fn splice(
    params: &Params,
    stream: &[u8],
    frames: &[std::ops::Range<usize>],
    period: usize,
    extra: usize,
) -> Option<Vec<u8>> {
    let per = period / params.version.samples_per_frame();
    let tag = usize::from(params.writes_lame_tag());
    let p2 = frames.get(tag + per..tag + 3 * per)?;
    let p3 = frames.get(tag + 3 * per..tag + 5 * per)?;
    let bytes = |r: &[std::ops::Range<usize>]| -> Option<&[u8]> {
        stream.get(r.first()?.start..r.last()?.end)
    };
    let (b2, b3) = (bytes(p2)?, bytes(p3)?);
    if b2 != b3 {
        return None;
    }
    let cut = p3.first()?.start;
    let mut out = Vec::with_capacity(stream.len() + extra * b2.len());
    out.extend_from_slice(stream.get(..cut)?);
    for _ in 0..extra {
        out.extend_from_slice(b2);
    }
    out.extend_from_slice(stream.get(cut..)?);
    if tag == 1 {
        let all = frames::split(&out)?;
        if !lametag::rewrite(&mut out, &all) {
            return None;
        }
    }
    Some(out)
}

fn bitrate(kbps: u32) -> Bitrate {
    match kbps {
        0..=8 => Bitrate::Kbps8,
        9..=16 => Bitrate::Kbps16,
        17..=24 => Bitrate::Kbps24,
        25..=32 => Bitrate::Kbps32,
        33..=40 => Bitrate::Kbps40,
        41..=48 => Bitrate::Kbps48,
        49..=64 => Bitrate::Kbps64,
        65..=80 => Bitrate::Kbps80,
        81..=96 => Bitrate::Kbps96,
        97..=112 => Bitrate::Kbps112,
        113..=128 => Bitrate::Kbps128,
        129..=160 => Bitrate::Kbps160,
        161..=192 => Bitrate::Kbps192,
        193..=224 => Bitrate::Kbps224,
        225..=256 => Bitrate::Kbps256,
        _ => Bitrate::Kbps320,
    }
}

fn quality(q: u8) -> Quality {
    match q {
        0 => Quality::Best,
        1 => Quality::SecondBest,
        2 => Quality::NearBest,
        3 => Quality::VeryNice,
        4 => Quality::Nice,
        5 => Quality::Good,
        6 => Quality::Decent,
        7 => Quality::Ok,
        8 => Quality::SecondWorst,
        _ => Quality::Worst,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(sample_rate: u32, kbps: u32, vbr: Option<u8>) -> Params {
        Params {
            sample_rate,
            version: Version::for_rate(sample_rate).unwrap(),
            kbps,
            vbr,
        }
    }

    #[test]
    fn our_tag_prediction_matches_lame() {
        for p in [
            params(8000, 16, None),
            params(8000, 24, None),
            params(8000, 32, None),
            params(16000, 32, None),
            params(16000, 48, None),
            params(44100, 32, None),
            params(44100, 64, None),
            params(8000, 16, Some(6)),
        ] {
            let one = signal::period(5, p.sample_rate, p.period_len());
            let (s, frames) = encode_samples(&p, &one, 20_000).unwrap();
            let first = &s[frames[0].clone()];
            let has = first.windows(4).any(|w| w == b"Info" || w == b"Xing");
            assert_eq!(p.writes_lame_tag(), has, "{p:?}");
        }
    }

    fn assert_splice_equals_full_encode(p: Params) {
        let n = p.period_len() * 8 + 1234;
        let (spliced, repeated) = encode_reporting(&p, 4242, n).unwrap();
        assert!(repeated, "{p:?}: LAME did not settle");
        let m = if p.writes_lame_tag() { n } else { n - 1440 };
        let one = signal::period(4242, p.sample_rate, p.period_len());
        let (direct, _) = encode_samples(&p, &one, m).unwrap();
        assert!(
            spliced == direct,
            "{p:?}: spliced stream differs from a full encode"
        );
    }

    #[test]
    fn repeating_frames_gives_the_very_bytes_lame_writes_for_the_whole_recording() {
        // No tag, tag, VBR, and a rate with a padding cycle.
        for p in [
            params(8000, 16, None),
            params(8000, 32, None),
            params(8000, 16, Some(6)),
            params(11025, 24, None),
        ] {
            assert_splice_equals_full_encode(p);
        }
    }

    /// The wider matrix (slow in debug builds):
    /// `cargo test -p rc-sandbox --lib -- --ignored splice`.
    #[test]
    #[ignore]
    fn splice_matches_a_full_encode_at_wideband_and_music_rates_too() {
        for p in [
            params(16000, 32, None),
            params(16000, 48, None),
            params(22050, 32, None),
            params(44100, 64, None),
            params(48000, 128, None),
            params(44100, 64, Some(6)),
            params(16000, 32, Some(4)),
            params(8000, 8, None),
        ] {
            assert_splice_equals_full_encode(p);
        }
    }

    #[test]
    fn rewriting_lames_own_tag_changes_nothing() {
        for p in [
            params(8000, 32, None),
            params(8000, 16, Some(4)),
            params(44100, 64, None),
        ] {
            let one = signal::period(77, p.sample_rate, p.period_len());
            for len in [20_000, 150_000] {
                let (s, frames) = encode_samples(&p, &one, len).unwrap();
                let mut again = s.clone();
                assert!(lametag::rewrite(&mut again, &frames));
                let t = frames[0].clone();
                assert_eq!(
                    format!("{:02x?}", &again[t.clone()]),
                    format!("{:02x?}", &s[t]),
                    "{p:?} len {len}"
                );
            }
        }
    }
}
