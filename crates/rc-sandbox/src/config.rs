//! Every knob of the sandbox, with production defaults.
//!
//! Each section belongs to the module that uses it; this struct only gathers
//! them so the builder and the CLI have one thing to fill in.

use chrono::Duration;

/// The whole configuration. `Default` is "like production".
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed for ids, scenario and audio; the same seed gives the same world.
    pub seed: u64,
    /// Credentials the sandbox accepts (and prints for clients).
    pub credentials: Credentials,
    /// Token lifetimes.
    pub auth: crate::auth::AuthConfig,
    /// What the app and its JWT user may do (default: everything).
    pub permissions: crate::permissions::PermissionsConfig,
    /// Rate-limit groups, windows and penalty; `None` turns limits off.
    pub rate_limits: Option<crate::ratelimit::RateLimitConfig>,
    /// Sandbox clock speed (1.0 = real time).
    pub speed: f64,
    /// Where the sandbox clock starts, relative to the machine's clock
    /// (positive: ahead). RingCentral's clock is not the client's: a client
    /// must measure RingCentral's times against the `Date` it answers with.
    pub clock_offset: Duration,
    /// Sandbox time between a call's end and its call-log record appearing
    /// (real platform: 15–30 s).
    pub call_log_lag: Duration,
    /// Sandbox time between a call's end and its recording content being
    /// downloadable (real platform: seconds to minutes).
    pub recording_lag: Duration,
    /// How recordings are encoded (MP3 or WAV, rate, bitrate), for the whole account.
    pub audio: crate::audio::AudioSettings,
    /// The generated history.
    pub scenario: crate::scenario::ScenarioConfig,
    /// Subscription limits.
    pub subscriptions: crate::subscriptions::SubscriptionConfig,
    /// Live traffic at startup, in new calls per sandbox minute (0 = none;
    /// changeable through `POST /sandbox/live`).
    pub live_calls_per_minute: f64,
    /// Fault injection rates (all zero by default).
    pub faults: crate::faults::FaultConfig,
    /// Where the platform (REST + OAuth) listener binds (`None`: an ephemeral loopback port).
    pub platform_addr: Option<std::net::SocketAddr>,
    /// Where the media listener binds (`None`: an ephemeral loopback port).
    pub media_addr: Option<std::net::SocketAddr>,
}

/// The app and user credentials a client must present.
#[derive(Clone)]
pub struct Credentials {
    /// OAuth client id.
    pub client_id: String,
    /// OAuth client secret.
    pub client_secret: String,
    /// The opaque JWT credential of the admin user.
    pub jwt: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("jwt", &"[redacted]")
            .finish()
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            seed: 1,
            credentials: Credentials {
                client_id: "sandbox-client-id".into(),
                client_secret: "sandbox-client-secret".into(),
                jwt: "eyJraWQiOiJzYW5kYm94IiwidHlwIjoiSldUIiwiYWxnIjoiUlMyNTYifQ.sandbox-jwt-credential.c2lnbmF0dXJl".into(),
            },
            auth: Default::default(),
            permissions: Default::default(),
            rate_limits: Some(Default::default()),
            speed: 1.0,
            clock_offset: Duration::zero(),
            call_log_lag: Duration::seconds(20),
            recording_lag: Duration::seconds(60),
            audio: Default::default(),
            scenario: Default::default(),
            subscriptions: Default::default(),
            live_calls_per_minute: 0.0,
            faults: Default::default(),
            platform_addr: None,
            media_addr: None,
        }
    }
}
