//! MP3 (MPEG audio Layer III): frame headers, the frame reader, Xing/Info/LAME
//! tags, silent frames and the lossless joiner.

pub mod header;
pub(crate) mod join;
pub mod reader;
pub mod silence;
pub mod xing;
