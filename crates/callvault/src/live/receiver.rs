//! `POST /webhook/ringcentral`: the receiver RingCentral delivers to.
//!
//! In order: a `Validation-Token` handshake is echoed (200, tiny body)
//! while our own subscription creation is under way (else 403); any
//! other request must carry the `Verification-Token` we registered
//! (compared in constant time; otherwise 403 and nothing is stored); the
//! body (at most [`super::LiveConfig::max_body_bytes`], else 413) must parse
//! as a telephony-session notification (else 400); it is committed to the
//! catalog, duplicates by `uuid` absorbed, and a departure also enqueues
//! the session's follow-up job in the same transaction, all before the 200.
//! Nothing slow happens here: no RingCentral call, no folding.
//!
//! # Group commit
//! One transaction per request would pay one flush to disk per
//! notification, a few milliseconds each on an ordinary disk: a few hundred
//! per second at most. Instead each request hands its parsed notification
//! to the [`Committer`] through a bounded queue and waits on a oneshot
//! reply. A committer task takes everything waiting (up to
//! [`super::LiveConfig::commit_batch_max`]), writes it in ONE transaction
//! ([`vault::Catalog::commit_notifications`]: a multi-row insert with
//! `ON CONFLICT (uuid) DO NOTHING`, plus the departures' jobs), and only
//! after the commit answers each request, new or duplicate. Under light load
//! a batch is one notification and adds no delay; under heavy load batches
//! grow while the previous commit runs, so one flush serves many requests.
//! One committer on both backends: SQLite has one writer at a time, and on
//! PostgreSQL several committers let a worker's transaction deadlock
//! against a batch (seen in the live end-to-end test).
//! The durability of that commit (fsync'd on both backends) is stated in
//! `vault`'s `live` module.
//!
//! Backpressure: a request waits at most
//! [`super::LiveConfig::commit_queue_wait`] for a place in a full queue, and
//! at most [`super::LiveConfig::commit_timeout`] for its commit; then it gets
//! 503 (RingCentral may deliver again; a commit that lands late makes the
//! redelivery a duplicate). A batch whose transaction fails is retried one
//! notification at a time, so one bad row cannot fail its neighbours.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::Utc;
use futures::FutureExt;
use rc_api::models::TelephonySessionNotification;
use tokio::sync::{mpsc, oneshot};
use vault::{Catalog, NewNotification, NotificationWrite};

use super::{LiveConfig, LiveState, WEBHOOK_PATH, fold};
use crate::jobs::Job;
use crate::metrics::LiveMetrics;

/// Longest notification `uuid` accepted.
const MAX_UUID_LEN: usize = 128;

/// The receiver's routes, ready to merge into the web server's router.
pub fn webhook_router(state: LiveState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route(WEBHOOK_PATH, post(receive))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// Why a delivery was refused (never says more than the status needs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    Forbidden,
    Malformed,
    /// The body could not be read (413 when too large).
    Body(StatusCode),
    /// The commit queue stayed full, or the commit was too slow.
    Overloaded,
    Internal,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let (status, text) = match self {
            Refusal::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
            Refusal::Malformed => (StatusCode::BAD_REQUEST, "malformed notification"),
            Refusal::Body(status) if status == StatusCode::PAYLOAD_TOO_LARGE => {
                (status, "notification too large")
            }
            Refusal::Body(status) => (status, "unreadable body"),
            Refusal::Overloaded => {
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::RETRY_AFTER, "1")],
                    "overloaded",
                )
                    .into_response();
            }
            Refusal::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal error"),
        };
        (status, text).into_response()
    }
}

async fn receive(
    State(state): State<LiveState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Some(token) = headers.get("validation-token") {
        // Echoed only while we create a subscription ourselves: an echo
        // lets anyone point a RingCentral subscription of theirs here.
        if !super::subscription::validation_window_open(&state.catalog).await {
            state
                .metrics
                .notifications_rejected
                .fetch_add(1, Ordering::Relaxed);
            return (StatusCode::FORBIDDEN, "no subscription is being created").into_response();
        }
        state.metrics.validations.fetch_add(1, Ordering::Relaxed);
        return validation_answer(token.clone());
    }
    match accept(&state, &headers, body).await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "{}",
        )
            .into_response(),
        Err(refusal) => {
            let counter = match refusal {
                Refusal::Overloaded => &state.metrics.notifications_shed,
                _ => &state.metrics.notifications_rejected,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            refusal.into_response()
        }
    }
}

/// 200 with the same `Validation-Token`, well under RingCentral's 1024-byte limit.
fn validation_answer(token: HeaderValue) -> Response {
    let mut response = (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        "",
    )
        .into_response();
    response.headers_mut().insert("validation-token", token);
    response
}

async fn accept(
    state: &LiveState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(), Refusal> {
    let Some(presented) = headers.get("verification-token") else {
        tracing::warn!("webhook delivery without Verification-Token refused");
        return Err(Refusal::Forbidden);
    };
    match state.token_matches(presented.as_bytes()).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::warn!("webhook delivery with a wrong Verification-Token refused");
            return Err(Refusal::Forbidden);
        }
        Err(e) => {
            tracing::error!(error = %e, "reading the verification token failed");
            return Err(Refusal::Internal);
        }
    }
    let body = body.map_err(|rejection| Refusal::Body(rejection.status()))?;
    let write = notification_write(&body, &state.config).ok_or(Refusal::Malformed)?;
    let departure = write.job.is_some();
    let new = state.committer().commit(write, &state.config).await?;
    if !new {
        state
            .metrics
            .notifications_duplicate
            .fetch_add(1, Ordering::Relaxed);
        return Ok(());
    }
    state
        .metrics
        .notifications_received
        .fetch_add(1, Ordering::Relaxed);
    if departure {
        state
            .metrics
            .session_triggers
            .fetch_add(1, Ordering::Relaxed);
        state.wake.notify_waiters();
    }
    Ok(())
}

/// Parses an untrusted delivery body into what is committed: the
/// notification as received and, when it reports a party leaving, its
/// session's follow-up job (due after [`LiveConfig::session_delay`]).
/// `None` when it is not a telephony-session notification we can keep.
pub fn notification_write(body: &[u8], config: &LiveConfig) -> Option<NotificationWrite> {
    // Valid JSON is UTF-8 text; it is kept exactly as received.
    let text = std::str::from_utf8(body).ok()?;
    let note: TelephonySessionNotification = serde_json::from_str(text).ok()?;
    if note.uuid.is_empty()
        || note.uuid.len() > MAX_UUID_LEN
        || note.uuid.chars().any(char::is_control)
    {
        return None;
    }
    let tsid = note.body.telephony_session_id.clone();
    let job = fold::reports_a_departure(&note).then(|| {
        Job::Session {
            session: tsid.clone(),
        }
        .to_new_job()
        .run_at(Utc::now() + config.session_delay)
        .priority(crate::priority::LIVE)
    });
    Some(NotificationWrite {
        notification: NewNotification {
            uuid: note.uuid,
            telephony_session_id: Some(tsid),
            sequence: note.body.sequence,
            event_time: note.body.event_time,
            body: text.to_owned(),
        },
        job,
    })
}

/// One request waiting for its commit.
struct Pending {
    write: NotificationWrite,
    /// `Ok(true)` new, `Ok(false)` duplicate, `Err` not stored.
    reply: oneshot::Sender<Result<bool, ()>>,
}

/// Committer tasks on PostgreSQL (batches are written in key order, so
/// concurrent ones cannot deadlock on each other's rows).
const POSTGRES_COMMITTERS: usize = 1;

/// Handle to the group committer task (see the module doc). Cheap to keep;
/// the task ends when the handle is dropped and the queue is drained.
#[derive(Debug, Clone)]
pub struct Committer {
    queue: mpsc::Sender<Pending>,
}

impl Committer {
    /// Starts the committer task for `catalog` (needs a Tokio runtime).
    pub fn spawn(catalog: Catalog, metrics: Arc<LiveMetrics>, config: &LiveConfig) -> Committer {
        let (queue, rx) = mpsc::channel(config.commit_queue.max(1));
        // SQLite has one writer, so one committer; see POSTGRES_COMMITTERS.
        let committers = match catalog.backend() {
            vault::Backend::Sqlite => 1,
            vault::Backend::Postgres => POSTGRES_COMMITTERS,
        };
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        for _ in 0..committers {
            tokio::spawn(run_committer(
                catalog.clone(),
                metrics.clone(),
                config.commit_batch_max.max(1),
                rx.clone(),
            ));
        }
        Committer { queue }
    }

    /// Queues `write` and waits for its commit: `true` if new, `false` if
    /// a duplicate. Bounded waits, see the module doc.
    async fn commit(&self, write: NotificationWrite, config: &LiveConfig) -> Result<bool, Refusal> {
        let (reply, answer) = oneshot::channel();
        match self
            .queue
            .send_timeout(Pending { write, reply }, config.commit_queue_wait)
            .await
        {
            Ok(()) => {}
            Err(mpsc::error::SendTimeoutError::Timeout(_)) => {
                tracing::warn!("commit queue full: webhook delivery shed with 503");
                return Err(Refusal::Overloaded);
            }
            Err(mpsc::error::SendTimeoutError::Closed(_)) => {
                tracing::error!("the notification committer is gone");
                return Err(Refusal::Internal);
            }
        }
        match tokio::time::timeout(config.commit_timeout, answer).await {
            Ok(Ok(Ok(new))) => Ok(new),
            // The committer logged why.
            Ok(Ok(Err(()))) => Err(Refusal::Internal),
            Ok(Err(_dropped)) => {
                tracing::error!("the notification committer dropped a delivery");
                Err(Refusal::Internal)
            }
            Err(_elapsed) => {
                tracing::warn!("commit slower than the commit timeout: answered 503");
                Err(Refusal::Overloaded)
            }
        }
    }
}

/// The committer loop: take everything waiting, commit it in one
/// transaction, answer each request. Ends when every sender is gone.
async fn run_committer(
    catalog: Catalog,
    metrics: Arc<LiveMetrics>,
    batch_max: usize,
    rx: Arc<tokio::sync::Mutex<mpsc::Receiver<Pending>>>,
) {
    let mut pending = Vec::with_capacity(batch_max);
    // The queue is held only while taking a batch, so another committer
    // gathers the next batch while this one commits.
    while rx.lock().await.recv_many(&mut pending, batch_max).await > 0 {
        let (writes, replies): (Vec<NotificationWrite>, Vec<_>) =
            pending.drain(..).map(|p| (p.write, p.reply)).unzip();
        let started = Instant::now();
        let outcome = commit_guarded(&catalog, &writes).await;
        metrics.commit_seconds.observe_duration(started.elapsed());
        metrics.commit_batch_size.observe(writes.len() as f64);
        match outcome {
            Ok(news) => {
                for (reply, new) in replies.into_iter().zip(news) {
                    // A requester that gave up (timeout) no longer listens.
                    let _ = reply.send(Ok(new));
                }
            }
            Err(e) if writes.len() == 1 => {
                tracing::error!(error = %e, "committing a notification failed");
                for reply in replies {
                    let _ = reply.send(Err(()));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = writes.len(),
                    "a group commit failed; committing its notifications one by one");
                commit_one_by_one(&catalog, writes, replies).await;
            }
        }
    }
}

/// Commits `writes`, turning a panic into an error so the loop survives.
async fn commit_guarded(
    catalog: &Catalog,
    writes: &[NotificationWrite],
) -> Result<Vec<bool>, String> {
    match AssertUnwindSafe(catalog.commit_notifications(writes))
        .catch_unwind()
        .await
    {
        Ok(Ok(news)) => Ok(news),
        Ok(Err(e)) => Err(format!("{:#}", anyhow::Error::new(e))),
        Err(_panic) => Err("the commit panicked".to_owned()),
    }
}

/// After a failed batch: each notification alone, skipping requesters
/// that already gave up.
async fn commit_one_by_one(
    catalog: &Catalog,
    writes: Vec<NotificationWrite>,
    replies: Vec<oneshot::Sender<Result<bool, ()>>>,
) {
    for (write, reply) in writes.into_iter().zip(replies) {
        if reply.is_closed() {
            continue;
        }
        let answer = match commit_guarded(catalog, std::slice::from_ref(&write)).await {
            Ok(news) => Ok(news.first().copied().unwrap_or(false)),
            Err(e) => {
                tracing::error!(error = %e, "committing a notification failed");
                Err(())
            }
        };
        let _ = reply.send(answer);
    }
}
