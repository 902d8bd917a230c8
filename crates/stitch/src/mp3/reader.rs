//! Walks the frames of one MP3 input: skips tags, resyncs over junk, returns
//! the leg's own Xing/Info/VBRI frame separately from its audio frames.

use std::io::{Read, Seek, SeekFrom};

use super::header::{FrameHeader, HEADER_LEN, StreamFormat, has_sync, parse_frame_header};
use super::xing::{InfoTag, try_read_info_tag};
use crate::error::{Error, malformed};
use crate::window::Window;

/// One audio frame, borrowed from the reader's buffer.
#[derive(Debug)]
pub struct Frame<'a> {
    /// Parsed header.
    pub header: FrameHeader,
    /// Absolute offset of the frame in the input.
    pub offset: u64,
    /// The whole frame, header included.
    pub data: &'a [u8],
}

/// Junk above this many bytes that also outweighs the audio makes the input "not an MP3".
const JUNK_TOLERANCE: u64 = 64 * 1024;

/// The byte range that holds frames, after cutting the tags at both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioSpan {
    /// First byte after the ID3v2 tag(s).
    pub start: u64,
    /// First byte of the trailing tags (ID3v1, APEv2, Lyrics3), or the input length.
    pub end: u64,
}

/// Finds the frame span of a seekable input: skips leading ID3v2 tags (with
/// footer), cuts ID3v1, APEv2 and Lyrics3v2 at the end.
pub fn find_audio_span<R: Read + Seek>(r: &mut R) -> Result<AudioSpan, Error> {
    let len = r.seek(SeekFrom::End(0))?;
    let mut start = 0u64;
    loop {
        let mut h = [0u8; 10];
        if len.saturating_sub(start) < 10 {
            break;
        }
        r.seek(SeekFrom::Start(start))?;
        r.read_exact(&mut h)?;
        if &h[..3] != b"ID3" {
            break;
        }
        if h[3] == 0xFF || h[4] == 0xFF || h[6..10].iter().any(|b| b & 0x80 != 0) {
            return malformed("mp3: invalid ID3v2 header", start);
        }
        let size = h[6..10]
            .iter()
            .fold(0u64, |acc, b| (acc << 7) | u64::from(*b));
        let footer = if h[5] & 0x10 != 0 { 10 } else { 0 };
        let next = start.saturating_add(10 + size + footer);
        if next > len {
            return malformed("mp3: ID3v2 tag runs past the end of the input", start);
        }
        start = next;
    }
    let mut end = len;
    for _ in 0..4 {
        let before = end;
        // ID3v1: the last 128 bytes start with "TAG".
        if end.saturating_sub(start) >= 128 && read_at(r, end - 128, 3)? == b"TAG" {
            end -= 128;
        }
        // APEv2 footer: "APETAGEX", version, size (items + footer), count, flags.
        if end.saturating_sub(start) >= 32 {
            let f = read_at(r, end - 32, 32)?;
            if f.get(..8) == Some(b"APETAGEX") {
                let size = u64::from(le_u32(&f, 12));
                let flags = le_u32(&f, 20);
                let total = size.saturating_add(if flags & 0x8000_0000 != 0 { 32 } else { 0 });
                if total <= end.saturating_sub(start) {
                    end -= total;
                }
            }
        }
        // Lyrics3v2: 6 ASCII digits of size, then "LYRICS200".
        if end.saturating_sub(start) >= 15 {
            let f = read_at(r, end - 15, 15)?;
            if f.get(6..) == Some(b"LYRICS200") {
                let digits = std::str::from_utf8(f.get(..6).unwrap_or_default()).ok();
                if let Some(size) = digits.and_then(|d| d.parse::<u64>().ok()) {
                    let total = size.saturating_add(15);
                    if total <= end.saturating_sub(start) {
                        end -= total;
                    }
                }
            }
        }
        if end == before {
            break;
        }
    }
    r.seek(SeekFrom::Start(start))?;
    Ok(AudioSpan { start, end })
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(s) = b.get(at..at + 4) {
        w.copy_from_slice(s);
    }
    u32::from_le_bytes(w)
}

fn read_at<R: Read + Seek>(r: &mut R, at: u64, n: usize) -> Result<Vec<u8>, Error> {
    r.seek(SeekFrom::Start(at))?;
    let mut buf = vec![0u8; n];
    r.read_exact(&mut buf)?;
    Ok(buf)
}

/// Reads the frames of one MP3 input in order.
///
/// The first frame is accepted only when the next header confirms it (or the
/// input ends right after it); later frames must keep the same MPEG version,
/// sample rate and channel count. Bytes that are not part of a frame are
/// skipped and counted in [`Mp3Reader::junk_bytes`]. A frame header whose
/// frame would run past the end right after the last good frame is an error
/// (a truncated download), not junk.
pub struct Mp3Reader<R> {
    win: Window<R>,
    span: AudioSpan,
    locked: Option<StreamFormat>,
    contiguous: bool,
    info: Option<InfoTag>,
    info_checked: bool,
    junk: u64,
    silenced: u64,
    reservoir_check: Option<u64>,
    scratch: Vec<u8>,
    frames: u64,
    audio_bytes: u64,
}

/// Zeroes a frame's side information (so `main_data_begin = 0` and every
/// granule is empty: silence) and refreshes its CRC when it has one.
fn silence_side_info(frame: &mut [u8], header: &FrameHeader) {
    let crc_len = if header.has_crc { 2 } else { 0 };
    let start = HEADER_LEN + crc_len;
    if let Some(side) = frame.get_mut(start..start + header.side_info_len()) {
        side.fill(0);
    }
    if header.has_crc {
        let mut crc: u16 = 0xFFFF;
        let covered = frame.get(2..4).into_iter().flatten().chain(
            frame
                .get(start..start + header.side_info_len())
                .into_iter()
                .flatten(),
        );
        for &byte in covered {
            for bit in (0..8).rev() {
                let in_bit = (byte >> bit) & 1 == 1;
                let top = crc & 0x8000 != 0;
                crc <<= 1;
                if in_bit != top {
                    crc ^= 0x8005;
                }
            }
        }
        if let Some(dst) = frame.get_mut(4..6) {
            dst.copy_from_slice(&crc.to_be_bytes());
        }
    }
}

/// `main_data_begin` of a Layer III frame: how many bytes of earlier frames
/// its main data starts in (9 bits in MPEG-1, 8 bits in MPEG-2/2.5).
pub fn main_data_begin(frame: &[u8], header: &FrameHeader) -> Option<u16> {
    let at = HEADER_LEN + if header.has_crc { 2 } else { 0 };
    let hi = u16::from(*frame.get(at)?);
    if header.version == super::header::MpegVersion::Mpeg1 {
        let lo = u16::from(*frame.get(at + 1)?);
        Some((hi << 1) | (lo >> 7))
    } else {
        Some(hi)
    }
}

impl<R: Read + Seek> Mp3Reader<R> {
    /// Opens an input: finds its audio span and positions at its start.
    pub fn new(mut inner: R) -> Result<Self, Error> {
        let span = find_audio_span(&mut inner)?;
        Ok(Mp3Reader {
            win: Window::new(inner, span.start, span.end),
            span,
            locked: None,
            contiguous: false,
            info: None,
            info_checked: false,
            junk: 0,
            silenced: 0,
            reservoir_check: Some(0),
            scratch: Vec::new(),
            frames: 0,
            audio_bytes: 0,
        })
    }
}

impl<R: Read> Mp3Reader<R> {
    /// The byte range that holds frames.
    pub fn span(&self) -> AudioSpan {
        self.span
    }

    /// The leg's own Xing/Info/VBRI tag, once the first frame has been read.
    pub fn info_tag(&self) -> Option<&InfoTag> {
        self.info.as_ref()
    }

    /// Bytes skipped because they were not part of any frame.
    pub fn junk_bytes(&self) -> u64 {
        self.junk
    }

    /// Leading audio frames silenced because their main data starts in a
    /// frame before the start of the input (a leg cut mid-stream).
    pub fn silenced_frames(&self) -> u64 {
        self.silenced
    }

    /// Audio frames returned so far.
    pub fn frames_read(&self) -> u64 {
        self.frames
    }

    /// The stream format, once the first frame has been read.
    pub fn format(&self) -> Option<StreamFormat> {
        self.locked
    }

    /// Gives the inner reader back.
    pub fn into_inner(self) -> R {
        self.win.into_inner()
    }

    fn skip_junk(&mut self, n: usize) {
        let skipped = self.win.consume(n).len();
        self.junk = self.junk.saturating_add(skipped as u64);
        self.contiguous = false;
    }

    /// Returns the next audio frame, `Ok(None)` at the end.
    ///
    /// At the end it checks that the input had audio at all: no frame, or junk
    /// that outweighs the audio, is `Malformed`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, Error> {
        loop {
            let offset = self.win.offset();
            let head = self.win.fill(HEADER_LEN)?;
            let Some(word) = head
                .get(..HEADER_LEN)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(u32::from_be_bytes)
            else {
                let rest = head.len();
                self.skip_junk(rest);
                return self.finish(offset).map(|()| None);
            };
            if !has_sync(word) {
                self.skip_junk(1);
                continue;
            }
            let header = match parse_frame_header(word) {
                Ok(h) => h,
                Err(_) => {
                    self.skip_junk(1);
                    continue;
                }
            };
            if self.locked.is_some_and(|f| f != header.stream_format()) {
                self.skip_junk(1);
                continue;
            }
            let len = header.frame_len();
            let avail = self.win.fill(len.saturating_add(HEADER_LEN))?;
            if avail.len() < len {
                if self.locked.is_some() && self.contiguous {
                    return malformed("mp3: truncated frame at the end of the input", offset);
                }
                self.skip_junk(1);
                continue;
            }
            let confirmed = if self.locked.is_some() && self.contiguous {
                true
            } else {
                match avail.get(len..len + HEADER_LEN) {
                    // Fewer than 4 bytes follow: the input ends with this frame.
                    None => true,
                    Some(b) => <[u8; 4]>::try_from(b)
                        .ok()
                        .map(u32::from_be_bytes)
                        .is_some_and(|next| {
                            parse_frame_header(next)
                                .is_ok_and(|n| n.stream_format() == header.stream_format())
                        }),
                }
            };
            if !confirmed {
                self.skip_junk(1);
                continue;
            }
            if !self.info_checked {
                self.info_checked = true;
                self.locked = Some(header.stream_format());
                let frame = avail.get(..len).unwrap_or_default();
                if let Some(tag) = try_read_info_tag(frame, &header) {
                    self.info = Some(tag);
                    self.win.consume(len);
                    self.contiguous = true;
                    continue;
                }
            }
            self.locked = Some(header.stream_format());
            self.contiguous = true;
            self.frames += 1;
            self.audio_bytes = self.audio_bytes.saturating_add(len as u64);
            let side = header.side_info_len();
            let crc_len = if header.has_crc { 2 } else { 0 };
            let main_area = len.saturating_sub(HEADER_LEN + crc_len + side) as u64;
            let data = self.win.consume(len);
            if let Some(avail) = self.reservoir_check {
                let mdb = u64::from(main_data_begin(data, &header).unwrap_or(0));
                if mdb > avail {
                    // The leg was cut mid-stream: this frame's main data starts in a
                    // frame that is not here. Zero its side information so it decodes
                    // as silence, and keep its bytes as the reservoir of the next frame.
                    self.scratch.clear();
                    self.scratch.extend_from_slice(data);
                    silence_side_info(&mut self.scratch, &header);
                    self.silenced = self.silenced.saturating_add(1);
                    self.reservoir_check = Some(avail.saturating_add(main_area));
                    return Ok(Some(Frame {
                        header,
                        offset,
                        data: &self.scratch,
                    }));
                }
                self.reservoir_check = None;
            }
            return Ok(Some(Frame {
                header,
                offset,
                data,
            }));
        }
    }

    fn finish(&self, offset: u64) -> Result<(), Error> {
        if self.frames == 0 {
            return malformed("mp3: no audio frames found", offset);
        }
        if self.junk > JUNK_TOLERANCE && self.junk > self.audio_bytes {
            return malformed("mp3: more junk than audio; not an MP3 stream", offset);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn frame(word: u32) -> Vec<u8> {
        let h = parse_frame_header(word).unwrap();
        let mut f = vec![0u8; h.frame_len()];
        f[..4].copy_from_slice(&word.to_be_bytes());
        f
    }

    #[test]
    fn tags_and_junk_around_frames_are_skipped_and_counted() {
        let mut bytes = b"ID3\x04\x00\x00\x00\x00\x00\x05hello".to_vec();
        bytes.extend_from_slice(b"junk!");
        for _ in 0..3 {
            bytes.extend(frame(0xFFE3_48C4));
        }
        bytes.extend_from_slice(&[0u8; 7]);
        bytes.extend(frame(0xFFE3_48C4));
        let mut v1 = vec![0u8; 128];
        v1[..3].copy_from_slice(b"TAG");
        bytes.extend(v1);
        let mut r = Mp3Reader::new(Cursor::new(bytes)).unwrap();
        let mut n = 0;
        while let Some(f) = r.next_frame().unwrap() {
            assert_eq!(f.data.len(), 288);
            n += 1;
        }
        assert_eq!(n, 4);
        assert_eq!(r.junk_bytes(), 12);
    }

    #[test]
    fn repeated_id3v2_with_footer_apev2_and_lyrics3_are_cut_from_the_span() {
        let mut bytes = b"ID3\x04\x00\x10\x00\x00\x00\x02ab".to_vec();
        bytes.extend_from_slice(b"3DI\x04\x00\x10\x00\x00\x00\x02");
        bytes.extend_from_slice(b"ID3\x03\x00\x00\x00\x00\x00\x01z");
        let start = bytes.len() as u64;
        for _ in 0..2 {
            bytes.extend(frame(0xFFE3_48C4));
        }
        let end = bytes.len() as u64;
        bytes.extend_from_slice(b"LYRICSBEGINhi000013LYRICS200");
        let mut ape = b"APETAGEX".to_vec();
        ape.extend_from_slice(&2000u32.to_le_bytes());
        ape.extend_from_slice(&32u32.to_le_bytes());
        ape.extend_from_slice(&0u32.to_le_bytes());
        ape.extend_from_slice(&0u32.to_le_bytes());
        ape.extend_from_slice(&[0u8; 8]);
        bytes.extend(ape);
        let mut v1 = vec![0u8; 128];
        v1[..3].copy_from_slice(b"TAG");
        bytes.extend(v1);
        let span = find_audio_span(&mut Cursor::new(bytes)).unwrap();
        assert_eq!(span, AudioSpan { start, end });
    }

    #[test]
    fn a_vbri_first_frame_is_returned_as_the_info_tag_not_as_audio() {
        let mut first = frame(0xFFFB_9064); // MPEG-1 128 kbps joint stereo: room for VBRI at 36
        first[36..40].copy_from_slice(b"VBRI");
        first[50..54].copy_from_slice(&7u32.to_be_bytes());
        let mut bytes = first;
        for _ in 0..3 {
            bytes.extend(frame(0xFFFB_9064));
        }
        let mut r = Mp3Reader::new(Cursor::new(bytes)).unwrap();
        let mut n = 0;
        while r.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
        let tag = r.info_tag().unwrap();
        assert_eq!(tag.kind, crate::mp3::xing::InfoKind::Vbri);
        assert_eq!(tag.frames, Some(7));
    }

    #[test]
    fn a_frame_cut_short_after_good_frames_is_a_truncation_error() {
        let mut bytes = Vec::new();
        for _ in 0..3 {
            bytes.extend(frame(0xFFE3_48C4));
        }
        bytes.extend(&frame(0xFFE3_48C4)[..100]);
        let mut r = Mp3Reader::new(Cursor::new(bytes)).unwrap();
        let err = loop {
            match r.next_frame() {
                Ok(Some(_)) => continue,
                Ok(None) => panic!("expected an error"),
                Err(e) => break e,
            }
        };
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
