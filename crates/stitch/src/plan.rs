//! The planner: sniffs each leg's bytes into a typed [`StreamFormat`] and
//! picks the one path the whole join takes (lossless MP3, lossless WAV or
//! re-encode). Legs are compared by their formats' `Eq`, never by text.

use std::fmt;
use std::io::{Read, Seek, SeekFrom};

use crate::error::{Error, malformed};
use crate::mp3::header::StreamFormat as Mp3Format;
use crate::mp3::join::{self as mp3join, Mp3Scan};
use crate::options::OutputFormat;
use crate::wav::{self, WavFormat, WavInfo};

/// What must be equal across legs to copy them into one stream losslessly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum StreamFormat {
    /// MPEG version, sample rate and channel count of an MP3 leg.
    Mp3(Mp3Format),
    /// The `fmt ` chunk of a WAV leg.
    Wav(WavFormat),
}

impl StreamFormat {
    /// Sample rate in Hz.
    pub fn sample_rate(&self) -> u32 {
        match self {
            StreamFormat::Mp3(f) => f.sample_rate,
            StreamFormat::Wav(f) => f.sample_rate,
        }
    }
}

impl fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamFormat::Mp3(m) => m.fmt(f),
            StreamFormat::Wav(w) => w.fmt(f),
        }
    }
}

/// What the sniffer found in a leg: the first pass of its format.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    /// Every frame walked once.
    Mp3(Box<Mp3Scan>),
    /// The chunks located.
    Wav(WavInfo),
}

impl Input {
    /// The leg's stream format.
    pub fn format(&self) -> StreamFormat {
        match self {
            Input::Mp3(s) => StreamFormat::Mp3(s.format),
            Input::Wav(w) => StreamFormat::Wav(w.format),
        }
    }
}

/// Sniffs the bytes (never the name) and runs the format's first pass; the
/// reader comes back rewound.
pub(crate) fn sniff<R: Read + Seek>(mut reader: R) -> Result<(Input, R), Error> {
    let len = reader.seek(SeekFrom::End(0))?;
    reader.seek(SeekFrom::Start(0))?;
    if len == 0 {
        return malformed("input is empty", 0);
    }
    let mut head = [0u8; 12];
    let n = usize::try_from(len.min(12)).unwrap_or(12);
    reader.read_exact(head.get_mut(..n).unwrap_or_default())?;
    reader.seek(SeekFrom::Start(0))?;
    if &head[..4] == b"RIFF" {
        let info = wav::read_wav_info(&mut reader)?;
        reader.seek(SeekFrom::Start(0))?;
        return Ok((Input::Wav(info), reader));
    }
    let (scan, reader) = mp3join::scan(reader)?;
    Ok((Input::Mp3(Box::new(scan)), reader))
}

/// The container the re-encoded audio goes into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    /// LAME, wrapped like a lossless MP3 join.
    Mp3,
    /// 16-bit PCM under a new header.
    Wav,
    /// `flacenc` frames under STREAMINFO and Vorbis comments.
    Flac,
}

/// The path a join takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Every leg is MP3 of one format: frames copied.
    LosslessMp3,
    /// Every leg is copyable WAV of one format: samples copied.
    LosslessWav,
    /// Anything else: decode, resample, encode.
    Reencode {
        /// The output container.
        target: Target,
        /// Why the lossless paths were not taken (for the manifest).
        reason: String,
    },
}

impl Plan {
    /// Why this path, in the manifest's words.
    pub fn reason(&self) -> String {
        match self {
            Plan::LosslessMp3 => "all legs are MP3 of one format".to_string(),
            Plan::LosslessWav => "all legs are WAV of one format".to_string(),
            Plan::Reencode { reason, .. } => reason.clone(),
        }
    }
}

/// Picks the path for legs of `formats` (in order, at least one) when the
/// caller asked for `requested`.
pub(crate) fn plan(formats: &[StreamFormat], requested: OutputFormat) -> Result<Plan, Error> {
    let first = *formats.first().ok_or(Error::NothingToJoin)?;
    let mismatch = formats.iter().find(|f| **f != first);
    let one_format = mismatch.is_none();
    let all_mp3 = formats.iter().all(|f| matches!(f, StreamFormat::Mp3(_)));
    let all_copyable_wav = formats
        .iter()
        .all(|f| matches!(f, StreamFormat::Wav(w) if w.is_copyable()));
    if one_format && all_mp3 && matches!(requested, OutputFormat::Auto | OutputFormat::Mp3) {
        return Ok(Plan::LosslessMp3);
    }
    if one_format && all_copyable_wav && matches!(requested, OutputFormat::Auto | OutputFormat::Wav)
    {
        return Ok(Plan::LosslessWav);
    }
    let reason = match mismatch {
        Some(other) => format!("legs differ: {first} vs {other}"),
        None => format!("{requested:?} output requested from {first} legs"),
    };
    let target = match requested {
        OutputFormat::Wav => Target::Wav,
        OutputFormat::Flac => Target::Flac,
        OutputFormat::Auto | OutputFormat::Mp3 => Target::Mp3,
    };
    Ok(Plan::Reencode { target, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp3::header::MpegVersion;

    fn mp3(sample_rate: u32) -> StreamFormat {
        StreamFormat::Mp3(Mp3Format {
            version: MpegVersion::Mpeg25,
            sample_rate,
            channels: 1,
        })
    }

    fn pcm16(sample_rate: u32) -> StreamFormat {
        StreamFormat::Wav(WavFormat {
            tag: wav::TAG_PCM,
            channels: 1,
            sample_rate,
            bits: 16,
        })
    }

    #[test]
    fn legs_of_one_format_are_joined_losslessly_unless_another_container_is_asked_for() {
        let legs = [mp3(8000), mp3(8000)];
        assert_eq!(plan(&legs, OutputFormat::Auto).unwrap(), Plan::LosslessMp3);
        assert_eq!(plan(&legs, OutputFormat::Mp3).unwrap(), Plan::LosslessMp3);
        let wavs = [pcm16(8000), pcm16(8000)];
        assert_eq!(plan(&wavs, OutputFormat::Auto).unwrap(), Plan::LosslessWav);
        let Plan::Reencode { target, reason } = plan(&legs, OutputFormat::Wav).unwrap() else {
            panic!("WAV from MP3 legs is a re-encode");
        };
        assert_eq!(target, Target::Wav);
        assert_eq!(
            reason,
            "Wav output requested from mp3 MPEG-2.5 Layer III 8000 Hz mono legs"
        );
    }

    #[test]
    fn legs_that_differ_are_re_encoded_and_the_reason_names_both() {
        let Plan::Reencode { target, reason } =
            plan(&[mp3(8000), pcm16(8000)], OutputFormat::Auto).unwrap()
        else {
            panic!("mixed legs are a re-encode");
        };
        assert_eq!(target, Target::Mp3);
        assert_eq!(
            reason,
            "legs differ: mp3 MPEG-2.5 Layer III 8000 Hz mono vs wav pcm16 8000 Hz 1 ch"
        );
    }

    #[test]
    fn no_leg_is_nothing_to_join() {
        assert!(matches!(
            plan(&[], OutputFormat::Auto),
            Err(Error::NothingToJoin)
        ));
    }
}
