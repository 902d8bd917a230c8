//! The lossless MP3 path (frames copied), and the same framing around a
//! re-encoded MP3 stream.

use std::io::{Read, Seek};

use super::{Prepared, Written};
use crate::chapters::id3_chapter_tag;
use crate::error::Error;
use crate::layout::{LegMeta, Placement, chapter_marks, ms_to_units, place_in_order};
use crate::mp3::join::{self as mp3join, Mp3Part};
use crate::options::JoinOptions;
use crate::plan::Input;
use crate::sink::FrameSink;

/// Samples placed by the re-encoder, with the LAME delay and padding to
/// record in the Info frame.
pub(super) struct Resampled {
    pub placements: Vec<Placement>,
    pub delay: u16,
    pub padding: u16,
}

/// Copies MP3 legs of one format: chapter tag, one Info frame, the frames.
pub(crate) fn lossless_mp3<R: Read + Seek, S: FrameSink + ?Sized>(
    legs: Vec<Prepared<R>>,
    metas: &[LegMeta],
    options: &JoinOptions,
    sink: &mut S,
) -> Result<Written, Error> {
    let parts = legs
        .into_iter()
        .map(|p| match p.input {
            Input::Mp3(scan) => {
                let spf = u64::from(scan.first.samples_per_frame());
                let gap_frames =
                    ms_to_units(p.gap_ms, u64::from(scan.format.sample_rate)) / spf.max(1);
                Ok(Mp3Part {
                    index: p.index,
                    reader: p.reader,
                    scan: *scan,
                    gap_frames,
                })
            }
            Input::Wav(_) => Err(Error::Unsupported("internal: WAV leg on the MP3 path")),
        })
        .collect::<Result<Vec<_>, Error>>()?;
    write_mp3(parts, None, metas, options, sink)
}

/// Writes `parts` as one MP3. With `resampled` the chapters come from those
/// sample placements and the LAME delay and padding are set explicitly;
/// without, each part is placed by its frame count.
pub(super) fn write_mp3<R: Read + Seek, S: FrameSink + ?Sized>(
    mut parts: Vec<Mp3Part<R>>,
    resampled: Option<Resampled>,
    metas: &[LegMeta],
    options: &JoinOptions,
    sink: &mut S,
) -> Result<Written, Error> {
    let first = parts.first().ok_or(Error::NothingToJoin)?;
    let rate = first.scan.format.sample_rate;
    let channels = first.scan.format.channels;
    let spf = u64::from(first.scan.first.samples_per_frame());
    let (placements, trim) = match resampled {
        Some(r) => (r.placements, Some((r.delay, r.padding))),
        None => {
            let placements = place_in_order(
                parts
                    .iter()
                    .map(|p| (p.index, p.gap_frames * spf, p.scan.frames * spf)),
            );
            (placements, None)
        }
    };
    let tag = if options.chapters {
        id3_chapter_tag(
            options.title.as_deref(),
            &chapter_marks(metas, &placements, u64::from(rate)),
        )?
    } else {
        Vec::new()
    };
    let layout = mp3join::layout(&parts)?;
    mp3join::write(&mut parts, &layout, &tag, trim, sink)?;
    Ok(Written {
        rate,
        channels,
        placements,
        content_type: "audio/mpeg",
    })
}
