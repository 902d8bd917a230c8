//! Live backup: RingCentral tells us when a call ends, and its recordings
//! are in the vault minutes later without anyone running a command.
//!
//! # Brief overview
//! * [`webhook_router`] (`POST /webhook/ringcentral`, [`receiver`]) answers
//!   the `Validation-Token` handshake, checks `Verification-Token` in
//!   constant time against the token kept in the catalog, parses the
//!   envelope and hands it to the group committer, which commits many
//!   requests' notifications in one durable transaction
//!   ([`vault::Catalog::commit_notifications`], duplicate `uuid`s absorbed);
//!   only then is the 200 sent. A notification that reports a party leaving
//!   also enqueues, in the same transaction, a `session` job for its
//!   telephony session, first due after [`LiveConfig::session_delay`].
//! * [`fold`] turns a session's notifications, in any order and with
//!   duplicates, into party states: over, recordings named, attended-transfer
//!   peers.
//! * [`session`] is the `session` job: once the fold says the session is
//!   over it records the conversation (joining attended-transfer sessions),
//!   reads the company call log for the session and writes it through
//!   [`crate::sync::ledger::record`] (which enqueues the downloads), retried
//!   on a schedule measured from the call's end until every recording the
//!   events named is listed, or a deadline, after which the conversation is
//!   flagged `incomplete` with its reason. When every recording of the
//!   conversation is stored it enqueues a stitch job
//!   ([`crate::jobs::Job::Stitch`], dedupe `stitch:<conversation id>`, payload `{"conversation": id}`) for the
//!   stitching module, or marks a one-recording conversation `single`.
//! * [`subscription`] creates, reuses, renews and recreates the WebHook
//!   subscription ([`subscription::ensure_subscription`]).
//! * [`workers`] runs the job loop ([`run_workers`]): `download` and
//!   `session` jobs, only while this process holds the cluster-wide
//!   `rc-gateway` singleton (one process talks to RingCentral at a time); the
//!   gateway also keeps the subscription and runs the safety-net sync.
//!
//! # Mounting
//! The web server merges [`webhook_router`] into its router and spawns
//! [`run_workers`] beside it under the same shutdown token.
//!
//! # Does not
//! Stitch (that is `crate::stitching`, fed by stitch jobs), serve the web
//! UI, or keep session state in memory: everything it knows is in the
//! catalog, so a killed process loses nothing it acknowledged.

pub mod capacity_watch;
pub mod fold;
pub mod handler;
pub mod look;
pub mod receiver;
pub mod session;
pub mod subscription;
pub mod token;
pub mod workers;

#[cfg(test)]
mod ingest_tests;
#[cfg(test)]
mod lossy_network;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use rc_api::ladder::Ladder;
use tokio::sync::{Notify, RwLock};
use vault::Catalog;

use crate::metrics::LiveMetrics;

pub use receiver::webhook_router;
pub use subscription::telephony_filters;
pub use workers::{Workers, run_workers};

/// Catalog setting holding the verification token every delivery must carry.
pub const TOKEN_SETTING: &str = "live.verification_token";

/// Catalog setting holding the id of our WebHook subscription.
pub const SUBSCRIPTION_SETTING: &str = "live.subscription_id";

/// Path RingCentral delivers to (append it to the public URL): the
/// receiver serves it, the subscription names it.
pub const WEBHOOK_PATH: &str = "/webhook/ringcentral";

/// Catalog setting where the gateway keeps the subscription status it last
/// saw (`Active`, `Blacklisted`, …, or `Error` when the check failed); every
/// process's `/healthz` ([`crate::health`]) reads it.
pub const SUBSCRIPTION_STATE_SETTING: &str = "live.subscription_state";

/// Catalog setting holding when our own subscription-creation window ends
/// (RFC 3339): only until then does the receiver echo a `Validation-Token`.
/// It is in the catalog because the receiver that RingCentral validates may
/// be another process than the gateway creating the subscription.
pub const VALIDATION_WINDOW_SETTING: &str = "live.validation_open_until";

/// The knobs of the live flow (defaults are for production).
#[derive(Debug, Clone)]
pub struct LiveConfig {
    /// Largest notification body accepted.
    pub max_body_bytes: usize,
    /// Most notifications the receiver commits in one transaction.
    pub commit_batch_max: usize,
    /// Notifications that may wait for the committer (the bounded queue
    /// between requests and the one committer task).
    pub commit_queue: usize,
    /// How long a request waits for a place in a full commit queue before
    /// it is answered 503 (RingCentral gives a delivery 3 s).
    pub commit_queue_wait: Duration,
    /// How long a request waits for its commit before it is answered 503
    /// (the commit may still land; a redelivery is then a duplicate).
    pub commit_timeout: Duration,
    /// When a `session` job is first due after a departure, on our clock:
    /// lets the last out-of-order notifications arrive (RingCentral delivers
    /// within seconds). Waiting for the call log to catch up is the
    /// ladder's first step, on RingCentral's clock.
    pub session_delay: chrono::Duration,
    /// When a session looks for its records in the call log again,
    /// measured from the call's end ([`Ladder::call_log_records`]).
    pub schedule: Ladder,
    /// When a download first asks for a recording's content, and tries
    /// again while it answers 404, measured from the call's end
    /// ([`Ladder::recording_content`]).
    pub not_ready: Ladder,
    /// How long after the call's end to keep waiting for named recordings in
    /// the call log before flagging the conversation `incomplete`.
    pub deadline: chrono::Duration,
    /// How long after its last event a session that never reported its end
    /// is waited for before its conversation is flagged `incomplete`.
    pub open_limit: chrono::Duration,
    /// How often a session job looks again while its session is still open
    /// or its downloads are still running (no RingCentral call).
    pub recheck: chrono::Duration,
    /// Longest a session job sleeps while its conversation's downloads run:
    /// each finished download wakes it, so this only covers a wake-up lost
    /// (a download of a session not yet joined to the conversation).
    pub download_backstop: chrono::Duration,
    /// Shortest time between two batched call-log looks ([`look`]); the
    /// budget may stretch it (a look takes at most one Heavy slot in five).
    pub look_min_gap: chrono::Duration,
    /// Worker tasks per process.
    pub workers: usize,
    /// How long a worker holds a job before another may take it over.
    pub job_lease: Duration,
    /// Longest sleep on an empty queue (a wake-up notification cuts it short).
    pub poll_interval: Duration,
    /// How long the `rc-gateway` singleton is held per renewal.
    pub gateway_lease: Duration,
    /// How often the gateway runs the safety-net sync (the first run is at start).
    pub safety_net_every: Duration,
    /// Overlap of each safety-net sync with the previous one.
    pub safety_net_overlap: chrono::Duration,
    /// How far back the very first safety-net sync looks.
    pub safety_net_backfill: chrono::Duration,
    /// How often the gateway checks the subscription.
    pub subscription_check_every: Duration,
    /// `expiresIn` asked for a new subscription, in seconds.
    pub subscription_lifetime_secs: u64,
    /// Renew when less than this is left.
    pub renew_before: chrono::Duration,
    /// When a job that failed runs again (every kind, downloads included).
    pub retry: crate::jobs::Backoff,
    /// On shutdown, how long in-flight jobs may finish before they are
    /// returned to the queue.
    pub shutdown_grace: Duration,
    /// How the gateway measures capacity and when a growing backlog is
    /// degraded ([`crate::capacity`]).
    pub capacity: crate::capacity::CapacityConfig,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            max_body_bytes: 256 * 1024,
            commit_batch_max: 512,
            commit_queue: 8192,
            commit_queue_wait: Duration::from_secs(1),
            commit_timeout: Duration::from_secs(10),
            session_delay: chrono::Duration::seconds(5),
            schedule: Ladder::call_log_records(),
            not_ready: Ladder::recording_content(),
            deadline: chrono::Duration::hours(24),
            open_limit: chrono::Duration::hours(12),
            recheck: chrono::Duration::seconds(15),
            download_backstop: chrono::Duration::minutes(2),
            look_min_gap: chrono::Duration::seconds(10),
            workers: 4,
            job_lease: Duration::from_secs(120),
            poll_interval: Duration::from_secs(5),
            gateway_lease: Duration::from_secs(30),
            safety_net_every: Duration::from_secs(15 * 60),
            safety_net_overlap: chrono::Duration::hours(2),
            safety_net_backfill: chrono::Duration::days(1),
            subscription_check_every: Duration::from_secs(5 * 60),
            subscription_lifetime_secs: 7 * 24 * 3600,
            renew_before: chrono::Duration::days(2),
            retry: crate::jobs::Backoff::DEFAULT,
            shutdown_grace: Duration::from_secs(20),
            capacity: crate::capacity::CapacityConfig::default(),
        }
    }
}

impl LiveConfig {
    /// Production's knobs with every delay, poll, retry and lease scaled to
    /// `pace` per step, for tests and the demo that run calls lasting
    /// seconds: the first look one step after a departure, call-log retries
    /// every two steps (at most five apart however the clocks disagree),
    /// polls every step. Leases keep floors (2 s gateway, 5 s job) so a
    /// loaded machine does not lose them mid-job; the deadlines stay
    /// production's, so nothing is given up on early.
    pub fn paced(pace: Duration) -> LiveConfig {
        let step = chrono::Duration::from_std(pace).unwrap_or(chrono::Duration::seconds(1));
        LiveConfig {
            session_delay: step,
            schedule: Ladder {
                steps: vec![step * 2],
                min_gap: step,
                max_gap: step * 5,
                give_up_after: None,
            },
            // Production's steps with 15 s to a step (the first look is
            // 30 s there, two steps here); the 24-hour verdict stays.
            not_ready: Ladder::recording_content().scaled(chrono::Duration::seconds(15), step),
            recheck: step,
            download_backstop: step * 10,
            look_min_gap: step * 2,
            poll_interval: pace,
            job_lease: (pace * 50).clamp(Duration::from_secs(5), Duration::from_secs(120)),
            gateway_lease: (pace * 15).clamp(Duration::from_secs(2), Duration::from_secs(30)),
            subscription_check_every: (pace * 25)
                .clamp(Duration::from_secs(1), Duration::from_secs(300)),
            retry: crate::jobs::Backoff {
                base: pace,
                cap: pace * 20,
            },
            shutdown_grace: (pace * 10).clamp(Duration::from_secs(1), Duration::from_secs(20)),
            capacity: crate::capacity::CapacityConfig::paced(pace),
            ..LiveConfig::default()
        }
    }
}

/// What the receiver shares across requests. Cheap to clone.
#[derive(Clone)]
pub struct LiveState {
    /// The catalog notifications are committed to.
    pub catalog: Catalog,
    /// The knobs.
    pub config: Arc<LiveConfig>,
    /// Counters.
    pub metrics: Arc<LiveMetrics>,
    /// Woken when a job is enqueued, so an idle worker starts at once.
    pub wake: Arc<Notify>,
    token: Arc<RwLock<Option<String>>>,
    /// The group committer, started by the first delivery (so building a
    /// state needs no runtime); it stops when the last clone is dropped.
    committer: Arc<OnceLock<receiver::Committer>>,
}

impl std::fmt::Debug for LiveState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl LiveState {
    /// State over `catalog` with `config`; the verification token is read
    /// from the catalog on first use (and again whenever a delivery carries
    /// a different one, so a token rotated by another process is picked up).
    pub fn new(catalog: Catalog, config: LiveConfig) -> LiveState {
        LiveState {
            catalog,
            config: Arc::new(config),
            metrics: Arc::new(LiveMetrics::default()),
            wake: Arc::new(Notify::new()),
            token: Arc::new(RwLock::new(None)),
            committer: Arc::new(OnceLock::new()),
        }
    }

    /// The group committer, started on first use (inside a Tokio runtime).
    pub(crate) fn committer(&self) -> &receiver::Committer {
        self.committer.get_or_init(|| {
            receiver::Committer::spawn(self.catalog.clone(), self.metrics.clone(), &self.config)
        })
    }

    /// Whether `presented` is the verification token in force (constant
    /// time). Re-reads the catalog once when it does not match the cache.
    pub async fn token_matches(&self, presented: &[u8]) -> Result<bool, vault::CatalogError> {
        if let Some(t) = self.token.read().await.as_deref()
            && token::constant_time_eq(t.as_bytes(), presented)
        {
            return Ok(true);
        }
        let fresh = self.catalog.setting(TOKEN_SETTING).await?;
        let ok = fresh
            .as_deref()
            .is_some_and(|t| token::constant_time_eq(t.as_bytes(), presented));
        *self.token.write().await = fresh;
        Ok(ok)
    }
}
