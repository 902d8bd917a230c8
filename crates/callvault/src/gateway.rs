//! The RingCentral gateway: which process of a deployment may talk to
//! RingCentral.
//!
//! RingCentral's rate limits belong to the user and app, not to a process:
//! two processes spending the same Heavy budget each believe they have all
//! of it, and together they walk into the 429 penalty. So exactly one
//! process at a time holds the catalog singleton [`GATEWAY`]. `serve` and
//! `worker` compete for it continuously (`live::workers`); a one-off
//! command (`sync`, `sync --plan`) takes it with [`CommandHold::take`] for
//! its run, waiting briefly for a crashed holder's lease to run out, and
//! refusing, with who holds it, when a live process keeps it.

use std::time::Duration;

use anyhow::Context;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use vault::{Catalog, SingletonLease};

use crate::jobs::JobKind;

/// Name of the deployment-wide singleton that may talk to RingCentral.
pub const GATEWAY: &str = "rc-gateway";

/// Job kinds that call RingCentral: only the gateway's holder claims them.
pub const RC_KINDS: [&str; 4] = [
    JobKind::Download.as_str(),
    JobKind::Session.as_str(),
    JobKind::Look.as_str(),
    JobKind::DeleteAtSource.as_str(),
];

/// Job kinds any worker may run: they need no RingCentral call.
pub const LOCAL_KINDS: [&str; 2] = [JobKind::Stitch.as_str(), JobKind::RetentionApply.as_str()];

/// A one-off command's lease: short, so a crashed command blocks the next
/// one (or `serve`) for seconds, not minutes; renewed at a third of it.
pub const COMMAND_LEASE: Duration = Duration::from_secs(10);

/// A holder id unique to this process: `host:pid:random`.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    let tag: u32 = rand::random();
    format!("{host}:{}:{tag:08x}", std::process::id())
}

/// The gateway, held by a one-off command until [`CommandHold::release`].
#[derive(Debug)]
pub struct CommandHold {
    catalog: Catalog,
    lease: SingletonLease,
    stop_renewing: CancellationToken,
    renewer: JoinHandle<()>,
}

impl CommandHold {
    /// Takes the gateway for `command`. A lease that stops being renewed
    /// (its holder crashed) runs out within `patience`, so the command waits
    /// that long; a holder still renewing after it is a live `serve` or
    /// `worker` (or another command), and the answer is an error naming it.
    pub async fn take(
        catalog: &Catalog,
        command: &str,
        patience: Duration,
    ) -> anyhow::Result<CommandHold> {
        let holder = format!("{command}@{}", holder_id());
        let deadline = tokio::time::Instant::now() + patience;
        let mut said_waiting = false;
        let lease = loop {
            if let Some(lease) = catalog
                .acquire_singleton(GATEWAY, &holder, COMMAND_LEASE)
                .await
                .context("taking the RingCentral gateway lease")?
            {
                break lease;
            }
            let current = catalog
                .singleton_holder(GATEWAY)
                .await
                .context("reading the RingCentral gateway lease")?
                .map(|(name, _)| name)
                .unwrap_or_else(|| "another process".into());
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "{current} is talking to RingCentral for this catalog (it holds the \
                 {GATEWAY} lease): two processes would share one rate-limit budget and \
                 run into RingCentral's 429 penalty. A running `serve` or `worker` \
                 already keeps the backup current (its safety-net sync lists the call \
                 log); stop it to run `{command}` by hand"
            );
            if !said_waiting {
                tracing::info!(%current, "waiting for the RingCentral gateway lease to run out");
                said_waiting = true;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        };
        let stop_renewing = CancellationToken::new();
        let renewer = tokio::spawn(renew(catalog.clone(), lease.clone(), stop_renewing.clone()));
        Ok(CommandHold {
            catalog: catalog.clone(),
            lease,
            stop_renewing,
            renewer,
        })
    }

    /// Gives the gateway up, so `serve` or the next command takes it at once.
    pub async fn release(self) {
        self.stop_renewing.cancel();
        let _ = self.renewer.await;
        if let Err(e) = self.catalog.release_singleton(&self.lease).await {
            tracing::warn!(error = %e, "releasing the RingCentral gateway lease failed; it runs out on its own");
        }
    }
}

/// Renews `lease` every third of [`COMMAND_LEASE`] until `stop`. A lost
/// lease (the database was unreachable for longer than the lease) is
/// logged as an error: another process may be talking to RingCentral too.
async fn renew(catalog: Catalog, lease: SingletonLease, stop: CancellationToken) {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(COMMAND_LEASE / 3) => {}
        }
        match catalog.renew_singleton(&lease, COMMAND_LEASE).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::error!(
                    "lost the RingCentral gateway lease; another process may be using the same rate-limit budget"
                );
                return;
            }
            Err(e) => tracing::warn!(error = %e, "renewing the RingCentral gateway lease failed"),
        }
    }
}
