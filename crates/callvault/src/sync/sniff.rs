//! Tells audio containers apart by their first bytes, never by a header or a
//! file name: a `Content-Type` from the network is a claim, the bytes are
//! evidence.

/// A recording container we store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    /// MPEG audio (optionally behind an ID3v2 tag).
    Mp3,
    /// RIFF/WAVE.
    Wav,
}

impl Container {
    /// The MIME type we record for it.
    pub fn content_type(self) -> &'static str {
        match self {
            Container::Mp3 => "audio/mpeg",
            Container::Wav => "audio/wav",
        }
    }

    /// The blob extension.
    pub fn ext(self) -> vault::BlobExt {
        match self {
            Container::Mp3 => vault::BlobExt::Mp3,
            Container::Wav => vault::BlobExt::Wav,
        }
    }
}

/// Bytes needed to decide.
pub const NEEDED: usize = 12;

/// The container of a body starting with `head`, or `None` if it is not audio we know.
pub fn sniff(head: &[u8]) -> Option<Container> {
    match head {
        [b'I', b'D', b'3', ..] => Some(Container::Mp3),
        [0xFF, b, ..] if b & 0xE0 == 0xE0 => Some(Container::Mp3),
        [
            b'R',
            b'I',
            b'F',
            b'F',
            _,
            _,
            _,
            _,
            b'W',
            b'A',
            b'V',
            b'E',
            ..,
        ] => Some(Container::Wav),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audio_is_recognised_by_its_bytes_and_everything_else_is_not() {
        assert_eq!(
            sniff(b"ID3\x04\x00\x00\x00\x00\x00\x00\x00\x00"),
            Some(Container::Mp3)
        );
        assert_eq!(sniff(&[0xFF, 0xE3, 0x18, 0xC4]), Some(Container::Mp3));
        assert_eq!(sniff(b"RIFF\x24\x00\x00\x00WAVEfmt "), Some(Container::Wav));
        for bad in [
            &b""[..],
            b"<html>",
            b"{\"errors\":[]}",
            b"RIFF\x24\x00\x00\x00AVI ",
            &[0xFF, 0x00],
        ] {
            assert_eq!(sniff(bad), None, "{bad:?}");
        }
    }
}
