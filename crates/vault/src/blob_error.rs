//! Why a blob operation failed: shared by the blob store and its WORM
//! client, so that neither needs the other for its errors.

use std::path::PathBuf;

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
    /// Sweeping staged partial files failed.
    #[error("cannot sweep staged files")]
    Sweep(#[source] std::io::Error),
    /// A JSON sidecar could not be encoded.
    #[error("JSON encoding failed")]
    Json(#[from] serde_json::Error),
    /// The store refused to delete a blob because Object Lock (a retention
    /// date or a legal hold) protects it: nothing was deleted.
    #[error("{key} is locked (WORM) and was not deleted: {reason}")]
    Locked {
        /// The blob.
        key: String,
        /// The store's error code (`AccessDenied`).
        reason: String,
    },
    /// A WORM (Object Lock) operation failed or the bucket does not
    /// enforce locks.
    #[error("WORM storage: {0}")]
    Worm(String),
    /// A locked blob already holds different bytes at this key; it is never
    /// overwritten.
    #[error("{0} already holds different bytes and is locked; not overwritten")]
    Conflict(String),
}

impl BlobError {
    pub(crate) fn from_store(e: object_store::Error, key: &StorageKey) -> Self {
        match e {
            object_store::Error::NotFound { .. } => BlobError::NotFound(key.to_string()),
            e => BlobError::Store(e),
        }
    }
}
