//! The optional alert webhook (`--alert-webhook`, `CALLVAULT_ALERT_WEBHOOK`):
//! a JSON POST, `{"event": …, "text": …}`, whose `text` a Slack incoming
//! webhook (and most chat tools) shows as it is, and whose `event` a script
//! can switch on: `degraded`, `dead_jobs` or `subscription_lost`.
//!
//! # Brief overview
//! * [`Alerts::observe`] takes what the gateway sees now ([`Observed`]),
//!   compares it with what it saw last, and sends an alert only on a
//!   transition into a bad state ([`transitions`]): the backlog turning
//!   degraded, new dead jobs appearing, the subscription stopping being
//!   `Active`. What it saw last is kept in the catalog (setting
//!   [`LAST_SEEN_SETTING`]), so a restart or a new gateway neither repeats
//!   an alert nor misses one; only the gateway observes, so one process
//!   sends.
//! * [`AlertSender`] posts from a task of its own through a bounded queue:
//!   the gateway never waits on a slow chat server, memory stays bounded (a
//!   full queue drops the alert, with a warning), each try has a timeout,
//!   and a failed try is repeated a little ([`ATTEMPTS`]) before the
//!   failure is logged.
//!
//! # Does not
//! Put an id, token, secret or URL in an alert or in a log line: the text
//! says what happened in counts and fixed words, and the webhook's own URL
//! (Slack's carries its secret in the path) is never logged or shown by
//! `Debug`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use vault::Catalog;

/// Catalog setting holding the conditions the last observation saw, as JSON.
pub const LAST_SEEN_SETTING: &str = "alerts.last_seen";

/// Tries per alert.
pub const ATTEMPTS: u32 = 3;

/// Longest a try may take, connecting included.
const TRY_TIMEOUT: Duration = Duration::from_secs(10);

/// First pause between tries (doubling).
const RETRY_PAUSE: Duration = Duration::from_secs(1);

/// Alerts that may wait to be sent; more are dropped (with a warning).
const QUEUE: usize = 16;

/// Where alerts go: an `http` or `https` URL. Its `Debug` and `Display`
/// show only the scheme and host (chat webhooks carry a secret in the path).
#[derive(Clone, PartialEq, Eq)]
pub struct AlertUrl(reqwest::Url);

/// Why an alert URL was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AlertUrlError {
    /// Not a URL at all.
    #[error("the alert webhook is not a URL")]
    NotAUrl,
    /// A URL, but not one we can POST to.
    #[error("the alert webhook must be an http or https URL with a host")]
    NotHttp,
}

impl std::str::FromStr for AlertUrl {
    type Err = AlertUrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The parse error itself could echo the URL: keep it out.
        let url = reqwest::Url::parse(s.trim()).map_err(|_| AlertUrlError::NotAUrl)?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(AlertUrlError::NotHttp);
        }
        Ok(AlertUrl(url))
    }
}

impl std::fmt::Display for AlertUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}://{}/…",
            self.0.scheme(),
            self.0.host_str().unwrap_or("?")
        )
    }
}

impl std::fmt::Debug for AlertUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlertUrl({self})")
    }
}

/// What the gateway sees at one observation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Observed {
    /// Why the node is degraded (one line, with the capacity sentence when
    /// the budget is the cause), or `None`.
    pub degraded: Option<String>,
    /// Dead jobs in the queue now.
    pub dead_jobs: u64,
    /// The subscription state the gateway last stored (`Active`,
    /// `Blacklisted`, `Error`, …); `None` when no subscription is kept or
    /// it has not been checked yet.
    pub subscription: Option<String>,
}

/// The conditions remembered between observations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Conditions {
    /// Degraded.
    pub degraded: bool,
    /// Dead jobs.
    pub dead_jobs: u64,
    /// The subscription was `Active` (`None`: not known).
    pub subscription_active: Option<bool>,
}

impl Observed {
    fn conditions(&self) -> Conditions {
        Conditions {
            degraded: self.degraded.is_some(),
            dead_jobs: self.dead_jobs,
            subscription_active: self.subscription.as_deref().map(|s| s == "Active"),
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Alert {
    /// The backlog has grown for longer than allowed.
    Degraded {
        /// Why, in one line.
        reason: String,
    },
    /// New dead jobs appeared.
    DeadJobs {
        /// How many more than last time.
        new: u64,
        /// How many now.
        total: u64,
    },
    /// The subscription stopped being `Active`.
    SubscriptionLost {
        /// Its state now (a RingCentral status word or `Error`).
        state: String,
    },
}

impl Alert {
    /// The machine-readable `event`.
    pub fn event(&self) -> &'static str {
        match self {
            Alert::Degraded { .. } => "degraded",
            Alert::DeadJobs { .. } => "dead_jobs",
            Alert::SubscriptionLost { .. } => "subscription_lost",
        }
    }

    /// The `text` people read.
    pub fn text(&self) -> String {
        match self {
            Alert::Degraded { reason } => format!("CallVault is degraded: {reason}"),
            Alert::DeadJobs { new, total } => format!(
                "CallVault: {new} more job(s) failed for good ({total} dead in all); \
                 see /status or `callvault jobs ls --dead`, and retry them once the cause is fixed."
            ),
            Alert::SubscriptionLost { state } => format!(
                "CallVault: the RingCentral webhook subscription is no longer active \
                 (state: {state}); live backup waits for the safety-net sync until it is back."
            ),
        }
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"event": self.event(), "text": self.text()})
    }
}

/// The alerts due going from `before` to `now`: transitions into a bad
/// state only, so a condition that lasts is told once.
pub fn transitions(before: &Conditions, now: &Observed) -> Vec<Alert> {
    let mut out = Vec::new();
    if let Some(reason) = &now.degraded
        && !before.degraded
    {
        out.push(Alert::Degraded {
            reason: reason.clone(),
        });
    }
    if now.dead_jobs > before.dead_jobs {
        out.push(Alert::DeadJobs {
            new: now.dead_jobs - before.dead_jobs,
            total: now.dead_jobs,
        });
    }
    if let Some(state) = &now.subscription
        && state != "Active"
        && before.subscription_active != Some(false)
    {
        out.push(Alert::SubscriptionLost {
            state: sanitize_state(state),
        });
    }
    out
}

/// A stored state word, made safe to show: at most 32 letters.
fn sanitize_state(state: &str) -> String {
    let word: String = state
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    if word.is_empty() {
        "unknown".to_owned()
    } else {
        word
    }
}

/// Remembers what was last seen (in the catalog) and sends the transitions.
#[derive(Debug)]
pub struct Alerts {
    sender: AlertSender,
    last: Option<Conditions>,
}

impl Alerts {
    /// Alerts sent through `sender`.
    pub fn new(sender: AlertSender) -> Alerts {
        Alerts { sender, last: None }
    }

    /// Compares `now` with what was last seen and sends what changed for
    /// the worse. The first observation ever (nothing in the catalog) takes
    /// the dead jobs already there as known: an alert is about news.
    pub async fn observe(&mut self, catalog: &Catalog, now: &Observed) {
        let before = match self.last {
            Some(c) => c,
            None => match catalog.setting(LAST_SEEN_SETTING).await {
                Ok(stored) => stored
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or(Conditions {
                        degraded: false,
                        dead_jobs: now.dead_jobs,
                        subscription_active: Some(true),
                    }),
                Err(e) => {
                    tracing::warn!(error = %e, "reading the last alert state failed");
                    return;
                }
            },
        };
        for alert in transitions(&before, now) {
            self.sender.send(alert);
        }
        let mut seen = now.conditions();
        // Unknown now (not checked yet) keeps what was known.
        seen.subscription_active = seen.subscription_active.or(before.subscription_active);
        if self.last != Some(seen) {
            match serde_json::to_string(&seen) {
                Ok(json) => {
                    if let Err(e) = catalog.set_setting(LAST_SEEN_SETTING, &json).await {
                        tracing::warn!(error = %e, "storing the alert state failed");
                    }
                }
                Err(e) => tracing::warn!(error = %e, "encoding the alert state failed"),
            }
        }
        self.last = Some(seen);
    }
}

/// Sends alerts from a task of its own; cheap to clone.
#[derive(Debug, Clone)]
pub struct AlertSender {
    queue: mpsc::Sender<Alert>,
}

impl AlertSender {
    /// Starts the sending task for `url`; it ends when every sender is dropped.
    pub fn spawn(url: AlertUrl) -> AlertSender {
        let (queue, mut rx) = mpsc::channel::<Alert>(QUEUE);
        // Ignore the error: a provider is already installed for this process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent(concat!("callvault/", env!("CARGO_PKG_VERSION")))
            .timeout(TRY_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build();
        tokio::spawn(async move {
            let client = match client {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e.without_url(), "building the alert HTTP client failed; alerts are off");
                    return;
                }
            };
            while let Some(alert) = rx.recv().await {
                deliver(&client, &url, &alert).await;
            }
        });
        AlertSender { queue }
    }

    /// Queues `alert`; a full queue drops it with a warning (the chat
    /// server is down or slow, and the backlog of alerts must not grow).
    pub fn send(&self, alert: Alert) {
        let event = alert.event();
        match self.queue.try_send(alert) {
            Ok(()) => tracing::info!(event, "alert queued"),
            Err(e) => tracing::warn!(event, error = %e, "alert dropped"),
        }
    }
}

/// Posts `alert`, trying [`ATTEMPTS`] times on transport errors, 429 and
/// 5xx; another 4xx is final (the URL or body is wrong, and trying again
/// would not change that).
async fn deliver(client: &reqwest::Client, url: &AlertUrl, alert: &Alert) {
    let event = alert.event();
    let body = alert.body();
    let mut pause = RETRY_PAUSE;
    for attempt in 1..=ATTEMPTS {
        let failure = match client.post(url.0.clone()).json(&body).send().await {
            Ok(r) if r.status().is_success() => {
                tracing::info!(event, attempt, "alert sent");
                return;
            }
            Ok(r) => {
                let status = r.status();
                if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
                    tracing::error!(event, %status, "the alert webhook refused the alert");
                    return;
                }
                format!("answered {status}")
            }
            // Without the URL: it may carry the webhook's secret.
            Err(e) => e.without_url().to_string(),
        };
        if attempt == ATTEMPTS {
            tracing::error!(event, attempts = ATTEMPTS, error = %failure, "sending the alert failed");
            return;
        }
        tracing::warn!(event, attempt, error = %failure, "sending the alert failed; trying again");
        tokio::time::sleep(pause).await;
        pause *= 2;
    }
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
