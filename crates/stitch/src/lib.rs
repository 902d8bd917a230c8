//! Frame-level MP3/WAV joining.
//!
//! # Brief overview
//! (to be written with the crate: readers, the joiner, Xing/LAME rewriting,
//! chapters, and the decode/re-encode fallback.)
//!
//! # Does not
//! Touch the network, the catalog or RingCentral.
#![warn(missing_docs)]
