//! The gateway's capacity watch: sample, measure, publish, alert
//! (the measures themselves are [`crate::capacity`]'s).
//!
//! It runs beside the gateway's duties (not inside them: a safety-net sync
//! can take minutes, and the samples must keep their pace) and does its
//! work only while this process holds `rc-gateway`, whose scheduler and
//! counters are the ones spending the budget. A new tenure starts a new
//! series: another process's counters cannot be continued.

use std::sync::atomic::Ordering;

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use vault::Catalog;

use super::Workers;
use crate::alerts::{Alerts, Observed};
use crate::capacity::trend::{Figures, GrowthRun, Sample, Samples};
use crate::capacity::{CapacityConfig, Report, publish};
use crate::metrics::LiveMetrics;

/// One tenure's measurements.
struct Monitor {
    config: CapacityConfig,
    started: tokio::time::Instant,
    samples: Samples,
    growth: GrowthRun,
}

impl Monitor {
    /// A new tenure's monitor, continuing the growth run of `previous` (the
    /// last fresh report, whichever gateway published it).
    fn new(config: &CapacityConfig, previous: Option<&Report>) -> Monitor {
        let growing_for = previous.and_then(|r| r.growing_for_secs).map(|s| s as f64);
        Monitor {
            config: config.clone(),
            started: tokio::time::Instant::now(),
            samples: Samples::new(config.window.as_secs_f64(), config.max_samples()),
            growth: GrowthRun::resumed(0.0, growing_for, config.growth_grace().as_secs_f64()),
        }
    }

    /// Takes a sample and returns the report it gives.
    async fn sample(
        &mut self,
        catalog: &Catalog,
        scheduler: &rc_api::Scheduler,
        metrics: &LiveMetrics,
        valid_for: std::time::Duration,
    ) -> Result<Report, vault::CatalogError> {
        let backlog = catalog.backlog().await?;
        let counts = catalog.recording_counts().await?;
        let heavy = scheduler
            .metrics()
            .into_iter()
            .find(|g| g.group == rc_api::RateGroup::heavy());
        let now = self.started.elapsed().as_secs_f64();
        self.samples.push(Sample {
            at_secs: now,
            backlog: backlog.recordings,
            known: counts.listed + counts.stored + counts.not_ready + counts.gone + counts.failed,
            heavy_requests: heavy.as_ref().map_or(0, |g| g.requests),
            looks: metrics.looks.load(Ordering::Relaxed),
        });
        let allowed = heavy.and_then(|g| match (g.limit, g.window) {
            (Some(limit), Some(window)) if !window.is_zero() => {
                Some(f64::from(limit) * 60.0 / window.as_secs_f64())
            }
            _ => None,
        });
        let figures =
            Figures::measure(&self.samples, allowed, self.config.min_span().as_secs_f64());
        let growing_for = self
            .growth
            .observe(now, figures.as_ref().map(Figures::growing));
        let degraded_after = self.config.degraded_after.as_secs_f64();
        Ok(Report {
            window_secs: self.config.window.as_secs(),
            figures,
            growing_for_secs: growing_for.map(|s| s as u64),
            degraded_after_secs: self.config.degraded_after.as_secs(),
            degraded: growing_for.is_some_and(|s| s >= degraded_after),
            valid_for_secs: valid_for.as_secs().max(1),
        })
    }
}

/// Samples every [`CapacityConfig::sample_every`] while `held` says this
/// process is the gateway, publishes each [`Report`], and (with an alert
/// webhook) observes the alert conditions, until `stop`.
pub async fn run(w: Workers, mut held: watch::Receiver<bool>, stop: CancellationToken) {
    let config = w.state.config.capacity.clone();
    // A report outlives a missed sample or two, and a gateway's hand-over.
    let valid_for = config.sample_every * 3 + w.state.config.gateway_lease * 2;
    let mut alerts = w.alerts.clone().map(Alerts::new);
    let mut monitor: Option<Monitor> = None;
    loop {
        if *held.borrow_and_update() {
            let mut m = match monitor.take() {
                Some(m) => m,
                None => {
                    let previous = crate::capacity::latest(&w.state.catalog)
                        .await
                        .unwrap_or_else(|e| {
                            tracing::warn!(error = %e, "reading the last capacity report failed");
                            None
                        });
                    Monitor::new(&config, previous.as_ref())
                }
            };
            let scheduler = w.downloader.client.scheduler();
            match m
                .sample(&w.state.catalog, scheduler, &w.state.metrics, valid_for)
                .await
            {
                Ok(report) => {
                    publish(&w.state.catalog, &report).await;
                    if let Some(alerts) = &mut alerts {
                        match observe(&w, &report).await {
                            Ok(now) => alerts.observe(&w.state.catalog, &now).await,
                            Err(e) => {
                                tracing::warn!(error = %e, "reading the alert conditions failed")
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "sampling the capacity failed"),
            }
            monitor = Some(m);
        } else {
            // The next tenure starts afresh: another gateway may have
            // measured, and alerted, in between.
            monitor = None;
            alerts = w.alerts.clone().map(Alerts::new);
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = held.changed() => {}
            _ = tokio::time::sleep(config.sample_every) => {}
        }
    }
}

/// The alert conditions now: `report`'s verdict, the dead jobs, and the
/// subscription state the gateway's duties stored.
async fn observe(w: &Workers, report: &Report) -> Result<Observed, vault::CatalogError> {
    let catalog = &w.state.catalog;
    let dead_jobs = catalog.counts_by_state().await?.dead;
    let subscription = match &w.subscription {
        Some(_) => catalog.setting(super::SUBSCRIPTION_STATE_SETTING).await?,
        None => None,
    };
    let degraded = report
        .degraded_reason()
        .map(|reason| match report.sentence() {
            Some(sentence) => format!("{reason}. {sentence}"),
            None => format!("{reason}."),
        });
    Ok(Observed {
        degraded,
        dead_jobs,
        subscription,
    })
}
