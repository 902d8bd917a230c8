//! The subscription store: records, their delivery queues, expiry and the
//! blacklisting counter.

use std::sync::{Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use serde_json::{Value, json};
use tokio::sync::{mpsc, watch};

use super::delivery::{self, Outcome, Outgoing, Target};
use super::filter::{EventFilter, Scope};
use crate::identity::TokenOwner;
use crate::state::AppState;
use crate::telephony::{TelephonyEvent, rc_time};

/// `status` of a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionStatus {
    /// Receiving notifications.
    Active,
    /// Permanently suspended after failed deliveries.
    Blacklisted {
        /// When it happened (sandbox time).
        at: DateTime<Utc>,
        /// Why, in RingCentral's words.
        reason: String,
    },
}

#[derive(Debug)]
pub(super) struct Record {
    pub id: String,
    pub owner: TokenOwner,
    pub filters: Vec<EventFilter>,
    pub address: String,
    pub creation_time: DateTime<Utc>,
    pub expiration_time: DateTime<Utc>,
    pub lifetime_secs: i64,
    pub status: SubscriptionStatus,
    failures: u32,
    queue: mpsc::UnboundedSender<Outgoing>,
}

impl Record {
    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now >= self.expiration_time
    }

    /// `SubscriptionInfo`; `verificationToken` is never echoed.
    pub fn info(&self, platform_base: &str, now: DateTime<Utc>) -> Value {
        // Whole seconds left, rounded down (a fresh 7-day subscription says 604799).
        let left_ms = (self.expiration_time - now).num_milliseconds() - 1;
        let mut v = json!({
            "uri": format!("{platform_base}/restapi/v1.0/subscription/{}", self.id),
            "id": self.id,
            "creationTime": rc_time(self.creation_time),
            "status": match self.status { SubscriptionStatus::Active => "Active", SubscriptionStatus::Blacklisted { .. } => "Blacklisted" },
            "eventFilters": self.filters.iter().map(EventFilter::uri).collect::<Vec<_>>(),
            "expirationTime": rc_time(self.expiration_time),
            "expiresIn": left_ms.div_euclid(1000).max(0),
            "deliveryMode": {"transportType": "WebHook", "encryption": false, "address": self.address},
        });
        if let SubscriptionStatus::Blacklisted { at, reason } = &self.status {
            v["blacklistedData"] = json!({"blacklistedAt": rc_time(*at), "reason": reason});
        }
        v
    }
}

/// Everything needed to create a subscription once validated.
#[derive(Debug)]
pub(super) struct NewSubscription {
    pub owner: TokenOwner,
    pub filters: Vec<EventFilter>,
    pub address: String,
    pub verification_token: Option<String>,
    pub lifetime_secs: i64,
}

/// All subscriptions of the sandbox.
#[derive(Debug, Default)]
pub struct Registry {
    records: Mutex<Vec<Record>>,
    client: OnceLock<reqwest::Client>,
    stop: OnceLock<watch::Receiver<bool>>,
}

impl Registry {
    /// Lets delivery tasks end when the sandbox stops (called by the server).
    pub fn set_shutdown(&self, stop: watch::Receiver<bool>) {
        let _ = self.stop.set(stop);
    }

    /// The HTTP client for handshakes and deliveries (no proxy, no
    /// redirects), trusting `extra_roots` (PEM) besides the system's roots.
    /// Built once; a certificate that does not parse is skipped with a
    /// warning, so the address then fails its handshake as untrusted.
    pub fn client(&self, extra_roots: &[String]) -> &reqwest::Client {
        self.client.get_or_init(|| {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .redirect(reqwest::redirect::Policy::none());
            for pem in extra_roots {
                match reqwest::Certificate::from_pem(pem.as_bytes()) {
                    Ok(cert) => builder = builder.add_root_certificate(cert),
                    Err(e) => tracing::warn!(error = %e, "extra root certificate skipped"),
                }
            }
            builder.build().unwrap_or_default()
        })
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Vec<Record>> {
        self.records.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Unexpired subscriptions of `owner`.
    pub(super) fn live_count(&self, owner: &TokenOwner, now: DateTime<Utc>) -> usize {
        self.lock()
            .iter()
            .filter(|r| &r.owner == owner && !r.expired(now))
            .count()
    }

    /// Stores a validated subscription, starts its delivery task and returns
    /// its info; `None` if the owner reached `limit` meanwhile.
    pub(super) fn insert(
        &self,
        state: &AppState,
        new: NewSubscription,
        limit: usize,
    ) -> Option<Value> {
        let now = state.clock().now();
        let (tx, rx) = mpsc::unbounded_channel();
        let id = uuid::Uuid::new_v4().to_string();
        let record = Record {
            id: id.clone(),
            owner: new.owner,
            filters: new.filters,
            address: new.address.clone(),
            creation_time: now,
            expiration_time: now + Duration::seconds(new.lifetime_secs),
            lifetime_secs: new.lifetime_secs,
            status: SubscriptionStatus::Active,
            failures: 0,
            queue: tx,
        };
        let info = {
            let mut records = self.lock();
            let live = records
                .iter()
                .filter(|r| r.owner == record.owner && !r.expired(now))
                .count();
            if live >= limit {
                return None;
            }
            let info = record.info(&state.urls().platform, now);
            records.push(record);
            info
        };
        let stop = self
            .stop
            .get()
            .cloned()
            .unwrap_or_else(|| watch::channel(false).1);
        let target = Target {
            id,
            address: new.address,
            verification_token: new.verification_token,
        };
        tokio::spawn(delivery::run(state.clone(), target, rx, stop));
        Some(info)
    }

    /// Whether a delivery to `id` may still go out.
    pub fn deliverable(&self, id: &str, now: DateTime<Utc>) -> bool {
        self.lock()
            .iter()
            .any(|r| r.id == id && r.status == SubscriptionStatus::Active && !r.expired(now))
    }

    /// Counts a delivery outcome; blacklists after too many failures in a row.
    pub fn record_outcome(&self, id: &str, outcome: &Outcome, now: DateTime<Utc>, limit: u32) {
        let mut records = self.lock();
        let Some(r) = records.iter_mut().find(|r| r.id == id) else {
            return;
        };
        match outcome {
            Outcome::Delivered => r.failures = 0,
            Outcome::Failed(reason) => {
                r.failures = r.failures.saturating_add(1);
                if limit > 0 && r.failures >= limit && r.status == SubscriptionStatus::Active {
                    tracing::info!(subscription = %r.id, %reason, "subscription blacklisted");
                    r.status = SubscriptionStatus::Blacklisted {
                        at: now,
                        reason: reason.clone(),
                    };
                }
            }
        }
    }

    /// The status of a subscription, if it exists.
    pub fn status(&self, id: &str) -> Option<SubscriptionStatus> {
        self.lock()
            .iter()
            .find(|r| r.id == id)
            .map(|r| r.status.clone())
    }

    /// Queues `event` for every active, unexpired subscription with a
    /// matching filter; with probability `duplicate_rate` a copy (same `uuid`)
    /// is queued right behind it.
    pub fn dispatch(
        &self,
        state: &AppState,
        event: &TelephonyEvent,
        duplicate_rate: f64,
        rng: &mut impl Rng,
    ) {
        let now = state.clock().now();
        let records = self.lock();
        for r in records.iter() {
            if r.status != SubscriptionStatus::Active || r.expired(now) {
                continue;
            }
            let Some(filter) = best_filter(&r.filters, event) else {
                continue;
            };
            let mut body = event.body.clone();
            if filter.sip_data
                && let Some(p) = body.pointer_mut("/parties/0")
            {
                p["sipData"] = event.sip_data.clone();
            }
            let envelope = json!({
                "uuid": rng.random_range(1_000_000_000_000_000_000u64..9_000_000_000_000_000_000).to_string(),
                "event": filter.uri(),
                "timestamp": rc_time(now),
                "subscriptionId": r.id,
                "ownerId": r.owner.extension_id.to_string(),
                "body": body,
            });
            let Ok(bytes) = serde_json::to_vec(&envelope) else {
                continue;
            };
            let out = Outgoing { body: bytes.into() };
            let twice = duplicate_rate > 0.0 && rng.random::<f64>() < duplicate_rate;
            if twice {
                let _ = r.queue.send(out.clone());
            }
            let _ = r.queue.send(out);
        }
    }
}

/// The most specific matching filter: extension level before account level.
fn best_filter<'a>(filters: &'a [EventFilter], event: &TelephonyEvent) -> Option<&'a EventFilter> {
    filters
        .iter()
        .filter(|f| f.matches(event))
        .min_by_key(|f| match f.scope {
            Scope::Extension(_) => 0,
            Scope::Account => 1,
        })
}
