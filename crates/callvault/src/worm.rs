//! WORM mode in the product: the settings (`--worm`, `--worm-retain-days`),
//! the startup self-check, the retain-until date of each blob, and the
//! catalog's record of every lock (`vault::BlobLock`), and the S3 legal hold
//! of a file stored for a conversation already on hold. The S3 side lives in
//! `vault::worm`.

use anyhow::Context;

use clap::Args;
use vault::worm::{LockMode, WormConfig};
use vault::{BlobLock, BlobStore, Catalog, StorageKey};

/// Seven years: the longest common regulatory minimum (MiFID II on a
/// regulator's request, SEC 17a-4's six years plus margin).
pub const DEFAULT_RETAIN_DAYS: u32 = 2557;

/// WORM storage settings (S3 with Object Lock only).
#[derive(Debug, Clone, Default, Args)]
pub struct WormArgs {
    /// Write every recording and stitched file with an S3 Object Lock:
    /// `governance` (admins with the bypass permission may still delete) or
    /// `compliance` (nobody can, not even the account root, until the date).
    /// The bucket must have Object Lock enabled; startup proves it enforces.
    #[arg(long = "worm", env = "CALLVAULT_WORM", value_parser = ["governance", "compliance"])]
    pub mode: Option<String>,
    /// Days each blob stays locked from its write, until retention rules
    /// give each recording its own minimum keep.
    #[arg(long, env = "CALLVAULT_WORM_RETAIN_DAYS", default_value_t = DEFAULT_RETAIN_DAYS)]
    pub worm_retain_days: u32,
}

impl WormArgs {
    /// The vault settings, when WORM mode is asked for.
    pub fn config(&self) -> Option<WormConfig> {
        let mode = LockMode::parse(self.mode.as_deref()?)?;
        Some(WormConfig {
            mode,
            default_keep: chrono::Duration::days(i64::from(self.worm_retain_days.max(1))),
        })
    }
}

/// Opens WORM mode on `blobs` when asked, and proves the bucket enforces
/// locks (see `vault::BlobStore::check_worm`): run by every process that
/// writes blobs, before it writes any.
pub async fn enable(blobs: BlobStore, args: &WormArgs) -> anyhow::Result<BlobStore> {
    let Some(config) = args.config() else {
        return Ok(blobs);
    };
    let blobs = blobs.with_worm(config).context("--worm")?;
    blobs
        .check_worm()
        .await
        .context("the WORM self-check failed (--worm)")?;
    tracing::info!(
        mode = config.mode.as_str(),
        days = args.worm_retain_days,
        "WORM storage: Object Lock enforced"
    );
    Ok(blobs)
}

/// Records in the catalog the lock the store holds on `key` (version id,
/// mode, date, legal hold), read back from the store. A no-op outside WORM
/// mode.
pub async fn record_lock(
    catalog: &Catalog,
    blobs: &BlobStore,
    key: &StorageKey,
) -> anyhow::Result<()> {
    if blobs.worm().is_none() {
        return Ok(());
    }
    let info = blobs
        .lock_info(key)
        .await
        .with_context(|| format!("reading the lock of {key}"))?
        .with_context(|| format!("{key} vanished after its write"))?;
    let (Some(version_id), Some(mode), Some(retain_until)) =
        (info.version_id, info.mode, info.retain_until)
    else {
        anyhow::bail!("{key} was written without an Object Lock");
    };
    catalog
        .record_blob_lock(
            key,
            &BlobLock {
                version_id,
                mode: mode.as_str().to_owned(),
                retain_until,
                legal_hold: info.legal_hold,
            },
        )
        .await
        .context("recording the lock")?;
    Ok(())
}

/// Puts the S3 legal hold on the object just stored at `key` (and recorded
/// as stored in the catalog) when an active legal hold already covers its
/// conversation: a late leg or the first stitch of a held conversation is
/// then held from its write, not from the next retention run. A no-op
/// outside WORM mode. A failure is logged, not returned: the object is
/// stored and locked, and every retention run's mirror
/// ([`crate::retention::holds::mirror_to_worm`]) retries it.
pub async fn hold_if_held(catalog: &Catalog, blobs: &BlobStore, key: &StorageKey) {
    if blobs.worm().is_none() {
        return;
    }
    let placed = async {
        if !catalog.legal_hold_missing(key).await? {
            return anyhow::Ok(false);
        }
        blobs.set_legal_hold(key, true).await?;
        catalog.record_blob_legal_hold(key, true).await?;
        anyhow::Ok(true)
    };
    match placed.await {
        Ok(true) => tracing::info!(%key, "S3 legal hold placed on a file of a held conversation"),
        Ok(false) => {}
        Err(e) => tracing::error!(%key, error = %format!("{e:#}"),
            "placing the S3 legal hold of a held conversation's new file failed; the next retention run retries"),
    }
}
