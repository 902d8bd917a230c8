//! Deterministic recording audio: a real MP3 or WAV file whose tones name
//! the recording (its marker), so a test can tell from decoded audio alone
//! which recordings a stitched file contains and in what order.
//!
//! # What a recording sounds like
//! The signal repeats with a period of about 10 s: a whole number of
//! 1152-sample frames (for MP3 at 11.025/22.05/44.1 kHz, also a whole number
//! of LAME's frame-padding cycles). Each period is:
//! - a quiet voice-like bed (peak 0.06): a harmonic "vowel" with three
//!   formants, its pitch (95–215 Hz) gliding per syllable, cut into
//!   syllables and pauses, all drawn from a PRNG seeded by the marker;
//! - 0.25 s in, the marker as DTMF dual tones (each tone 0.3 peak, 100 ms
//!   on, 50 ms off): `*`, the decimal digits, a weighted mod-10 check digit,
//!   `#`. A digit equal to the previous one is sent as `A` ("repeat"), so
//!   two neighbouring symbols always differ. A 10-digit marker takes 2 s.
//!
//! DTMF survives what recordings go through: 8 kHz / 16 kbit/s MP3 (LAME
//! low-passes at ~3 kHz; the highest tone is 1633 Hz), μ-law, resampling,
//! and joins (a sequence cut by a join fails its check digit or never sees
//! its `#`, and a 0.45 s silence resets the decoder).
//!
//! # Detection
//! [`detect_markers`] runs Goertzel filters for the eight DTMF frequencies on
//! Hann-windowed 32 ms blocks every 16 ms, keeps blocks where one row and one
//! column tone dominate their groups and carry most of the block's energy,
//! turns runs of equal blocks into symbols and symbols into markers, and
//! collapses consecutive equal markers (the repeats of one recording).
//!
//! # Encodings
//! - MP3 ([`AudioFormat::Mp3`]): LAME 3.100 through `mp3lame-encoder`, mono,
//!   CBR at `mp3_bitrate_kbps` or VBR (`-V vbr_quality`), at 8/11.025/12 kHz
//!   (MPEG-2.5), 16/22.05/24 kHz (MPEG-2) or 32/44.1/48 kHz (MPEG-1). The
//!   stream is exactly what LAME's library writes, with no ID3 tag. LAME
//!   asks for a Xing/Info + LAME tag frame (we fill in its placeholder
//!   frame, as the `lame` program does) but **drops it when it does not fit
//!   in one frame**: at the default 8 kHz / 16 kbit/s, and at 16 kHz /
//!   32 kbit/s, the file has no tag, as real LAME output at those settings.
//!   From 24 kbit/s at 8 kHz (48 at 16 kHz, 64 at 44.1 kHz) and for every
//!   VBR file it has one (`Info` for CBR, `Xing` for VBR), with encoder delay
//!   576 and the real padding. Length: with a tag, exactly the recording's
//!   samples (gapless decoders trim delay and padding); without one, the
//!   frame count times samples per frame, within one frame of the duration.
//!   Recordings over ~95 s are encoded as 5.5–7.5 periods with LAME's own
//!   frames repeated (see the `mp3` submodule; tested byte-identical to a
//!   full encode): a 1-hour 8 kHz file renders in ~0.4 s in release.
//! - WAV ([`AudioFormat::Wav`]): RIFF, mono, 16-bit PCM (format tag 1) or
//!   G.711 μ-law (tag 7, with `cbSize` and a `fact` chunk), exactly
//!   `duration_ms` of samples.

mod code;
mod detect;
mod frames;
mod lametag;
mod mp3;
mod signal;
mod wav;

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::model::{AudioFormat, Recording};

pub use mp3::Mp3Error;
pub use wav::WavEncoding;

/// How recordings sound and are encoded (one setting per account).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSettings {
    /// MP3 or WAV.
    pub format: AudioFormat,
    /// Sample rate in Hz (default 8000: MPEG-2.5 for MP3). MP3 needs one of
    /// the nine MPEG rates; WAV takes 4000–48000.
    pub sample_rate: u32,
    /// MP3 CBR bitrate in kbit/s (8–160 for MPEG-2/2.5, 32–320 for MPEG-1).
    pub mp3_bitrate_kbps: u32,
    /// Variable bitrate MP3 (LAME `-V`) instead of CBR.
    pub vbr: bool,
    /// LAME VBR quality 0 (best) – 9 (smallest), used when `vbr` is set.
    pub vbr_quality: u8,
    /// Sample encoding of WAV files.
    pub wav_encoding: WavEncoding,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            format: AudioFormat::Mp3,
            sample_rate: 8000,
            mp3_bitrate_kbps: 16,
            vbr: false,
            vbr_quality: 6,
            wav_encoding: WavEncoding::Pcm16,
        }
    }
}

/// Settings that no encoder can honour (checked by the CLI; `render` snaps
/// to the nearest valid value instead of failing).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AudioSettingsError {
    /// MP3 exists only at the MPEG sample rates.
    #[error(
        "MP3 sample rate {0} Hz is not an MPEG rate (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)"
    )]
    Mp3SampleRate(u32),
    /// WAV rates outside the telephony-to-studio range.
    #[error("WAV sample rate {0} Hz is outside 4000–48000")]
    WavSampleRate(u32),
    /// The bitrate is not one of the version's Layer III bitrates.
    #[error("{kbps} kbit/s is not a Layer III bitrate at {sample_rate} Hz (allowed: {allowed:?})")]
    Bitrate {
        /// Requested bitrate.
        kbps: u32,
        /// Sample rate it was requested with.
        sample_rate: u32,
        /// What that MPEG version allows.
        allowed: Vec<u32>,
    },
    /// LAME VBR quality runs from 0 to 9.
    #[error("VBR quality {0} is outside 0–9")]
    VbrQuality(u8),
}

impl AudioSettings {
    /// Checks the settings against what the chosen format can encode.
    pub fn validate(&self) -> Result<(), AudioSettingsError> {
        match self.format {
            AudioFormat::Wav => {
                if !(4000..=48000).contains(&self.sample_rate) {
                    return Err(AudioSettingsError::WavSampleRate(self.sample_rate));
                }
            }
            AudioFormat::Mp3 => {
                let version = frames::Version::for_rate(self.sample_rate)
                    .ok_or(AudioSettingsError::Mp3SampleRate(self.sample_rate))?;
                if self.vbr {
                    if self.vbr_quality > 9 {
                        return Err(AudioSettingsError::VbrQuality(self.vbr_quality));
                    }
                } else if !version.bitrates().contains(&self.mp3_bitrate_kbps) {
                    return Err(AudioSettingsError::Bitrate {
                        kbps: self.mp3_bitrate_kbps,
                        sample_rate: self.sample_rate,
                        allowed: version.bitrates().to_vec(),
                    });
                }
            }
        }
        Ok(())
    }

    /// MP3 parameters, snapped to the nearest rate and bitrate MPEG allows.
    fn mp3_params(&self) -> mp3::Params {
        const RATES: [u32; 9] = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000];
        let sample_rate = nearest(&RATES, self.sample_rate);
        let version = frames::Version::for_rate(sample_rate).unwrap_or(frames::Version::Mpeg25);
        mp3::Params {
            sample_rate,
            version,
            kbps: nearest(version.bitrates(), self.mp3_bitrate_kbps),
            vbr: self.vbr.then_some(self.vbr_quality.min(9)),
        }
    }

    fn wav_rate(&self) -> u32 {
        self.sample_rate.clamp(4000, 48000)
    }
}

fn nearest(options: &[u32], want: u32) -> u32 {
    options
        .iter()
        .copied()
        .min_by_key(|o| o.abs_diff(want))
        .unwrap_or(want)
}

/// Longest recording rendered (longer ones are cut): 24 hours.
pub const MAX_RENDER_MS: u64 = 24 * 3600 * 1000;

/// Samples in `duration_ms` (at most [`MAX_RENDER_MS`]) at `rate`, rounded.
fn sample_count(duration_ms: u64, rate: u32) -> usize {
    let ms = duration_ms.min(MAX_RENDER_MS);
    let n = (u128::from(ms) * u128::from(rate) + 500) / 1000;
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Renders the full content of a recording. Same input, same bytes.
///
/// Never fails: settings are snapped to valid values, and should LAME itself
/// fail (it does not with valid settings) the error is logged and a WAV of
/// the same audio is returned.
pub fn render(settings: &AudioSettings, recording: &Recording) -> Bytes {
    match try_render(settings, recording) {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, recording = %recording.id, "MP3 encoding failed; serving WAV");
            render_wav(settings, recording)
        }
    }
}

/// Renders the full content of a recording, reporting encoder failures.
pub fn try_render(settings: &AudioSettings, recording: &Recording) -> Result<Bytes, Mp3Error> {
    match settings.format {
        AudioFormat::Mp3 => {
            let p = settings.mp3_params();
            let n = sample_count(recording.duration_ms, p.sample_rate);
            mp3::encode(&p, recording.marker, n).map(Bytes::from)
        }
        AudioFormat::Wav => Ok(render_wav(settings, recording)),
    }
}

fn render_wav(settings: &AudioSettings, recording: &Recording) -> Bytes {
    let rate = settings.wav_rate();
    let period = signal::period(recording.marker, rate, signal::period_len(rate, 1152));
    let n = sample_count(recording.duration_ms, rate);
    Bytes::from(wav::write(&period, n, rate, settings.wav_encoding))
}

/// Rendered audio by recording id, so serving content is a memory copy.
#[derive(Debug, Default)]
pub struct AudioCache {
    rendered: Mutex<HashMap<String, Bytes>>,
}

impl AudioCache {
    /// The recording's bytes, rendered on first use.
    pub fn get_or_render(&self, settings: &AudioSettings, recording: &Recording) -> Bytes {
        if let Some(b) = self
            .rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&recording.id)
        {
            return b.clone();
        }
        let b = render(settings, recording);
        self.rendered
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(recording.id.clone(), b.clone());
        b
    }
}

/// Recovers the markers heard in decoded mono PCM (samples in [-1, 1]), in
/// the order they are heard; consecutive repeats of one marker (the same
/// recording's periodic announcements) collapse into one. Pure Goertzel
/// analysis, no decoding. Tests decode a (stitched) file and compare this
/// with the ground truth.
pub fn detect_markers(pcm: &[f32], sample_rate: u32) -> Vec<u32> {
    detect::detect_markers(pcm, sample_rate)
}
