//! Placing and releasing legal holds, each checked and put on the audit
//! trail: what `callvault hold` and the records page both do.

use anyhow::{Context, bail};
use vault::{BlobStore, Catalog, HoldTarget, NewHold};

use super::audit;

/// Places a hold (after checking it) and audits it.
pub async fn place(catalog: &Catalog, hold: &NewHold) -> anyhow::Result<i64> {
    if hold.matter.trim().is_empty() || hold.reason.trim().is_empty() {
        bail!("a hold needs a matter and a reason");
    }
    match &hold.target {
        HoldTarget::Conversations(ids) if ids.is_empty() => {
            bail!("name at least one conversation, or a filter")
        }
        HoldTarget::Filter(f) if f.is_empty() => {
            bail!("a filter hold needs at least one filter")
        }
        _ => {}
    }
    let id = catalog.place_hold(hold).await.context("placing the hold")?;
    let placed = catalog
        .legal_hold(id)
        .await?
        .context("the hold just placed")?;
    audit::record(
        catalog,
        &hold.placed_by,
        audit::Action::HoldPlaced,
        audit::Subject::Hold,
        &id.to_string(),
        serde_json::json!({
            "matter": hold.matter, "reason": hold.reason,
            "filter": placed.filter, "conversations": placed.conversations,
        }),
    )
    .await?;
    Ok(id)
}

/// Releases a hold and audits it.
pub async fn release(catalog: &Catalog, id: i64, by: &str, reason: &str) -> anyhow::Result<()> {
    if reason.trim().is_empty() {
        bail!("releasing a hold needs a reason");
    }
    if !catalog
        .release_hold(id, by, reason)
        .await
        .context("releasing the hold")?
    {
        bail!("no active hold {id}");
    }
    audit::record(
        catalog,
        by,
        audit::Action::HoldReleased,
        audit::Subject::Hold,
        &id.to_string(),
        serde_json::json!({ "reason": reason }),
    )
    .await
}

/// Objects whose S3 legal hold one [`mirror_to_worm`] pass changes at most;
/// the rest wait for the next pass (the next retention run).
const MIRROR_BATCH: u32 = 10_000;

/// What [`mirror_to_worm`] changed in the bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MirrorReport {
    /// Objects whose S3 legal hold was turned on.
    pub placed: u64,
    /// Objects whose S3 legal hold was lifted (no active hold covers them).
    pub lifted: u64,
    /// Objects the store refused to change (tried again next pass).
    pub failed: Vec<String>,
}

/// Makes the bucket's S3 legal holds match the catalog's active holds, in
/// WORM mode (a no-op otherwise): each recording and stitched file of a held
/// conversation gets an S3 legal hold, which the bucket enforces whatever
/// the retain-until date and whoever asks; a file no hold covers any more
/// has it lifted. Run after a hold is placed or released and at every
/// retention run, which also covers filter holds' future matches and files
/// written after their conversation was held.
pub async fn mirror_to_worm(catalog: &Catalog, blobs: &BlobStore) -> anyhow::Result<MirrorReport> {
    let mut report = MirrorReport::default();
    if blobs.worm().is_none() {
        return Ok(report);
    }
    let drift = catalog
        .legal_hold_drift(MIRROR_BATCH)
        .await
        .context("reading which S3 legal holds differ from the holds")?;
    for d in drift {
        match blobs.set_legal_hold(&d.key, d.wanted).await {
            Ok(()) => {
                catalog
                    .record_blob_legal_hold(&d.key, d.wanted)
                    .await
                    .context("recording an S3 legal hold")?;
                match d.wanted {
                    true => report.placed += 1,
                    false => report.lifted += 1,
                }
            }
            Err(e) => {
                tracing::error!(key = %d.key, wanted = d.wanted, error = %e,
                    "setting an S3 legal hold failed; tried again next retention run");
                report.failed.push(d.key.to_string());
            }
        }
    }
    Ok(report)
}
