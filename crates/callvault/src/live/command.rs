//! `callvault worker` and `callvault subscription list|delete`.
//!
//! `worker` runs the job loop alone against the catalog and queue (several
//! at once are safe; only the `rc-gateway` holder calls RingCentral). With
//! `--public-url` it also serves the webhook receiver, `/healthz` and
//! `/metrics` on `--listen` and keeps the subscription, which is what
//! `serve` does beside the web UI.

use anyhow::Context;
use clap::{Args, Subcommand};
use tokio_util::sync::CancellationToken;

use super::workers::SubscriptionPlan;
use super::{
    LiveConfig, LiveState, SUBSCRIPTION_SETTING, Workers, run_workers, subscription,
    telephony_filters,
};
use crate::configuration::{LiveTiming, Monitoring, RcArgs, StoreArgs};
use crate::sync::Downloader;

/// `callvault worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    rc: RcArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// Worker tasks in this process.
    #[arg(long, env = "CALLVAULT_WORKERS", default_value_t = 4)]
    workers: usize,
    /// Public base URL RingCentral delivers webhooks to; when given, the
    /// receiver is served on `--listen` and the subscription kept.
    #[arg(long, env = "CALLVAULT_PUBLIC_URL")]
    public_url: Option<String>,
    /// Address the webhook receiver listens on (with `--public-url`).
    #[arg(long, env = "CALLVAULT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
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

/// `callvault subscription …`.
#[derive(Debug, Args)]
pub struct SubscriptionArgs {
    #[command(flatten)]
    rc: RcArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    action: SubscriptionAction,
}

#[derive(Debug, Subcommand)]
enum SubscriptionAction {
    /// List this app's subscriptions (ours is marked with `*`).
    List,
    /// Delete a subscription (default: ours).
    Delete {
        /// Subscription id.
        id: Option<String>,
    },
}

/// Runs workers (and the receiver) until Ctrl-C or SIGTERM.
/// Assembles the live state and the workers for `rc` and `store`: what
/// `worker` and `serve` both run.
pub async fn assemble(
    rc: &RcArgs,
    store: &StoreArgs,
    workers: usize,
    timing: &LiveTiming,
    monitoring: &Monitoring,
    public_url: Option<&str>,
    extension: Option<&str>,
) -> anyhow::Result<(Workers, LiveState)> {
    let client = crate::app::rc_client(rc)?;
    let catalog = crate::app::catalog(store).await?;
    let blobs = crate::app::writable_blobs(store).await?;
    let mut config: LiveConfig = timing.live_config(workers);
    config.capacity.degraded_after = monitoring.degraded_after();
    let downloader = Downloader {
        client,
        catalog: catalog.clone(),
        blobs,
        layout: vault::KeyLayout::default(),
        schedule: config.not_ready.clone(),
        backoff: config.retry,
    };
    let state = LiveState::new(catalog, config);
    let mut w = Workers::new(state.clone(), downloader);
    w.subscription = public_url.map(|url| SubscriptionPlan {
        public_url: url.to_owned(),
        filters: telephony_filters(extension),
    });
    w.alerts = monitoring
        .alert_url()
        .context("--alert-webhook (CALLVAULT_ALERT_WEBHOOK)")?
        .map(crate::alerts::AlertSender::spawn);
    Ok((w, state))
}

pub async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let (workers, state) = assemble(
        &args.rc,
        &args.store,
        args.workers,
        &args.timing,
        &args.monitoring,
        args.public_url.as_deref(),
        args.extension.as_deref(),
    )
    .await?;
    let stop = CancellationToken::new();
    if args.public_url.is_some() && !args.no_receiver {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("listening on {}", args.listen))?;
        tracing::info!(listen = %args.listen, "webhook receiver listening");
        let probes = crate::health::Health::new(state.catalog.clone()).with_live(
            crate::health::LiveProbe::new(
                &state,
                true,
                Some(workers.downloader.client.scheduler().clone()),
            ),
        );
        let router = super::webhook_router(state).merge(crate::health::router(probes));
        let stop = stop.clone();
        tokio::spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(stop.cancelled_owned())
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "webhook receiver stopped");
            }
        });
    }
    let signal = stop.clone();
    tokio::spawn(async move {
        crate::startup::shutdown_signal().await;
        signal.cancel();
    });
    run_workers(workers, stop).await
}

/// `callvault subscription list|delete`.
pub async fn subscription(args: SubscriptionArgs) -> anyhow::Result<()> {
    let client = crate::app::rc_client(&args.rc)?;
    let catalog = crate::app::catalog(&args.store).await?;
    match args.action {
        SubscriptionAction::List => {
            let ours = catalog.setting(SUBSCRIPTION_SETTING).await?;
            let list = client
                .list_subscriptions()
                .await
                .context("listing subscriptions")?;
            for s in &list.records {
                let mark = if ours.as_deref() == Some(s.id.as_str()) {
                    "*"
                } else {
                    " "
                };
                println!(
                    "{mark} {}  {:<11}  expires {}  {}  {}",
                    s.id,
                    s.status.as_ref().map_or("?", |x| x.as_str()),
                    s.expiration_time
                        .map_or_else(|| "?".to_owned(), |t| t.to_rfc3339()),
                    s.delivery_mode
                        .as_ref()
                        .and_then(|d| d.address.as_deref())
                        .unwrap_or("-"),
                    s.event_filters.join(","),
                );
            }
            if list.records.is_empty() {
                println!("no subscriptions");
            }
        }
        SubscriptionAction::Delete { id } => {
            let deleted =
                subscription::delete_subscription(&client, &catalog, id.as_deref()).await?;
            println!("deleted subscription {deleted}");
        }
    }
    Ok(())
}
