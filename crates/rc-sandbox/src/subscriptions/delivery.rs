//! Delivery of notifications to one subscription's WebHook address: one task
//! per subscription, sending in queue order, one POST at a time, never retried
//! (RingCentral's retry policy is undocumented, so delivery is
//! at-most-once). Each outcome is reported to the registry, which counts
//! consecutive failures and blacklists.

use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::state::AppState;

/// `User-Agent` of every request the platform sends to a receiver.
pub const USER_AGENT: &str = "RingCentral-Webhook/8.3";

/// One notification body, serialized once.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// The JSON envelope.
    pub body: Bytes,
}

/// What happened to one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver answered 200.
    Delivered,
    /// Anything else; the text is the `blacklistedData.reason` it would cause.
    Failed(String),
}

/// Where and how one subscription delivers.
#[derive(Debug, Clone)]
pub struct Target {
    /// Subscription id.
    pub id: String,
    /// `deliveryMode.address`.
    pub address: String,
    /// `verificationToken`, sent as `Verification-Token`.
    pub verification_token: Option<String>,
}

/// The per-subscription worker: ends when the subscription is deleted (its
/// sender dropped) or the sandbox stops.
pub async fn run(
    state: AppState,
    target: Target,
    mut rx: mpsc::UnboundedReceiver<Outgoing>,
    mut stop: watch::Receiver<bool>,
) {
    let client = state
        .subscriptions()
        .client(&state.config().subscriptions.extra_root_certificates)
        .clone();
    let timeout = Duration::from_millis(state.config().subscriptions.webhook_timeout_ms);
    let blacklist_after = state.config().subscriptions.blacklist_after;
    loop {
        let next = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            m = rx.recv() => m,
        };
        let Some(msg) = next else { return };
        if !state
            .subscriptions()
            .deliverable(&target.id, state.clock().now())
        {
            continue;
        }
        let outcome = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            o = post(&client, &target, msg.body, timeout) => o,
        };
        if let Outcome::Failed(reason) = &outcome {
            tracing::debug!(subscription = %target.id, %reason, "webhook delivery failed");
        }
        state.subscriptions().record_outcome(
            &target.id,
            &outcome,
            state.clock().now(),
            blacklist_after,
        );
    }
}

async fn post(
    client: &reqwest::Client,
    target: &Target,
    body: Bytes,
    timeout: Duration,
) -> Outcome {
    let mut req = client
        .post(&target.address)
        .header("Content-Type", "application/json; charset=UTF-8")
        .header("Accept", "application/json")
        .header("User-Agent", USER_AGENT)
        .body(body);
    if let Some(t) = &target.verification_token {
        req = req.header("Verification-Token", t);
    }
    let exchange = async {
        let resp = req.send().await?;
        let status = resp.status();
        // Drain the (small) body so the connection can be reused.
        let _ = resp.bytes().await;
        Ok::<_, reqwest::Error>(status)
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Outcome::Failed("I/O operation is failed. Details: [Read timed out]".into()),
        Ok(Ok(s)) if s == reqwest::StatusCode::OK => Outcome::Delivered,
        Ok(Ok(s)) => Outcome::Failed(format!(
            "Webhook responses with code: [{}], reason: [{}]",
            s.as_u16(),
            s.canonical_reason().unwrap_or("Unknown")
        )),
        Ok(Err(e)) if e.is_connect() => {
            Outcome::Failed("I/O operation is failed. Details: [Connection refused]".into())
        }
        Ok(Err(e)) if e.is_timeout() => {
            Outcome::Failed("I/O operation is failed. Details: [Read timed out]".into())
        }
        Ok(Err(_)) => {
            Outcome::Failed("I/O operation is failed. Details: [Connection reset]".into())
        }
    }
}
