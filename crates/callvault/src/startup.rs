//! Building and running the web server: [`Application::build`] binds the
//! listener itself (so port 0 works in tests) and opens every dependency,
//! the process's one catalog pool included; whatever else the process runs
//! (workers, probes, the audit checkpoints) shares that pool through
//! [`Application::state`].

use std::future::Future;
use std::net::SocketAddr;

use anyhow::Context;
use tokio::net::TcpListener;
use vault::{BlobStore, Catalog};

use crate::web::connections::ConnectionLimits;
use crate::web::state::{AppState, WebOptions};

/// What `serve` needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Address to listen on (`127.0.0.1:8080`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Catalog URL (`sqlite:…` or `postgres://…`).
    pub database_url: String,
    /// Blob store location (a folder or `s3://…`).
    pub storage_url: String,
    /// WORM mode for the blob store (`--worm`): the retention job, hold
    /// mirroring and the web's hold forms then act on locked objects as
    /// locked objects.
    pub worm: crate::worm::WormArgs,
    /// The URL users reach us at; `https://…` makes cookies `Secure`.
    pub public_url: Option<url::Url>,
    /// Session idle timeout and password-check bounds.
    pub web: WebOptions,
    /// Timeouts and the connection cap.
    pub connections: ConnectionLimits,
}

/// A bound, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    port: u16,
    state: AppState,
    limits: ConnectionLimits,
    /// Routes served beside the UI (the webhook receiver), outside its login.
    extra: Option<axum::Router>,
}

impl Application {
    /// Opens the catalog (one pool, migrated) and the blob store, and binds
    /// the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let catalog = Catalog::open(&settings.database_url)
            .await
            .context("opening the catalog")?;
        let blobs = BlobStore::open(&settings.storage_url).context("opening the blob store")?;
        let blobs = crate::worm::enable(blobs, &settings.worm).await?;
        let secure_cookies = crate::configuration::address::is_https(settings.public_url.as_ref());
        let state = AppState::new(catalog, blobs, secure_cookies, settings.web).await?;
        Ok(Self::with_state(settings.listen, state)
            .await?
            .with_limits(settings.connections))
    }

    /// Binds `listen` for an already assembled state (tests, `demo`).
    pub async fn with_state(listen: SocketAddr, state: AppState) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("binding {listen}"))?;
        let port = listener.local_addr()?.port();
        Ok(Application {
            listener,
            port,
            state,
            limits: ConnectionLimits::default(),
            extra: None,
        })
    }

    /// Serves within `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Serves `routes` beside the UI (e.g. the webhook receiver, the health
    /// probes), outside the UI's login; calls add up.
    pub fn with_routes(mut self, routes: axum::Router) -> Self {
        self.extra = Some(match self.extra.take() {
            Some(extra) => extra.merge(routes),
            None => routes,
        });
        self
    }

    /// Signs eDiscovery bundles with the audit key (without one, the web
    /// export answers that no key is configured).
    pub fn with_audit_signer(mut self, signer: std::sync::Arc<vault::audit::AuditSigner>) -> Self {
        self.state.audit_signer = Some(signer);
        self
    }

    /// The port actually bound.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The address actually bound (the configured one, with port 0
    /// replaced by the port the system chose).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// The shared state (catalog and blobs), e.g. for seeding in tests.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.run_until(shutdown_signal()).await
    }

    /// Serves until `stop` completes.
    pub async fn run_until(
        self,
        stop: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let mut app = crate::web::router(self.state);
        if let Some(extra) = self.extra {
            app = app.merge(extra);
        }
        let app = app.layer(axum::middleware::map_response(
            crate::web::security_headers::add,
        ));
        crate::web::connections::serve(self.listener, app, self.limits, stop).await
    }
}

/// Waits for Ctrl-C or SIGTERM (logs "shutting down"): the one stop
/// signal of `serve` and `worker`.
pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
