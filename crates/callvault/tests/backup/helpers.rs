//! A sandbox, a fresh catalog (SQLite file or PostgreSQL schema) and a blob
//! folder per test, plus the ground-truth checks every backup test ends with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use callvault::commands::sync::SyncArgs;
use callvault::configuration::{RcArgs, StoreArgs};
use callvault::sync::{self, Downloader, Progress, Report};
use rc_api::ladder::Ladder;
use rc_sandbox::{SandboxConfig, SandboxHandle};
use sha2::Digest;
use sqlx::Connection;
use vault::{BlobStore, Catalog, RecordingId, RecordingState};

use crate::support::fresh_schema;
pub use crate::support::partial_files;
pub use crate::support_jobs::Unfinished;
use crate::support_jobs::{check_for_failed_jobs, check_jobs};

static TRACING: LazyLock<()> = LazyLock::new(|| {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_test_writer()
            .try_init();
    }
});

/// Which catalog backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A small, quick world: a few dozen short calls over two days, recordings
/// available at once, no rate limits (tests that want them switch them on).
pub fn small_world(c: &mut SandboxConfig) {
    c.scenario.calls = 24;
    c.scenario.days = 2;
    c.scenario.recorded_share = 0.9;
    c.scenario.talk_ms = 30_000..34_000;
    c.scenario.ring_ms = 1_000..3_000;
    c.call_log_lag = chrono::Duration::zero();
    c.recording_lag = chrono::Duration::zero();
    c.rate_limits = None;
}

/// Rate limits with a one-second window (production: 60 s).
pub fn one_second_limits(c: &mut SandboxConfig) {
    c.rate_limits = Some(rc_sandbox::ratelimit::RateLimitConfig {
        window_secs: 1,
        penalty_secs: 1,
        ..Default::default()
    });
}

/// Everything one test needs.
pub struct TestApp {
    pub sandbox: SandboxHandle,
    pub dir: tempfile::TempDir,
    pub store: StoreArgs,
    pub rc: RcArgs,
    pg: Option<(String, String)>,
}

/// Spawns a sandbox configured by [`small_world`] then `configure`, and a
/// fresh catalog on `backend`; `None` when PostgreSQL is not configured.
/// RingCentral's "now" (the sandbox's clock, told by signing in), where a
/// sync's range ends.
async fn ringcentral_now(client: &rc_api::RcClient) -> chrono::DateTime<chrono::Utc> {
    client.authenticate().await.expect("signing in");
    client.server_clock().now()
}

pub async fn spawn_app(
    backend: Backend,
    seed: u64,
    configure: impl FnOnce(&mut SandboxConfig),
) -> Option<TestApp> {
    LazyLock::force(&TRACING);
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
    let sandbox = rc_sandbox::Sandbox::builder()
        .seed(seed)
        .configure(|c| {
            small_world(c);
            configure(c);
        })
        .spawn()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let database = pg.as_ref().map(|(admin, schema)| {
        let sep = if admin.contains('?') { '&' } else { '?' };
        format!("{admin}{sep}options[search_path]={schema}")
    });
    let env: BTreeMap<_, _> = sandbox.client_env().into_iter().collect();
    let rc = RcArgs {
        server_url: env["RC_SERVER_URL"].clone(),
        media_url: Some(env["RC_MEDIA_URL"].clone()),
        client_id: env["RC_CLIENT_ID"].clone(),
        client_secret: env["RC_CLIENT_SECRET"].clone().into(),
        jwt: env["RC_JWT"].clone().into(),
    };
    let store = StoreArgs {
        data_dir: dir.path().join("data"),
        database,
        storage: None,
        worm: Default::default(),
    };
    Some(TestApp {
        sandbox,
        dir,
        store,
        rc,
        pg,
    })
}

/// What the sandbox holds: recordings of calls that have ended, by id.
#[derive(Debug, Default)]
pub struct Truth {
    /// Downloadable recordings and the sha256 of their bytes.
    pub present: BTreeMap<String, String>,
    /// Recordings deleted at the source.
    pub deleted: BTreeSet<String>,
}

impl TestApp {
    /// `callvault sync` arguments covering the whole sandbox history.
    pub fn sync_args(&self) -> SyncArgs {
        SyncArgs {
            rc: self.rc.clone(),
            store: self.store.clone(),
            from: Some(chrono::Utc::now() - chrono::Duration::days(4)),
            to: None,
            backfill_days: 366,
            overlap_minutes: 120,
            workers: 4,
            max_wait: 20,
            plan: false,
            json: true,
        }
    }

    /// Runs `callvault sync` in-process.
    pub async fn sync(&self) -> Report {
        callvault::commands::sync::run(&self.sync_args())
            .await
            .unwrap()
    }

    /// Runs the same steps as `callvault sync` with a chosen not-ready
    /// schedule and in-run wait, and returns the report and the client, so a
    /// test can read its rate-limit metrics.
    pub async fn sync_with(
        &self,
        schedule: Ladder,
        max_wait: chrono::Duration,
    ) -> (Report, rc_api::RcClient) {
        let client = callvault::app::rc_client(&self.rc).unwrap();
        let mut report = Report::default();
        sync::backup(
            &self.downloader(&client, schedule).await,
            (
                self.sync_args().from.unwrap(),
                ringcentral_now(&client).await,
            ),
            4,
            max_wait,
            Arc::new(Progress::default()),
            &mut report,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
        (report, client)
    }

    /// Lists the sandbox history into the ledger (the first half of a sync).
    pub async fn list(&self) -> (Report, rc_api::RcClient) {
        let client = callvault::app::rc_client(&self.rc).unwrap();
        let catalog = self.catalog().await;
        let from = self.sync_args().from.unwrap();
        let mut report = Report::default();
        sync::list(
            &client,
            &catalog,
            from,
            ringcentral_now(&client).await,
            &Progress::default(),
            &mut report,
        )
        .await
        .unwrap_or_else(|e| panic!("{e:#}"));
        (report, client)
    }

    /// Drains the download queue (the second half of a sync).
    pub async fn drain(
        &self,
        client: &rc_api::RcClient,
        schedule: Ladder,
        max_wait: chrono::Duration,
        report: &mut Report,
    ) {
        sync::drain(
            &self.downloader(client, schedule).await,
            4,
            max_wait,
            Arc::new(Progress::default()),
            report,
        )
        .await
        .unwrap();
    }

    /// A downloader over this app's ledger and store.
    pub async fn downloader(&self, client: &rc_api::RcClient, schedule: Ladder) -> Downloader {
        Downloader {
            client: client.clone(),
            catalog: self.catalog().await,
            blobs: self.blobs(),
            layout: vault::KeyLayout::default(),
            schedule,
            backoff: callvault::jobs::Backoff::DEFAULT,
        }
    }

    /// The ledger.
    pub async fn catalog(&self) -> Catalog {
        callvault::app::catalog(&self.store).await.unwrap()
    }

    /// The blob store.
    pub fn blobs(&self) -> BlobStore {
        callvault::app::blobs(&self.store).unwrap()
    }

    /// The blob folder on disk.
    pub fn blob_root(&self) -> PathBuf {
        PathBuf::from(self.store.storage_url())
    }

    /// The sandbox's ground truth now.
    pub fn truth(&self) -> Truth {
        let state = self.sandbox.state();
        let now = state.clock().now();
        let recordings: Vec<_> = {
            let world = state.world();
            world
                .conversations
                .iter()
                .filter(|c| c.end <= now)
                .flat_map(|c| c.ordered_recordings().cloned().collect::<Vec<_>>())
                .collect()
        };
        let mut truth = Truth::default();
        for rec in recordings {
            if rec.deleted {
                truth.deleted.insert(rec.id.clone());
            } else {
                let bytes = state.audio().get_or_render(&state.config().audio, &rec);
                truth
                    .present
                    .insert(rec.id.clone(), hex::encode(sha2::Sha256::digest(&bytes)));
            }
        }
        truth
    }

    /// Every recording row in `state`.
    pub async fn in_state(&self, state: RecordingState) -> Vec<vault::Recording> {
        let catalog = self.catalog().await;
        let mut all = Vec::new();
        loop {
            let page = catalog
                .recordings_in_state(state, 1000, all.len() as u64)
                .await
                .unwrap();
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }

    /// Asserts the backup is exactly the sandbox's ground truth: every
    /// present recording stored with its sha256 and its blob intact, every
    /// deleted one `gone`, nothing else in the catalog or the blob folder,
    /// and no staged partial file left behind.
    pub async fn assert_exact(&self) -> Truth {
        let truth = self.truth();
        assert!(!truth.present.is_empty(), "the world has no recordings");
        let catalog = self.catalog().await;
        let blobs = self.blobs();
        let counts = catalog.recording_counts().await.unwrap();
        assert_eq!(
            (
                counts.stored,
                counts.gone,
                counts.listed,
                counts.not_ready,
                counts.failed
            ),
            (
                truth.present.len() as u64,
                truth.deleted.len() as u64,
                0,
                0,
                0
            ),
            "recording counts (stored, gone, listed, not_ready, failed)"
        );
        let mut keys = BTreeSet::new();
        for (id, sha) in &truth.present {
            let rec = catalog
                .recording(&RecordingId::parse(id).unwrap())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("recording {id} is not in the catalog"));
            assert_eq!(rec.state, RecordingState::Stored, "recording {id}");
            let stored = rec.sha256.unwrap();
            assert_eq!(&stored.to_hex(), sha, "sha256 of recording {id}");
            let key = rec.storage_key.unwrap();
            assert!(
                matches!(
                    blobs.verify(&key, &stored).await.unwrap(),
                    vault::Verified::Intact { .. }
                ),
                "blob of {id} is not intact"
            );
            keys.insert(key.as_str().to_owned());
        }
        for id in &truth.deleted {
            let rec = catalog
                .recording(&RecordingId::parse(id).unwrap())
                .await
                .unwrap()
                .unwrap_or_else(|| panic!("deleted recording {id} is not in the catalog"));
            assert_eq!(rec.state, RecordingState::Gone, "deleted recording {id}");
        }
        let listed: BTreeSet<String> = blobs.list(None).await.unwrap().into_iter().collect();
        let (sidecars, audio): (BTreeSet<String>, BTreeSet<String>) =
            listed.into_iter().partition(|k| k.ends_with(".json"));
        assert_eq!(audio, keys, "blobs in the store vs stored recordings");
        assert_eq!(sidecars.len(), keys.len(), "one sidecar per recording");
        assert_eq!(partial_files(&self.blob_root()), Vec::<PathBuf>::new());
        truth
    }

    /// Checks that every job ended `done` (crates.io's `check_for_failed_jobs`),
    /// then drops the PostgreSQL schema, if any.
    pub async fn finish(self) {
        let catalog = self.catalog().await;
        check_for_failed_jobs(&catalog).await;
        catalog.close().await;
        self.tear_down().await;
    }

    /// [`TestApp::finish`] for a test that leaves exactly `unfinished`
    /// jobs in a state other than `done` (a recording made to fail, say).
    pub async fn finish_expecting(self, unfinished: Unfinished) {
        let catalog = self.catalog().await;
        check_jobs(&catalog, unfinished).await;
        catalog.close().await;
        self.tear_down().await;
    }

    /// Stops the sandbox and drops the PostgreSQL schema, if any.
    async fn tear_down(self) {
        self.sandbox.shutdown().await;
        if let Some((admin, schema)) = &self.pg {
            let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut conn)
                .await
                .unwrap();
        }
    }
}

/// A schedule that calls a recording gone as soon as it answers 404 after
/// its call ended more than a second ago (the default waits 24 h).
pub fn impatient_schedule() -> Ladder {
    Ladder {
        steps: vec![chrono::Duration::milliseconds(500)],
        min_gap: chrono::Duration::zero(),
        max_gap: chrono::Duration::seconds(1),
        give_up_after: Some(chrono::Duration::seconds(1)),
    }
}

/// Runs each body once on SQLite and once on PostgreSQL (when configured),
/// as `name::on_sqlite` and `name::on_postgres`.
macro_rules! on_both_backends {
    ($(async fn $name:ident($backend:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($backend: $crate::helpers::Backend) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_sqlite() {
                body($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn on_postgres() {
                body($crate::helpers::Backend::Postgres).await;
            }
        }
    )*};
}
pub(crate) use on_both_backends;

/// A child process (the README's commands run as a user runs them), killed
/// and reaped when the test ends, however it ends.
pub struct KilledOnDrop(pub std::process::Child);

impl Drop for KilledOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
