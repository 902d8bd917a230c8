//! Decoding any supported leg (MP3, WAV PCM/G.711) to mono `f32` with symphonia,
//! block by block, so memory does not grow with the length of the input.

use std::io::{Read, Seek};

use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::errors::Error as SymError;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::{MediaSource, MediaSourceStream};
use symphonia::core::meta::MetadataOptions;

use crate::error::Error;

/// Adapts any `Read + Seek + Send + Sync` to symphonia's `MediaSource`.
struct Source<R>(R);

impl<R: Read> Read for Source<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Seek> Seek for Source<R> {
    fn seek(&mut self, pos: std::io::SeekFrom) -> std::io::Result<u64> {
        self.0.seek(pos)
    }
}

impl<R: Read + Seek + Send + Sync> MediaSource for Source<R> {
    fn is_seekable(&self) -> bool {
        true
    }
    fn byte_len(&self) -> Option<u64> {
        None
    }
}

fn sym(e: SymError) -> Error {
    match e {
        SymError::IoError(io) => Error::Decode(format!("io: {io}")),
        other => Error::Decode(other.to_string()),
    }
}

/// Totals of one decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeStats {
    /// Sample rate of the input.
    pub sample_rate: u32,
    /// Channels of the input (before mixing to mono).
    pub channels: usize,
    /// Mono samples delivered.
    pub samples: u64,
}

/// Decodes `reader` and calls `on_block(sample_rate, mono_samples)` for each
/// decoded packet; channels are averaged to mono. Gapless trimming (encoder
/// delay and padding from a LAME tag) is applied by symphonia. Any decode
/// error is returned: a leg either decodes cleanly or is rejected.
pub fn decode_mono<R, F>(reader: R, mut on_block: F) -> Result<DecodeStats, Error>
where
    R: Read + Seek + Send + Sync,
    F: FnMut(u32, &[f32]) -> Result<(), Error>,
{
    let mss = MediaSourceStream::new(Box::new(Source(reader)), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .map_err(sym)?;
    let track = format
        .default_track(TrackType::Audio)
        .ok_or(Error::Decode("no audio track".to_string()))?;
    let track_id = track.id;
    let params = track
        .codec_params
        .as_ref()
        .and_then(|p| p.audio())
        .ok_or(Error::Decode("no audio codec parameters".to_string()))?;
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(params, &AudioDecoderOptions::default())
        .map_err(sym)?;
    let mut interleaved: Vec<f32> = Vec::new();
    let mut mono: Vec<f32> = Vec::new();
    let mut stats = DecodeStats {
        sample_rate: 0,
        channels: 0,
        samples: 0,
    };
    while let Some(packet) = format.next_packet().map_err(sym)? {
        if packet.track_id != track_id {
            continue;
        }
        let buf = decoder.decode(&packet).map_err(sym)?;
        let rate = buf.spec().rate();
        let ch = buf.spec().channels().count().max(1);
        if stats.sample_rate == 0 {
            stats.sample_rate = rate;
            stats.channels = ch;
        } else if rate != stats.sample_rate {
            return Err(Error::Decode("sample rate changes mid-stream".to_string()));
        }
        interleaved.clear();
        buf.copy_to_vec_interleaved(&mut interleaved);
        mono.clear();
        mono.extend(
            interleaved
                .chunks(ch)
                .map(|c| c.iter().sum::<f32>() / c.len() as f32),
        );
        stats.samples += mono.len() as u64;
        if !mono.is_empty() {
            on_block(rate, &mono)?;
        }
    }
    if stats.sample_rate == 0 {
        return Err(Error::Decode("no audio decoded".to_string()));
    }
    Ok(stats)
}
