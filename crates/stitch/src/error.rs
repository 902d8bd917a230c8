//! The one error type of the crate, split by cause (as Symphonia does).

/// Everything that can go wrong while reading legs or writing the joined file.
///
/// Callers branch on the variant: `Malformed` and `Unsupported` reject an input,
/// `Incompatible` explains why the lossless path was not possible (the joiner
/// itself then falls back to re-encoding), `Io` is the environment. When the
/// joiner knows which input caused an error it wraps it in [`Error::Leg`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The bytes break the format's rules; `what` starts with `mp3:` or `wav:`.
    #[error("{what} (at byte {offset})")]
    Malformed {
        /// What is wrong, prefixed with the format (`mp3: truncated frame`).
        what: &'static str,
        /// Absolute byte offset in the input where the problem was found.
        offset: u64,
    },
    /// Valid data that this crate does not handle (free-format MP3, Layer I/II, …).
    #[error("{0}")]
    Unsupported(&'static str),
    /// A guard against absurd sizes (for example a WAV output over 4 GiB).
    #[error("{0}")]
    Limit(&'static str),
    /// Two legs cannot be joined losslessly; the fields describe each side.
    #[error("incompatible legs: {left} vs {right}")]
    Incompatible {
        /// The format of the earlier leg, e.g. `MPEG-2.5 Layer III 8000 Hz mono`.
        left: String,
        /// The format of the later leg.
        right: String,
    },
    /// The decoder (symphonia) rejected a leg on the re-encode path.
    #[error("decode: {0}")]
    Decode(String),
    /// The encoder (LAME, flacenc) failed on the re-encode path.
    #[error("encode: {0}")]
    Encode(String),
    /// `join` was called with no leg that has audio.
    #[error("nothing to join: no leg has audio")]
    NothingToJoin,
    /// An I/O error from an input or the output.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// An error attributed to one input leg (0-based index in the caller's list).
    #[error("leg {index}: {source}")]
    Leg {
        /// 0-based position of the leg in the list given to `join`.
        index: usize,
        /// What went wrong with it.
        source: Box<Error>,
    },
}

impl Error {
    /// Wraps `self` as an error of leg `index` (unless it already names a leg).
    pub fn in_leg(self, index: usize) -> Error {
        match self {
            Error::Leg { .. } => self,
            other => Error::Leg {
                index,
                source: Box::new(other),
            },
        }
    }

    /// The leg this error is attributed to, if any.
    pub fn leg_index(&self) -> Option<usize> {
        match self {
            Error::Leg { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// The innermost error, without the leg wrapper.
    pub fn cause(&self) -> &Error {
        match self {
            Error::Leg { source, .. } => source.cause(),
            other => other,
        }
    }
}

/// Shorthand for a `Malformed` error.
pub(crate) fn malformed<T>(what: &'static str, offset: u64) -> Result<T, Error> {
    Err(Error::Malformed { what, offset })
}
