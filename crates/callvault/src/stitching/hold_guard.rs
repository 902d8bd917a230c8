//! A stitched file is never replaced while the law or the storage says it
//! must stay as it is.
//!
//! A re-stitch (a late leg, a transfer merged, `callvault stitch` by hand)
//! writes the conversation's stitched file again under the same key. Two
//! things forbid that, and both are refusals the user sees, never a quiet
//! success:
//! * **a legal hold** on the conversation: the held file is evidence as it
//!   was; checked before the join ([`refuse_if_held`]) and again, inside the
//!   catalog's hold fence, at the write ([`store_unless_held`]), so a hold
//!   placed during the join still stops it;
//! * **WORM storage**: the blob store never writes over an existing object
//!   (`vault::BlobError::Conflict`, see `vault::worm`), so a re-stitch that
//!   would change the bytes fails there, and [`explain_conflict`] turns that
//!   into the same refusal. Identical bytes (nothing changed) still pass.
//!
//! Each refusal is an [`OverwriteRefused`] error, which a stitch job
//! records as its dead reason and `callvault stitch` prints, and an
//! `overwrite_refused` entry on the audit trail.

use vault::{BlobError, BlobStore, Catalog, ConversationId};

use super::StitchOptions;
use super::store::{self, Joined, Stored};
use crate::retention::audit;

/// Who refused, on the audit trail.
pub const ACTOR: &str = "system:stitch";

/// The stitched file of a conversation was kept, not overwritten.
#[derive(Debug, thiserror::Error)]
#[error("conversation {conversation} {why}: its stitched file {key} is kept, not overwritten")]
pub struct OverwriteRefused {
    /// The conversation.
    pub conversation: String,
    /// The stitched file's key.
    pub key: String,
    /// Why (the hold's matter, or the lock).
    pub why: String,
}

/// Refuses (and audits) a re-stitch of `conversation` while an active
/// legal hold covers it and it has a stitched file already. A first stitch
/// of a held conversation writes a new object and is allowed.
pub async fn refuse_if_held(
    catalog: &Catalog,
    conversation: &ConversationId,
) -> anyhow::Result<()> {
    let Some(key) = catalog
        .conversation(conversation)
        .await?
        .and_then(|c| c.stitched_key)
    else {
        return Ok(());
    };
    let active: Vec<(i64, String)> = catalog
        .conversation_holds(conversation)
        .await?
        .into_iter()
        .filter(|h| h.released_at.is_none())
        .map(|h| (h.id, h.matter))
        .collect();
    if active.is_empty() {
        return Ok(());
    }
    Err(
        refuse(catalog, conversation, key.as_str(), on_hold(&active))
            .await?
            .into(),
    )
}

/// Stores `joined` for `conversation` unless that would replace the
/// stitched file of a conversation on legal hold. For a re-stitch the
/// check and the write both happen inside the catalog's hold fence
/// (`vault::HoldFence`), so a hold placed while the legs were joining is
/// seen here and the write refused (and audited); a hold placed at the same
/// moment waits for the write and then covers the new file. A first stitch
/// writes a new object and is stored whatever the holds.
pub async fn store_unless_held(
    catalog: &Catalog,
    blobs: &BlobStore,
    conversation: &ConversationId,
    joined: Joined,
    options: &StitchOptions,
) -> anyhow::Result<Stored> {
    let existing = catalog
        .conversation(conversation)
        .await?
        .and_then(|c| c.stitched_key);
    let Some(existing) = existing else {
        return store::store(blobs, joined, options).await;
    };
    let fence = catalog.fence_holds(conversation).await?;
    if fence.holds().is_empty() {
        let stored = store::store(blobs, joined, options).await;
        fence.lift().await?;
        return stored;
    }
    let active: Vec<(i64, String)> = fence
        .holds()
        .iter()
        .map(|h| (h.id, h.matter.clone()))
        .collect();
    // Lifted before the audit entry, which on SQLite waits for the fence.
    fence.lift().await?;
    Err(
        refuse(catalog, conversation, existing.as_str(), on_hold(&active))
            .await?
            .into(),
    )
}

/// Why a re-stitch is refused, naming each active hold (id, matter).
fn on_hold(active: &[(i64, String)]) -> String {
    let matters: Vec<String> = active
        .iter()
        .map(|(id, matter)| format!("{matter:?} (hold {id})"))
        .collect();
    format!("is on legal hold: {}", matters.join(", "))
}

/// `stored` as it is, except a failure because the blob store refused to
/// write over a locked stitched file, which becomes an [`OverwriteRefused`]
/// (audited).
pub async fn explain_conflict<T>(
    catalog: &Catalog,
    conversation: &ConversationId,
    stored: anyhow::Result<T>,
) -> anyhow::Result<T> {
    let error = match stored {
        Ok(stored) => return Ok(stored),
        Err(error) => error,
    };
    let Some(key) = error
        .chain()
        .find_map(|e| match e.downcast_ref::<BlobError>() {
            Some(BlobError::Conflict(key)) => Some(key.clone()),
            _ => None,
        })
    else {
        return Err(error);
    };
    let why =
        "would change a file locked in WORM storage, where no object is ever rewritten".to_owned();
    match refuse(catalog, conversation, &key, why).await {
        Ok(refused) => Err(refused.into()),
        Err(audit_failed) => Err(audit_failed.context(error.to_string())),
    }
}

/// Puts the refusal on the audit trail and returns it.
async fn refuse(
    catalog: &Catalog,
    conversation: &ConversationId,
    key: &str,
    why: String,
) -> anyhow::Result<OverwriteRefused> {
    tracing::warn!(%conversation, key, %why, "re-stitch refused");
    audit::record(
        catalog,
        ACTOR,
        audit::Action::OverwriteRefused,
        audit::Subject::Conversation,
        conversation.as_str(),
        serde_json::json!({ "stitchedKey": key, "reason": why }),
    )
    .await?;
    Ok(OverwriteRefused {
        conversation: conversation.as_str().to_owned(),
        key: key.to_owned(),
        why,
    })
}
