//! RIFF/WAVE: a chunk parser that finds `fmt ` and `data`, and the lossless WAV join.
//!
//! Chunk lengths are untrusted: every size is checked against the input length
//! by subtraction, odd chunks are padded, unknown chunks (LIST, fact, …) are
//! skipped. A `data` size of 0 or 0xFFFFFFFF (written by streaming encoders
//! that could not seek back) means "to the end of the input".

use std::fmt;
use std::io::{self, Read, Seek, SeekFrom};

use crate::error::{Error, malformed};
use crate::sink::{FrameSink, SinkWriter};

/// WAVE format tag: integer PCM.
pub const TAG_PCM: u16 = 1;
/// WAVE format tag: IEEE float.
pub const TAG_FLOAT: u16 = 3;
/// WAVE format tag: G.711 A-law.
pub const TAG_ALAW: u16 = 6;
/// WAVE format tag: G.711 mu-law.
pub const TAG_MULAW: u16 = 7;
const TAG_EXTENSIBLE: u16 = 0xFFFE;

/// The `fmt ` chunk fields that must match for a lossless join.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WavFormat {
    /// Format tag (1 PCM, 3 float, 6 A-law, 7 mu-law); WAVE_FORMAT_EXTENSIBLE is resolved to its sub-format.
    pub tag: u16,
    /// Channels.
    pub channels: u16,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Bits per sample.
    pub bits: u16,
}

impl WavFormat {
    /// Bytes per sample frame (all channels).
    pub fn block_align(&self) -> u64 {
        u64::from(self.channels) * u64::from(self.bits / 8)
    }

    /// The byte that encodes digital silence in this format.
    pub fn silence_byte(&self) -> u8 {
        match (self.tag, self.bits) {
            (TAG_MULAW, _) => 0xFF,
            (TAG_ALAW, _) => 0xD5,
            (TAG_PCM, 8) => 0x80,
            _ => 0,
        }
    }

    /// True for the formats the lossless WAV path copies (PCM 8/16/24/32-bit, float, G.711).
    pub fn is_copyable(&self) -> bool {
        match self.tag {
            TAG_PCM => matches!(self.bits, 8 | 16 | 24 | 32),
            TAG_FLOAT => self.bits == 32,
            TAG_ALAW | TAG_MULAW => self.bits == 8,
            _ => false,
        }
    }
}

impl fmt::Display for WavFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.tag {
            TAG_PCM => format!("pcm{}", self.bits),
            TAG_FLOAT => "float32".to_string(),
            TAG_ALAW => "a-law".to_string(),
            TAG_MULAW => "mu-law".to_string(),
            t => format!("tag {t:#06x}"),
        };
        write!(f, "wav {kind} {} Hz {} ch", self.sample_rate, self.channels)
    }
}

/// Where a WAV input keeps its samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavInfo {
    /// The format.
    pub format: WavFormat,
    /// Offset of the first sample byte.
    pub data_start: u64,
    /// Sample bytes, a whole number of sample frames.
    pub data_len: u64,
}

impl WavInfo {
    /// Number of sample frames (samples per channel).
    pub fn frames(&self) -> u64 {
        self.data_len / self.format.block_align().max(1)
    }
}

fn le16(b: &[u8], at: usize) -> u16 {
    let mut w = [0u8; 2];
    if let Some(s) = b.get(at..at + 2) {
        w.copy_from_slice(s);
    }
    u16::from_le_bytes(w)
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

/// Parses the `fmt ` chunk body.
pub fn parse_fmt(body: &[u8], offset: u64) -> Result<WavFormat, Error> {
    if body.len() < 16 {
        return malformed("wav: fmt chunk shorter than 16 bytes", offset);
    }
    let mut tag = le16(body, 0);
    let channels = le16(body, 2);
    let sample_rate = le32(body, 4);
    let bits = le16(body, 14);
    if tag == TAG_EXTENSIBLE {
        if body.len() < 40 {
            return malformed("wav: extensible fmt chunk shorter than 40 bytes", offset);
        }
        tag = le16(body, 24);
    }
    if channels == 0 {
        return malformed("wav: zero channels", offset);
    }
    if sample_rate == 0 {
        return malformed("wav: zero sample rate", offset);
    }
    if bits == 0 || !bits.is_multiple_of(8) {
        return Err(Error::Unsupported(
            "wav: bits per sample is not a multiple of 8",
        ));
    }
    Ok(WavFormat {
        tag,
        channels,
        sample_rate,
        bits,
    })
}

/// Finds `fmt ` and `data` in a RIFF/WAVE input.
pub fn read_wav_info<R: Read + Seek>(r: &mut R) -> Result<WavInfo, Error> {
    let len = r.seek(SeekFrom::End(0))?;
    r.seek(SeekFrom::Start(0))?;
    let mut head = [0u8; 12];
    if len < 12 {
        return malformed("wav: shorter than a RIFF header", 0);
    }
    r.read_exact(&mut head)?;
    if &head[..4] != b"RIFF" || &head[8..12] != b"WAVE" {
        return malformed("wav: not a RIFF/WAVE file", 0);
    }
    let mut pos = 12u64;
    let mut format = None;
    loop {
        if len.saturating_sub(pos) < 8 {
            return malformed("wav: no data chunk", pos);
        }
        let mut ch = [0u8; 8];
        r.seek(SeekFrom::Start(pos))?;
        r.read_exact(&mut ch)?;
        let size = u64::from(le32(&ch, 4));
        let body_start = pos + 8;
        let left = len - body_start;
        match &ch[..4] {
            b"fmt " => {
                if size > left {
                    return malformed("wav: fmt chunk runs past the end", pos);
                }
                let mut body = vec![0u8; usize::try_from(size.min(64)).unwrap_or(64)];
                r.read_exact(&mut body)?;
                format = Some(parse_fmt(&body, pos)?);
            }
            b"data" => {
                let Some(format) = format else {
                    return malformed("wav: data chunk before fmt chunk", pos);
                };
                let mut data_len = size;
                if size == 0 || size == u64::from(u32::MAX) || size > left {
                    if size != 0 && size != u64::from(u32::MAX) {
                        tracing::warn!(
                            declared = size,
                            available = left,
                            "wav: data chunk longer than the input; using what is there"
                        );
                    }
                    data_len = left;
                }
                let align = format.block_align().max(1);
                data_len -= data_len % align;
                return Ok(WavInfo {
                    format,
                    data_start: body_start,
                    data_len,
                });
            }
            _ => {}
        }
        let padded = size.saturating_add(size & 1);
        if padded > left {
            return malformed("wav: chunk runs past the end", pos);
        }
        pos = body_start + padded;
    }
}

/// Writes a canonical WAV header for `data_len` bytes of `format`.
pub fn wav_header(format: &WavFormat, data_len: u64) -> Result<Vec<u8>, Error> {
    let pcm_like = matches!(format.tag, TAG_PCM);
    let fmt_len: u32 = if pcm_like { 16 } else { 18 };
    let fact_len: u32 = if pcm_like { 0 } else { 12 };
    let pad = data_len & 1;
    let riff = 4u64 + 8 + u64::from(fmt_len) + u64::from(fact_len) + 8 + data_len + pad;
    let riff = u32::try_from(riff).map_err(|_| Error::Limit("wav: output larger than 4 GiB"))?;
    let data32 =
        u32::try_from(data_len).map_err(|_| Error::Limit("wav: output larger than 4 GiB"))?;
    let align =
        u16::try_from(format.block_align()).map_err(|_| Error::Limit("wav: block too large"))?;
    let byte_rate = format.sample_rate.saturating_mul(u32::from(align));
    let mut h = Vec::with_capacity(64);
    h.extend_from_slice(b"RIFF");
    h.extend_from_slice(&riff.to_le_bytes());
    h.extend_from_slice(b"WAVEfmt ");
    h.extend_from_slice(&fmt_len.to_le_bytes());
    h.extend_from_slice(&format.tag.to_le_bytes());
    h.extend_from_slice(&format.channels.to_le_bytes());
    h.extend_from_slice(&format.sample_rate.to_le_bytes());
    h.extend_from_slice(&byte_rate.to_le_bytes());
    h.extend_from_slice(&align.to_le_bytes());
    h.extend_from_slice(&format.bits.to_le_bytes());
    if !pcm_like {
        h.extend_from_slice(&0u16.to_le_bytes());
        h.extend_from_slice(b"fact");
        h.extend_from_slice(&4u32.to_le_bytes());
        let frames = u32::try_from(data_len / u64::from(align.max(1))).unwrap_or(u32::MAX);
        h.extend_from_slice(&frames.to_le_bytes());
    }
    h.extend_from_slice(b"data");
    h.extend_from_slice(&data32.to_le_bytes());
    Ok(h)
}

/// Copies `info.data_len` sample bytes of an input into the sink.
pub(crate) fn copy_data<R: Read + Seek, S: FrameSink + ?Sized>(
    r: &mut R,
    info: &WavInfo,
    sink: &mut S,
) -> Result<(), Error> {
    r.seek(SeekFrom::Start(info.data_start))?;
    let copied = io::copy(&mut r.by_ref().take(info.data_len), &mut SinkWriter(sink))?;
    if copied != info.data_len {
        return malformed(
            "wav: input shrank while it was being read",
            info.data_start + copied,
        );
    }
    Ok(())
}

/// Writes `len` bytes of silence.
pub(crate) fn write_silence<S: FrameSink + ?Sized>(
    format: &WavFormat,
    len: u64,
    sink: &mut S,
) -> Result<(), Error> {
    let block = [format.silence_byte(); 4096];
    let mut left = len;
    while left > 0 {
        let n = usize::try_from(left.min(4096)).unwrap_or(4096);
        sink.write_bytes(block.get(..n).unwrap_or_default())?;
        left -= n as u64;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn wav(tag: u16, data: &[u8], data_size: u32, extra_chunk: bool) -> Vec<u8> {
        let f = WavFormat {
            tag,
            channels: 1,
            sample_rate: 8000,
            bits: if tag == 1 { 16 } else { 8 },
        };
        let mut h = wav_header(&f, data.len() as u64).unwrap();
        if extra_chunk {
            let at = h.len() - 8;
            h.splice(at..at, b"LIST\x03\x00\x00\x00abc\x00".iter().copied());
        }
        let at = h.len() - 4;
        h[at..].copy_from_slice(&data_size.to_le_bytes());
        h.extend_from_slice(data);
        h
    }

    #[test]
    fn an_odd_list_chunk_is_skipped_with_its_pad_byte() {
        let bytes = wav(7, &[1, 2, 3, 4, 5], 5, true);
        let info = read_wav_info(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(info.format.tag, 7);
        assert_eq!(info.data_len, 5);
    }

    #[test]
    fn streaming_data_sizes_mean_to_the_end_and_are_cut_to_whole_frames() {
        for size in [0u32, u32::MAX, 1_000_000] {
            let bytes = wav(1, &[0, 1, 2, 3, 4], size, false);
            let info = read_wav_info(&mut Cursor::new(bytes)).unwrap();
            assert_eq!(info.data_len, 4, "declared size {size}");
        }
    }

    #[test]
    fn silence_bytes_match_each_encoding() {
        let f = |tag, bits| WavFormat {
            tag,
            channels: 1,
            sample_rate: 8000,
            bits,
        };
        assert_eq!(f(TAG_MULAW, 8).silence_byte(), 0xFF);
        assert_eq!(f(TAG_ALAW, 8).silence_byte(), 0xD5);
        assert_eq!(f(TAG_PCM, 8).silence_byte(), 0x80);
        assert_eq!(f(TAG_PCM, 16).silence_byte(), 0);
    }
}
