//! The stitch crate's one integration-test binary: a specification of the joiner.

mod helpers;

// Lossless MP3: durations, Info/Xing header, TOC, chapters, tone order.
mod mp3_lossless;
// Lossless WAV: PCM and mu-law, gaps.
mod wav_lossless;
// Re-encode fallback: mixed rates and containers.
mod reencode;
// Bad inputs: errors naming the leg, no output left behind.
mod bad_inputs;
// Never panics on arbitrary bytes; header round trip.
mod properties;
