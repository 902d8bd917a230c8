//! The lossless MP3 path: scan every leg, then write chapters, one new Info
//! frame and the legs' audio frames unchanged.

use std::io::{Read, Seek, SeekFrom};

use super::header::{FrameHeader, StreamFormat};
use super::reader::Mp3Reader;
use super::silence::null_frame;
use super::xing::{
    InfoFrameSpec, InfoKind, InfoTag, build_info_frame, build_toc, choose_info_header,
};
use crate::error::{Error, malformed};
use crate::sink::FrameSink;

/// What the first pass learns about one MP3 leg.
#[derive(Debug, Clone)]
pub(crate) struct Mp3Scan {
    pub format: StreamFormat,
    pub first: FrameHeader,
    pub frames: u64,
    /// The common bitrate index, or `None` when the leg is VBR.
    pub cbr_index: Option<u8>,
    pub info: Option<InfoTag>,
    pub junk: u64,
    /// Size of each audio frame, for the output's seek table.
    pub sizes: Vec<u16>,
}

/// First pass over one leg: walks all frames; leaves the reader at its start.
pub(crate) fn scan<R: Read + Seek>(reader: R) -> Result<(Mp3Scan, R), Error> {
    let mut r = Mp3Reader::new(reader)?;
    let mut first: Option<FrameHeader> = None;
    let mut cbr_index = None;
    let mut vbr = false;
    let mut sizes = Vec::new();
    while let Some(f) = r.next_frame()? {
        if first.is_none() {
            first = Some(f.header);
            cbr_index = Some(f.header.bitrate_index);
        } else if cbr_index != Some(f.header.bitrate_index) {
            vbr = true;
        }
        let size = u16::try_from(f.data.len())
            .map_err(|_| Error::Limit("mp3: frame larger than 64 KiB"))?;
        sizes.push(size);
    }
    let Some(first) = first else {
        return malformed("mp3: no audio frames found", 0);
    };
    let scan = Mp3Scan {
        format: first.stream_format(),
        first,
        frames: r.frames_read(),
        cbr_index: if vbr { None } else { cbr_index },
        info: r.info_tag().cloned(),
        junk: r.junk_bytes(),
        sizes,
    };
    let mut inner = r.into_inner();
    inner.seek(SeekFrom::Start(0))?;
    Ok((scan, inner))
}

/// One leg ready for the second pass.
pub(crate) struct Mp3Part<R> {
    pub index: usize,
    pub reader: R,
    pub scan: Mp3Scan,
    /// Null frames to write before this leg.
    pub gap_frames: u64,
}

/// The output's shape, known before any byte is written.
pub(crate) struct Mp3Layout {
    pub info_header: FrameHeader,
    pub silence: Vec<u8>,
    pub kind: InfoKind,
}

/// Decides the Info frame header, its kind and the null frame for the parts.
pub(crate) fn layout<R>(parts: &[Mp3Part<R>]) -> Result<Mp3Layout, Error> {
    let first = parts.first().ok_or(Error::NothingToJoin)?;
    let common = parts.iter().try_fold(first.scan.cbr_index, |acc, p| {
        match (acc, p.scan.cbr_index) {
            (Some(a), Some(b)) if a == b => Some(Some(a)),
            _ => None,
        }
    });
    let cbr = common.flatten();
    let silence_index = cbr.unwrap_or(1);
    let silence = null_frame(&first.scan.first, silence_index).ok_or(Error::Unsupported(
        "mp3: cannot build a null frame for this format",
    ))?;
    let info_header = choose_info_header(&first.scan.first, cbr)?;
    let kind = if cbr.is_some() {
        InfoKind::Info
    } else {
        InfoKind::Xing
    };
    Ok(Mp3Layout {
        info_header,
        silence,
        kind,
    })
}

/// Second pass: writes the Info frame and every leg's frames (with null frames for gaps).
/// `prefix` (the chapter tag) is written first.
pub(crate) fn write<R: Read + Seek, S: FrameSink + ?Sized>(
    parts: &mut [Mp3Part<R>],
    layout: &Mp3Layout,
    prefix: &[u8],
    trim: Option<(u16, u16)>,
    sink: &mut S,
) -> Result<(), Error> {
    let silence_len = u16::try_from(layout.silence.len())
        .map_err(|_| Error::Limit("mp3: null frame too large"))?;
    let mut frames: u64 = 0;
    let mut audio_bytes: u64 = 0;
    for p in parts.iter() {
        frames = frames
            .saturating_add(p.gap_frames)
            .saturating_add(p.scan.frames);
        audio_bytes = audio_bytes
            .saturating_add(p.gap_frames.saturating_mul(u64::from(silence_len)))
            .saturating_add(p.scan.sizes.iter().map(|s| u64::from(*s)).sum::<u64>());
    }
    let info_len = layout.info_header.frame_len() as u64;
    let total = audio_bytes.saturating_add(info_len);
    let frames32 = u32::try_from(frames).map_err(|_| Error::Limit("mp3: more than 2^32 frames"))?;
    let total32 =
        u32::try_from(total).map_err(|_| Error::Limit("mp3: output larger than 4 GiB"))?;
    let sizes = parts.iter().flat_map(|p| {
        std::iter::repeat_n(silence_len, usize::try_from(p.gap_frames).unwrap_or(0))
            .chain(p.scan.sizes.iter().copied())
    });
    let toc = build_toc(frames, sizes, info_len, total);
    let first = parts.first().ok_or(Error::NothingToJoin)?;
    let last = parts.last().ok_or(Error::NothingToJoin)?;
    let first_lame = first.scan.info.as_ref().and_then(|i| i.lame.as_ref());
    let template =
        first_lame.filter(|l| matches!(l.encoder.get(..4), Some(b"LAME" | b"Lavf" | b"Lavc")));
    let spec = InfoFrameSpec {
        header: layout.info_header,
        kind: layout.kind,
        frames: frames32,
        bytes: total32,
        toc,
        lame_template: template,
        delay: trim.map_or(first_lame.map_or(0, |l| l.delay), |t| t.0),
        padding: trim.map_or(
            last.scan
                .info
                .as_ref()
                .and_then(|i| i.lame.as_ref())
                .map_or(0, |l| l.padding),
            |t| t.1,
        ),
    };
    sink.write_bytes(prefix)?;
    sink.write_bytes(&build_info_frame(&spec))?;
    for p in parts.iter_mut() {
        for _ in 0..p.gap_frames {
            sink.write_bytes(&layout.silence)?;
        }
        let reader = &mut p.reader;
        reader.seek(SeekFrom::Start(0))?;
        let mut r = Mp3Reader::new(reader).map_err(|e| e.in_leg(p.index))?;
        let mut n = 0u64;
        while let Some(f) = r.next_frame().map_err(|e| e.in_leg(p.index))? {
            sink.write_bytes(f.data)?;
            n += 1;
        }
        if n != p.scan.frames {
            let e = Error::Malformed {
                what: "mp3: input changed between the two passes",
                offset: 0,
            };
            return Err(e.in_leg(p.index));
        }
    }
    Ok(())
}
