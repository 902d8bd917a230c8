//! Slow and idle clients are cut off; connections are capped; shutdown
//! stays graceful.

use std::time::{Duration, Instant};

use callvault::web::connections::ConnectionLimits;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::*;

const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Slack for a busy machine; the old server never closed at all.
const SLACK: Duration = Duration::from_secs(8);

async fn app_with(limits: ConnectionLimits) -> TestApp {
    spawn_app_tuned(|s| s.connections = limits).await
}

fn short_headers() -> ConnectionLimits {
    ConnectionLimits {
        header_read_timeout: HEADER_TIMEOUT,
        ..ConnectionLimits::default()
    }
}

fn addr(app: &TestApp) -> String {
    app.base.trim_start_matches("http://").to_owned()
}

/// Reads until the server closes; returns when, or panics past `deadline`.
async fn wait_closed(stream: &mut TcpStream, started: Instant, what: &str) -> Duration {
    let mut buf = [0u8; 4096];
    let mut seen = Vec::new();
    loop {
        let left = (HEADER_TIMEOUT + SLACK).saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return started.elapsed(),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Err(_) => panic!(
                "{what}: still open after {:?}; received {:?}",
                started.elapsed(),
                String::from_utf8_lossy(&seen)
            ),
        }
    }
}

#[tokio::test]
async fn a_slowloris_connection_is_closed_within_the_header_timeout() {
    let app = app_with(short_headers()).await;
    let stream = TcpStream::connect(addr(&app)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let started = Instant::now();
    writer
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 1024];
    // Trickle a header line now and then, never ending the head.
    let mut trickle = tokio::time::interval(Duration::from_millis(300));
    let closed = loop {
        tokio::select! {
            _ = trickle.tick() => {
                if writer.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    break started.elapsed();
                }
                assert!(
                    started.elapsed() < HEADER_TIMEOUT + SLACK,
                    "slowloris still open after {:?}",
                    started.elapsed()
                );
            }
            n = reader.read(&mut buf) => {
                if matches!(n, Ok(0) | Err(_)) {
                    break started.elapsed();
                }
            }
        }
    };
    assert!(closed >= HEADER_TIMEOUT / 2, "closed too early: {closed:?}");
}

#[tokio::test]
async fn a_silent_connection_and_an_idle_keep_alive_are_closed() {
    let app = app_with(short_headers()).await;
    let mut silent = TcpStream::connect(addr(&app)).await.unwrap();
    let started = Instant::now();
    wait_closed(&mut silent, started, "a connection that never spoke").await;

    let mut idle = TcpStream::connect(addr(&app)).await.unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
    let started = Instant::now();
    wait_closed(&mut idle, started, "an idle keep-alive connection").await;
}

#[tokio::test]
async fn connections_past_the_cap_wait_until_one_closes() {
    let app = app_with(ConnectionLimits {
        max_connections: 2,
        header_read_timeout: Duration::from_secs(60),
        ..ConnectionLimits::default()
    })
    .await;
    let first = TcpStream::connect(addr(&app)).await.unwrap();
    let _second = TcpStream::connect(addr(&app)).await.unwrap();
    let mut third = TcpStream::connect(addr(&app)).await.unwrap();
    third
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    assert!(
        tokio::time::timeout(Duration::from_millis(700), third.read(&mut buf))
            .await
            .is_err(),
        "the third connection was served while two held the cap"
    );
    drop(first);
    let n = tokio::time::timeout(Duration::from_secs(20), third.read(&mut buf))
        .await
        .expect("served once a slot freed")
        .unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200"));
}

#[tokio::test]
async fn shutdown_finishes_while_an_idle_connection_is_open() {
    let mut app = app_with(ConnectionLimits {
        header_read_timeout: Duration::from_secs(60),
        ..ConnectionLimits::default()
    })
    .await;
    let c = client();
    assert_eq!(
        c.get(app.url("/healthz")).send().await.unwrap().status(),
        200
    );
    let _idle = TcpStream::connect(addr(&app)).await.unwrap();
    let server = app.stop();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server stopped")
        .unwrap()
        .unwrap();
    assert!(
        c.get(app.url("/healthz")).send().await.is_err(),
        "no longer listening"
    );
}
