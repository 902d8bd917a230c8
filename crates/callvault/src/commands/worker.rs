//! `callvault worker`: the job loop alone against the catalog and queue
//! (several at once are safe; only the `rc-gateway` holder calls
//! RingCentral). With `--public-url` it also serves the webhook receiver,
//! `/healthz` and `/metrics` on `--listen` and keeps the subscription,
//! which is what `serve` does beside the web UI.

use std::net::SocketAddr;

use anyhow::Context;
use clap::Args;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::assemble::LiveSetup;
use crate::configuration::{LiveTiming, Monitoring, RcArgs, StoreArgs, address};
use crate::health::{self, Health, LiveProbe};

/// Options of `callvault worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// RingCentral settings.
    #[command(flatten)]
    rc: RcArgs,
    /// Where the catalog and recordings live.
    #[command(flatten)]
    store: StoreArgs,
    /// Worker tasks in this process.
    #[arg(long, env = "CALLVAULT_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Public base URL RingCentral delivers webhooks to; when given, the
    /// receiver is served on `--listen` and the subscription kept.
    #[arg(long, env = "CALLVAULT_PUBLIC_URL", value_parser = address::parse_public_url)]
    public_url: Option<Url>,
    /// Address the webhook receiver listens on (with `--public-url`; port 0
    /// picks a free one, which the `listening on` line tells).
    #[arg(long, env = "CALLVAULT_LISTEN", default_value = "127.0.0.1:8080", value_parser = address::parse_listen)]
    listen: SocketAddr,
    /// With `--public-url`: keep the subscription pointing there but serve
    /// no receiver here (in a cluster, `serve --no-workers` processes behind
    /// the load balancer at that URL receive).
    #[arg(long, requires = "public_url")]
    no_receiver: bool,
    /// Subscribe to one extension's telephony sessions instead of the account's.
    #[arg(long)]
    extension: Option<String>,
    /// Safety-net interval and pace.
    #[command(flatten)]
    timing: LiveTiming,
    /// Capacity monitoring and alerts.
    #[command(flatten)]
    monitoring: Monitoring,
}

/// Runs the workers (and, with `--public-url`, the receiver) until Ctrl-C
/// or SIGTERM; then the receiver finishes its in-flight requests and the
/// workers their jobs, and both are joined before it returns.
pub async fn run(args: WorkerArgs) -> anyhow::Result<()> {
    let catalog = crate::app::catalog(&args.store).await?;
    let blobs = crate::app::writable_blobs(&args.store).await?;
    let setup = LiveSetup {
        rc: &args.rc,
        workers: args.workers,
        timing: &args.timing,
        monitoring: &args.monitoring,
        public_url: args.public_url.as_ref(),
        extension: args.extension.as_deref(),
    };
    let (workers, state) = crate::assemble::live_workers(setup, &catalog, &blobs).await?;
    let stop = CancellationToken::new();
    let receiver = if args.public_url.is_some() && !args.no_receiver {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        let bound = listener.local_addr()?;
        tracing::info!(listen = %bound, "webhook receiver listening");
        // Tests and scripts read the bound address from this line (port 0).
        println!("CallVault worker listening on http://{bound}");
        let probes = Health::new(catalog.clone()).with_live(LiveProbe::new(
            &state,
            true,
            Some(workers.downloader.client.scheduler().clone()),
        ));
        let router = crate::live::webhook_router(state).merge(health::router(probes));
        let serve =
            axum::serve(listener, router).with_graceful_shutdown(stop.clone().cancelled_owned());
        Some(tokio::spawn(async move { serve.await }))
    } else {
        None
    };
    let signal = stop.clone();
    let signals = tokio::spawn(async move {
        tokio::select! {
            () = crate::startup::shutdown_signal() => signal.cancel(),
            () = signal.cancelled() => {}
        }
    });
    let worked = crate::live::run_workers(workers, stop.clone()).await;
    // The workers also end on their own error: stop the receiver then too.
    stop.cancel();
    signals.await.context("the signal task panicked")?;
    if let Some(receiver) = receiver {
        receiver
            .await
            .context("the webhook receiver panicked")?
            .context("serving the webhook receiver")?;
    }
    worked
}
