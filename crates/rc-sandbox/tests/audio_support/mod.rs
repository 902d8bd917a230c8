//! Shared helpers for the audio tests: decoding with symphonia and making
//! recordings.

#![allow(dead_code)]

use rc_sandbox::model::{Recording, RecordingKind};
use symphonia::core::codecs::audio::AudioDecoderOptions;
use symphonia::core::formats::probe::Hint;
use symphonia::core::formats::{FormatOptions, TrackType};
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;

/// Decoded mono PCM and its sample rate.
pub struct Decoded {
    pub pcm: Vec<f32>,
    pub rate: u32,
}

impl Decoded {
    pub fn duration_ms(&self) -> f64 {
        self.pcm.len() as f64 * 1000.0 / self.rate as f64
    }
}

/// Decodes a whole MP3 or WAV file (first channel), failing on any error.
pub fn decode(bytes: &[u8]) -> Decoded {
    let cursor = std::io::Cursor::new(bytes.to_vec());
    let mss = MediaSourceStream::new(Box::new(cursor), Default::default());
    let mut format = symphonia::default::get_probe()
        .probe(
            &Hint::new(),
            mss,
            FormatOptions::default(),
            MetadataOptions::default(),
        )
        .expect("probe");
    let track = format.default_track(TrackType::Audio).expect("audio track");
    let track_id = track.id;
    let params = track.codec_params.as_ref().expect("codec params");
    let mut decoder = symphonia::default::get_codecs()
        .make_audio_decoder(
            params.audio().expect("audio params"),
            &AudioDecoderOptions::default(),
        )
        .expect("decoder");
    let mut pcm = Vec::new();
    let mut rate = 0;
    let mut buf: Vec<f32> = Vec::new();
    while let Some(packet) = format.next_packet().expect("packet") {
        if packet.track_id != track_id {
            continue;
        }
        let decoded = decoder.decode(&packet).expect("decode");
        rate = decoded.spec().rate();
        let channels = decoded.spec().channels().count().max(1);
        decoded.copy_to_vec_interleaved(&mut buf);
        pcm.extend(buf.iter().step_by(channels));
    }
    Decoded { pcm, rate }
}

pub fn recording(marker: u32, duration_ms: u64) -> Recording {
    Recording {
        id: format!("{}", 100_000_000_000u64 + u64::from(marker)),
        kind: RecordingKind::Automatic,
        duration_ms,
        marker,
        deleted: false,
    }
}
