//! A stitched file is never replaced while the law or the storage says it
//! must stay as it is.
//!
//! A re-stitch (a late leg, a transfer merged, `callvault stitch` by hand)
//! writes the conversation's stitched file again under the same key. Two
//! things forbid that, and both are refusals the user sees, never a quiet
//! success:
//! * **a legal hold** on the conversation: the held file is evidence as it
//!   was; checked before the join ([`refuse_if_held`]);
//! * **WORM storage**: the blob store never writes over an existing object
//!   (`vault::BlobError::Conflict`, see `vault::worm`), so a re-stitch that
//!   would change the bytes fails there, and [`explain_conflict`] turns that
//!   into the same refusal. Identical bytes (nothing changed) still pass.
//!
//! Each refusal is an [`OverwriteRefused`] error, which a stitch job
//! records as its dead reason and `callvault stitch` prints, and an
//! `overwrite_refused` entry on the audit trail. A hold placed while a
//! stitch is already joining (seconds) does not stop that stitch.

use vault::{BlobError, Catalog, ConversationId};

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
    let matters: Vec<String> = catalog
        .conversation_holds(conversation)
        .await?
        .into_iter()
        .filter(|h| h.released_at.is_none())
        .map(|h| format!("{:?} (hold {})", h.matter, h.id))
        .collect();
    if matters.is_empty() {
        return Ok(());
    }
    let why = format!("is on legal hold: {}", matters.join(", "));
    Err(refuse(catalog, conversation, key.as_str(), why)
        .await?
        .into())
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
