//! One writer per path: [`lossless_mp3`] and [`lossless_wav`] copy the legs'
//! audio unchanged, [`reencoded`] wraps the re-encoded stream. Each writes the
//! whole output (header, chapters, audio) into a sink and says where every leg
//! landed.

mod mp3;
mod reencoded;
mod wav;

pub(crate) use mp3::lossless_mp3;
pub(crate) use reencoded::reencoded;
pub(crate) use wav::lossless_wav;

use crate::layout::Placement;

/// A present leg after the first pass, ready for its writer.
pub(crate) struct Prepared<R> {
    /// 0-based position in the caller's list.
    pub index: usize,
    /// The leg's bytes, rewound.
    pub reader: R,
    /// What the first pass found.
    pub input: crate::plan::Input,
    /// Silence before the leg (ms).
    pub gap_ms: u64,
}

/// What a writer produced.
#[derive(Debug)]
pub(crate) struct Written {
    /// Output sample rate (the unit of the placements).
    pub rate: u32,
    /// Output channels.
    pub channels: u8,
    /// Where each present leg landed, in samples.
    pub placements: Vec<Placement>,
    /// MIME type of the output.
    pub content_type: &'static str,
}
