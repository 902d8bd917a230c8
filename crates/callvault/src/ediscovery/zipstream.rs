//! A zip written as a stream of chunks into a bounded channel: each entry
//! is hashed as it is written, and the bytes leave as soon as the zip
//! writer produces them, so memory holds one chunk, not the bundle.

use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

/// The receiving end went away (the client disconnected, the file writer
/// failed).
#[derive(Debug, thiserror::Error)]
pub enum ZipStreamError {
    /// The zip writer failed.
    #[error("writing the zip")]
    Zip(#[from] zip::result::ZipError),
    /// Writing into the zip failed.
    #[error("writing the zip")]
    Io(#[from] std::io::Error),
    /// Nobody reads the bundle any more.
    #[error("the bundle's reader went away")]
    Closed,
}

/// What the zip writer wrote since the last drain.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One file written into the bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WrittenFile {
    /// Path inside the zip.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// sha256, hex.
    pub sha256: String,
}

/// A zip being streamed out.
pub struct ZipStream {
    zip: ZipWriter<StreamWriter<Pending>>,
    pending: Pending,
    out: mpsc::Sender<std::io::Result<Bytes>>,
    open: Option<(String, Sha256, u64)>,
    /// Bytes sent so far.
    pub sent: u64,
}

fn options() -> SimpleFileOptions {
    // Stored: recordings are already compressed, and stored entries cost
    // no CPU. Large-file (zip64) headers so no entry size is a limit.
    SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .large_file(true)
}

impl ZipStream {
    /// A zip whose bytes go to `out`.
    pub fn new(out: mpsc::Sender<std::io::Result<Bytes>>) -> Self {
        let pending = Pending::default();
        ZipStream {
            zip: ZipWriter::new_stream(pending.clone()),
            pending,
            out,
            open: None,
            sent: 0,
        }
    }

    /// Starts the entry `path`; the previous one must be finished.
    pub fn start(&mut self, path: &str) -> Result<(), ZipStreamError> {
        self.zip.start_file(path, options())?;
        self.open = Some((path.to_owned(), Sha256::new(), 0));
        Ok(())
    }

    /// Appends `chunk` to the open entry and sends what is ready.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), ZipStreamError> {
        if let Some((_, hasher, size)) = &mut self.open {
            hasher.update(chunk);
            *size += chunk.len() as u64;
        }
        self.zip.write_all(chunk)?;
        self.drain().await
    }

    /// Ends the open entry: its path, size and hash.
    pub async fn finish_entry(&mut self) -> Result<WrittenFile, ZipStreamError> {
        let (path, hasher, size) =
            self.open
                .take()
                .ok_or(ZipStreamError::Io(std::io::Error::other(
                    "no open zip entry",
                )))?;
        Ok(WrittenFile {
            path,
            size,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// One whole entry from bytes in memory (small files only).
    pub async fn add(&mut self, path: &str, bytes: &[u8]) -> Result<WrittenFile, ZipStreamError> {
        self.start(path)?;
        self.write(bytes).await?;
        self.finish_entry().await
    }

    /// Writes the central directory and sends the rest.
    pub async fn finish(self) -> Result<u64, ZipStreamError> {
        let ZipStream {
            zip,
            pending,
            out,
            mut sent,
            ..
        } = self;
        zip.finish()?;
        drain(&pending, &out, &mut sent).await?;
        Ok(sent)
    }

    async fn drain(&mut self) -> Result<(), ZipStreamError> {
        drain(&self.pending, &self.out, &mut self.sent).await
    }
}

/// Sends what the zip writer produced, waiting while the reader is behind.
async fn drain(
    pending: &Pending,
    out: &mpsc::Sender<std::io::Result<Bytes>>,
    sent: &mut u64,
) -> Result<(), ZipStreamError> {
    let ready = {
        let mut pending = pending
            .0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?;
        std::mem::take(&mut *pending)
    };
    if ready.is_empty() {
        return Ok(());
    }
    *sent += ready.len() as u64;
    out.send(Ok(Bytes::from(ready)))
        .await
        .map_err(|_| ZipStreamError::Closed)
}
