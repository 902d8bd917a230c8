//! The README's "Connect a real RingCentral account" section, run as written
//! against the sandbox: its `sh` blocks are read from README.md, the production values swapped for the
//! sandbox's, and run in order as one shell script; the last block (`sh
//! serve`) must come up and answer `/healthz` with its webhook subscription
//! live.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::doctor::sandbox;
use crate::helpers::KilledOnDrop;
use crate::support_listening::{Front, SERVE_LINE, Target, address_after};

/// The section of `markdown` that starts at the line `heading` and ends
/// before the next heading of the same level.
fn section<'a>(markdown: &'a str, heading: &str) -> &'a str {
    let start = markdown
        .find(&format!("\n{heading}\n"))
        .unwrap_or_else(|| panic!("README.md has no section {heading:?}"));
    let body = &markdown[start + 1..];
    let next = body[heading.len()..]
        .find("\n## ")
        .map_or(body.len(), |i| heading.len() + i);
    &body[..next]
}

/// The guide's fenced blocks: (info string, body).
fn blocks(markdown: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in markdown.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(info)) => current = Some((info.trim().to_owned(), String::new())),
            (Some(_), Some(_)) => out.extend(current.take()),
            (Some((_, body)), None) => {
                body.push_str(line);
                body.push('\n');
            }
            (None, None) => {}
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_of_the_connect_guide_runs_against_the_sandbox() {
    // Arrange: the sandbox, and what the guide's placeholders stand for.
    let s = sandbox(|_| {}).await;
    let env: std::collections::HashMap<_, _> = s.client_env().into_iter().collect();
    let dir = tempfile::tempdir().unwrap();
    // serve binds port 0 and says where; the guide's public URL is a
    // fixed address the test holds, forwarding to it.
    let front = Front::bind().await;
    let data = dir.path().join("data");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let guide = section(&readme, "## Connect a real RingCentral account");
    let swap = |text: &str| {
        text.replace("https://platform.ringcentral.com", &env["RC_SERVER_URL"])
            .replace("your-client-id", &env["RC_CLIENT_ID"])
            .replace("/var/lib/callvault", &data.display().to_string())
            .replace(
                "https://callvault.example.com",
                &format!("http://{}", front.addr()),
            )
            .replace("127.0.0.1:8080", "127.0.0.1:0")
    };
    let blocks = blocks(guide);
    let (serve, steps): (Vec<_>, Vec<_>) = blocks
        .iter()
        .filter(|(info, _)| info.starts_with("sh"))
        .partition(|(info, _)| info == "sh serve");
    assert!(
        steps.len() >= 5 && serve.len() == 1,
        "the guide's blocks changed: {blocks:?}"
    );
    let mut script = String::from("set -euo pipefail\n");
    for (_, body) in &steps {
        script.push_str(&swap(body));
    }
    script.push_str("echo GUIDE-STEPS-DONE\nexec ");
    script.push_str(&swap(&serve[0].1));
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_callvault"))
        .parent()
        .unwrap()
        .to_owned();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    // Act: run it (RingCentral's deliveries wait for serve to listen).
    front.point_at(Target::Starting);
    // The guide's shell, by then `exec`ed into `callvault serve`.
    let mut guide = KilledOnDrop(
        Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env_clear()
            .env("PATH", path)
            .env("RUST_LOG", "warn")
            .env("RC_MEDIA_URL", &env["RC_MEDIA_URL"])
            .env("CREDENTIALS", dir.path().join("credentials"))
            .env("JWT_FROM_THE_CONSOLE", &env["RC_JWT"])
            .env("CLIENT_SECRET_FROM_THE_CONSOLE", &env["RC_CLIENT_SECRET"])
            .env("ADMIN_PASSWORD", "a-long-admin-password")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let child = &mut guide.0;
    let mut out = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let listening = loop {
        match lines.next() {
            Some(Ok(line)) => match address_after(&line, SERVE_LINE) {
                Some(bound) => {
                    front.point_at(Target::Up(bound));
                    break true;
                }
                None => out.push(line),
            },
            _ => break false,
        }
    };
    let said = |child: &mut std::process::Child| {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        format!("stdout:\n{}\nstderr:\n{err}", out.join("\n"))
    };
    if !listening {
        let _ = child.wait();
        panic!("the guide stopped before serve listened:\n{}", said(child));
    }

    // Assert: doctor passed (set -e), the backfill stored recordings, and
    // serve answers /healthz once RingCentral's subscription is live.
    assert!(out.iter().any(|l| l == "GUIDE-STEPS-DONE"));
    assert!(
        out.iter().any(|l| l.starts_with("ok   credentials")),
        "{out:?}"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let r = client
            .get(format!("http://{}/healthz", front.addr()))
            .send()
            .await;
        if r.as_ref().is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "serve never became healthy: {r:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
