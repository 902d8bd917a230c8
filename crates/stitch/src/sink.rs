//! Where joined bytes go: the [`FrameSink`] trait and its stock implementations.
//!
//! The joiner pushes bytes into a sink, as ripgrep's searcher pushes matches
//! into its `Sink`: the same code can feed a file, a sha256 hasher or a test
//! buffer, and [`Tee`] feeds two at once (the output file and its hash).

use std::io::Write;

use sha2::{Digest, Sha256};

use crate::error::Error;

/// Receives the output stream in order.
pub trait FrameSink {
    /// Takes the next bytes of the output (a tag, a frame, a block of samples).
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error>;

    /// Called once at the end; flushes buffered output.
    fn finish(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

impl<S: FrameSink + ?Sized> FrameSink for &mut S {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        (**self).write_bytes(bytes)
    }
    fn finish(&mut self) -> Result<(), Error> {
        (**self).finish()
    }
}

/// A sink over any `Write` (a `BufWriter<File>`, a `Vec<u8>`, a socket).
#[derive(Debug)]
pub struct WriteSink<W>(pub W);

impl<W: Write> FrameSink for WriteSink<W> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.write_all(bytes)?;
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.0.flush()?;
        Ok(())
    }
}

/// A sink that only hashes (sha256) and counts what passes through.
#[derive(Debug, Default, Clone)]
pub struct HashSink {
    hasher: Sha256,
    len: u64,
}

impl HashSink {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes seen so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The lowercase hex sha256 of everything written.
    pub fn hex(&self) -> String {
        hex::encode(self.hasher.clone().finalize())
    }
}

impl FrameSink for HashSink {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.hasher.update(bytes);
        self.len = self.len.saturating_add(bytes.len() as u64);
        Ok(())
    }
}

/// A sink that collects everything in memory (for tests and small outputs).
#[derive(Debug, Default, Clone)]
pub struct VecSink(pub Vec<u8>);

impl FrameSink for VecSink {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Feeds two sinks with the same bytes (e.g. the output file and its hash).
#[derive(Debug)]
pub struct Tee<A, B>(pub A, pub B);

impl<A: FrameSink, B: FrameSink> FrameSink for Tee<A, B> {
    fn write_bytes(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.write_bytes(bytes)?;
        self.1.write_bytes(bytes)
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.0.finish()?;
        self.1.finish()
    }
}

/// Adapts a sink to `std::io::Write` (for encoders that want a writer).
pub(crate) struct SinkWriter<'a, S: FrameSink + ?Sized>(pub &'a mut S);

impl<S: FrameSink + ?Sized> Write for SinkWriter<'_, S> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write_bytes(buf).map_err(std::io::Error::other)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
