//! The shared server state every route handler receives.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::clock::SandboxClock;
use crate::config::SandboxConfig;
use crate::model::World;

/// Cheap to clone; everything inside is shared.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    config: SandboxConfig,
    clock: SandboxClock,
    world: RwLock<World>,
    tokens: crate::auth::TokenStore,
    limiter: crate::ratelimit::RateLimiter,
    subscriptions: crate::subscriptions::Registry,
    faults: crate::faults::Faults,
    audio: crate::audio::AudioCache,
    urls: BaseUrls,
    telephony: crate::telephony::Engine,
    live: crate::control::live::LiveTraffic,
    deletions: crate::recordings::deletions::DeleteLog,
    observed: crate::observed::Observed,
}

/// Where the two listeners are reachable.
#[derive(Debug, Clone)]
pub struct BaseUrls {
    /// Platform base (REST + OAuth), e.g. `http://127.0.0.1:40001`.
    pub platform: String,
    /// Media base (recording content), e.g. `http://127.0.0.1:40002`.
    pub media: String,
}

impl AppState {
    /// Assembles the state; the world is already generated.
    pub fn new(
        config: SandboxConfig,
        clock: SandboxClock,
        world: World,
        urls: BaseUrls,
    ) -> AppState {
        let faults = crate::faults::Faults::with_seed(config.faults.clone(), config.seed);
        let live = crate::control::live::LiveTraffic::new(config.live_calls_per_minute);
        AppState(Arc::new(Inner {
            config,
            clock,
            world: RwLock::new(world),
            tokens: Default::default(),
            limiter: Default::default(),
            subscriptions: Default::default(),
            faults,
            audio: Default::default(),
            urls,
            telephony: Default::default(),
            live,
            deletions: Default::default(),
            observed: Default::default(),
        }))
    }

    /// What the platform saw of its callers ([`crate::observed`]).
    pub fn observed(&self) -> &crate::observed::Observed {
        &self.0.observed
    }

    /// The configuration the sandbox started with.
    pub fn config(&self) -> &SandboxConfig {
        &self.0.config
    }

    /// The sandbox clock.
    pub fn clock(&self) -> &SandboxClock {
        &self.0.clock
    }

    /// Reads the world. Never hold the guard across an `.await`.
    pub fn world(&self) -> RwLockReadGuard<'_, World> {
        self.0.world.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the world. Never hold the guard across an `.await`.
    pub fn world_mut(&self) -> RwLockWriteGuard<'_, World> {
        self.0.world.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Issued tokens.
    pub fn tokens(&self) -> &crate::auth::TokenStore {
        &self.0.tokens
    }

    /// Rate-limit state.
    pub fn limiter(&self) -> &crate::ratelimit::RateLimiter {
        &self.0.limiter
    }

    /// Subscriptions.
    pub fn subscriptions(&self) -> &crate::subscriptions::Registry {
        &self.0.subscriptions
    }

    /// Fault switches.
    pub fn faults(&self) -> &crate::faults::Faults {
        &self.0.faults
    }

    /// Rendered recording audio.
    pub fn audio(&self) -> &crate::audio::AudioCache {
        &self.0.audio
    }

    /// The call engine (wake it after adding conversations).
    pub fn telephony(&self) -> &crate::telephony::Engine {
        &self.0.telephony
    }

    /// The live-traffic switch.
    pub fn live(&self) -> &crate::control::live::LiveTraffic {
        &self.0.live
    }

    /// Batches accepted by the recordings' delete endpoint.
    pub fn deletions(&self) -> &crate::recordings::deletions::DeleteLog {
        &self.0.deletions
    }

    /// The two base URLs.
    pub fn urls(&self) -> &BaseUrls {
        &self.0.urls
    }

    /// The admin extension that owns the JWT credential.
    pub fn admin_extension_id(&self) -> u64 {
        self.world()
            .extensions
            .first()
            .map(|e| e.id)
            .unwrap_or_default()
    }

    /// The account id.
    pub fn account_id(&self) -> u64 {
        self.world().account.id
    }
}
