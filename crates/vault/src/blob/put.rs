//! Writing blobs: streamed in, hashed on the way, published atomically
//! (see the parent module's doc).

use super::*;

impl BlobStore {
    /// Re-reads the blob at `key` and hashes it.
    pub async fn hash(&self, key: &StorageKey) -> Result<StoredBlob, BlobError> {
        let mut stream = std::pin::pin!(self.get_stream(key).await?);
        let mut hashing = Hashing::default();
        while let Some(bytes) = stream.next().await {
            hashing.update(&bytes?);
        }
        Ok(hashing.finish())
    }

    /// Streams `source` into the blob at `key`, hashing on the way; the blob
    /// appears only when complete. At most one chunk (1 MiB locally, 5 MiB
    /// on S3; two parts in flight) is held in memory. A blob within the first
    /// chunk is one atomic `put` (locally a staged `key#N` file renamed into
    /// place); a longer one is a multipart upload (locally the same staged
    /// file; on S3 the object exists only once the upload completes). On a
    /// source error the upload is aborted, nothing is left at `key`, and the
    /// error is returned as [`BlobError::Source`]. An existing blob at `key`
    /// is replaced atomically, except in WORM mode (see
    /// [`BlobStore::put_stream_retained`]), where it is locked until the
    /// configured default keep from now.
    pub async fn put_stream<S, E>(
        &self,
        key: &StorageKey,
        source: S,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        self.put_stream_retained(key, source, None).await
    }

    /// [`BlobStore::put_stream`], locked until `retain_until` in WORM mode
    /// (`None`: the configured default keep from now; ignored otherwise).
    /// In WORM mode a blob is never overwritten: when `key` already holds
    /// the same bytes (a retried download) nothing new is written and the
    /// put succeeds; different bytes are [`BlobError::Conflict`].
    pub async fn put_stream_retained<S, E>(
        &self,
        key: &StorageKey,
        source: S,
        retain_until: Option<DateTime<Utc>>,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        #[cfg(feature = "s3")]
        if let Some(worm) = &self.worm {
            let until = retain_until.unwrap_or_else(|| Utc::now() + worm.config.default_keep);
            return self.put_worm(worm, key, source, until).await;
        }
        let _ = retain_until;
        let path = object_path(key)?;
        let mut source = std::pin::pin!(source);
        let mut hashing = Hashing::default();
        // Phase 1: fill the first chunk. A blob that fits is one atomic put.
        let first = match self.fill_first(&mut source, &mut hashing).await? {
            First::Whole(bytes) => {
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| BlobError::from_store(e, key))?;
                return Ok(hashing.finish());
            }
            First::Part(bytes) => bytes,
        };
        // Phase 2: a multipart upload, published atomically by `finish`.
        self.upload_rest(key, &path, first, &mut source, &mut hashing)
            .await?;
        Ok(hashing.finish())
    }

    /// Reads `source` until the first chunk is full or the source ends.
    pub(super) async fn fill_first<S, E>(
        &self,
        source: &mut std::pin::Pin<&mut S>,
        hashing: &mut Hashing,
    ) -> Result<First, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let mut first = BytesMut::new();
        while first.len() < self.chunk_size {
            match source.next().await {
                Some(Ok(bytes)) => {
                    hashing.update(&bytes);
                    first.extend_from_slice(&bytes);
                }
                Some(Err(e)) => return Err(BlobError::Source(Box::new(e))),
                None => return Ok(First::Whole(first.freeze())),
            }
        }
        Ok(First::Part(first.freeze()))
    }

    /// Uploads `first` and the rest of `source` as one multipart upload,
    /// aborted on any failure, published when complete.
    pub(super) async fn upload_rest<S, E>(
        &self,
        key: &StorageKey,
        path: &Path,
        first: Bytes,
        source: &mut std::pin::Pin<&mut S>,
        hashing: &mut Hashing,
    ) -> Result<object_store::PutResult, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let upload = self
            .store
            .put_multipart(path)
            .await
            .map_err(|e| BlobError::from_store(e, key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.chunk_size);
        writer.put(first);
        loop {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await; // best effort; the put error is what matters
                return Err(BlobError::from_store(e, key));
            }
            match source.next().await {
                Some(Ok(bytes)) => {
                    hashing.update(&bytes);
                    writer.put(bytes);
                }
                Some(Err(e)) => {
                    if let Err(abort) = writer.abort().await {
                        tracing::warn!(key = %key, error = %abort, "aborting a failed upload failed");
                    }
                    return Err(BlobError::Source(Box::new(e)));
                }
                None => break,
            }
        }
        writer
            .finish()
            .await
            .map_err(|e| BlobError::from_store(e, key))
    }

    /// Stores `bytes` at `key` atomically.
    pub async fn put_bytes(&self, key: &StorageKey, bytes: Bytes) -> Result<StoredBlob, BlobError> {
        let stored = StoredBlob {
            size: bytes.len() as u64,
            sha256: Sha256Digest::of(&bytes),
        };
        let path = object_path(key)?;
        self.store
            .put(&path, PutPayload::from(bytes))
            .await
            .map_err(|e| BlobError::from_store(e, key))?;
        Ok(stored)
    }

    /// Streams the local file at `file` (e.g. a stitched output) into `key`.
    pub async fn put_file(&self, key: &StorageKey, file: &FsPath) -> Result<StoredBlob, BlobError> {
        use tokio::io::AsyncReadExt;
        let handle = tokio::fs::File::open(file)
            .await
            .map_err(|source| BlobError::ReadFile {
                path: file.to_owned(),
                source,
            })?;
        let chunk = 256 * 1024;
        let stream = futures::stream::try_unfold(handle, move |mut handle| async move {
            let mut buf = BytesMut::with_capacity(chunk);
            let n = handle.read_buf(&mut buf).await?;
            if n == 0 {
                Ok::<_, std::io::Error>(None)
            } else {
                Ok(Some((buf.freeze(), handle)))
            }
        });
        self.put_stream(key, stream).await.map_err(|e| match e {
            BlobError::Source(source) => BlobError::ReadFile {
                path: file.to_owned(),
                source: std::io::Error::other(source),
            },
            other => other,
        })
    }

    /// Writes the JSON metadata sidecar of `key` (see
    /// [`StorageKey::sidecar_of`]) atomically, and returns its key.
    pub async fn put_sidecar(
        &self,
        key: &StorageKey,
        metadata: &serde_json::Value,
    ) -> Result<StorageKey, BlobError> {
        let sidecar = StorageKey::sidecar_of(key);
        let bytes = serde_json::to_vec_pretty(metadata)?;
        self.put_bytes(&sidecar, Bytes::from(bytes)).await?;
        Ok(sidecar)
    }
}

/// The first chunk of a source: all of it, or the start of a longer one.
pub(super) enum First {
    Whole(Bytes),
    Part(Bytes),
}

/// sha256 and length of the bytes seen so far.
#[derive(Default)]
pub(super) struct Hashing {
    hasher: sha2::Sha256,
    size: u64,
}

impl Hashing {
    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.hasher.update(bytes);
        self.size = self.size.saturating_add(bytes.len() as u64);
    }

    pub(super) fn finish(self) -> StoredBlob {
        StoredBlob {
            size: self.size,
            sha256: Sha256Digest::from_bytes(self.hasher.finalize().into()),
        }
    }
}

/// Hashes and counts a whole source without storing it.
#[cfg(feature = "s3")]
pub(super) async fn hash_stream<S, E>(source: S) -> Result<StoredBlob, BlobError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: std::error::Error + Send + Sync + 'static,
{
    let mut source = std::pin::pin!(source);
    let mut hashing = Hashing::default();
    while let Some(bytes) = source.next().await {
        hashing.update(&bytes.map_err(|e| BlobError::Source(Box::new(e)))?);
    }
    Ok(hashing.finish())
}
