//! Resident memory of `callvault serve` under a burst of 200 concurrent
//! logins, with the password-check memory budget (default 64 MiB) and,
//! for comparison, with a budget so large nothing is bounded.
//!
//! `cargo bench -p callvault --bench login_memory` (Linux: reads
//! `/proc/<pid>/status`). Each login comes from its own loopback address
//! (127.0.1.1 …) with its own user name, so the throttle lets every one
//! through to the password check: the worst case for memory.

use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

const BURST: usize = 200;

struct Serve {
    child: Child,
    base: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, budget_mib: u32) -> Serve {
    let database = format!("sqlite:{}?mode=rwc", dir.join("catalog.sqlite").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_callvault"))
        .arg("serve")
        .arg("--data")
        .arg(dir.join("data"))
        .args([
            "--database",
            &database,
            "--listen",
            "127.0.0.1:0",
            "--no-workers",
        ])
        .args(["--password-memory-mib", &budget_mib.to_string()])
        .env("RUST_LOG", "error")
        .env_remove("RC_CLIENT_ID")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("callvault serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let base = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("CallVault listening on ").map(str::to_owned))
        .expect("serve listens");
    Serve { child, base }
}

/// (VmRSS, VmHWM) of `pid` in MiB.
fn memory(pid: u32) -> (f64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

async fn burst(base: &str) -> std::collections::BTreeMap<u16, usize> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut prepared = Vec::new();
    for i in 0..BURST {
        let ip: IpAddr = format!("127.0.{}.{}", 1 + i / 250, 1 + i % 250)
            .parse()
            .unwrap();
        let c = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            // A connection per request: the server closes idle keep-alives
            // after its header timeout, and a POST sent on one just closed
            // would fail (a race of any keep-alive client, not of the server).
            .pool_max_idle_per_host(0)
            .local_address(ip)
            .build()
            .unwrap();
        let html = c
            .get(format!("{base}/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let marker = "name=\"csrf\" value=\"";
        let start = html.find(marker).unwrap() + marker.len();
        let csrf = html[start..start + html[start..].find('"').unwrap()].to_owned();
        prepared.push((c, csrf, format!("nobody-{i}")));
    }
    let posts = prepared.into_iter().map(|(c, csrf, user)| async move {
        c.post(format!("{base}/login"))
            .form(&[
                ("username", user.as_str()),
                ("password", "wrong"),
                ("csrf", &csrf),
            ])
            .send()
            .await
            .map(|r| r.status().as_u16())
            .unwrap_or(0)
    });
    let mut tally = std::collections::BTreeMap::new();
    for s in futures::future::join_all(posts).await {
        *tally.entry(s).or_insert(0) += 1;
    }
    tally
}

fn main() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    println!(
        "| password-check budget | RSS before | peak RSS (VmHWM) | RSS after | answers | time |"
    );
    println!("|---|---|---|---|---|---|");
    for budget in [64, 8192] {
        let dir = tempfile::tempdir().unwrap();
        let serve = start(dir.path(), budget);
        let pid = serve.child.id();
        let (before, _) = memory(pid);
        let started = Instant::now();
        let tally = rt.block_on(burst(&serve.base));
        let took = started.elapsed();
        let (after, peak) = memory(pid);
        println!(
            "| {budget} MiB | {before:.1} MiB | {peak:.1} MiB | {after:.1} MiB | {tally:?} | {:.1} s |",
            took.as_secs_f64()
        );
    }
}
