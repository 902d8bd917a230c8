//! FLAC output for the re-encode path, with the pure-Rust `flacenc` encoder.
//!
//! Why FLAC: a lossless archive of the resampled mono stream that every
//! current browser plays, without LAME (LGPL, C). Why this shape: `flacenc`'s
//! one-call API (`encode_with_fixed_block_size`) keeps the whole `Stream` of
//! frames in memory, so here each 4096-sample block is encoded on its own
//! (`encode_fixed_size_frame`, single-threaded, so the bytes are
//! deterministic) and written out at once: memory does not grow with length.
//! The STREAMINFO block (sample count, frame sizes, MD5 of the samples) is only
//! known at the end, and the chapters only after every leg is placed, so the
//! frames go to the caller's temporary file and [`header`] is written in front
//! of them afterwards.
//!
//! Chapters: FLAC has no ID3 chapters; the header carries Vorbis comments in
//! the common `CHAPTERnnn=HH:MM:SS.mmm` / `CHAPTERnnnNAME=` form (read by
//! ffprobe, foobar2000, mpv), and the WebVTT + manifest files beside the audio
//! stay the source of truth.

use std::io::Write;

use flacenc::bitsink::MemSink;
use flacenc::component::{BitRepr, StreamInfo};
use flacenc::error::{Verified, Verify};
use flacenc::source::{Context, Fill, FrameBuf};

use crate::chapters::ChapterMark;
use crate::error::Error;

/// Samples per FLAC frame (the reference encoder's default).
const BLOCK: usize = 4096;
/// Output sample width.
const BITS: usize = 16;

fn enc<E: std::fmt::Display>(e: E) -> Error {
    Error::Encode(format!("flac: {e}"))
}

/// A streaming mono 16-bit FLAC frame writer.
pub(crate) struct FlacFrames<W: Write> {
    config: Verified<flacenc::config::Encoder>,
    info: StreamInfo,
    fill: (FrameBuf, Context),
    pending: Vec<i32>,
    bits: MemSink<u8>,
    out: W,
}

impl<W: Write> FlacFrames<W> {
    /// A writer of mono frames at `rate` into `out`.
    pub(crate) fn new(rate: u32, out: W) -> Result<Self, Error> {
        let mut config = flacenc::config::Encoder::default();
        config.block_size = BLOCK;
        config.multithread = false;
        let config = config.into_verified().map_err(|(_, e)| enc(e))?;
        Ok(FlacFrames {
            config,
            info: StreamInfo::new(rate as usize, 1, BITS).map_err(enc)?,
            fill: (
                FrameBuf::with_size(1, BLOCK).map_err(enc)?,
                Context::new(BITS, 1),
            ),
            pending: Vec::with_capacity(2 * BLOCK),
            bits: MemSink::with_capacity(BLOCK * BITS + 1024),
            out,
        })
    }

    /// Appends 16-bit samples; whole blocks are encoded and written at once.
    pub(crate) fn push(&mut self, samples: impl Iterator<Item = i16>) -> Result<(), Error> {
        for s in samples {
            self.pending.push(i32::from(s));
            if self.pending.len() == BLOCK {
                self.encode_pending()?;
            }
        }
        Ok(())
    }

    fn encode_pending(&mut self) -> Result<(), Error> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.fill.fill_interleaved(&self.pending).map_err(enc)?;
        let number = self.fill.1.current_frame_number().unwrap_or(0);
        let frame =
            flacenc::encode_fixed_size_frame(&self.config, &self.fill.0, number, &self.info)
                .map_err(enc)?;
        self.info.update_frame_info(&frame);
        self.bits.clear();
        frame.write(&mut self.bits).map_err(enc)?;
        self.out.write_all(self.bits.as_slice())?;
        self.pending.clear();
        Ok(())
    }

    /// Encodes the last short block, flushes, and returns the STREAMINFO.
    pub(crate) fn finish(&mut self) -> Result<StreamSummary, Error> {
        self.encode_pending()?;
        self.out.flush()?;
        let mut info = self.info.clone();
        info.set_md5_digest(&self.fill.1.md5_digest());
        if info.total_samples() == 0 {
            // No frame at all: the fields left at their "nothing seen" values
            // must still be valid for a reader.
            info.set_frame_sizes(0, 0).map_err(enc)?;
        }
        // A fixed block size stream states it in both fields, as `flac` does.
        info.set_block_sizes(BLOCK, BLOCK).map_err(enc)?;
        Ok(StreamSummary(info))
    }
}

/// What a finished FLAC stream says about itself (sample count, frame sizes,
/// MD5 of the samples): the STREAMINFO block [`header`] writes. Our own type,
/// so the encoder crate's types stay inside this module.
#[derive(Debug, Clone)]
pub(crate) struct StreamSummary(StreamInfo);

fn metadata_block_header(out: &mut Vec<u8>, kind: u8, last: bool, len: usize) -> Result<(), Error> {
    let len = u32::try_from(len)
        .ok()
        .filter(|l| *l < 1 << 24)
        .ok_or(Error::Limit("flac: metadata block over 16 MiB"))?;
    out.push(kind | if last { 0x80 } else { 0 });
    out.extend_from_slice(&len.to_be_bytes()[1..]);
    Ok(())
}

fn timestamp(ms: u64) -> String {
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// The bytes in front of the frames: `fLaC`, STREAMINFO, and a Vorbis comment
/// block with the title and one `CHAPTERnnn` pair per leg.
pub(crate) fn header(
    summary: &StreamSummary,
    title: Option<&str>,
    chapters: &[ChapterMark],
) -> Result<Vec<u8>, Error> {
    let mut out = b"fLaC".to_vec();
    let mut bits = MemSink::<u8>::new();
    summary.0.write(&mut bits).map_err(enc)?;
    metadata_block_header(&mut out, 0, false, bits.as_slice().len())?;
    out.extend_from_slice(bits.as_slice());

    let mut comments: Vec<String> = Vec::with_capacity(1 + 2 * chapters.len());
    if let Some(t) = title {
        comments.push(format!("TITLE={t}"));
    }
    for (i, c) in chapters.iter().enumerate() {
        let n = i + 1;
        comments.push(format!("CHAPTER{n:03}={}", timestamp(c.start_ms)));
        comments.push(format!("CHAPTER{n:03}NAME={}", c.title));
    }
    let vendor = b"callvault stitch";
    let mut body = Vec::new();
    let len32 = |n: usize| u32::try_from(n).map_err(|_| Error::Limit("flac: comment too long"));
    body.extend_from_slice(&len32(vendor.len())?.to_le_bytes());
    body.extend_from_slice(vendor);
    body.extend_from_slice(&len32(comments.len())?.to_le_bytes());
    for c in &comments {
        body.extend_from_slice(&len32(c.len())?.to_le_bytes());
        body.extend_from_slice(c.as_bytes());
    }
    metadata_block_header(&mut out, 4, true, body.len())?;
    out.extend_from_slice(&body);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chapter_timestamps_are_hh_mm_ss_mmm() {
        assert_eq!(timestamp(0), "00:00:00.000");
        assert_eq!(timestamp(3_723_004), "01:02:03.004");
    }

    #[test]
    fn an_empty_stream_still_has_a_valid_header() {
        let mut f = FlacFrames::new(8000, Vec::new()).unwrap();
        let info = f.finish().unwrap();
        let h = header(&info, None, &[]).unwrap();
        assert_eq!(&h[..4], b"fLaC");
        assert_eq!(h[4], 0, "STREAMINFO, not last");
        assert_eq!(&h[5..8], &[0, 0, 34]);
        assert_eq!(h[8 + 34], 0x84, "Vorbis comment, last");
    }
}
