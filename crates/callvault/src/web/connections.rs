//! Accepting connections with timeouts and a cap, so idle or slow clients
//! cannot hold the server's file descriptors.
//!
//! `axum::serve` sets no timeout at all: 220 idle or slowloris connections
//! stayed open forever. Here, with hyper-util's connection builder:
//!
//! * **Header-read timeout** ([`ConnectionLimits::header_read_timeout`]):
//!   a request's head must arrive in full within it, counted from when the
//!   server starts waiting for it. hyper starts that wait as soon as a
//!   connection opens and again after each response, so the same timeout
//!   also closes idle keep-alive connections.
//! * **Request timeout**: a handler must produce the response head within
//!   [`ConnectionLimits::request_timeout`] (408 otherwise); streaming the
//!   audio body afterwards is not limited.
//! * **Request-body timeout**: a client must keep sending its body, with no
//!   gap longer than [`ConnectionLimits::body_timeout`].
//! * **Connection cap**: at most [`ConnectionLimits::max_connections`] are
//!   served at once; further clients wait in the kernel's accept backlog
//!   (no descriptor is spent on them) until one closes.
//!
//! HTTP/1.1 only: browsers speak HTTP/2 only over TLS, which a reverse
//! proxy in front terminates.
//!
//! Shutdown stops accepting, lets in-flight requests finish (idle
//! connections close at once) and waits at most
//! [`ConnectionLimits::shutdown_grace`] for them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::{RequestBodyTimeoutLayer, TimeoutLayer};

/// How long and how many connections are served.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Time to receive a request's head, and the longest idle keep-alive.
    pub header_read_timeout: Duration,
    /// Time for a handler to start its response.
    pub request_timeout: Duration,
    /// Longest gap while receiving a request body.
    pub body_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(30),
            max_connections: 512,
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

/// Serves `app` on `listener` within `limits` until `stop` completes, then
/// shuts down gracefully.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app
        .layer(RequestBodyTimeoutLayer::new(limits.body_timeout))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            limits.request_timeout,
        ));
    // hyper's own HTTP/1 builder, not hyper-util's `auto` one: `auto` first
    // waits, with no timeout, for the bytes that tell HTTP/1 from HTTP/2,
    // so a client that connects and says nothing would never be dropped.
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, remote) = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    accept_failed(e).await;
                    continue;
                }
            },
        };
        if let Err(e) = stream.set_nodelay(true) {
            tracing::debug!(error = %e, "cannot set TCP_NODELAY");
        }
        // Handlers read the client address through `ConnectInfo` (rate
        // limits, the audit log), as with axum's own server.
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(request)
        });
        let connection = builder.serve_connection(TokioIo::new(stream), service);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, client = %remote, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("shutdown: connections still open after the grace period were dropped");
    }
    Ok(())
}

/// An `accept` error: per-connection ones (reset before accept) are
/// skipped; others (out of descriptors) pause accepting for a moment
/// rather than spin.
async fn accept_failed(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        e.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::error!(error = %e, "accepting a connection failed; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
