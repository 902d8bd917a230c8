//! The blob store: recordings, stitched files and their JSON sidecars.
//!
//! Backed by `object_store`: a local folder ([`LocalFileSystem`]) by default,
//! or an S3-compatible bucket with the `s3` feature.
//!
//! # Atomic writes
//! [`BlobStore::put_stream`] never buffers a whole blob and never lets a
//! reader see a partial one:
//! * it hashes (sha256) and counts bytes as they pass;
//! * a blob that ends within the first chunk (1 MiB locally, 5 MiB on S3) is
//!   written with one `put`, which `object_store` makes atomic (locally: a
//!   staged `key#N` file renamed into place; on S3: a single PUT);
//! * a longer blob goes through a multipart upload: locally the parts land in
//!   a staged `key#N` file that is renamed into place on completion; on S3
//!   the object only exists once `CompleteMultipartUpload` succeeds;
//! * if the source stream fails (or the future is dropped), the upload is
//!   aborted: the staged file is removed (locally), the parts discarded (S3;
//!   a crash can leave parts behind, so set an `AbortIncompleteMultipartUpload`
//!   lifecycle rule on the bucket).
//!
//! Staged local files (`…#N`) are never listed by `object_store`, so
//! [`BlobStore::list`] shows only complete blobs.
//!
//! A put replaces an existing blob atomically. Keys are deterministic per
//! recording and the bytes identical, so a duplicate run rewrites the same
//! content; callers check [`BlobStore::verify`] first to skip the work.

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::Digest;

use crate::digest::Sha256Digest;
use crate::key::StorageKey;

/// Why a blob operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BlobError {
    /// The storage URL could not be understood.
    #[error("invalid storage URL: {0}")]
    BadUrl(String),
    /// The URL scheme is not supported by this build (e.g. `s3://` without
    /// the `s3` feature).
    #[error("unsupported storage URL scheme {0:?}")]
    UnsupportedScheme(String),
    /// Creating the local root folder failed.
    #[error("cannot create storage root {path}")]
    CreateRoot {
        /// The folder.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// No blob at this key.
    #[error("no blob at {0}")]
    NotFound(String),
    /// The store refused or failed an operation.
    #[error("blob store error")]
    Store(#[source] object_store::Error),
    /// The byte source (e.g. a download) failed; nothing was written.
    #[error("source stream failed; nothing was stored")]
    Source(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// Reading a local file to upload failed.
    #[error("cannot read {path}")]
    ReadFile {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A JSON sidecar could not be encoded.
    #[error("JSON encoding failed")]
    Json(#[from] serde_json::Error),
}

impl BlobError {
    fn from_store(e: object_store::Error, key: &StorageKey) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_string()),
            e => BlobError::Store(e),
        }
    }
}

/// What a put stored: the size and hash of exactly the bytes written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    /// Bytes written.
    pub size: u64,
    /// sha256 of those bytes.
    pub sha256: Sha256Digest,
}

/// What the store knows about a blob without reading it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobMeta {
    /// Size in bytes.
    pub size: u64,
    /// Last modification (store clock).
    pub last_modified: DateTime<Utc>,
}

/// The outcome of [`BlobStore::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// The blob is there and its sha256 matches.
    Intact {
        /// Its size.
        size: u64,
    },
    /// No blob at the key.
    Missing,
    /// The blob is there but its bytes changed.
    Altered {
        /// What it hashes to now.
        actual: StoredBlob,
    },
}

/// Where blobs live. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// Bytes buffered before a multipart upload starts, and the part size.
    chunk_size: usize,
}

/// Part size on the local disk: small, to keep memory low.
const LOCAL_CHUNK: usize = 1024 * 1024;
/// Part size on S3: its minimum for all but the last part.
#[cfg(feature = "s3")]
const S3_CHUNK: usize = 5 * 1024 * 1024;
/// Parts in flight at once during a multipart upload.
const PARTS_IN_FLIGHT: usize = 2;

fn object_path(key: &StorageKey) -> Result<Path, BlobError> {
    // A StorageKey is already a safe relative path; parse re-checks it.
    Path::parse(key.as_str()).map_err(|e| BlobError::Store(e.into()))
}

impl BlobStore {
    /// Opens a store by URL:
    /// * a plain folder path or `file:///abs/path`: a local folder, created
    ///   if missing;
    /// * `s3://bucket?endpoint=http://host:port&region=us-east-1&allow_http=true`
    ///   (with the `s3` feature): credentials come from the standard `AWS_*`
    ///   environment variables, never from the URL.
    pub fn open(url: &str) -> Result<Self, BlobError> {
        if let Some(rest) = url.strip_prefix("file://") {
            return Self::local(rest);
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return match scheme {
                #[cfg(feature = "s3")]
                "s3" => Self::s3(url),
                other => Err(BlobError::UnsupportedScheme(other.to_owned())),
            };
        }
        Self::local(url)
    }

    /// A store in the local folder `root`, created if missing.
    pub fn local(root: impl AsRef<FsPath>) -> Result<Self, BlobError> {
        let root = root.as_ref();
        std::fs::create_dir_all(root).map_err(|source| BlobError::CreateRoot {
            path: root.to_owned(),
            source,
        })?;
        let fs = LocalFileSystem::new_with_prefix(root)
            .map_err(BlobError::Store)?
            .with_automatic_cleanup(true);
        Ok(BlobStore {
            store: Arc::new(fs),
            chunk_size: LOCAL_CHUNK,
        })
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str) -> Result<Self, BlobError> {
        use object_store::aws::AmazonS3Builder;
        let parsed = url::Url::parse(url).map_err(|e| BlobError::BadUrl(e.to_string()))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| BlobError::BadUrl("missing bucket".into()))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        for (name, value) in parsed.query_pairs() {
            builder = match name.as_ref() {
                "endpoint" => builder.with_endpoint(value.as_ref()),
                "region" => builder.with_region(value.as_ref()),
                "allow_http" => builder.with_allow_http(value == "true"),
                other => return Err(BlobError::BadUrl(format!("unknown option {other:?}"))),
            };
        }
        let store = builder.build().map_err(BlobError::Store)?;
        Ok(BlobStore {
            store: Arc::new(store),
            chunk_size: S3_CHUNK,
        })
    }

    /// Streams `source` into the blob at `key`, hashing on the way; the blob
    /// appears only when complete (see the module docs). On a source error
    /// nothing is left at `key` and the error is returned as
    /// [`BlobError::Source`].
    pub async fn put_stream<S, E>(
        &self,
        key: &StorageKey,
        source: S,
    ) -> Result<StoredBlob, BlobError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::error::Error + Send + Sync + 'static,
    {
        let path = object_path(key)?;
        let mut source = std::pin::pin!(source);
        let mut hasher = sha2::Sha256::new();
        let mut size: u64 = 0;
        let mut first = BytesMut::new();

        // Phase 1: fill the first chunk. A blob that fits is one atomic put.
        while first.len() < self.chunk_size {
            match source.next().await {
                Some(Ok(bytes)) => {
                    hasher.update(&bytes);
                    size = size.saturating_add(bytes.len() as u64);
                    first.extend_from_slice(&bytes);
                }
                Some(Err(e)) => return Err(BlobError::Source(Box::new(e))),
                None => {
                    self.store
                        .put(&path, PutPayload::from(first.freeze()))
                        .await
                        .map_err(|e| BlobError::from_store(e, key))?;
                    return Ok(StoredBlob {
                        size,
                        sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
                    });
                }
            }
        }

        // Phase 2: a multipart upload, published atomically by `finish`.
        let upload = self
            .store
            .put_multipart(&path)
            .await
            .map_err(|e| BlobError::from_store(e, key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, self.chunk_size);
        writer.put(first.freeze());
        loop {
            if let Err(e) = writer.wait_for_capacity(PARTS_IN_FLIGHT).await {
                let _ = writer.abort().await; // best effort; the put error is what matters
                return Err(BlobError::from_store(e, key));
            }
            match source.next().await {
                Some(Ok(bytes)) => {
                    hasher.update(&bytes);
                    size = size.saturating_add(bytes.len() as u64);
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
            .map_err(|e| BlobError::from_store(e, key))?;
        Ok(StoredBlob {
            size,
            sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        })
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

    /// Reads `range` of the blob at `key` (for HTTP Range playback; the
    /// caller bounds the range). Ranges past the end are clamped by the store.
    pub async fn get_range(&self, key: &StorageKey, range: Range<u64>) -> Result<Bytes, BlobError> {
        let path = object_path(key)?;
        self.store
            .get_range(&path, range)
            .await
            .map_err(|e| BlobError::from_store(e, key))
    }

    /// Streams the whole blob at `key`.
    pub async fn get_stream(
        &self,
        key: &StorageKey,
    ) -> Result<impl Stream<Item = Result<Bytes, BlobError>> + Send + use<>, BlobError> {
        let path = object_path(key)?;
        let result = self
            .store
            .get(&path)
            .await
            .map_err(|e| BlobError::from_store(e, key))?;
        Ok(result.into_stream().map_err(BlobError::Store))
    }

    /// Size and modification time of the blob at `key`, or `None`.
    pub async fn head(&self, key: &StorageKey) -> Result<Option<BlobMeta>, BlobError> {
        let path = object_path(key)?;
        match self.store.head(&path).await {
            Ok(meta) => Ok(Some(BlobMeta {
                size: meta.size,
                last_modified: meta.last_modified,
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(BlobError::Store(e)),
        }
    }

    /// Deletes the blob at `key`; deleting a missing blob is not an error.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), BlobError> {
        let path = object_path(key)?;
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Store(e)),
        }
    }

    /// Re-reads the blob at `key` and hashes it.
    pub async fn hash(&self, key: &StorageKey) -> Result<StoredBlob, BlobError> {
        let mut stream = std::pin::pin!(self.get_stream(key).await?);
        let mut hasher = sha2::Sha256::new();
        let mut size: u64 = 0;
        while let Some(bytes) = stream.next().await {
            let bytes = bytes?;
            hasher.update(&bytes);
            size = size.saturating_add(bytes.len() as u64);
        }
        Ok(StoredBlob {
            size,
            sha256: Sha256Digest::from_bytes(hasher.finalize().into()),
        })
    }

    /// Checks that the blob at `key` exists and hashes to `expected`.
    pub async fn verify(
        &self,
        key: &StorageKey,
        expected: &Sha256Digest,
    ) -> Result<Verified, BlobError> {
        match self.hash(key).await {
            Ok(actual) if actual.sha256 == *expected => Ok(Verified::Intact { size: actual.size }),
            Ok(actual) => Ok(Verified::Altered { actual }),
            Err(BlobError::NotFound(_)) => Ok(Verified::Missing),
            Err(e) => Err(e),
        }
    }

    /// Every complete blob under `prefix` (all when `None`), as key text;
    /// for reconciliation and tests. Staged partial files never appear.
    pub async fn list(&self, prefix: Option<&str>) -> Result<Vec<String>, BlobError> {
        let prefix = prefix
            .map(Path::parse)
            .transpose()
            .map_err(|e| BlobError::Store(e.into()))?;
        let metas: Vec<_> = self
            .store
            .list(prefix.as_ref())
            .try_collect()
            .await
            .map_err(BlobError::Store)?;
        let mut keys: Vec<String> = metas.into_iter().map(|m| m.location.to_string()).collect();
        keys.sort();
        Ok(keys)
    }
}
