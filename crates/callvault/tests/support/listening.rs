//! Child processes bind port 0 themselves and tell the address they bound
//! on a line of their output (`CallVault listening on http://ADDR`); tests
//! read it, instead of binding a free port, dropping it and hoping nothing
//! takes it before the child binds it. [`Front`] gives a child that is
//! restarted one fixed address for the whole test.

// Each test binary uses its own part of this module.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

/// What `callvault serve` prints once it listens, before the address.
pub const SERVE_LINE: &str = "CallVault listening on http://";

/// What `callvault worker` prints once its receiver listens.
pub const WORKER_LINE: &str = "CallVault worker listening on http://";

/// The address on the first line of `text` that starts with `prefix`.
pub fn address_after(text: &str, prefix: &str) -> Option<SocketAddr> {
    text.lines()
        .find_map(|line| line.trim_start().strip_prefix(prefix))
        .and_then(|rest| rest.trim().trim_end_matches('/').parse().ok())
}

/// Waits until the log `log` of `child` has a line starting with `prefix`,
/// and returns the address on it; fails if the child exits first or
/// `patience` passes.
pub async fn address_in_log(
    log: &Path,
    prefix: &str,
    child: &mut std::process::Child,
    patience: Duration,
) -> SocketAddr {
    let deadline = Instant::now() + patience;
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        if let Some(addr) = address_after(&text, prefix) {
            return addr;
        }
        if let Some(status) = child.try_wait().ok().flatten() {
            panic!("the child exited with {status} before it listened:\n{text}");
        }
        assert!(
            Instant::now() < deadline,
            "no {prefix:?} line after {patience:?}:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Where a [`Front`] sends its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// No child runs: a connection is closed at once, which fails a
    /// request as a refused connection would.
    Down,
    /// A child is starting and has not said where it listens yet: a
    /// connection waits for it (as it would wait in a listen backlog).
    Starting,
    /// The child listens here.
    Up(SocketAddr),
}

/// A fixed address, bound by the test for its whole run, that forwards each
/// connection to a child's current address. A child restarted on port 0
/// gets a new port each time; what must not change (the webhook URL
/// RingCentral holds) points here.
pub struct Front {
    addr: SocketAddr,
    target: tokio::sync::watch::Sender<Target>,
    task: tokio::task::JoinHandle<()>,
}

impl Front {
    /// Binds a loopback port (kept until drop) and starts forwarding, with
    /// no child yet ([`Target::Down`]).
    pub async fn bind() -> Front {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a loopback port");
        let addr = listener.local_addr().expect("its address");
        let (target, watching) = tokio::sync::watch::channel(Target::Down);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut downstream, _)) = listener.accept().await else {
                    continue;
                };
                let mut watching = watching.clone();
                tokio::spawn(async move {
                    let to = loop {
                        match *watching.borrow_and_update() {
                            Target::Down => return,
                            Target::Up(to) => break to,
                            Target::Starting => {}
                        }
                        if watching.changed().await.is_err() {
                            return;
                        }
                    };
                    let Ok(mut upstream) = tokio::net::TcpStream::connect(to).await else {
                        return;
                    };
                    let _ = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await;
                });
            }
        });
        Front { addr, target, task }
    }

    /// The fixed address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where new connections go from now on.
    pub fn point_at(&self, target: Target) {
        self.target.send_replace(target);
    }
}

impl Drop for Front {
    fn drop(&mut self) {
        self.task.abort();
    }
}
