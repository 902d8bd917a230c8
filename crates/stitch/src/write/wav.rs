//! The lossless WAV path: one new header, the legs' samples copied, silence
//! in the gaps.

use std::io::{Read, Seek};

use super::{Prepared, Written};
use crate::error::Error;
use crate::layout::{ms_to_units, place_in_order};
use crate::plan::Input;
use crate::sink::FrameSink;
use crate::wav;

/// Copies WAV legs of one copyable format under one header.
pub(crate) fn lossless_wav<R: Read + Seek, S: FrameSink + ?Sized>(
    legs: Vec<Prepared<R>>,
    sink: &mut S,
) -> Result<Written, Error> {
    let mut parts = Vec::with_capacity(legs.len());
    for p in legs {
        if let Input::Wav(info) = p.input {
            parts.push((p.index, p.reader, info, p.gap_ms));
        }
    }
    let format = parts
        .first()
        .map(|p| p.2.format)
        .ok_or(Error::NothingToJoin)?;
    let rate = u64::from(format.sample_rate);
    let align = format.block_align();
    let placements = place_in_order(
        parts
            .iter()
            .map(|(index, _, info, gap_ms)| (*index, ms_to_units(*gap_ms, rate), info.frames())),
    );
    let frames = placements.last().map_or(0, |p| p.start + p.len);
    let data_len = frames.saturating_mul(align);
    sink.write_bytes(&wav::wav_header(&format, data_len)?)?;
    for ((index, reader, info, _), pl) in parts.iter_mut().zip(&placements) {
        wav::write_silence(&format, pl.gap * align, sink)?;
        wav::copy_data(reader, info, sink).map_err(|e| e.in_leg(*index))?;
    }
    if data_len % 2 == 1 {
        sink.write_bytes(&[0])?;
    }
    Ok(Written {
        rate: format.sample_rate,
        channels: u8::try_from(format.channels).unwrap_or(u8::MAX),
        placements,
        content_type: "audio/wav",
    })
}
