//! `callvault serve`: the web UI over the catalog and the blob store, the
//! probes `GET /healthz` and `GET /metrics` ([`crate::health`]) and, when
//! RingCentral is configured, the webhook receiver and the workers
//! (downloads, sessions, stitching, the subscription and the safety-net sync),
//! with `--audit-key` the audit trail's periodic signed checkpoints, and
//! the standing retention jobs ([`crate::retention::jobs`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use url::Url;

use crate::assemble::LiveSetup;
use crate::audit::AuditKeyArgs;
use crate::configuration::address;
use crate::configuration::{LiveTiming, Monitoring, RcArgs, StoreArgs};
use crate::health::{self, Health, LiveProbe};
use crate::startup::{Application, Settings};
use crate::web::auth::password::GateLimits;
use crate::web::connections::ConnectionLimits;
use crate::web::state::WebOptions;

/// Options of `callvault serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (an IP address and a port; port 0 picks a free
    /// one, which the `listening on` line tells).
    #[arg(long, env = "CALLVAULT_LISTEN", default_value = "127.0.0.1:8080", value_parser = address::parse_listen)]
    pub listen: SocketAddr,
    /// The URL users and RingCentral reach this server at; `https://…`
    /// marks cookies `Secure`, and the webhook subscription points here.
    #[arg(long, env = "CALLVAULT_PUBLIC_URL", value_parser = address::parse_public_url)]
    pub public_url: Option<Url>,
    /// RingCentral settings; without `RC_CLIENT_ID` only the UI runs.
    #[command(flatten)]
    pub rc: RcArgs,
    /// Parallel job workers in this process.
    #[arg(long, env = "CALLVAULT_WORKERS", default_value_t = 4)]
    pub workers: usize,
    /// Run no workers here (`callvault worker` runs them elsewhere): serve
    /// the UI and the webhook receiver, which commits deliveries to the
    /// shared catalog for the workers; behind a load balancer, any number
    /// of these can receive.
    #[arg(long)]
    pub no_workers: bool,
    /// Subscribe at extension level for this extension id instead of the account.
    #[arg(long)]
    pub extension: Option<String>,
    /// Log a web session off after this many minutes without a request
    /// (sessions end after 12 hours whatever the use).
    #[arg(long, env = "CALLVAULT_SESSION_IDLE_MINUTES", default_value_t = 30)]
    pub session_idle_minutes: u64,
    /// Memory all concurrent password checks may use together, in MiB (one
    /// check takes 19 MiB).
    #[arg(long, env = "CALLVAULT_PASSWORD_MEMORY_MIB", default_value_t = 64)]
    pub password_memory_mib: u32,
    /// Safety-net interval and pace.
    #[command(flatten)]
    pub timing: LiveTiming,
    /// Capacity monitoring and alerts.
    #[command(flatten)]
    pub monitoring: Monitoring,
    /// The audit trail's signing key (checkpoints, export manifests).
    #[command(flatten)]
    pub audit_key: AuditKeyArgs,
    /// Minutes between signed audit checkpoints.
    #[arg(long, env = "CALLVAULT_AUDIT_CHECKPOINT_MINUTES", default_value_t = 5)]
    pub audit_checkpoint_minutes: u64,
    /// Seconds instead of `--audit-checkpoint-minutes` (for tests).
    #[arg(long, env = "CALLVAULT_AUDIT_CHECKPOINT_SECS", hide = true)]
    pub audit_checkpoint_secs: Option<u64>,
    /// Minutes between retention runs (disposal of what the rules say is
    /// due; one process of a cluster runs it). 0: never.
    #[arg(long, env = "CALLVAULT_RETENTION_EVERY_MINUTES", default_value_t = 60)]
    pub retention_every_minutes: u64,
    /// Minutes between deletions at RingCentral under the rules that opt in
    /// (run by the RingCentral gateway, behind backups). 0: never.
    #[arg(
        long,
        env = "CALLVAULT_DELETE_AT_SOURCE_EVERY_MINUTES",
        default_value_t = 60
    )]
    pub delete_at_source_every_minutes: u64,
}

/// Runs the server until Ctrl-C or SIGTERM.
pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    if args.store.database.is_none() {
        std::fs::create_dir_all(&args.store.data_dir)
            .with_context(|| format!("creating {}", args.store.data_dir.display()))?;
    }
    let mut app = Application::build(Settings {
        listen: args.listen,
        database_url: args.store.database_url(),
        storage_url: args.store.storage_url(),
        worm: args.store.worm.clone(),
        public_url: args.public_url.clone(),
        web: WebOptions {
            session_idle: Duration::from_secs(args.session_idle_minutes.max(1) * 60),
            password_gate: GateLimits {
                memory_budget_mib: args.password_memory_mib,
                ..GateLimits::default()
            },
        },
        connections: ConnectionLimits::default(),
    })
    .await?;
    let stop = tokio_util::sync::CancellationToken::new();
    let checkpoints = match args.audit_key.signer()? {
        Some(signer) => {
            let signer = Arc::new(signer);
            app = app.with_audit_signer(signer.clone());
            let every = Duration::from_secs(
                args.audit_checkpoint_secs
                    .unwrap_or(args.audit_checkpoint_minutes.saturating_mul(60))
                    .max(1),
            );
            Some(tokio::spawn(crate::audit::run_checkpoints(
                app.state().catalog.clone(),
                signer,
                every,
                stop.clone(),
            )))
        }
        None => {
            tracing::warn!(
                "no --audit-key: the audit trail is chained but not sealed by signed checkpoints"
            );
            None
        }
    };
    let retention = crate::retention::jobs::start(
        &app.state().catalog,
        &app.state().blobs,
        Duration::from_secs(args.retention_every_minutes.saturating_mul(60)),
        Duration::from_secs(args.delete_at_source_every_minutes.saturating_mul(60)),
        args.no_workers || !args.rc.client_id.is_empty(),
        stop.clone(),
    )
    .await?;
    let mut workers = None;
    let mut probes = Health::new(app.state().catalog.clone());
    if args.no_workers {
        tracing::info!("--no-workers: serving the UI and the webhook receiver");
        let state =
            crate::live::LiveState::new(app.state().catalog.clone(), args.timing.live_config(1));
        app = app.with_routes(crate::live::webhook_router(state));
    } else if args.rc.client_id.is_empty() {
        tracing::info!("RingCentral not configured: serving the UI only");
    } else {
        let setup = LiveSetup {
            rc: &args.rc,
            workers: args.workers,
            timing: &args.timing,
            monitoring: &args.monitoring,
            public_url: args.public_url.as_ref(),
            extension: args.extension.as_deref(),
        };
        let (w, state) =
            crate::assemble::live_workers(setup, &app.state().catalog, &app.state().blobs).await?;
        probes = probes.with_live(LiveProbe::new(
            &state,
            args.public_url.is_some(),
            Some(w.downloader.client.scheduler().clone()),
        ));
        app = app.with_routes(crate::live::webhook_router(state));
        workers = Some(tokio::spawn(crate::live::run_workers(w, stop.clone())));
    }
    probes = probes.with_web(app.state().metrics.clone());
    app = app.with_routes(health::router(probes));
    // Tests and scripts read the bound address from this line (port 0).
    println!("CallVault listening on http://{}", app.local_addr()?);
    let served = app.run_until_stopped().await;
    stop.cancel();
    if let Some(c) = checkpoints {
        c.await.context("the audit checkpoint task panicked")?;
    }
    if let Some(w) = workers {
        w.await.context("the workers panicked")??;
    }
    if let Some(r) = retention {
        r.await.context("the retention run panicked")?;
    }
    served?;
    Ok(())
}
