//! Assembly: builds the world, binds the platform and media listeners and
//! serves until the handle is dropped or shut down.

use std::net::SocketAddr;

use axum::Router;
use chrono::Utc;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::SandboxClock;
use crate::config::SandboxConfig;
use crate::errors::ApiError;
use crate::model::World;
use crate::state::{AppState, BaseUrls};

/// Entry point: `Sandbox::builder()`.
#[derive(Debug)]
pub struct Sandbox;

impl Sandbox {
    /// A builder with production defaults.
    pub fn builder() -> SandboxBuilder {
        SandboxBuilder {
            config: SandboxConfig::default(),
        }
    }
}

/// Configures a sandbox before it starts.
#[derive(Debug, Clone)]
pub struct SandboxBuilder {
    config: SandboxConfig,
}

impl SandboxBuilder {
    /// Replaces the whole configuration.
    pub fn config(mut self, config: SandboxConfig) -> Self {
        self.config = config;
        self
    }

    /// Seed for ids, scenario and audio.
    pub fn seed(mut self, seed: u64) -> Self {
        self.config.seed = seed;
        self
    }

    /// Changes the configuration in place.
    pub fn configure(mut self, f: impl FnOnce(&mut SandboxConfig)) -> Self {
        f(&mut self.config);
        self
    }

    /// Binds both listeners and starts serving.
    pub async fn spawn(self) -> std::io::Result<SandboxHandle> {
        let config = self.config;
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let platform = TcpListener::bind(config.platform_addr.unwrap_or(loopback)).await?;
        let media = TcpListener::bind(config.media_addr.unwrap_or(loopback)).await?;
        let urls = BaseUrls {
            platform: format!("http://{}", platform.local_addr()?),
            media: format!("http://{}", media.local_addr()?),
        };
        let now = Utc::now() + config.clock_offset;
        let clock = SandboxClock::new(now, config.speed);
        let world = build_world(&config, now);
        let state = AppState::new(config, clock, world, urls.clone());

        let (stop_tx, stop_rx) = watch::channel(false);
        state.subscriptions().set_shutdown(stop_rx.clone());
        let tasks = vec![
            tokio::spawn(crate::telephony::run_engine(state.clone(), stop_rx.clone())),
            tokio::spawn(crate::control::live_calls::run(
                state.clone(),
                stop_rx.clone(),
            )),
            tokio::spawn(serve(
                platform,
                platform_router(state.clone()),
                stop_rx.clone(),
            )),
            tokio::spawn(serve(media, media_router(state.clone()), stop_rx)),
        ];
        Ok(SandboxHandle {
            state,
            urls,
            stop: stop_tx,
            tasks,
        })
    }
}

/// The world a sandbox starts with: `config.scenario.extensions` users, the
/// account's audio format from `config.audio.format`, and the seeded history
/// of [`crate::scenario::history`] (every call ended before `now`).
/// Deterministic in (`config`, `now`).
pub fn build_world(config: &SandboxConfig, now: chrono::DateTime<Utc>) -> World {
    let mut world = World::new(config.seed, config.scenario.extensions, config.audio.format);
    let scripts =
        crate::scenario::history(&config.scenario, config.seed, now, world.extensions.len());
    for script in scripts {
        if let Err(e) = world.add(script) {
            tracing::warn!(error = %e, "generated call script refused");
        }
    }
    world
}

/// The platform (REST + OAuth + control) router.
pub fn platform_router(state: AppState) -> Router {
    let stamp = axum::middleware::from_fn_with_state(state.clone(), stamp_date);
    let track = axum::middleware::from_fn_with_state(state.clone(), crate::observed::track);
    Router::new()
        .merge(crate::auth::routes())
        .merge(crate::calllog::routes())
        .merge(crate::recordings::platform_routes())
        .merge(crate::subscriptions::routes())
        .merge(crate::telephony::routes())
        .merge(crate::control::routes())
        .fallback(|| async { ApiError::invalid_uri() })
        .layer(stamp)
        .layer(track)
        .with_state(state)
}

/// The media (recording content) router.
pub fn media_router(state: AppState) -> Router {
    let stamp = axum::middleware::from_fn_with_state(state.clone(), stamp_date);
    let track = axum::middleware::from_fn_with_state(state.clone(), crate::observed::track);
    Router::new()
        .merge(crate::recordings::media_routes())
        .fallback(|| async { ApiError::invalid_uri() })
        .layer(stamp)
        .layer(track)
        .with_state(state)
}

/// Every answer's `Date` is the platform's own time, as a real server's is:
/// the time it stamps on calls and expiries. A sandbox clock running fast,
/// frozen or moved shows there, so a client that measures those stamps
/// against its own clock is caught here rather than in production (where
/// the two may differ by minutes). Hyper keeps a `Date` a handler set.
async fn stamp_date(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut response = next.run(request).await;
    let now = state.clock().now().format("%a, %d %b %Y %H:%M:%S GMT");
    if let Ok(date) = axum::http::HeaderValue::from_str(&now.to_string()) {
        response
            .headers_mut()
            .insert(axum::http::header::DATE, date);
    }
    response
}

async fn serve(listener: TcpListener, router: Router, mut stop: watch::Receiver<bool>) {
    let shutdown = async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    if let Err(e) = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
    {
        tracing::error!(error = %e, "sandbox listener failed");
    }
}

/// A running sandbox. Dropping it stops both listeners.
#[derive(Debug)]
pub struct SandboxHandle {
    state: AppState,
    urls: BaseUrls,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl SandboxHandle {
    /// Platform base URL (`RC_SERVER_URL`).
    pub fn platform_url(&self) -> &str {
        &self.urls.platform
    }

    /// Media base URL (`RC_MEDIA_URL`).
    pub fn media_url(&self) -> &str {
        &self.urls.media
    }

    /// The shared state, for tests and the control API.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The settings a client needs, as `KEY=value` pairs in print order.
    pub fn client_env(&self) -> Vec<(&'static str, String)> {
        let c = &self.state.config().credentials;
        vec![
            ("RC_SERVER_URL", self.urls.platform.clone()),
            ("RC_MEDIA_URL", self.urls.media.clone()),
            ("RC_CLIENT_ID", c.client_id.clone()),
            ("RC_CLIENT_SECRET", c.client_secret.clone()),
            ("RC_JWT", c.jwt.clone()),
        ]
    }

    /// Stops both listeners and waits for them.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
