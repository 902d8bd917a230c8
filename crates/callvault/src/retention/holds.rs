//! Placing and releasing legal holds, each checked and put on the audit
//! trail: what `callvault hold` and the records page both do.

use anyhow::{Context, bail};
use vault::{Catalog, HoldTarget, NewHold};

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
