//! Stitched files go with their legs: after a retention run disposes of
//! recordings, the stitched file of every conversation whose recordings
//! are now all gone is disposed of too (tombstone, audit entry, blob,
//! manifest and chapters deleted). Never while a leg is kept or a hold
//! applies: the catalog checks both in the statement that writes the
//! tombstone ([`vault::Catalog::dispose_stitched_file`]).

use anyhow::Context;
use vault::{BlobStore, Catalog, ConversationId, StitchedDisposeOutcome, StorageKey};

use super::{ApplyReport, audit};

/// Why a stitched file is disposed of, in its tombstone and on the
/// conversation.
pub const REASON: &str = "stitched file disposed of with its legs under retention";

/// Disposes of the stitched files whose legs are all disposed of, and
/// deletes again the blobs of earlier ones whose deletion failed.
pub async fn dispose_with_legs(
    catalog: &Catalog,
    blobs: &BlobStore,
    report: &mut ApplyReport,
) -> anyhow::Result<()> {
    for pending in catalog
        .stitched_disposals_pending()
        .await
        .context("reading stitched-file tombstones")?
    {
        delete_files(
            catalog,
            blobs,
            &pending.conversation_id,
            &pending.storage_key,
            report,
        )
        .await?;
    }
    for id in catalog
        .stitched_with_disposed_legs()
        .await
        .context("finding stitched files whose legs were disposed of")?
    {
        let outcome = catalog
            .dispose_stitched_file(&id, REASON)
            .await
            .with_context(|| format!("disposing of the stitched file of {id}"))?;
        match outcome {
            StitchedDisposeOutcome::Disposed(d) => {
                audit::record(
                    catalog,
                    audit::SYSTEM,
                    audit::Action::Disposed,
                    audit::Subject::Conversation,
                    id.as_str(),
                    serde_json::json!({
                        "stitchedKey": d.storage_key, "sha256": d.sha256, "reason": REASON,
                    }),
                )
                .await?;
                if delete_files(catalog, blobs, &id, &d.storage_key, report).await? {
                    report.stitched_disposed.push(id.as_str().to_owned());
                }
            }
            StitchedDisposeOutcome::Held => report.stitched_held.push(id.as_str().to_owned()),
            StitchedDisposeOutcome::LegsKept => report.stitched_kept += 1,
            StitchedDisposeOutcome::NotEligible => {}
        }
    }
    Ok(())
}

/// Deletes a disposed stitched file, its manifest (`.json`) and chapters
/// (`.vtt`); a failure (a WORM lock, say) is reported and retried next run.
async fn delete_files(
    catalog: &Catalog,
    blobs: &BlobStore,
    id: &ConversationId,
    key: &str,
    report: &mut ApplyReport,
) -> anyhow::Result<bool> {
    let key = StorageKey::from_stored(key).context("a stored stitched-file key")?;
    let chapters = crate::stitching::store::vtt_key(&key)?;
    let deleted = async {
        blobs.delete(&key).await?;
        blobs.delete(&StorageKey::sidecar_of(&key)).await?;
        blobs.delete(&chapters).await
    }
    .await;
    match deleted {
        Ok(()) => {
            catalog
                .mark_stitched_disposal_blob_deleted(id)
                .await
                .context("recording the stitched file's deletion")?;
            Ok(true)
        }
        Err(e) => {
            tracing::error!(conversation = %id, error = %format!("{:#}", anyhow::Error::new(e)),
                "deleting a disposed stitched file failed; retried next run");
            report.stitched_blob_failures.push(id.as_str().to_owned());
            Ok(false)
        }
    }
}
