//! The cluster, end to end: a PostgreSQL catalog, an S3 bucket (moto), two
//! `serve --no-workers` receivers behind a round-robin load balancer (the
//! subscription points at the balancer, which hands every other delivery
//! to each receiver), and three `worker` processes. Live calls with
//! transfers and a one-day backfill run while the process holding the
//! RingCentral gateway is SIGKILLed mid-download, and then its successor
//! too. The sandbox, which sees every request with its access token,
//! proves RingCentral never saw two processes at once and never answered
//! 429; the end state is exact.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use rc_sandbox::faults::FaultConfig;
use rc_sandbox::model::Handoff;
use rc_sandbox::ratelimit::RateLimitConfig;
use rc_sandbox::scenario::ScenarioConfig;
use vault::{ArrivedBy, JobState};

use crate::helpers::*;
use crate::moto::AWS_ENV;
use crate::support_listening::{SERVE_LINE, address_in_log};

/// One CallVault process of the cluster; SIGKILLed on drop.
struct Node {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Node {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn kill(&mut self) {
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reaped");
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(60);
        format!("--- {} ---\n{}\n", self.name, lines[from..].join("\n"))
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The processes, their shared settings, and their logs on failure.
struct Cluster {
    nodes: Vec<Node>,
    storage: String,
}

impl Cluster {
    fn spawn(&mut self, live: &Live, name: &str, args: &[&str]) {
        let log = live.dir().join(format!("{name}.log"));
        let file = std::fs::File::create(&log).expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_callvault"))
            .args(args)
            .arg("--data")
            .arg(live.dir().join(format!("data-{name}")))
            .args(["--database", live.database(), "--storage", &self.storage])
            .envs(live.sandbox.client_env())
            .envs(AWS_ENV)
            .env("RUST_LOG", "warn,callvault::live=info,sqlx=error")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .env_remove("CALLVAULT_LISTEN")
            .env_remove("CALLVAULT_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log handle"))
            .stderr(file)
            .spawn()
            .expect("callvault starts");
        self.nodes.push(Node {
            name: name.to_owned(),
            child,
            log,
        });
    }

    fn worker(&mut self, live: &Live, name: &str, public_url: &str) {
        let pace = PACE_MS.to_string();
        self.spawn(
            live,
            name,
            &[
                "worker",
                "--public-url",
                public_url,
                "--no-receiver",
                "--workers",
                "3",
                "--pace-ms",
                &pace,
                "--sync-every-secs",
                "10",
            ],
        );
    }

    /// The node whose pid is in the gateway holder id (`host:pid:tag`).
    fn by_holder(&mut self, holder: &str) -> &mut Node {
        let pid: u32 = holder
            .split(':')
            .nth(1)
            .and_then(|p| p.parse().ok())
            .expect("holder is host:pid:tag");
        self.nodes
            .iter_mut()
            .find(|n| n.pid() == pid)
            .expect("the holder is one of ours")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for node in &self.nodes {
                eprintln!("{}", node.log_tail());
            }
        }
    }
}

/// A round-robin load balancer in front of the receivers: RingCentral's
/// deliveries (and its validation handshake) go to each in turn.
async fn load_balancer(upstreams: Vec<String>) -> (String, Arc<Vec<AtomicUsize>>) {
    #[derive(Clone)]
    struct Lb {
        upstreams: Arc<Vec<String>>,
        next: Arc<AtomicUsize>,
        served: Arc<Vec<AtomicUsize>>,
        http: reqwest::Client,
    }
    async fn forward(State(lb): State<Lb>, headers: HeaderMap, body: Bytes) -> impl IntoResponse {
        let i = lb.next.fetch_add(1, Ordering::Relaxed) % lb.upstreams.len();
        let mut req = lb
            .http
            .post(format!("{}/webhook/ringcentral", lb.upstreams[i]))
            .body(body);
        for name in ["content-type", "validation-token", "verification-token"] {
            if let Some(v) = headers.get(name) {
                req = req.header(name, v);
            }
        }
        match req.send().await {
            Ok(r) => {
                lb.served[i].fetch_add(1, Ordering::Relaxed);
                let status = StatusCode::from_u16(r.status().as_u16()).unwrap();
                let mut out = HeaderMap::new();
                if let Some(v) = r.headers().get("validation-token")
                    && let Ok(v) = axum::http::HeaderValue::from_bytes(v.as_bytes())
                {
                    out.insert("validation-token", v);
                }
                (status, out, r.bytes().await.unwrap_or_default()).into_response()
            }
            Err(_) => StatusCode::BAD_GATEWAY.into_response(),
        }
    }
    let _ = rustls::crypto::ring::default_provider().install_default();
    let served: Arc<Vec<AtomicUsize>> =
        Arc::new(upstreams.iter().map(|_| AtomicUsize::new(0)).collect());
    let lb = Lb {
        upstreams: Arc::new(upstreams),
        next: Arc::new(AtomicUsize::new(0)),
        served: served.clone(),
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
    };
    let router = axum::Router::new()
        .route("/webhook/ringcentral", axum::routing::post(forward))
        .with_state(lb);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, served)
}

/// The gateway holder and its lease token, once one holds it.
async fn gateway(live: &Live) -> (String, i64) {
    eventually("a gateway holder", PATIENCE, || async {
        live.catalog
            .singleton_holder(callvault::gateway::GATEWAY)
            .await
            .unwrap()
    })
    .await
}

/// Waits until `holder` holds download jobs and RingCentral sees a request
/// in flight, and returns those jobs (their recordings may be fetched again
/// after the kill).
async fn downloading(live: &Live, holder: &str) -> BTreeSet<String> {
    eventually("the gateway downloading", PATIENCE, || async {
        let held: BTreeSet<String> = live
            .catalog
            .jobs_in_state(JobState::Leased, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|j| {
                j.kind == callvault::jobs::JobKind::Download.as_str()
                    // Each worker task of the process leases as `holder:N`.
                    && j.holder.as_deref().is_some_and(|h| {
                        h.strip_prefix(holder).is_some_and(|n| n.starts_with(':'))
                    })
            })
            .map(|j| j.dedupe_key)
            .collect();
        // Only the gateway talks to RingCentral: a request in flight there
        // is one of its downloads (or the look that queues them).
        let talking = live.sandbox.state().observed().in_flight() > 0;
        (!held.is_empty() && talking).then_some(held)
    })
    .await
}

/// Kills the gateway holder mid-download; returns the cut jobs and how long
/// the next holder took to take over.
async fn kill_the_gateway(live: &Live, cluster: &mut Cluster) -> (BTreeSet<String>, Duration) {
    let (holder, token) = gateway(live).await;
    let cut = downloading(live, &holder).await;
    let node = cluster.by_holder(&holder);
    eprintln!(
        "{:?}: SIGKILL {} (the gateway) with {cut:?} in flight",
        live.elapsed(),
        node.name
    );
    node.kill();
    let killed = Instant::now();
    let (next, next_token) = eventually("another gateway", PATIENCE, || async {
        live.catalog
            .singleton_holder(callvault::gateway::GATEWAY)
            .await
            .unwrap()
            .filter(|(h, _)| *h != holder)
    })
    .await;
    assert!(
        next_token > token,
        "{next} took over with token {next_token}"
    );
    (cut, killed.elapsed())
}

// It found a product bug: after two kills mid-download, the third gateway
// ran session jobs but never claimed a download again. Session jobs,
// served first, were always due while they waited on downloads a sync had
// queued at backfill priority, and a claim took the killed holders'
// expired leases only when nothing else was due. Sessions now raise the
// downloads they wait for to live priority, and the reaper gives expired
// leases back to the queue.
#[tokio::test]
async fn a_cluster_on_postgresql_and_s3_backs_everything_up_once_across_gateway_kills() {
    // Arrange: moto, a bucket, a PostgreSQL catalog, and a sandbox with a
    // day of history (the backfill), rate limits on (1 s windows, the
    // production counts), and half the downloads trickling so a kill finds
    // one in flight.
    let Some(moto) = crate::moto::moto().await else {
        return;
    };
    let started = Instant::now();
    let Some(mut live) = Live::new(41, Backend::Postgres, |c| {
        c.scenario = ScenarioConfig {
            calls: 10,
            days: 1,
            ..short_calls()
        };
        c.rate_limits = Some(RateLimitConfig {
            window_secs: 1,
            penalty_secs: 1,
            ..RateLimitConfig::default()
        });
    })
    .await
    else {
        return;
    };
    let bucket = moto.bucket(false).await;
    live.blobs = moto.blob_store(&bucket);
    live.sandbox.state().faults().set(FaultConfig {
        slow_body: 0.5,
        slow_body_bytes_per_sec: 40_000,
        ..Default::default()
    });
    let history: Vec<usize> = (0..live.sandbox.state().world().conversations.len()).collect();
    let mut cluster = Cluster {
        nodes: Vec::new(),
        storage: moto.storage_url(&bucket),
    };
    // Each receiver binds port 0 and says where on its log.
    let mut receivers = Vec::new();
    for i in 1..=2 {
        cluster.spawn(
            &live,
            &format!("receiver-{i}"),
            &["serve", "--no-workers", "--listen", "127.0.0.1:0"],
        );
        let node = cluster.nodes.last_mut().expect("just spawned");
        let bound = address_in_log(&node.log.clone(), SERVE_LINE, &mut node.child, PATIENCE).await;
        receivers.push(format!("http://{bound}"));
    }
    let (public_url, served) = load_balancer(receivers).await;
    for i in 1..=3 {
        cluster.worker(&live, &format!("worker-{i}"), &public_url);
    }
    let (cut, takeovers) = run(&mut live, &mut cluster, &public_url, &history).await;

    // Assert: both receivers took deliveries.
    let served: Vec<usize> = served.iter().map(|n| n.load(Ordering::Relaxed)).collect();
    assert!(
        served.iter().all(|n| *n > 0),
        "deliveries per receiver {served:?}"
    );

    // RingCentral saw one process at a time, several in turn, and no 429.
    let seen = live.sandbox.state().observed().counts();
    assert_eq!(seen.overlapping_requests, 0, "{seen:?}");
    // (The last holder may be done before its first call; two at least.)
    assert!(seen.tokens_used >= 2, "gateway holders in turn: {seen:?}");
    assert_eq!(seen.rate_limited, 0, "{seen:?}");
    let lease = callvault::live::LiveConfig::paced(Duration::from_millis(PACE_MS)).gateway_lease;
    for took in &takeovers {
        // Within the lease, plus the successor's next check (lease / 3)
        // and a margin for a busy machine.
        assert!(
            *took <= lease * 2,
            "takeover took {took:?} (lease {lease:?})"
        );
    }
    eprintln!("gateway takeovers after SIGKILL: {takeovers:?} (lease {lease:?}); {seen:?}");

    // Every recording fetched once: the ones whose download a kill cut off
    // at most twice (the kill may fall between the last byte and the commit).
    let truth: Vec<TruthConversation> = live
        .truth(&all_conversations(&live))
        .await
        .into_iter()
        .filter(|t| !t.recordings.is_empty() || !history.contains(&t.index))
        .collect();
    let recordings: BTreeSet<String> = truth
        .iter()
        .flat_map(|t| t.recordings.iter().map(|r| r.id.as_str().to_owned()))
        .collect();
    let fetched: BTreeSet<String> = seen.downloads.keys().cloned().collect();
    assert_eq!(fetched, recordings, "recordings fetched vs the truth");
    for (id, n) in &seen.downloads {
        let limit = if cut.contains(&format!("rec:{id}")) {
            2
        } else {
            1
        };
        assert!(*n <= limit, "recording {id} downloaded {n} times");
    }

    // Every conversation backed up and stitched in order, by webhook (live)
    // or sync (backfill).
    let multi = truth.iter().filter(|t| t.recordings.len() > 1).count();
    assert!(multi >= 5, "{multi} multi-leg conversations");
    for t in &truth {
        assert_backed_up(
            &live,
            t,
            &[ArrivedBy::Webhook, ArrivedBy::Both, ArrivedBy::Sync],
        )
        .await;
    }

    // Every recording byte-exact in the bucket (re-read and re-hashed
    // there; `settled` compared the catalog with the sandbox's bytes).
    for t in &truth {
        for r in &t.recordings {
            let rec = live.catalog.recording(&r.id).await.unwrap().unwrap();
            let (key, sha) = (rec.storage_key.unwrap(), rec.sha256.unwrap());
            assert_eq!(sha.to_hex(), r.sha256, "recording {}", r.id);
            assert!(
                matches!(
                    live.blobs.verify(&key, &sha).await.unwrap(),
                    vault::Verified::Intact { .. }
                ),
                "{key} in the bucket"
            );
        }
    }

    // The bucket holds exactly each recording and its sidecar, and per
    // stitched conversation its file, manifest and chapters: nothing partial,
    // one version each, no open upload.
    let listed = live.blobs.list(None).await.unwrap();
    assert_eq!(
        listed.len(),
        2 * recordings.len() + 3 * multi,
        "{listed:#?}"
    );
    assert!(moto.versions(&bucket).await.iter().all(|(_, n)| *n == 1));
    assert_eq!(moto.open_uploads(&bucket).await, 0);
    let jobs = live.catalog.counts_by_state().await.unwrap();
    assert_eq!((jobs.dead, jobs.leased), (0, 0), "{jobs:?}");
    eprintln!("cluster test took {:?}", started.elapsed());
    drop(cluster);
    live.finish().await;
}

/// Every conversation the sandbox holds (history and live).
fn all_conversations(live: &Live) -> Vec<usize> {
    (0..live.sandbox.state().world().conversations.len()).collect()
}

/// The middle of the test: live traffic, two gateway kills, settling.
/// Returns the cut download jobs and the takeover times.
async fn run(
    live: &mut Live,
    cluster: &mut Cluster,
    public_url: &str,
    history: &[usize],
) -> (BTreeSet<String>, Vec<Duration>) {
    {
        live.active_subscription(None).await;
        eprintln!("{:?}: subscription active", live.elapsed());
        // Live calls over 5 s, short (a four-leg call lasts under 20 s),
        // and an attended transfer for certain.
        let brief = ScenarioConfig {
            talk_ms: MIN_TALK_MS..3_600,
            ring_ms: 300..600,
            ..short_calls()
        };
        let mut calls = live.random_calls_like(30, Duration::from_millis(170), &brief);
        let now = live.sandbox.state().clock().now();
        calls.extend(live.add_calls(vec![scripted(
            now,
            &[(3, Handoff::AttendedTransfer), (4, Handoff::HangUp)],
        )]));

        // The gateway dies mid-download; so does its successor; a fresh
        // worker joins, so two remain.
        let (mut cut, first) = kill_the_gateway(live, cluster).await;
        let (cut2, second) = kill_the_gateway(live, cluster).await;
        cut.extend(cut2);
        cluster.worker(live, "worker-4", public_url);

        // A backfilled call without a recording leaves nothing to back up
        // (the sync keeps recordings, not calls).
        let mut truth: Vec<TruthConversation> = live
            .truth(history)
            .await
            .into_iter()
            .filter(|t| !t.recordings.is_empty())
            .collect();
        truth.extend(live.truth(&calls).await);
        wait_settled(live, &truth, Duration::from_secs(90)).await;
        eprintln!("{:?}: settled", live.elapsed());
        (cut, vec![first, second])
    }
}
