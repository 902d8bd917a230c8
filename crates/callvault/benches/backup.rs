//! Backup benchmarks against the in-process sandbox (run with
//! `cargo bench -p callvault --bench backup`; not a timed test).
//!
//! 1. Rate-limit efficiency: back up `BENCH_RL_RECORDINGS` (default 2,000)
//!    recordings with Heavy = 10 requests per 1 s window, and report elapsed
//!    ÷ the minimum that limit allows (all Heavy requests ÷ limit × window)
//!    and the 429s, side by side with a baseline written the way
//!    RingCentral's samples do it (list, then download one by one with plain
//!    reqwest, sleeping `Retry-After` after a 429), as a ratio.
//! 2. Throughput with limits off: the release `callvault sync` binary backs
//!    up `BENCH_TP_RECORDINGS` (default 10,000) short recordings under
//!    `/usr/bin/time -v`: recordings/s, MB/s and its peak RSS; then, on the
//!    same sandbox, the samples' way (list, then fetch one by one, writing
//!    each to a file) as the baseline, reported as a ratio.
//!
//! `BENCH_ONLY=rate|throughput` runs one half.

use std::sync::Arc;
use std::time::{Duration, Instant};

use callvault::configuration::{RcArgs, StoreArgs};
use callvault::sync::{self, Downloader, Progress, Report};
use rc_sandbox::SandboxHandle;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A sandbox whose history holds about `recordings` short recordings.
async fn sandbox(recordings: usize, limits: bool) -> SandboxHandle {
    rc_sandbox::Sandbox::builder()
        .seed(99)
        .configure(|c| {
            c.scenario.calls = recordings;
            c.scenario.days = 20;
            c.scenario.recorded_share = 1.0;
            c.scenario.transferred_share = 0.0;
            c.scenario.talk_ms = 30_000..30_500;
            c.scenario.ring_ms = 1_000..2_000;
            c.call_log_lag = chrono::Duration::zero();
            c.recording_lag = chrono::Duration::zero();
            c.rate_limits = limits.then(|| rc_sandbox::ratelimit::RateLimitConfig {
                window_secs: 1,
                penalty_secs: 1,
                heavy: 10,
                ..Default::default()
            });
        })
        .spawn()
        .await
        .expect("sandbox")
}

fn rc_args(s: &SandboxHandle) -> RcArgs {
    let env: std::collections::BTreeMap<_, _> = s.client_env().into_iter().collect();
    RcArgs {
        server_url: env["RC_SERVER_URL"].clone(),
        media_url: Some(env["RC_MEDIA_URL"].clone()),
        client_id: env["RC_CLIENT_ID"].clone(),
        client_secret: env["RC_CLIENT_SECRET"].clone().into(),
        jwt: env["RC_JWT"].clone().into(),
    }
}

fn world_recordings(s: &SandboxHandle) -> usize {
    let world = s.state().world();
    world
        .conversations
        .iter()
        .map(|c| c.ordered_recordings().count())
        .sum()
}

async fn callvault_run(s: &SandboxHandle, dir: &std::path::Path) -> (Report, rc_api::RcClient) {
    let rc = rc_args(s);
    let store = StoreArgs {
        data_dir: dir.to_owned(),
        database: None,
        storage: None,
        worm: Default::default(),
    };
    let client = callvault::app::rc_client(&rc).expect("client");
    let catalog = callvault::app::catalog(&store).await.expect("catalog");
    let progress = Arc::new(Progress::default());
    let mut report = Report::default();
    let now = chrono::Utc::now();
    let d = Downloader {
        client: client.clone(),
        catalog,
        blobs: callvault::app::blobs(&store).expect("blobs"),
        layout: vault::KeyLayout::default(),
        schedule: rc_api::ladder::Ladder::recording_content(),
        backoff: callvault::jobs::Backoff::DEFAULT,
    };
    sync::backup(
        &d,
        (now - chrono::Duration::days(21), now),
        4,
        chrono::Duration::seconds(30),
        progress,
        &mut report,
    )
    .await
    .expect("backup");
    (report, client)
}

/// The samples' way: token, list every page, then download one by one,
/// sleeping `Retry-After` after a 429, and (with `save_to`) write each to a
/// file there, as the samples do. Returns (downloads, 429s).
async fn baseline(s: &SandboxHandle, save_to: Option<&std::path::Path>) -> (u64, u64) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let env: std::collections::BTreeMap<_, _> = s.client_env().into_iter().collect();
    let http = reqwest::Client::new();
    let mut limited = 0u64;
    // Sends `req` again after each 429, sleeping Retry-After.
    async fn send(
        req: impl Fn() -> reqwest::RequestBuilder,
        limited: &mut u64,
    ) -> reqwest::Response {
        loop {
            let resp = req().send().await.expect("request");
            if resp.status() == reqwest::StatusCode::TOO_MANY_REQUESTS {
                *limited += 1;
                let secs = resp
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok())
                    .unwrap_or(60);
                tokio::time::sleep(Duration::from_secs(secs)).await;
                continue;
            }
            return resp;
        }
    }
    let server = env["RC_SERVER_URL"].trim_end_matches('/').to_owned();
    let token: serde_json::Value = send(
        || {
            http.post(format!("{server}/restapi/oauth/token"))
                .basic_auth(&env["RC_CLIENT_ID"], Some(&env["RC_CLIENT_SECRET"]))
                .form(&[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                    ("assertion", env["RC_JWT"].as_str()),
                ])
        },
        &mut limited,
    )
    .await
    .json()
    .await
    .expect("token");
    let bearer = token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let from = (chrono::Utc::now() - chrono::Duration::days(21))
        .format("%Y-%m-%dT%H:%M:%S.000Z")
        .to_string();
    let mut next = Some(format!(
        "{server}/restapi/v1.0/account/~/call-log?view=Detailed&recordingType=All&perPage=1000&dateFrom={from}"
    ));
    let mut uris = Vec::new();
    while let Some(url) = next.take() {
        let page: serde_json::Value = send(|| http.get(&url).bearer_auth(&bearer), &mut limited)
            .await
            .json()
            .await
            .expect("page");
        for rec in page["records"].as_array().into_iter().flatten() {
            if let Some(uri) = rec["recording"]["contentUri"].as_str() {
                uris.push(uri.to_owned());
            }
        }
        next = page["navigation"]["nextPage"]["uri"]
            .as_str()
            .map(str::to_owned);
    }
    let mut downloads = 0;
    for uri in &uris {
        let resp = send(|| http.get(uri).bearer_auth(&bearer), &mut limited).await;
        if resp.status().is_success() {
            let body = resp.bytes().await.expect("body");
            if let Some(dir) = save_to {
                let file = dir.join(format!("{downloads}.audio"));
                tokio::fs::write(file, body).await.expect("save");
            }
            downloads += 1;
        }
    }
    (downloads, limited)
}

async fn rate_limit_efficiency() {
    let n = env_usize("BENCH_RL_RECORDINGS", 2000);
    let s = sandbox(n, true).await;
    let recordings = world_recordings(&s);
    // Render every recording once up front, so neither run pays for encoding.
    {
        let recs: Vec<_> = s
            .state()
            .world()
            .conversations
            .iter()
            .flat_map(|c| c.ordered_recordings().cloned().collect::<Vec<_>>())
            .collect();
        for r in &recs {
            s.state()
                .audio()
                .get_or_render(&s.state().config().audio, r);
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let started = Instant::now();
    let (report, client) = callvault_run(&s, dir.path()).await;
    let ours = started.elapsed().as_secs_f64();
    let metrics = client.rate_limit_metrics();
    let heavy = metrics
        .iter()
        .find(|m| m.group == rc_api::RateGroup::heavy())
        .map(|m| m.requests)
        .unwrap_or(0);
    let ours_429: u64 = metrics.iter().map(|m| m.rate_limited).sum();
    let minimum = heavy as f64 / 10.0 * 1.0;

    // The baseline starts on a fresh window.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let started = Instant::now();
    let (base_downloads, base_429) = baseline(&s, None).await;
    let base = started.elapsed().as_secs_f64();

    println!(
        "== rate-limit efficiency: Heavy = 10 requests / 1 s window, {recordings} recordings =="
    );
    println!(
        "callvault: stored {} in {ours:.1} s; {heavy} Heavy requests → minimum {minimum:.1} s; \
         elapsed/minimum = {:.3}; 429s = {ours_429}",
        report.stored,
        ours / minimum
    );
    println!(
        "baseline (list, then one by one, sleep Retry-After on 429): {base_downloads} downloads in {base:.1} s; \
         429s = {base_429}; elapsed/minimum = {:.3}",
        base / minimum
    );
    println!("callvault / baseline elapsed = {:.3}", ours / base);
}

fn throughput() {
    let n = env_usize("BENCH_TP_RECORDINGS", 10_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let s = rt.block_on(sandbox(n, false));
    let recordings = world_recordings(&s);
    {
        let recs: Vec<_> = s
            .state()
            .world()
            .conversations
            .iter()
            .flat_map(|c| c.ordered_recordings().cloned().collect::<Vec<_>>())
            .collect();
        for r in &recs {
            s.state()
                .audio()
                .get_or_render(&s.state().config().audio, r);
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = std::env::var("CALLVAULT_BIN").unwrap_or_else(|_| {
        let mut p = std::env::current_exe().expect("exe");
        p.pop();
        if p.ends_with("deps") {
            p.pop();
        }
        p.join("callvault").display().to_string()
    });
    let mut cmd = std::process::Command::new("/usr/bin/time");
    cmd.arg("-v")
        .arg(&bin)
        .arg("sync")
        .arg("--data")
        .arg(dir.path())
        .arg("--from")
        .arg((chrono::Utc::now() - chrono::Duration::days(21)).to_rfc3339())
        .arg("--json")
        .env("RUST_LOG", "warn");
    for (k, v) in s.client_env() {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = rt
        .block_on(async { tokio::task::spawn_blocking(move || cmd.output()).await })
        .expect("join")
        .expect("run callvault");
    let secs = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb: u64 = stderr
        .lines()
        .find_map(|l| {
            l.trim()
                .strip_prefix("Maximum resident set size (kbytes): ")
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let stored = report["stored"].as_u64().unwrap_or(0);
    let bytes = report["bytes"].as_u64().unwrap_or(0);
    // The same sandbox, the samples' way: list, then fetch one by one and
    // write each to a file (no catalog, no hashing, no atomic rename).
    let started = Instant::now();
    let saved = tempfile::tempdir().expect("tempdir");
    let (fetched, _) = rt.block_on(baseline(&s, Some(saved.path())));
    let base_secs = started.elapsed().as_secs_f64();
    println!("== throughput, limits off: {recordings} recordings ==");
    println!(
        "callvault sync: stored {stored} ({:.1} MB) in {secs:.1} s: {:.0} recordings/s, {:.2} MB/s; peak RSS {:.1} MB; exit {}",
        bytes as f64 / 1e6,
        stored as f64 / secs,
        bytes as f64 / 1e6 / secs,
        rss_kb as f64 / 1024.0,
        out.status
    );
    println!(
        "baseline (list, then fetch one by one, write each to a file): {fetched} in {base_secs:.1} s: {:.0} recordings/s",
        fetched as f64 / base_secs
    );
    println!(
        "callvault recordings/s ÷ baseline recordings/s = {:.2}",
        (stored as f64 / secs) / (fetched as f64 / base_secs)
    );
    drop(s);
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: skip then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "rate" {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        rt.block_on(rate_limit_efficiency());
    }
    if only.is_empty() || only == "throughput" {
        throughput();
    }
}
