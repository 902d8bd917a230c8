//! Deterministic recording audio: MP3 or WAV whose tones identify the
//! recording (its marker), so tests can tell legs apart by ear.
//!
//! STUB — to be completed by the audio owner. The signatures are the
//! contract the recordings route and the tests build on.

use bytes::Bytes;

use crate::model::{AudioFormat, Recording};

/// Renders the full content of a recording. Same input, same bytes.
pub fn render(format: AudioFormat, recording: &Recording) -> Bytes {
    let _ = (format, recording);
    Bytes::from_static(b"RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
}

/// Recovers the markers heard in decoded mono PCM (samples in [-1, 1]), in
/// the order they are heard. Tests decode a (stitched) file and compare this
/// with the ground truth.
pub fn detect_markers(pcm: &[f32], sample_rate: u32) -> Vec<u32> {
    let _ = (pcm, sample_rate);
    Vec::new()
}
