//! Assembles the live workers (`download`, `session`, `stitch` jobs, the
//! gateway's duties) over the process's one catalog: what `worker`, `serve`
//! and `demo` all run.

use anyhow::Context;

use crate::configuration::{LiveTiming, Monitoring, RcArgs};
use crate::live::workers::SubscriptionPlan;
use crate::live::{LiveState, Workers, telephony_filters};
use crate::sync::Downloader;

/// What the live workers need besides the catalog: what `worker`, `serve`
/// and `demo` all run.
#[derive(Debug, Clone, Copy)]
pub struct LiveSetup<'a> {
    /// RingCentral settings.
    pub rc: &'a RcArgs,
    /// Worker tasks in this process.
    pub workers: usize,
    /// Safety-net interval and pace.
    pub timing: &'a LiveTiming,
    /// Capacity monitoring and alerts.
    pub monitoring: &'a Monitoring,
    /// The URL RingCentral delivers webhooks to; with it, the gateway keeps
    /// the subscription.
    pub public_url: Option<&'a url::Url>,
    /// Subscribe to one extension's telephony sessions instead of the account's.
    pub extension: Option<&'a str>,
}

/// Assembles the live state and the workers over the process's `catalog`
/// and its one blob store, which must be writable (see
/// [`crate::app::writable_blobs`]): the workers store recordings and
/// stitched files in it.
pub async fn live_workers(
    setup: LiveSetup<'_>,
    catalog: &vault::Catalog,
    blobs: &vault::BlobStore,
) -> anyhow::Result<(Workers, LiveState)> {
    let client = crate::app::rc_client(setup.rc)?;
    let mut config = setup.timing.live_config(setup.workers);
    config.capacity.degraded_after = setup.monitoring.degraded_after();
    let downloader = Downloader {
        client,
        catalog: catalog.clone(),
        blobs: blobs.clone(),
        layout: vault::KeyLayout::default(),
        schedule: config.not_ready.clone(),
        backoff: config.retry,
    };
    let state = LiveState::new(catalog.clone(), config);
    let mut w = Workers::new(state.clone(), downloader);
    w.subscription = setup.public_url.map(|url| SubscriptionPlan {
        public_url: url.as_str().to_owned(),
        filters: telephony_filters(setup.extension),
    });
    w.alerts = setup
        .monitoring
        .alert_url()
        .context("--alert-webhook (CALLVAULT_ALERT_WEBHOOK)")?
        .map(crate::alerts::AlertSender::spawn);
    Ok((w, state))
}
