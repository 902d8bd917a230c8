//! The JSON manifest written beside a joined file: the source of truth for
//! chapters, the path taken and the hashes.

use serde::{Deserialize, Serialize};

use crate::chapters::{ChapterMark, webvtt};

/// Which joining path produced the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinPath {
    /// MP3 frames copied unchanged.
    LosslessMp3,
    /// WAV samples copied unchanged.
    LosslessWav,
    /// Decoded, resampled to one rate, mixed to mono and encoded again.
    Reencode,
}

/// One leg in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestLeg {
    /// 0-based position in the caller's list.
    pub index: usize,
    /// The caller's id.
    pub id: String,
    /// The caller's label (chapter title).
    pub label: String,
    /// True when the leg had no recording.
    pub missing: bool,
    /// Start of the leg in the output, ms (for a missing leg: where it would be).
    pub start_ms: u64,
    /// End of the leg in the output, ms.
    pub end_ms: u64,
    /// Silence inserted before this leg, ms.
    pub gap_before_ms: u64,
    /// sha256 of the input bytes (absent for missing legs or when hashing is off).
    pub input_sha256: Option<String>,
    /// The sniffed input format, e.g. `mp3 MPEG-2.5 Layer III 8000 Hz mono`.
    pub input_format: Option<String>,
    /// Audio frames copied (lossless MP3 only).
    pub frames: Option<u64>,
    /// Junk bytes skipped in the input (lossless MP3 only).
    pub junk_bytes: Option<u64>,
}

/// Everything known about one joined output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Path taken.
    pub path: JoinPath,
    /// Why the path was taken (e.g. why lossless was impossible).
    pub reason: String,
    /// MIME type of the output (`audio/mpeg`, `audio/wav`).
    pub content_type: String,
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Output channels.
    pub channels: u8,
    /// Length of the audio in ms (frames × samples per frame for MP3).
    pub duration_ms: u64,
    /// sha256 of the output bytes.
    pub output_sha256: String,
    /// Size of the output in bytes.
    pub output_bytes: u64,
    /// All legs in the caller's order, missing ones included.
    pub legs: Vec<ManifestLeg>,
}

impl Manifest {
    /// The chapters of the legs that have audio.
    pub fn chapters(&self) -> Vec<ChapterMark> {
        self.legs
            .iter()
            .filter(|l| !l.missing)
            .map(|l| ChapterMark {
                element_id: format!("chp{}", l.index),
                title: l.label.clone(),
                start_ms: l.start_ms,
                end_ms: l.end_ms,
            })
            .collect()
    }

    /// The WebVTT chapters track for the HTML5 player.
    pub fn webvtt(&self) -> String {
        webvtt(&self.chapters())
    }

    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// The ids of the legs that had no recording.
    pub fn missing_ids(&self) -> Vec<&str> {
        self.legs
            .iter()
            .filter(|l| l.missing)
            .map(|l| l.id.as_str())
            .collect()
    }
}
