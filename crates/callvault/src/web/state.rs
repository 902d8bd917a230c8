//! What every handler shares.

use vault::{BlobStore, Catalog};

/// Shared handles of the web server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ledger (users, sessions, conversations, audit log).
    pub catalog: Catalog,
    /// Where the audio lives.
    pub blobs: BlobStore,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
}
