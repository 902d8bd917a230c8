//! One live world per test: the in-process sandbox (whose telephony engine
//! delivers real webhooks), a tempdir holding the SQLite catalog and the
//! recordings, and the real `callvault serve` binary as a child process
//! that can be killed and started again on the same catalog, behind one
//! fixed address ([`Front`]: each `serve` binds port 0 and says where).
//! Plus the ground truth every test compares the vault against.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rc_sandbox::model::{
    AudioFormat, CallScript, Direction, ExternalParty, Handoff, RecordingKind, SegmentScript,
};
use rc_sandbox::scenario::ScenarioConfig;
use rc_sandbox::subscriptions::SubscriptionStatus;
use rc_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use sha2::Digest;
use sqlx::Connection;

use crate::support::fresh_schema;
use crate::support_listening::{Front, SERVE_LINE, Target, WORKER_LINE, address_in_log};
pub(crate) use crate::test_wait::{PATIENCE, eventually};
use vault::{
    ArrivedBy, BlobStore, Catalog, ConversationId, ConversationState, JobState, RecordingId,
    RecordingState, TelephonySessionId,
};

/// Shortest talk time of a live test call; the sandbox keeps recordings
/// from this length on (production: 30 s), so calls last seconds.
pub const MIN_TALK_MS: u64 = 3_000;

/// Pace handed to `serve --pace-ms`: every live delay and poll is this long.
pub const PACE_MS: u64 = 200;

/// A sandbox for live tests: no history, WAV recordings, recordings and
/// call-log records lagging the call's end by a few seconds, no rate
/// limits (their handling has its own tests).
pub fn live_world(c: &mut SandboxConfig) {
    c.scenario.calls = 0;
    c.audio.format = AudioFormat::Wav;
    c.call_log_lag = chrono::Duration::seconds(3);
    c.recording_lag = chrono::Duration::seconds(5);
    c.rate_limits = None;
}

/// Live calls: a third transferred (2–4 legs), two in five of those
/// transfers attended, nine in ten recorded, talking 3–6 s.
pub fn short_calls() -> ScenarioConfig {
    ScenarioConfig {
        recorded_share: 0.9,
        transferred_share: 1.0 / 3.0,
        attended_share: 0.4,
        on_demand_share: 0.1,
        talk_ms: MIN_TALK_MS..6_000,
        ring_ms: 300..1_200,
        ..ScenarioConfig::default()
    }
}

/// Which catalog `serve` runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's tempdir.
    Sqlite,
    /// A fresh schema of the server named by `CALLVAULT_TEST_POSTGRES`.
    Postgres,
}

/// Everything one test needs.
pub struct Live {
    pub sandbox: SandboxHandle,
    pub catalog: Catalog,
    pub blobs: BlobStore,
    dir: tempfile::TempDir,
    data: PathBuf,
    /// The fixed address RingCentral delivers to; forwards to `serve`.
    front: Front,
    database: String,
    pg: Option<(String, String)>,
    serve: Option<Child>,
    runs: u32,
    rng: StdRng,
    born: Instant,
}

impl Live {
    /// A sandbox configured by `configure` (after [`live_world`]) and an
    /// empty, migrated catalog on `backend`; `serve` is not running yet.
    /// `None` (the test is skipped) for PostgreSQL without
    /// `CALLVAULT_TEST_POSTGRES`.
    pub async fn new(
        seed: u64,
        backend: Backend,
        configure: impl FnOnce(&mut SandboxConfig),
    ) -> Option<Live> {
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => match std::env::var("CALLVAULT_TEST_POSTGRES") {
                Ok(admin) => Some(fresh_schema(admin).await),
                Err(_) => {
                    crate::support::skip("CALLVAULT_TEST_POSTGRES is not set");
                    return None;
                }
            },
        };
        let sandbox = Sandbox::builder()
            .seed(seed)
            .configure(|c| {
                live_world(c);
                configure(c);
            })
            .spawn()
            .await
            .expect("sandbox starts");
        sandbox.state().world_mut().min_recording_ms = MIN_TALK_MS;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let database = match &pg {
            Some((admin, schema)) => {
                let sep = if admin.contains('?') { '&' } else { '?' };
                format!("{admin}{sep}options[search_path]={schema}")
            }
            None => format!("sqlite:{}?mode=rwc", data.join("catalog.sqlite").display()),
        };
        let catalog = Catalog::open(&database).await.expect("catalog opens");
        catalog.migrate().await.expect("catalog migrates");
        let blobs = BlobStore::open(data.join("recordings").to_str().expect("utf-8 path"))
            .expect("blob store");
        // The receiver's address, kept across restarts.
        let front = Front::bind().await;
        Some(Live {
            sandbox,
            catalog,
            blobs,
            dir,
            data,
            front,
            database,
            pg,
            serve: None,
            runs: 0,
            rng: StdRng::seed_from_u64(seed),
            born: Instant::now(),
        })
    }

    /// Stops serve and drops the PostgreSQL schema, if any.
    pub async fn finish(mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.catalog.close().await;
        if let Some((admin, schema)) = self.pg.take() {
            let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }

    /// Staged partial files in the blob store (`key#N`: an upload cut off
    /// by a kill); readers never see them, and serve sweeps them when idle.
    pub fn partial_files(&self) -> Vec<PathBuf> {
        crate::support::partial_files(&self.data.join("recordings"))
    }

    /// Time since this world was made (for progress lines).
    pub fn elapsed(&self) -> Duration {
        self.born.elapsed()
    }

    /// The catalog URL `serve` is given.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The test's temporary folder (logs, data).
    pub fn dir(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// The URL the sandbox delivers webhooks to (below `/webhook/ringcentral`).
    pub fn public_url(&self) -> String {
        format!("http://{}", self.front.addr())
    }

    /// Starts `callvault serve` on the catalog, with the sandbox's `RC_*`
    /// settings, and waits until it accepts connections.
    pub async fn start_serve(&mut self, sync_every_secs: u64) {
        self.start_serve_with(sync_every_secs, &[]).await;
    }

    /// [`Live::start_serve`] with `extra` arguments.
    pub async fn start_serve_with(&mut self, sync_every_secs: u64, extra: &[&str]) {
        self.start("serve", SERVE_LINE, sync_every_secs, extra)
            .await;
    }

    /// Starts `callvault worker` with its webhook receiver instead of
    /// `serve` (stopped, killed and awaited as `serve` is).
    pub async fn start_worker(&mut self, sync_every_secs: u64) {
        self.start("worker", WORKER_LINE, sync_every_secs, &[])
            .await;
    }

    /// Sends SIGTERM to the running `serve` (or `worker`) and returns its
    /// exit status once it has shut down gracefully.
    pub async fn terminate_serve(&mut self) -> std::process::ExitStatus {
        let mut child = self.serve.take().expect("serve is running");
        let sent = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM failed");
        let deadline = Instant::now() + PATIENCE;
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "no exit after SIGTERM:\n{}",
                self.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        self.front.point_at(Target::Down);
        status
    }

    /// Starts `callvault COMMAND` (`serve` or `worker`) on the catalog with
    /// the sandbox's `RC_*` settings, and waits for its `line` telling the
    /// address it bound.
    async fn start(&mut self, command: &str, line: &str, sync_every_secs: u64, extra: &[&str]) {
        assert!(self.serve.is_none(), "serve is already running");
        self.runs += 1;
        let log = std::fs::File::create(self.log_path(self.runs)).expect("serve log");
        // Deliveries wait for this serve to say where it listens.
        self.front.point_at(Target::Starting);
        let child = Command::new(env!("CARGO_BIN_EXE_callvault"))
            .arg(command)
            .arg("--data")
            .arg(&self.data)
            .args(["--database", &self.database])
            .args([
                "--listen",
                "127.0.0.1:0",
                "--public-url",
                &self.public_url(),
            ])
            .args(["--workers", "3", "--pace-ms", &PACE_MS.to_string()])
            .args(["--sync-every-secs", &sync_every_secs.to_string()])
            .args(extra)
            .envs(self.sandbox.client_env())
            .env("RUST_LOG", "warn")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .env_remove("CALLVAULT_LISTEN")
            .env_remove("CALLVAULT_PUBLIC_URL")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log handle"))
            .stderr(log)
            .spawn()
            .expect("callvault serve starts");
        let log = self.log_path(self.runs);
        let child = self.serve.insert(child);
        let bound = address_in_log(&log, line, child, PATIENCE).await;
        self.front.point_at(Target::Up(bound));
    }

    /// What `callvault status --json` prints for this catalog.
    pub async fn status_json(&self) -> serde_json::Value {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_callvault"))
            .arg("status")
            .arg("--json")
            .arg("--data")
            .arg(&self.data)
            .args(["--database", &self.database])
            .env("RUST_LOG", "warn")
            .env_remove("CALLVAULT_DATABASE")
            .env_remove("CALLVAULT_STORAGE")
            .output()
            .await
            .expect("callvault status runs");
        assert!(
            out.status.success(),
            "callvault status failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("status --json prints JSON")
    }

    /// SIGKILLs `serve` (no shutdown of any kind) and reaps it.
    pub fn kill_serve(&mut self) {
        let mut child = self.serve.take().expect("serve is running");
        self.front.point_at(Target::Down);
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
    }

    /// Our subscription: the id `serve` keeps in the catalog, once the
    /// sandbox reports it `Active` (and, given `not`, different from it).
    pub async fn active_subscription(&self, not: Option<&str>) -> String {
        let registry = self.sandbox.state().subscriptions();
        eventually("an active subscription", PATIENCE, || async {
            let id = self
                .catalog
                .setting(callvault::live::SUBSCRIPTION_SETTING)
                .await
                .unwrap()?;
            (Some(id.as_str()) != not && registry.status(&id) == Some(SubscriptionStatus::Active))
                .then_some(id)
        })
        .await
    }

    /// `count` random calls (shares of [`short_calls`]), starting
    /// `spacing` apart from now.
    pub fn random_calls(&mut self, count: usize, spacing: Duration) -> Vec<usize> {
        self.random_calls_like(count, spacing, &short_calls())
    }

    /// [`Live::random_calls`] with the shares and lengths of `config`.
    pub fn random_calls_like(
        &mut self,
        count: usize,
        spacing: Duration,
        config: &ScenarioConfig,
    ) -> Vec<usize> {
        let now = self.sandbox.state().clock().now();
        let scripts: Vec<CallScript> = {
            let world = self.sandbox.state().world();
            (0..count)
                .map(|i| {
                    let start = now + chrono::Duration::from_std(spacing * i as u32).unwrap();
                    rc_sandbox::scenario::random_script(&mut self.rng, &world, start, config)
                })
                .collect()
        };
        self.add_calls(scripts)
    }

    /// Adds scripted calls to the sandbox; the engine plays their events
    /// as the sandbox clock reaches them. Returns their indexes.
    pub fn add_calls(&self, scripts: Vec<CallScript>) -> Vec<usize> {
        let state = self.sandbox.state();
        let now = state.clock().now();
        let added: Vec<usize> = {
            let mut world = state.world_mut();
            scripts
                .into_iter()
                .map(|s| world.add(s).expect("script accepted").index)
                .collect()
        };
        for &index in &added {
            state.telephony().conversation_added(index, now);
        }
        added
    }

    /// The ground truth of conversations `indexes`.
    pub async fn truth(&self, indexes: &[usize]) -> Vec<TruthConversation> {
        let state = self.sandbox.state().clone();
        let indexes = indexes.to_vec();
        tokio::task::spawn_blocking(move || {
            let world = state.world();
            indexes
                .iter()
                .map(|&i| {
                    let c = &world.conversations[i];
                    let mut events = BTreeMap::new();
                    for e in rc_sandbox::telephony::timeline(&world, c) {
                        *events.entry(e.telephony_session_id.clone()).or_insert(0) += 1;
                    }
                    TruthConversation {
                        index: i,
                        sessions: c
                            .sessions
                            .iter()
                            .map(|s| TelephonySessionId::parse(&s.telephony_session_id).unwrap())
                            .collect(),
                        recordings: c
                            .ordered_recordings()
                            .map(|r| {
                                let bytes = state.audio().get_or_render(&state.config().audio, r);
                                TruthRecording {
                                    id: RecordingId::parse(&r.id).unwrap(),
                                    marker: r.marker,
                                    sha256: hex::encode(sha2::Sha256::digest(&bytes)),
                                }
                            })
                            .collect(),
                        attended: c
                            .legs
                            .iter()
                            .any(|l| l.handoff == Handoff::AttendedTransfer),
                        end: c.end,
                        events,
                    }
                })
                .collect()
        })
        .await
        .expect("truth renders")
    }

    /// Waits until the sandbox clock is past every call's end plus the
    /// call-log and recording lags, so all of them are listed and fetchable.
    pub async fn wait_until_listed(&self, truth: &[TruthConversation]) {
        let c = self.sandbox.state().config();
        let lag = c.call_log_lag.max(c.recording_lag);
        let last = truth.iter().map(|t| t.end).max().unwrap_or_else(Utc::now) + lag;
        eventually(
            "the calls to end and reach the call log",
            Duration::from_secs(120),
            || async { (self.sandbox.state().clock().now() > last).then_some(()) },
        )
        .await;
    }

    fn log_path(&self, run: u32) -> PathBuf {
        self.dir.path().join(format!("serve-{run}.log"))
    }

    /// The last lines of every `serve` log, for failure messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        for run in 1..=self.runs {
            let text = std::fs::read_to_string(self.log_path(run)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let from = lines.len().saturating_sub(40);
            out.push_str(&format!("--- serve run {run} (last 40 lines) ---\n"));
            out.push_str(&lines[from..].join("\n"));
            out.push('\n');
        }
        out
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(mut child) = self.serve.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.log_tail());
            // The catalog and every serve log stay for a post-mortem.
            self.dir.disable_cleanup(true);
            eprintln!(
                "kept the failed test's folder: {}",
                self.dir.path().display()
            );
        }
    }
}

/// What really happened in one conversation.
#[derive(Debug, Clone)]
pub struct TruthConversation {
    pub index: usize,
    /// Its telephony sessions in order (two for an attended transfer).
    pub sessions: Vec<TelephonySessionId>,
    /// Its recordings in the order a stitched file must play them.
    pub recordings: Vec<TruthRecording>,
    pub attended: bool,
    pub end: DateTime<Utc>,
    /// Notifications the sandbox sends per session.
    pub events: BTreeMap<String, usize>,
}

impl TruthConversation {
    /// The catalog id of the conversation (its first session).
    pub fn id(&self) -> ConversationId {
        ConversationId::from(self.sessions[0].clone())
    }

    /// The state the live flow must leave it in.
    pub fn final_state(&self) -> ConversationState {
        match self.recordings.len() {
            0 => ConversationState::Ended,
            1 => ConversationState::Single,
            _ => ConversationState::Stitched,
        }
    }
}

#[derive(Debug, Clone)]
pub struct TruthRecording {
    pub id: RecordingId,
    pub marker: u32,
    pub sha256: String,
}

/// Every recording of `truth` stored with the sandbox's sha256, or the first
/// that is not.
pub async fn first_unstored(catalog: &Catalog, truth: &[TruthConversation]) -> Option<String> {
    for t in truth {
        for r in &t.recordings {
            match catalog.recording(&r.id).await.unwrap() {
                Some(rec) if rec.state == RecordingState::Stored => {
                    let sha = rec.sha256.map(|s| s.to_hex()).unwrap_or_default();
                    assert_eq!(
                        sha, r.sha256,
                        "recording {} stored with the wrong bytes",
                        r.id
                    );
                }
                other => {
                    return Some(format!(
                        "recording {} of conversation {}: {:?}",
                        r.id,
                        t.index,
                        other.map(|o| o.state)
                    ));
                }
            }
        }
    }
    None
}

/// Whether the live flow has finished `t`: all its recordings stored,
/// its sessions joined in one conversation in its final state. `Err` names
/// what is still missing.
pub async fn settled(catalog: &Catalog, t: &TruthConversation) -> Result<(), String> {
    if let Some(missing) = first_unstored(catalog, std::slice::from_ref(t)).await {
        return Err(missing);
    }
    let Some(conv) = catalog.conversation(&t.id()).await.unwrap() else {
        return Err(format!(
            "conversation {} ({}) not in the catalog",
            t.index,
            t.id()
        ));
    };
    if conv.sessions != t.sessions || conv.state != t.final_state() {
        return Err(format!(
            "conversation {} ({}): {:?} with sessions {:?}, want {:?} with {:?}",
            t.index,
            t.id(),
            conv.state,
            conv.sessions,
            t.final_state(),
            t.sessions
        ));
    }
    Ok(())
}

/// Waits until every conversation of `truth` is [`settled`].
pub async fn wait_settled(live: &Live, truth: &[TruthConversation], limit: Duration) {
    let deadline = Instant::now() + limit;
    loop {
        let mut problem = None;
        for t in truth {
            if let Err(p) = settled(&live.catalog, t).await {
                problem = Some(p);
                break;
            }
        }
        let Some(problem) = problem else { return };
        if Instant::now() > deadline {
            let jobs = live.catalog.counts_by_state().await.unwrap();
            panic!("not settled in {limit:?}: {problem}; jobs {jobs:?}");
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// The checks every settled conversation must pass: the catalog holds
/// exactly the notifications the sandbox sent (duplicates absorbed, none
/// lost), it arrived by `arrival`, and a stitched file plays the legs in
/// the ground-truth order (from its manifest, and heard in its audio).
pub async fn assert_backed_up(live: &Live, t: &TruthConversation, arrival: &[ArrivedBy]) {
    let conv = live.catalog.conversation(&t.id()).await.unwrap().unwrap();
    assert!(
        arrival.contains(&conv.arrived_by),
        "conversation {} arrived by {:?}",
        t.index,
        conv.arrived_by
    );
    for session in &t.sessions {
        assert_eq!(
            live.catalog
                .conversation_for_session(session)
                .await
                .unwrap(),
            Some(t.id()),
            "session {session} of conversation {}",
            t.index
        );
    }
    if conv.state != ConversationState::Stitched {
        assert!(conv.stitched_key.is_none());
        return;
    }
    let manifest = conv
        .manifest
        .expect("a stitched conversation has a manifest");
    let legs: Vec<&str> = manifest["legs"]
        .as_array()
        .expect("manifest legs")
        .iter()
        .filter(|l| l["missing"] != true)
        .filter_map(|l| l["id"].as_str())
        .collect();
    let want: Vec<&str> = t.recordings.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(legs, want, "manifest order of conversation {}", t.index);
    let key = conv.stitched_key.expect("stitched key");
    let size = live
        .blobs
        .head(&key)
        .await
        .unwrap()
        .expect("stitched blob")
        .size;
    let bytes = live.blobs.get_range(&key, 0..size).await.unwrap();
    assert_eq!(
        Some(hex::encode(sha2::Sha256::digest(&bytes))),
        conv.sha256.map(|s| s.to_hex()),
        "stitched file of conversation {}",
        t.index
    );
    let heard =
        tokio::task::spawn_blocking(move || callvault::commands::demo::markers_heard(bytes))
            .await
            .unwrap()
            .expect("stitched file decodes");
    let markers: Vec<u32> = t.recordings.iter().map(|r| r.marker).collect();
    assert_eq!(heard, markers, "legs heard in conversation {}", t.index);
}

/// Asserts the catalog holds exactly the notifications the sandbox sent
/// for `t` (one row per `uuid`: duplicates absorbed, none lost).
pub async fn assert_every_notification_once(catalog: &Catalog, t: &TruthConversation) {
    for (session, sent) in &t.events {
        let tsid = TelephonySessionId::parse(session).unwrap();
        let stored = catalog.notifications_for_session(&tsid).await.unwrap();
        assert_eq!(stored.len(), *sent, "notifications of session {session}");
    }
}

/// How many notifications of `truth` the catalog holds, and how many the
/// sandbox sends in all.
pub async fn notifications_stored(
    catalog: &Catalog,
    truth: &[TruthConversation],
) -> (usize, usize) {
    let (mut stored, mut sent) = (0, 0);
    for t in truth {
        for (session, n) in &t.events {
            let tsid = TelephonySessionId::parse(session).unwrap();
            stored += catalog
                .notifications_for_session(&tsid)
                .await
                .unwrap()
                .len();
            sent += n;
        }
    }
    (stored, sent)
}

/// Jobs of `kind` by dedupe key, every state.
pub async fn jobs_by_key(catalog: &Catalog, kind: &str) -> BTreeMap<String, Vec<JobState>> {
    let mut out: BTreeMap<String, Vec<JobState>> = BTreeMap::new();
    for state in JobState::ALL {
        for job in catalog.jobs_in_state(state, 100_000).await.unwrap() {
            if job.kind == kind {
                out.entry(job.dedupe_key).or_default().push(state);
            }
        }
    }
    out
}

/// A scripted call: `legs` segments of `(extension, handoff)`, all recorded.
pub fn scripted(start: DateTime<Utc>, legs: &[(usize, Handoff)]) -> CallScript {
    CallScript {
        start,
        direction: Direction::Inbound,
        external: ExternalParty {
            phone_number: "+14155550123".into(),
            name: None,
        },
        segments: legs
            .iter()
            .map(|&(extension, handoff)| SegmentScript {
                extension,
                ring_ms: 500,
                talk_ms: 3_500,
                recorded: true,
                handoff,
            })
            .collect(),
        recording_kind: RecordingKind::Automatic,
    }
}
