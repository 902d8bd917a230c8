//! A small look-ahead buffer over a `Read` with absolute offsets.
//!
//! Frame syncing needs to peek at the next frame's header before it accepts
//! the current one; this keeps at most a few frames in memory.

use std::io::{self, Read};

const CHUNK: usize = 64 * 1024;

/// A bounded read-ahead window: bytes `[base, base + buf.len())` of the input are in `buf`.
pub(crate) struct Window<R> {
    inner: R,
    buf: Vec<u8>,
    pos: usize,
    base: u64,
    limit: u64,
}

impl<R: Read> Window<R> {
    /// A window whose first byte is at absolute offset `start` and which never reads past `limit`.
    /// The reader must already be positioned at `start`.
    pub(crate) fn new(inner: R, start: u64, limit: u64) -> Self {
        Window {
            inner,
            buf: Vec::with_capacity(CHUNK),
            pos: 0,
            base: start,
            limit,
        }
    }

    /// Absolute offset of the next unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.base.saturating_add(self.pos as u64)
    }

    /// Makes at least `want` bytes available (fewer only at the limit) and returns them.
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        let have = self.buf.len().saturating_sub(self.pos);
        if have < want {
            if self.pos > 0 {
                self.buf.drain(..self.pos);
                self.base = self.base.saturating_add(self.pos as u64);
                self.pos = 0;
            }
            while self.buf.len() < want {
                let loaded_end = self.base.saturating_add(self.buf.len() as u64);
                let left = self.limit.saturating_sub(loaded_end);
                if left == 0 {
                    break;
                }
                let step = want.saturating_sub(self.buf.len()).max(CHUNK);
                let step = usize::try_from(left).map_or(step, |l| step.min(l));
                let old = self.buf.len();
                self.buf.resize(old.saturating_add(step), 0);
                let got = loop {
                    match self.inner.read(self.buf.get_mut(old..).unwrap_or_default()) {
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            self.buf.truncate(old);
                            return Err(e);
                        }
                    }
                };
                self.buf.truncate(old.saturating_add(got));
                if got == 0 {
                    // The input is shorter than its length said: treat as the end.
                    self.limit = loaded_end;
                    break;
                }
            }
        }
        Ok(self.buf.get(self.pos..).unwrap_or_default())
    }

    /// Marks `n` bytes as consumed (clamped to what is buffered) and returns them.
    pub(crate) fn consume(&mut self, n: usize) -> &[u8] {
        let start = self.pos;
        let end = start.saturating_add(n).min(self.buf.len());
        self.pos = end;
        self.buf.get(start..end).unwrap_or_default()
    }

    /// Gives the inner reader back.
    pub(crate) fn into_inner(self) -> R {
        self.inner
    }
}
