//! Just enough MPEG audio Layer III header parsing to split LAME's output
//! into frames and to find the Xing/Info tag inside the first one.

/// MPEG version of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// MPEG-1 (32, 44.1, 48 kHz), 1152 samples per frame.
    Mpeg1,
    /// MPEG-2 (16, 22.05, 24 kHz), 576 samples per frame.
    Mpeg2,
    /// MPEG-2.5 (8, 11.025, 12 kHz), 576 samples per frame.
    Mpeg25,
}

impl Version {
    /// The version whose sample-rate table holds `rate`.
    pub(crate) fn for_rate(rate: u32) -> Option<Version> {
        match rate {
            32000 | 44100 | 48000 => Some(Version::Mpeg1),
            16000 | 22050 | 24000 => Some(Version::Mpeg2),
            8000 | 11025 | 12000 => Some(Version::Mpeg25),
            _ => None,
        }
    }

    /// PCM samples one frame carries.
    pub(crate) fn samples_per_frame(self) -> usize {
        match self {
            Version::Mpeg1 => 1152,
            Version::Mpeg2 | Version::Mpeg25 => 576,
        }
    }

    /// Bytes of side information in a mono frame (where a Xing tag starts, after the header).
    pub(crate) fn mono_side_info_len(self) -> usize {
        match self {
            Version::Mpeg1 => 17,
            Version::Mpeg2 | Version::Mpeg25 => 9,
        }
    }

    /// Layer III bitrates (kbit/s) valid for this version.
    pub(crate) fn bitrates(self) -> &'static [u32] {
        match self {
            Version::Mpeg1 => &[
                32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320,
            ],
            Version::Mpeg2 | Version::Mpeg25 => {
                &[8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160]
            }
        }
    }

    /// Bytes of a frame without padding at `kbps` and `rate`.
    pub(crate) fn frame_len(self, kbps: u32, rate: u32) -> usize {
        let coeff: u64 = match self {
            Version::Mpeg1 => 144_000,
            Version::Mpeg2 | Version::Mpeg25 => 72_000,
        };
        (coeff * u64::from(kbps) / u64::from(rate.max(1))) as usize
    }
}

/// What a frame header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) version: Version,
    pub(crate) len: usize,
}

/// Parses a Layer III frame header at the start of `b`.
pub(crate) fn header(b: &[u8]) -> Option<Header> {
    let [b0, b1, b2, _b3, ..] = *b else {
        return None;
    };
    if b0 != 0xFF || b1 & 0xE0 != 0xE0 || (b1 >> 1) & 3 != 1 {
        return None;
    }
    let version = match (b1 >> 3) & 3 {
        0 => Version::Mpeg25,
        2 => Version::Mpeg2,
        3 => Version::Mpeg1,
        _ => return None,
    };
    let rates: [u32; 3] = match version {
        Version::Mpeg1 => [44100, 48000, 32000],
        Version::Mpeg2 => [22050, 24000, 16000],
        Version::Mpeg25 => [11025, 12000, 8000],
    };
    let rate = *rates.get(usize::from((b2 >> 2) & 3))?;
    let index = usize::from(b2 >> 4);
    if index == 0 || index == 15 {
        return None;
    }
    let kbps = *version.bitrates().get(index - 1)?;
    let padding = usize::from((b2 >> 1) & 1);
    Some(Header {
        version,
        len: version.frame_len(kbps, rate) + padding,
    })
}

/// Byte ranges of the frames of a clean stream (as LAME writes it). `None`
/// if anything but whole frames is found.
pub(crate) fn split(stream: &[u8]) -> Option<Vec<std::ops::Range<usize>>> {
    let mut out = Vec::with_capacity(stream.len() / 100 + 1);
    let mut pos = 0;
    while pos < stream.len() {
        let h = header(stream.get(pos..)?)?;
        let end = pos.checked_add(h.len)?;
        if h.len < 4 || end > stream.len() {
            return None;
        }
        out.push(pos..end);
        pos = end;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn telephony_header_parses() {
        // MPEG-2.5, Layer III, 16 kbit/s, 8 kHz, mono.
        let h = header(&[0xFF, 0xE3, 0x28, 0xC4]).unwrap();
        assert_eq!(h.version, Version::Mpeg25);
        assert_eq!(h.len, 144);
        assert_eq!(header(&[0xFF, 0xE3, 0xF8, 0xC4]), None);
    }
}
