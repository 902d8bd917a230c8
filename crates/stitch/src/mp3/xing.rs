//! Xing/Info, VBRI and LAME tags: reading a leg's tag and writing the joined file's one.
//!
//! The Xing/Info tag sits after the side information of the first frame of a
//! stream; that frame decodes to silence and carries the frame count, byte
//! count and a 100-entry seek table (TOC). The 36-byte LAME extension follows
//! it with the encoder delay and padding. VBRI (Fraunhofer) sits at byte 36.
//! Reading is best effort: anything inconsistent yields `None`.

use super::header::{FrameHeader, HEADER_LEN};
use crate::error::Error;

/// Which kind of header frame a leg started with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InfoKind {
    /// `Xing`: written by encoders for VBR streams.
    Xing,
    /// `Info`: the same layout, written for CBR streams.
    Info,
    /// `VBRI`: the Fraunhofer header.
    Vbri,
}

/// The 36-byte LAME extension of an Info/Xing tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LameTag {
    /// Encoder string, e.g. `LAME3.100`.
    pub encoder: [u8; 9],
    /// Encoder delay in samples (the 12-bit field; decoders add 529).
    pub delay: u16,
    /// Encoder padding in samples (the 12-bit field).
    pub padding: u16,
    /// The whole extension, copied into the output's tag when this is the first leg.
    pub raw: [u8; LAME_EXT_LEN],
}

impl LameTag {
    /// The encoder string as text (lossy, trailing NULs removed).
    pub fn encoder_str(&self) -> String {
        String::from_utf8_lossy(&self.encoder)
            .trim_end_matches('\0')
            .to_string()
    }
}

/// A leg's header frame (Xing, Info or VBRI), returned separately from its audio frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InfoTag {
    /// Which tag it was.
    pub kind: InfoKind,
    /// Frame count, when present (audio frames, excluding the tag frame for LAME).
    pub frames: Option<u32>,
    /// Byte count, when present.
    pub bytes: Option<u32>,
    /// The 100-entry seek table, when present.
    pub toc: Option<[u8; 100]>,
    /// The LAME extension, when present and its CRC matches.
    pub lame: Option<LameTag>,
}

/// Length of the Xing/Info tag with all four fields present.
pub const XING_LEN: usize = 120;
/// Length of the LAME extension.
pub const LAME_EXT_LEN: usize = 36;

fn be_u32(buf: &[u8], at: usize) -> Option<u32> {
    let b = buf.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

/// CRC-16/ARC (poly 0x8005 reflected, init 0), as used by the LAME tag.
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &byte in data {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xA001
            } else {
                crc >> 1
            };
        }
    }
    crc
}

/// Reads a Xing/Info/VBRI tag from a whole first frame, or `None` when it is an audio frame.
pub fn try_read_info_tag(frame: &[u8], header: &FrameHeader) -> Option<InfoTag> {
    let plain = HEADER_LEN + header.side_info_len();
    let offsets = [Some(plain), header.has_crc.then_some(plain + 2)];
    for off in offsets.into_iter().flatten() {
        if let Some(tag) = read_xing_at(frame, off) {
            return Some(tag);
        }
    }
    if frame.get(36..40) == Some(b"VBRI") {
        return Some(InfoTag {
            kind: InfoKind::Vbri,
            bytes: be_u32(frame, 36 + 10),
            frames: be_u32(frame, 36 + 14),
            toc: None,
            lame: None,
        });
    }
    None
}

fn read_xing_at(frame: &[u8], off: usize) -> Option<InfoTag> {
    let kind = match frame.get(off..off.checked_add(4)?)? {
        b"Xing" => InfoKind::Xing,
        b"Info" => InfoKind::Info,
        _ => return None,
    };
    let flags = be_u32(frame, off + 4)?;
    let mut at = off + 8;
    let mut field = |bit: u32, len: usize| -> Option<Option<usize>> {
        if flags & bit == 0 {
            return Some(None);
        }
        let here = at;
        at = at.checked_add(len)?;
        if at > frame.len() {
            return None;
        }
        Some(Some(here))
    };
    let frames_at = field(1, 4)?;
    let bytes_at = field(2, 4)?;
    let toc_at = field(4, 100)?;
    let _quality_at = field(8, 4)?;
    let toc = match toc_at {
        Some(t) => {
            let mut toc = [0u8; 100];
            toc.copy_from_slice(frame.get(t..t + 100)?);
            Some(toc)
        }
        None => None,
    };
    let lame = read_lame_at(frame, at);
    Some(InfoTag {
        kind,
        frames: frames_at.and_then(|a| be_u32(frame, a)),
        bytes: bytes_at.and_then(|a| be_u32(frame, a)),
        toc,
        lame,
    })
}

fn read_lame_at(frame: &[u8], at: usize) -> Option<LameTag> {
    let ext = frame.get(at..at.checked_add(LAME_EXT_LEN)?)?;
    let mut raw = [0u8; LAME_EXT_LEN];
    raw.copy_from_slice(ext);
    let mut encoder = [0u8; 9];
    encoder.copy_from_slice(raw.get(..9)?);
    let known = matches!(encoder.get(..4)?, b"LAME" | b"Lavf" | b"Lavc");
    if !encoder.first()?.is_ascii_alphanumeric() {
        return None;
    }
    let stored_crc = u16::from_be_bytes([*raw.get(34)?, *raw.get(35)?]);
    let computed = crc16(frame.get(..at + 34)?);
    if stored_crc != 0 && stored_crc != computed {
        return None;
    }
    let (delay, padding) = if known {
        let d = (u16::from(*raw.get(21)?) << 4) | (u16::from(*raw.get(22)?) >> 4);
        let p = (u16::from(*raw.get(22)? & 0x0F) << 8) | u16::from(*raw.get(23)?);
        (d, p)
    } else {
        (0, 0)
    };
    Some(LameTag {
        encoder,
        delay,
        padding,
        raw,
    })
}

/// Picks the header of the joined file's Info frame: the legs' own bitrate when
/// their frames are CBR and big enough, otherwise the smallest bitrate of the
/// same MPEG version whose frame holds the tag and the LAME extension (as ffmpeg
/// does; an 8 kHz 16 kbps frame is only 144 bytes).
pub fn choose_info_header(
    template: &FrameHeader,
    cbr_index: Option<u8>,
) -> Result<FrameHeader, Error> {
    let mut base = *template;
    base.has_crc = false;
    base.padding = false;
    base.private = false;
    let needed = HEADER_LEN + base.side_info_len() + XING_LEN + LAME_EXT_LEN;
    let candidates = cbr_index.into_iter().chain(1..=14u8);
    for index in candidates {
        if let Some(h) = base
            .with_bitrate_index(index)
            .filter(|h| h.frame_len() >= needed)
        {
            return Ok(h);
        }
    }
    Err(Error::Unsupported(
        "mp3: no bitrate holds an Info tag for this format",
    ))
}

/// Builds the 100-entry seek table: entry `i` is `256 × offset(frame at i %) / total_bytes`,
/// with offsets counted from the start of the Info frame (`info_len` bytes long).
/// `frame_sizes` yields the sizes of the `n` audio frames in order.
pub fn build_toc(
    n: u64,
    frame_sizes: impl IntoIterator<Item = u16>,
    info_len: u64,
    total_bytes: u64,
) -> [u8; 100] {
    let mut toc = [0u8; 100];
    let total = total_bytes.max(1);
    let mut offset = info_len;
    let mut next_frame = 0u64;
    let mut sizes = frame_sizes.into_iter();
    for (i, slot) in toc.iter_mut().enumerate() {
        let target = (i as u64).saturating_mul(n) / 100;
        while next_frame < target {
            let Some(s) = sizes.next() else { break };
            offset = offset.saturating_add(u64::from(s));
            next_frame += 1;
        }
        let v = offset.saturating_mul(256) / total;
        *slot = u8::try_from(v).unwrap_or(255);
    }
    toc
}

/// Everything the joined file's Info frame records.
#[derive(Debug, Clone)]
pub struct InfoFrameSpec<'a> {
    /// The header chosen by [`choose_info_header`].
    pub header: FrameHeader,
    /// `Xing` (bitrates vary) or `Info` (one bitrate).
    pub kind: InfoKind,
    /// Audio frames after the Info frame.
    pub frames: u32,
    /// Bytes of the Info frame plus all audio frames.
    pub bytes: u32,
    /// Seek table.
    pub toc: [u8; 100],
    /// The first leg's LAME extension to copy fields from (encoder string, flags).
    pub lame_template: Option<&'a LameTag>,
    /// Encoder delay to record (the first leg's).
    pub delay: u16,
    /// Encoder padding to record (the last leg's).
    pub padding: u16,
}

/// Writes the Info frame: header, zero side info, Xing/Info tag, LAME extension with CRC.
pub fn build_info_frame(spec: &InfoFrameSpec<'_>) -> Vec<u8> {
    let len = spec.header.frame_len();
    let mut frame = vec![0u8; len];
    let mut put = |at: usize, bytes: &[u8]| {
        if let Some(dst) = frame.get_mut(at..at.saturating_add(bytes.len())) {
            dst.copy_from_slice(bytes);
        }
    };
    put(0, &spec.header.to_word().to_be_bytes());
    let off = HEADER_LEN + spec.header.side_info_len();
    put(
        off,
        if spec.kind == InfoKind::Xing {
            b"Xing"
        } else {
            b"Info"
        },
    );
    put(off + 4, &0x0Fu32.to_be_bytes());
    put(off + 8, &spec.frames.to_be_bytes());
    put(off + 12, &spec.bytes.to_be_bytes());
    put(off + 16, &spec.toc);
    put(off + 116, &0u32.to_be_bytes());
    let lame_at = off + XING_LEN;
    let mut ext = match spec.lame_template {
        Some(t) => t.raw,
        None => {
            let mut e = [0u8; LAME_EXT_LEN];
            if let Some(dst) = e.get_mut(..4) {
                dst.copy_from_slice(b"Lavf");
            }
            e
        }
    };
    let d = spec.delay.min(0x0FFF);
    let p = spec.padding.min(0x0FFF);
    ext[21] = (d >> 4) as u8;
    ext[22] = (((d & 0x0F) << 4) as u8) | ((p >> 8) as u8);
    ext[23] = (p & 0xFF) as u8;
    ext[28..32].copy_from_slice(&spec.bytes.to_be_bytes());
    ext[32] = 0;
    ext[33] = 0;
    put(lame_at, &ext);
    let crc_at = lame_at + 34;
    let crc = crc16(frame.get(..crc_at).unwrap_or_default());
    if let Some(dst) = frame.get_mut(crc_at..crc_at + 2) {
        dst.copy_from_slice(&crc.to_be_bytes());
    }
    frame
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mp3::header::parse_frame_header;

    #[test]
    fn a_written_info_frame_reads_back_with_the_same_fields() {
        let template = parse_frame_header(0xFFE3_28C4).unwrap(); // 8 kHz mono 16 kbps
        let h = choose_info_header(&template, Some(template.bitrate_index)).unwrap();
        assert!(
            h.frame_len() >= 4 + 9 + 156,
            "frame {} too small",
            h.frame_len()
        );
        assert_eq!(h.bitrate_kbps, 24, "smallest fitting MPEG-2.5 bitrate");
        let sizes = vec![144u16; 1000];
        let total = h.frame_len() as u64 + 144_000;
        let toc = build_toc(1000, sizes, h.frame_len() as u64, total);
        let spec = InfoFrameSpec {
            header: h,
            kind: InfoKind::Info,
            frames: 1000,
            bytes: total as u32,
            toc,
            lame_template: None,
            delay: 576,
            padding: 123,
        };
        let frame = build_info_frame(&spec);
        let tag = try_read_info_tag(&frame, &h).unwrap();
        assert_eq!(tag.kind, InfoKind::Info);
        assert_eq!(tag.frames, Some(1000));
        assert_eq!(tag.bytes, Some(total as u32));
        assert_eq!(tag.toc, Some(toc));
        let lame = tag.lame.unwrap();
        assert_eq!((lame.delay, lame.padding), (576, 123));
    }

    #[test]
    fn the_toc_of_equal_frames_is_linear() {
        let sizes = vec![100u16; 100];
        let toc = build_toc(100, sizes, 0, 10_000);
        for (i, v) in toc.iter().enumerate() {
            assert_eq!(usize::from(*v), i * 256 / 100);
        }
    }
}
