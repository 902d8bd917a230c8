//! MPEG audio frame headers (ISO 11172-3 §2.4.1.3, ISO 13818-3 and the MPEG-2.5 extension).
//!
//! ```text
//! AAAAAAAA AAABBCCD EEEEFFGH IIJJKLMM
//! A sync (11 bits, all set)   B version (00 = 2.5, 01 reserved, 10 = 2, 11 = 1)
//! C layer (01 = III)          D protection (0 = a 16-bit CRC follows the header)
//! E bitrate index             F sample-rate index      G padding    H private
//! I channel mode (11 = mono)  J mode extension  K copyright  L original  M emphasis
//! ```
//!
//! Parsing is pure: [`parse_frame_header`] does no I/O. Only Layer III is
//! supported; Layer I/II and free-format frames are `Unsupported`.

use std::fmt;

use crate::error::{Error, malformed};

/// MPEG audio version (it fixes the sample-rate family and samples per frame).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MpegVersion {
    /// MPEG-1: 32, 44.1, 48 kHz; 1152 samples per frame.
    Mpeg1,
    /// MPEG-2 LSF: 16, 22.05, 24 kHz; 576 samples per frame.
    Mpeg2,
    /// MPEG-2.5: 8, 11.025, 12 kHz; 576 samples per frame.
    Mpeg25,
}

/// Channel mode of a frame. Stereo, joint stereo and dual channel all carry two channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelMode {
    /// Two independent channels.
    Stereo,
    /// Two channels with mid/side or intensity coding.
    JointStereo,
    /// Two unrelated mono channels.
    DualChannel,
    /// One channel.
    Mono,
}

impl ChannelMode {
    /// Number of audio channels.
    pub fn channels(self) -> u8 {
        if self == ChannelMode::Mono { 1 } else { 2 }
    }
}

/// A parsed Layer III frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// MPEG version.
    pub version: MpegVersion,
    /// True when a 16-bit CRC follows the header.
    pub has_crc: bool,
    /// Index into the bitrate table (1..=14).
    pub bitrate_index: u8,
    /// Bitrate in kbit/s.
    pub bitrate_kbps: u32,
    /// Index into the sample-rate table (0..=2).
    pub sample_rate_index: u8,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// True when the frame has one padding byte.
    pub padding: bool,
    /// The private bit (kept only so a header can be rebuilt bit for bit).
    pub private: bool,
    /// Channel mode.
    pub channel_mode: ChannelMode,
    /// Mode extension bits (joint stereo only).
    pub mode_extension: u8,
    /// Copyright bit.
    pub copyright: bool,
    /// Original bit.
    pub original: bool,
    /// Emphasis (0 none, 1 50/15 µs, 3 CCITT J.17; 2 is reserved and rejected).
    pub emphasis: u8,
}

const BITRATES_V1: [u32; 15] = [
    0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
];
const BITRATES_V2: [u32; 15] = [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160];
const RATES_V1: [u32; 3] = [44_100, 48_000, 32_000];
const RATES_V2: [u32; 3] = [22_050, 24_000, 16_000];
const RATES_V25: [u32; 3] = [11_025, 12_000, 8_000];

/// Length of the frame header in bytes.
pub const HEADER_LEN: usize = 4;

/// True when `word` starts with the 11-bit frame sync.
pub fn has_sync(word: u32) -> bool {
    word & 0xFFE0_0000 == 0xFFE0_0000
}

/// Parses a 4-byte big-endian frame header word.
///
/// Errors: `Malformed` for a missing sync or reserved values, `Unsupported`
/// for Layer I/II and free-format (bitrate index 0) frames.
pub fn parse_frame_header(word: u32) -> Result<FrameHeader, Error> {
    if !has_sync(word) {
        return malformed("mp3: no frame sync", 0);
    }
    let version = match (word >> 19) & 0b11 {
        0b00 => MpegVersion::Mpeg25,
        0b10 => MpegVersion::Mpeg2,
        0b11 => MpegVersion::Mpeg1,
        _ => return malformed("mp3: reserved MPEG version", 0),
    };
    match (word >> 17) & 0b11 {
        0b01 => {}
        0b00 => return malformed("mp3: reserved MPEG layer", 0),
        _ => return Err(Error::Unsupported("mp3: only MPEG Layer III is supported")),
    }
    let has_crc = (word >> 16) & 1 == 0;
    let bitrate_index = ((word >> 12) & 0xF) as u8;
    let table = if version == MpegVersion::Mpeg1 {
        &BITRATES_V1
    } else {
        &BITRATES_V2
    };
    let bitrate_kbps = match table.get(usize::from(bitrate_index)) {
        Some(0) => {
            return Err(Error::Unsupported(
                "mp3: free-format bitrate is not supported",
            ));
        }
        Some(b) => *b,
        None => return malformed("mp3: invalid bitrate index", 0),
    };
    let sample_rate_index = ((word >> 10) & 0b11) as u8;
    let rates = match version {
        MpegVersion::Mpeg1 => &RATES_V1,
        MpegVersion::Mpeg2 => &RATES_V2,
        MpegVersion::Mpeg25 => &RATES_V25,
    };
    let Some(&sample_rate) = rates.get(usize::from(sample_rate_index)) else {
        return malformed("mp3: reserved sample rate", 0);
    };
    let channel_mode = match (word >> 6) & 0b11 {
        0b00 => ChannelMode::Stereo,
        0b01 => ChannelMode::JointStereo,
        0b10 => ChannelMode::DualChannel,
        _ => ChannelMode::Mono,
    };
    let emphasis = (word & 0b11) as u8;
    if emphasis == 0b10 {
        return malformed("mp3: reserved emphasis", 0);
    }
    Ok(FrameHeader {
        version,
        has_crc,
        bitrate_index,
        bitrate_kbps,
        sample_rate_index,
        sample_rate,
        padding: (word >> 9) & 1 == 1,
        private: (word >> 8) & 1 == 1,
        channel_mode,
        mode_extension: ((word >> 4) & 0b11) as u8,
        copyright: (word >> 3) & 1 == 1,
        original: (word >> 2) & 1 == 1,
        emphasis,
    })
}

impl FrameHeader {
    /// Rebuilds the 32-bit header word; `parse_frame_header(h.to_word()) == Ok(h)`.
    pub fn to_word(&self) -> u32 {
        let version = match self.version {
            MpegVersion::Mpeg25 => 0b00,
            MpegVersion::Mpeg2 => 0b10,
            MpegVersion::Mpeg1 => 0b11,
        };
        let mode = match self.channel_mode {
            ChannelMode::Stereo => 0b00,
            ChannelMode::JointStereo => 0b01,
            ChannelMode::DualChannel => 0b10,
            ChannelMode::Mono => 0b11,
        };
        0xFFE0_0000
            | version << 19
            | 0b01 << 17
            | u32::from(!self.has_crc) << 16
            | u32::from(self.bitrate_index & 0xF) << 12
            | u32::from(self.sample_rate_index & 0b11) << 10
            | u32::from(self.padding) << 9
            | u32::from(self.private) << 8
            | mode << 6
            | u32::from(self.mode_extension & 0b11) << 4
            | u32::from(self.copyright) << 3
            | u32::from(self.original) << 2
            | u32::from(self.emphasis & 0b11)
    }

    /// PCM samples per channel that one frame decodes to.
    pub fn samples_per_frame(&self) -> u32 {
        if self.version == MpegVersion::Mpeg1 {
            1152
        } else {
            576
        }
    }

    /// Number of channels (1 or 2).
    pub fn channels(&self) -> u8 {
        self.channel_mode.channels()
    }

    /// Total frame length in bytes, header included.
    pub fn frame_len(&self) -> usize {
        let slot_factor: u32 = if self.version == MpegVersion::Mpeg1 {
            144
        } else {
            72
        };
        // bitrate ≤ 320, factor ≤ 144: the product fits easily; sample_rate ≥ 8000.
        let base = slot_factor * self.bitrate_kbps * 1000 / self.sample_rate;
        base as usize + usize::from(self.padding)
    }

    /// Length of the side information that follows the header (and CRC).
    pub fn side_info_len(&self) -> usize {
        match (self.version, self.channel_mode) {
            (MpegVersion::Mpeg1, ChannelMode::Mono) => 17,
            (MpegVersion::Mpeg1, _) => 32,
            (_, ChannelMode::Mono) => 9,
            (_, _) => 17,
        }
    }

    /// The same header with another bitrate index (for the Xing frame and silence).
    pub fn with_bitrate_index(&self, index: u8) -> Option<FrameHeader> {
        let mut word = self.to_word();
        word = (word & !(0xF << 12)) | (u32::from(index & 0xF) << 12);
        parse_frame_header(word).ok()
    }

    /// The stream parameters that must agree for a lossless join.
    pub fn stream_format(&self) -> StreamFormat {
        StreamFormat {
            version: self.version,
            sample_rate: self.sample_rate,
            channels: self.channels(),
        }
    }
}

/// What must be equal across MP3 legs to copy their frames into one stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamFormat {
    /// MPEG version.
    pub version: MpegVersion,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u8,
}

impl fmt::Display for MpegVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MpegVersion::Mpeg1 => "MPEG-1",
            MpegVersion::Mpeg2 => "MPEG-2",
            MpegVersion::Mpeg25 => "MPEG-2.5",
        })
    }
}

impl fmt::Display for StreamFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ch = if self.channels == 1 { "mono" } else { "stereo" };
        write!(
            f,
            "mp3 {} Layer III {} Hz {}",
            self.version, self.sample_rate, ch
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_8khz_mono_32kbps_header_parses_as_mpeg_2_5_with_a_144_byte_frame() {
        // FF E3 = sync + MPEG-2.5 + Layer III + no CRC; 0x48 = bitrate 4 (32 kbps), rate 2 (8 kHz)
        let h = parse_frame_header(0xFFE3_48C4).unwrap();
        assert_eq!(h.version, MpegVersion::Mpeg25);
        assert_eq!(h.sample_rate, 8000);
        assert_eq!(h.bitrate_kbps, 32);
        assert_eq!(h.channel_mode, ChannelMode::Mono);
        assert_eq!(h.frame_len(), 288);
        assert_eq!(h.samples_per_frame(), 576);
        assert_eq!(h.to_word(), 0xFFE3_48C4);
    }

    #[test]
    fn a_44k_stereo_128kbps_header_has_a_417_byte_frame() {
        let h = parse_frame_header(0xFFFB_9000).unwrap();
        assert_eq!(h.version, MpegVersion::Mpeg1);
        assert_eq!(h.sample_rate, 44_100);
        assert_eq!(h.frame_len(), 417);
        assert_eq!(h.samples_per_frame(), 1152);
    }

    #[test]
    fn reserved_and_unsupported_values_are_rejected_with_their_kind() {
        assert!(matches!(
            parse_frame_header(0),
            Err(Error::Malformed { .. })
        ));
        assert!(matches!(
            parse_frame_header(0xFFEB_9000),
            Err(Error::Malformed { .. })
        )); // version 01
        assert!(matches!(
            parse_frame_header(0xFFFD_9000),
            Err(Error::Unsupported(_))
        )); // layer II
        assert!(matches!(
            parse_frame_header(0xFFFB_0000),
            Err(Error::Unsupported(_))
        )); // free format
        assert!(matches!(
            parse_frame_header(0xFFFB_F000),
            Err(Error::Malformed { .. })
        )); // bitrate 15
        assert!(matches!(
            parse_frame_header(0xFFFB_9C00),
            Err(Error::Malformed { .. })
        )); // rate 3
    }
}
