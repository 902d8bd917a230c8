//! A pipe from the RingCentral client's `AsyncWrite` download sink to the
//! blob store's `Stream` upload source, so a recording streams from the
//! network into its blob without ever being buffered whole or touching a
//! second temporary file.
//!
//! The writer can end the stream with an error ([`ChunkWriter::fail`]): the
//! blob store then aborts the upload, so a failed download leaves nothing.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use tokio_util::sync::PollSender;

/// Chunks in flight between the two sides; bounds memory per download.
const DEPTH: usize = 8;

/// The download side of the pipe.
pub struct ChunkWriter {
    tx: PollSender<io::Result<Bytes>>,
}

/// Makes a pipe: the writer goes to the downloader, the stream to the blob store.
pub fn pipe() -> (ChunkWriter, BoxStream<'static, io::Result<Bytes>>) {
    let (tx, rx) = mpsc::channel(DEPTH);
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    })
    .boxed();
    (
        ChunkWriter {
            tx: PollSender::new(tx),
        },
        stream,
    )
}

impl ChunkWriter {
    /// Ends the stream with `error`, so the reader aborts instead of
    /// committing a partial body.
    pub async fn fail(self, error: io::Error) {
        if let Some(tx) = self.tx.get_ref() {
            // The reader may already be gone; then there is nothing to abort.
            let _ = tx.send(Err(error)).await;
        }
    }
}

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the blob upload stopped reading")
}

impl AsyncWrite for ChunkWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.tx.poll_reserve(cx)).map_err(|_| closed())?;
        self.tx
            .send_item(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| closed())?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use futures::StreamExt;
    use tokio::io::AsyncWriteExt;

    use super::*;

    #[tokio::test]
    async fn bytes_written_arrive_in_order_and_the_stream_ends_when_the_writer_drops() {
        let (mut w, s) = pipe();
        let reader = tokio::spawn(async move { s.collect::<Vec<_>>().await });
        for i in 0..100u8 {
            w.write_all(&[i; 10]).await.unwrap();
        }
        drop(w);
        let got: Vec<u8> = reader
            .await
            .unwrap()
            .into_iter()
            .flat_map(|c| c.unwrap().to_vec())
            .collect();
        assert_eq!(got.len(), 1000);
        assert_eq!(got[999], 99);
    }

    #[tokio::test]
    async fn a_failed_writer_ends_the_stream_with_its_error() {
        let (mut w, s) = pipe();
        let reader = tokio::spawn(async move { s.collect::<Vec<_>>().await });
        w.write_all(b"partial").await.unwrap();
        w.fail(io::Error::other("cut")).await;
        let items = reader.await.unwrap();
        assert!(items.last().unwrap().is_err());
    }
}
