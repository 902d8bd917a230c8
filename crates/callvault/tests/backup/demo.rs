//! `callvault demo`, the README's first command, run as a user runs it:
//! the backup and its checks against the embedded sandbox, then the web UI
//! and the live flow over the same catalog pool and blob store.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::helpers::KilledOnDrop;

/// How long the demo may take to say each thing: a backstop against a
/// hang on a busy 2-core machine, not a pace.
const PATIENCE: Duration = Duration::from_secs(240);

/// Lines of the demo's stdout, as they come, until the first that
/// `wanted` accepts; panics with everything said so far when it ends or
/// `PATIENCE` passes first.
fn until(
    lines: &mpsc::Receiver<String>,
    said: &mut Vec<String>,
    wanted: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                said.push(line.clone());
                if wanted(&line) {
                    return line;
                }
            }
            Err(e) => panic!("the demo did not say it ({e}):\n{}", said.join("\n")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_backs_up_checks_stitches_then_serves_and_backs_up_live_calls() {
    // Arrange: a fresh data folder; the UI on a port the demo picks.
    let dir = tempfile::tempdir().unwrap();
    let mut demo = KilledOnDrop(
        Command::new(env!("CARGO_BIN_EXE_callvault"))
            .arg("demo")
            .arg("--data")
            .arg(dir.path().join("demo"))
            .args(["--calls", "12", "--listen", "127.0.0.1:0"])
            .args(["--live-calls-per-minute", "60", "--live-speed", "30"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap(),
    );
    let stdout = demo.0.stdout.take().unwrap();
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut said = Vec::new();

    // Assert: every recording matched the sandbox's ground truth, and every
    // stitched conversation plays its legs in order.
    let checked = until(&lines, &mut said, |l| l.starts_with("checked against"));
    let (matched, expected) = checked
        .split_once(": ")
        .and_then(|(_, rest)| rest.split_once(' '))
        .and_then(|(counts, _)| counts.split_once('/'))
        .unwrap_or_else(|| panic!("{checked}"));
    assert_eq!(matched, expected, "{checked}");
    assert_ne!(matched, "0", "{checked}");
    let stitched = until(&lines, &mut said, |l| {
        l.starts_with("stitched ") && l.contains("play every leg")
    });
    let counts: Vec<&str> = stitched
        .split_whitespace()
        .filter(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .collect();
    assert_eq!(counts.len(), 2, "{stitched}");
    assert_eq!(
        counts[1]
            .split_once('/')
            .map(|(a, b)| a == b && b == counts[0]),
        Some(true),
        "{stitched}"
    );

    // The web UI answers on the address it printed.
    let ui = until(&lines, &mut said, |l| l.starts_with("web UI: "));
    let url = ui
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("{ui}"))
        .trim_end_matches('/')
        .to_owned();
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let login = http.get(format!("{url}/login")).send().await.unwrap();
    assert_eq!(login.status(), 200, "{ui}");

    // And a live call is backed up (or stitched) by the workers that share
    // the server's catalog and blob store.
    let live = until(&lines, &mut said, |l| {
        l.starts_with("backed up: ") || l.starts_with("stitched: ")
    });
    assert!(!live.is_empty());
    assert!(
        demo.0.try_wait().unwrap().is_none(),
        "the demo ended:\n{}",
        said.join("\n")
    );
}
