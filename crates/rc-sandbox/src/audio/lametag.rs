//! Rewrites the Xing/Info + LAME tag frame after the sandbox has lengthened
//! LAME's stream by repeating frames: frame and byte counts, seek table
//! (TOC, rebuilt the way LAME builds it), music length, music CRC and tag CRC.

use std::ops::Range;

use super::frames::{self, Version};

/// Size of LAME's seek-table bag (`VBR_seek_info_t.size`).
const BAG_SIZE: usize = 400;

/// Where the fields of a tag frame live.
struct Layout {
    /// Offset of `Xing`/`Info`.
    xing: usize,
    /// Offset of the LAME extension (after frames, bytes, TOC, quality).
    lame: usize,
}

fn layout(frame: &[u8], version: Version) -> Option<Layout> {
    let xing = 4 + version.mono_side_info_len();
    let id = frame.get(xing..xing + 4)?;
    if id != b"Xing" && id != b"Info" {
        return None;
    }
    let flags = u32::from_be_bytes(frame.get(xing + 4..xing + 8)?.try_into().ok()?);
    // LAME always writes all four fields; anything else is not its tag.
    if flags & 0xF != 0xF {
        return None;
    }
    let lame = xing + 8 + 4 + 4 + 100 + 4;
    if frame.get(lame..lame + 4)? != b"LAME" || frame.len() < lame + 36 {
        return None;
    }
    Some(Layout { xing, lame })
}

/// Recomputes every length-dependent field of the tag frame at
/// `stream[frames[0]]` for the stream as it now is. Returns false (and
/// leaves the stream alone) if the first frame is not a LAME tag.
pub(crate) fn rewrite(stream: &mut [u8], frames: &[Range<usize>]) -> bool {
    let Some((tag, audio)) = frames.split_first() else {
        return false;
    };
    let Some(version) = stream
        .get(tag.clone())
        .and_then(frames::header)
        .map(|h| h.version)
    else {
        return false;
    };
    let Some(l) = stream.get(tag.clone()).and_then(|f| layout(f, version)) else {
        return false;
    };
    let total_bytes = stream.len();
    let kbps: Vec<u32> = audio
        .iter()
        .map(|r| frame_kbps(&stream[r.clone()], version))
        .collect();
    let toc = seek_table(&kbps);
    let music_crc = audio
        .first()
        .map(|first| crc16(0, &stream[first.start..]))
        .unwrap_or(0);

    let frame = &mut stream[tag.clone()];
    let count = u32::try_from(audio.len()).unwrap_or(u32::MAX);
    let bytes = u32::try_from(total_bytes).unwrap_or(u32::MAX);
    frame[l.xing + 8..l.xing + 12].copy_from_slice(&count.to_be_bytes());
    frame[l.xing + 12..l.xing + 16].copy_from_slice(&bytes.to_be_bytes());
    frame[l.xing + 16..l.xing + 116].copy_from_slice(&toc);
    frame[l.lame + 28..l.lame + 32].copy_from_slice(&bytes.to_be_bytes());
    frame[l.lame + 32..l.lame + 34].copy_from_slice(&music_crc.to_be_bytes());
    let tag_crc = crc16(0, &frame[..l.lame + 34]);
    frame[l.lame + 34..l.lame + 36].copy_from_slice(&tag_crc.to_be_bytes());
    true
}

/// Bitrate of a frame from its header's bitrate index.
fn frame_kbps(frame: &[u8], version: Version) -> u32 {
    frame
        .get(2)
        .and_then(|b| version.bitrates().get(usize::from(b >> 4).checked_sub(1)?))
        .copied()
        .unwrap_or(0)
}

/// LAME's TOC: cumulative bitrate sums sampled into a bag of 400 entries
/// that halves its resolution when full, then read at each percent.
fn seek_table(kbps: &[u32]) -> [u8; 100] {
    let mut bag = [0u64; BAG_SIZE];
    let (mut pos, mut want, mut seen, mut sum) = (0usize, 1usize, 0usize, 0u64);
    for k in kbps {
        sum += u64::from(*k);
        seen += 1;
        if seen < want {
            continue;
        }
        if pos < BAG_SIZE {
            bag[pos] = sum;
            pos += 1;
            seen = 0;
        }
        if pos == BAG_SIZE {
            let mut i = 1;
            while i < BAG_SIZE {
                bag[i / 2] = bag[i];
                i += 2;
            }
            want *= 2;
            pos /= 2;
        }
    }
    let mut toc = [0u8; 100];
    if pos == 0 || sum == 0 {
        return toc;
    }
    for (i, t) in toc.iter_mut().enumerate().skip(1) {
        let j = i as f32 / 100.0;
        let index = ((j * pos as f32).floor() as usize).min(pos - 1);
        let point = (256.0 * bag[index] as f64 / sum as f64) as u32;
        *t = point.min(255) as u8;
    }
    toc
}

/// CRC-16 (polynomial 0x8005, reflected, initial 0) as LAME computes it.
pub(crate) fn crc16(mut crc: u16, data: &[u8]) -> u16 {
    for b in data {
        crc ^= u16::from(*b);
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
