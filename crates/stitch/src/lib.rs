//! Frame-level MP3/WAV joining: this crate owns the readers, the joiner,
//! Xing/LAME rewriting, the re-encode fallback and the chapters.
//!
//! It is the joiner behind `callvault stitch` and `callvault join`: it turns
//! the recordings of a call's legs into one file with a chapter per leg.
//!
//! # Brief overview
//!
//! [`Leg`]s (a seekable reader each, or none for a leg without a recording) and
//! [`JoinOptions`] go into [`join`] (any `Write`), [`join_into`] (any
//! [`FrameSink`]) or [`join_to_path`]/[`join_files`] (atomic file). Each leg is
//! sniffed from its bytes and scanned:
//!
//! * all MP3 with one MPEG version, sample rate and channel count → **lossless
//!   MP3**: the [`mp3::reader::Mp3Reader`] walks frames (skipping ID3v2/ID3v1/APE
//!   tags and junk, dropping each leg's Xing/Info/VBRI frame), and the output is
//!   an ID3v2.4 chapter tag, one new Info/Xing frame (frame count, byte count,
//!   TOC, LAME delay of the first leg and padding of the last), then the frames
//!   unchanged;
//! * all WAV with one format → **lossless WAV**: samples copied, header rewritten;
//! * otherwise → **re-encode**: symphonia decode, [`resample::Resampler`], mono,
//!   LAME (MP3), 16-bit PCM (WAV) or FLAC ([`flacenc`](https://docs.rs/flacenc)).
//!
//! The result is a [`Manifest`] (JSON, WebVTT chapters, hashes, path taken).
//!
//! Inside, data flows one way: `join` reads each leg once; `plan` sniffs it
//! into a typed stream format and picks the path by comparing formats;
//! `layout` turns gaps and lengths into placements, chapters and manifest
//! entries; `write` has one writer per path (lossless MP3, lossless WAV,
//! re-encoded), the last over `reencode` (decode, resample, encode) and
//! `flac`.
//!
//! Design decisions:
//!
//! * Encoder delay and padding: the output's LAME tag records the first leg's
//!   delay and the last leg's padding (encoder string copied from leg 1 when it
//!   has a LAME tag, else `Lavf`). Each inner join keeps the legs' own delay and
//!   padding as audio (≤ ~0.2 s of near-silence at 8 kHz); removing it would
//!   need decoding.
//! * Chapter and manifest times come from frame (or sample) counts, measured
//!   from the first audio frame; a gapless player that trims the first leg's
//!   delay shows them that much (≈ 138 ms at 8 kHz) early.
//! * A leg cut mid-stream (its first frames borrow bit-reservoir bytes from
//!   frames that are not there) gets those frames' side information zeroed:
//!   they decode as silence instead of as the previous leg's bytes.
//! * The Info frame uses the legs' own bitrate when they are CBR and it fits,
//!   else the smallest bitrate of the same MPEG version that holds the tag.
//! * Re-encode target: the highest input rate capped at 16 kHz (raised to an
//!   MP3 rate), mono, CBR 32 kbps (≤ 12 kHz) or 48 kbps (16 kHz).
//! * FLAC output (`OutputFormat::Flac`) always takes the re-encode path:
//!   mono 16-bit at the re-encode target rate, pure-Rust `flacenc` one block at
//!   a time, chapters as Vorbis `CHAPTERnnn` comments.
//!
//! # Does not
//!
//! Touch the network, the catalog or RingCentral; trust file names or MIME types.
//!
//! # Example
//!
//! ```no_run
//! use stitch::{join_files, JoinOptions};
//! let manifest = join_files(&["leg1.mp3", "leg2.mp3"], "call.mp3".as_ref(), &JoinOptions::default())?;
//! std::fs::write("call.json", manifest.to_json())?;
//! std::fs::write("call.vtt", manifest.webvtt())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)
)]

pub mod chapters;
pub mod decode;
mod error;
mod flac;
mod join;
mod layout;
pub mod manifest;
pub mod mp3;
mod options;
mod plan;
mod reencode;
pub mod resample;
pub mod sink;
pub mod wav;
mod window;
mod write;

pub use error::Error;
pub use join::{join, join_files, join_into, join_to_path};
pub use manifest::{JoinPath, Manifest, ManifestLeg};
pub use options::{Gaps, JoinOptions, Leg, OutputFormat};
pub use sink::{FrameSink, HashSink, Tee, VecSink, WriteSink};
