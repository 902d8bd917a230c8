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

#[cfg(feature = "s3")]
mod locked;
mod put;

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use sha2::Digest;

use crate::blob_error::BlobError;
use crate::digest::Sha256Digest;
use crate::key::StorageKey;

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

/// Settings of an S3-compatible store. `Debug` never shows the secret.
#[cfg(feature = "s3")]
#[derive(Clone, Default)]
pub struct S3Config {
    /// The bucket (must exist).
    pub bucket: String,
    /// `http(s)://host:port` of an S3-compatible server; AWS when `None`.
    pub endpoint: Option<String>,
    /// The region (`us-east-1` when neither this nor `AWS_REGION` is set).
    pub region: Option<String>,
    /// Access key id; else `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// Secret key; else `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// Allow plain HTTP endpoints (test servers on loopback).
    pub allow_http: bool,
}

#[cfg(feature = "s3")]
impl S3Config {
    /// Settings for `bucket`, everything else from the environment.
    pub fn new(bucket: impl Into<String>) -> Self {
        S3Config {
            bucket: bucket.into(),
            ..Default::default()
        }
    }
}

#[cfg(feature = "s3")]
impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("bucket", &self.bucket)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "[redacted]"),
            )
            .field("allow_http", &self.allow_http)
            .finish()
    }
}

/// Where blobs live. Cheap to clone.
#[derive(Debug, Clone)]
pub struct BlobStore {
    store: Arc<dyn ObjectStore>,
    /// The S3 client itself (for presigned lock requests), on S3.
    #[cfg(feature = "s3")]
    s3: Option<object_store::aws::AmazonS3>,
    /// Object Lock on every recording and stitched file, when enabled.
    #[cfg(feature = "s3")]
    worm: Option<crate::worm::Worm>,
    /// The folder of a local store (for sweeping staged files after a crash).
    local_root: Option<PathBuf>,
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
            #[cfg(feature = "s3")]
            s3: None,
            #[cfg(feature = "s3")]
            worm: None,
            local_root: Some(root.to_owned()),
            chunk_size: LOCAL_CHUNK,
        })
    }

    #[cfg(feature = "s3")]
    fn s3(url: &str) -> Result<Self, BlobError> {
        let parsed = url::Url::parse(url).map_err(|e| BlobError::BadUrl(e.to_string()))?;
        let bucket = parsed
            .host_str()
            .filter(|b| !b.is_empty())
            .ok_or_else(|| BlobError::BadUrl("missing bucket".into()))?;
        let mut config = S3Config::new(bucket);
        for (name, value) in parsed.query_pairs() {
            match name.as_ref() {
                "endpoint" => config.endpoint = Some(value.into_owned()),
                "region" => config.region = Some(value.into_owned()),
                "allow_http" => config.allow_http = value == "true",
                other => return Err(BlobError::BadUrl(format!("unknown option {other:?}"))),
            }
        }
        Self::open_s3(&config)
    }

    /// A store in an S3-compatible bucket (which must exist). Settings not
    /// given in `config` come from the standard `AWS_*` environment variables.
    #[cfg(feature = "s3")]
    pub fn open_s3(config: &S3Config) -> Result<Self, BlobError> {
        use object_store::aws::AmazonS3Builder;
        // reqwest is built with `rustls-no-provider`: make sure a provider is
        // installed (an Err only means one already is).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = AmazonS3Builder::from_env()
            .with_bucket_name(&config.bucket)
            .with_allow_http(config.allow_http);
        if let Some(endpoint) = &config.endpoint {
            builder = builder.with_endpoint(endpoint);
        }
        if let Some(region) = &config.region {
            builder = builder.with_region(region);
        }
        if let Some(key) = &config.access_key_id {
            builder = builder.with_access_key_id(key);
        }
        if let Some(secret) = &config.secret_access_key {
            builder = builder.with_secret_access_key(secret);
        }
        let store = builder.build().map_err(BlobError::Store)?;
        Ok(BlobStore {
            store: Arc::new(store.clone()),
            s3: Some(store),
            worm: None,
            local_root: None,
            chunk_size: S3_CHUNK,
        })
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
    /// In WORM mode the blob's version itself is deleted (a plain DELETE
    /// would only hide it behind a delete marker), so a lock refuses it:
    /// [`BlobError::Locked`], and the blob is still there.
    pub async fn delete(&self, key: &StorageKey) -> Result<(), BlobError> {
        let path = object_path(key)?;
        #[cfg(feature = "s3")]
        if let Some(worm) = &self.worm {
            return match self.current_version(worm, key, &path).await {
                Ok(version) => worm.delete_version(&path, &version, false).await,
                Err(BlobError::NotFound(_)) => Ok(()),
                Err(e) => Err(e),
            };
        }
        match self.store.delete(&path).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(BlobError::Store(e)),
        }
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

    /// Deletes staged partial files (`…#N`) older than `older_than` that a
    /// killed process left in a local store, and returns how many. Run it at
    /// start-up; the age guard spares uploads other processes are still
    /// writing. A no-op on S3 (use an `AbortIncompleteMultipartUpload`
    /// lifecycle rule there).
    pub async fn remove_stale_partials(&self, older_than: Duration) -> Result<u64, BlobError> {
        let Some(root) = self.local_root.clone() else {
            return Ok(0);
        };
        tokio::task::spawn_blocking(move || sweep_partials(&root, older_than))
            .await
            .map_err(|e| BlobError::Sweep(std::io::Error::other(e)))?
            .map_err(BlobError::Sweep)
    }
}

/// Whether `name` is an `object_store` staging file name: `anything#digits`.
fn is_staged_name(name: &str) -> bool {
    match name.rsplit_once('#') {
        Some((stem, digits)) => {
            !stem.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        }
        None => false,
    }
}

fn sweep_partials(root: &FsPath, older_than: Duration) -> std::io::Result<u64> {
    let now = std::time::SystemTime::now();
    let mut removed = 0u64;
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                stack.push(entry.path());
                continue;
            }
            let name = entry.file_name();
            if !kind.is_file() || !name.to_str().is_some_and(is_staged_name) {
                continue;
            }
            let age = entry
                .metadata()?
                .modified()
                .ok()
                .and_then(|m| now.duration_since(m).ok())
                .unwrap_or_default();
            if age >= older_than {
                match std::fs::remove_file(entry.path()) {
                    Ok(()) => removed = removed.saturating_add(1),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(removed)
}
