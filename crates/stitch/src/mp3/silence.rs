//! Silent ("null") frames for gaps in the lossless MP3 path.
//!
//! A null frame is a valid header, all-zero side information (so
//! `main_data_begin = 0` and `part2_3_length = 0`: it borrows nothing from the
//! bit reservoir) and zero fill. It decodes to digital silence on its own.
//! Encoded silence from LAME is not used: its frames lean on the reservoir.

use super::header::{FrameHeader, HEADER_LEN};

/// One null frame with the given header (CRC and padding are switched off).
pub fn null_frame(template: &FrameHeader, bitrate_index: u8) -> Option<Vec<u8>> {
    let mut h = *template;
    h.has_crc = false;
    h.padding = false;
    let h = h.with_bitrate_index(bitrate_index)?;
    let mut frame = vec![0u8; h.frame_len()];
    frame
        .get_mut(..HEADER_LEN)?
        .copy_from_slice(&h.to_word().to_be_bytes());
    Some(frame)
}
