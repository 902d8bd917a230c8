//! Deterministic recording audio: MP3 or WAV whose tones identify the
//! recording (its marker), so tests can tell legs apart by ear.
//!
//! STUB — to be completed by the audio owner. The signatures are the
//! contract the recordings route and the tests build on.

use std::collections::HashMap;
use std::sync::Mutex;

use bytes::Bytes;

use crate::model::{AudioFormat, Recording};

/// How recordings sound and are encoded (one setting per account).
#[derive(Debug, Clone, PartialEq)]
pub struct AudioSettings {
    /// MP3 or WAV.
    pub format: AudioFormat,
    /// Sample rate in Hz (default 8000: MPEG-2.5 for MP3).
    pub sample_rate: u32,
    /// MP3 bitrate in kbit/s (CBR) or the VBR quality target.
    pub mp3_bitrate_kbps: u32,
    /// Variable bitrate MP3 instead of CBR.
    pub vbr: bool,
}

impl Default for AudioSettings {
    fn default() -> Self {
        AudioSettings {
            format: AudioFormat::Mp3,
            sample_rate: 8000,
            mp3_bitrate_kbps: 16,
            vbr: false,
        }
    }
}

/// Renders the full content of a recording. Same input, same bytes.
pub fn render(settings: &AudioSettings, recording: &Recording) -> Bytes {
    let _ = (settings, recording);
    Bytes::from_static(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
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
/// the order they are heard. Tests decode a (stitched) file and compare this
/// with the ground truth.
pub fn detect_markers(pcm: &[f32], sample_rate: u32) -> Vec<u32> {
    let _ = (pcm, sample_rate);
    Vec::new()
}
