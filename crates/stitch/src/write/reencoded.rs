//! The re-encode path: decode, resample and encode every leg
//! ([`crate::reencode`]), then wrap the stream in its container's header and
//! chapters.

use std::io::{Read, Seek, SeekFrom};

use super::mp3::{Resampled, write_mp3};
use super::{Prepared, Written};
use crate::error::Error;
use crate::flac;
use crate::layout::{LegMeta, chapter_marks};
use crate::mp3::join::{self as mp3join, Mp3Part};
use crate::options::JoinOptions;
use crate::plan::Target;
use crate::reencode::{self, DecodeLeg};
use crate::sink::{FrameSink, SinkWriter};
use crate::wav::{self, WavFormat, WavInfo};

/// Re-encodes `legs` into `target` (always mono).
pub(crate) fn reencoded<R: Read + Seek + Send + Sync, S: FrameSink + ?Sized>(
    legs: Vec<Prepared<R>>,
    target: Target,
    metas: &[LegMeta],
    options: &JoinOptions,
    sink: &mut S,
) -> Result<Written, Error> {
    let legs: Vec<DecodeLeg<R>> = legs
        .into_iter()
        .map(|p| DecodeLeg {
            index: p.index,
            rate: p.input.format().sample_rate(),
            reader: p.reader,
            gap_ms: p.gap_ms,
        })
        .collect();
    let encoded = reencode::encode(legs, target)?;
    let rate = encoded.rate;
    let placements = encoded.placements;
    let mut file = encoded.file;
    let content_type = match target {
        Target::Mp3 => {
            let (scan, file) = mp3join::scan(file)?;
            let part = Mp3Part {
                index: 0,
                reader: file,
                scan,
                gap_frames: 0,
            };
            let resampled = Resampled {
                placements: placements.clone(),
                delay: encoded.delay,
                padding: encoded.padding,
            };
            write_mp3(vec![part], Some(resampled), metas, options, sink)?;
            "audio/mpeg"
        }
        Target::Wav => {
            let len = file.seek(SeekFrom::End(0))?;
            let format = WavFormat {
                tag: wav::TAG_PCM,
                channels: 1,
                sample_rate: rate,
                bits: 16,
            };
            sink.write_bytes(&wav::wav_header(&format, len)?)?;
            let info = WavInfo {
                format,
                data_start: 0,
                data_len: len,
            };
            wav::copy_data(&mut file, &info, sink)?;
            if len % 2 == 1 {
                sink.write_bytes(&[0])?;
            }
            "audio/wav"
        }
        Target::Flac => {
            let summary = encoded
                .flac
                .ok_or(Error::Unsupported("internal: FLAC without STREAMINFO"))?;
            let marks = if options.chapters {
                chapter_marks(metas, &placements, u64::from(rate))
            } else {
                Vec::new()
            };
            sink.write_bytes(&flac::header(&summary, options.title.as_deref(), &marks)?)?;
            std::io::copy(&mut file, &mut SinkWriter(&mut *sink))?;
            "audio/flac"
        }
    };
    Ok(Written {
        rate,
        channels: 1,
        placements,
        content_type,
    })
}
