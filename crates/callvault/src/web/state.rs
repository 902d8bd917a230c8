//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use vault::{BlobStore, Catalog};

use crate::web::auth::login_csrf::LoginCsrfKey;
use crate::web::auth::password::{GateLimits, PasswordGate};

/// Shared handles of the web server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The ledger (users, sessions, conversations, audit log).
    pub catalog: Catalog,
    /// Where the audio lives.
    pub blobs: BlobStore,
    /// Whether cookies carry `Secure` (the public URL is https).
    pub secure_cookies: bool,
    /// Signs the login form's CSRF token.
    pub login_csrf: LoginCsrfKey,
    /// Bounds concurrent password checks.
    pub passwords: PasswordGate,
    /// A session unused this long is logged off.
    pub session_idle: Duration,
    /// Counters `/metrics` shows.
    pub metrics: Arc<WebMetrics>,
    /// The audit key, which signs eDiscovery bundles exported from the web.
    pub audit_signer: Option<Arc<vault::audit::AuditSigner>>,
}

/// Tunables of the web UI's protections.
#[derive(Debug, Clone, Copy)]
pub struct WebOptions {
    /// A session unused this long is logged off (HIPAA's automatic logoff);
    /// sessions end after 12 h whatever the use.
    pub session_idle: Duration,
    /// Concurrent password checks and their queue.
    pub password_gate: GateLimits,
}

impl Default for WebOptions {
    fn default() -> Self {
        WebOptions {
            session_idle: Duration::from_secs(30 * 60),
            password_gate: GateLimits::default(),
        }
    }
}

/// Counters of the web UI, shown by `/metrics`.
#[derive(Debug, Default)]
pub struct WebMetrics {
    /// Blobs whose size differs from the catalog's (answered 500).
    pub blob_integrity_errors: AtomicU64,
    /// Logins answered 503 because the password checks were saturated.
    pub logins_shed: AtomicU64,
    /// Logins answered 429 by the throttle.
    pub logins_throttled: AtomicU64,
}

impl AppState {
    /// The state over `catalog` and `blobs`: loads (or creates) the login
    /// form's signing key from the catalog.
    pub async fn new(
        catalog: Catalog,
        blobs: BlobStore,
        secure_cookies: bool,
        options: WebOptions,
    ) -> anyhow::Result<AppState> {
        let login_csrf = LoginCsrfKey::load(&catalog).await?;
        Ok(AppState {
            catalog,
            blobs,
            secure_cookies,
            login_csrf,
            passwords: PasswordGate::new(options.password_gate),
            session_idle: options.session_idle,
            metrics: Arc::default(),
            audit_signer: None,
        })
    }
}
