//! Stitched conversation files disposed of with their legs.
//!
//! A stitched file holds its legs' audio, so keeping it after retention
//! disposed of the legs would keep what the rules say must go. It goes
//! too, but only when nothing could still want it: every recording of
//! the conversation is `gone`, at least one of them by a disposal, and no
//! active legal hold covers the conversation. Those three checks and the
//! tombstone are ONE statement ([`Catalog::dispose_stitched_file`]), so a
//! hold placed after the retention run began still wins, on both backends.
//! The blob is deleted afterwards by the caller, like a leg's.

use chrono::{DateTime, Utc};

use std::sync::LazyLock;

use crate::db::Catalog;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::ConversationId;
use crate::time::{from_ms, from_opt_ms};

/// SQL true when conversation `c` is on an active legal hold.
const CONVERSATION_HELD: &str = "EXISTS (SELECT 1 FROM legal_hold_conversations hc
   JOIN legal_holds h ON h.id = hc.hold_id
  WHERE hc.conversation_id = c.id AND h.released_at IS NULL)";

/// SQL true when a recording of conversation `c` is anything but `gone`
/// (stored, or still to come): its audio is kept, so the stitched file is.
const LEG_KEPT: &str = "EXISTS (SELECT 1 FROM conversation_sessions ks
   JOIN recordings kr ON kr.telephony_session_id = ks.telephony_session_id
  WHERE ks.conversation_id = c.id AND kr.state <> 'gone')";

/// SQL true when retention disposed of a recording of conversation `c`.
const LEG_DISPOSED: &str = "EXISTS (SELECT 1 FROM conversation_sessions ds
   JOIN recording_disposals dd ON dd.telephony_session_id = ds.telephony_session_id
  WHERE ds.conversation_id = c.id)";

/// Conversations still naming a stitched file after a leg's disposal.
static CANDIDATES: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT c.id FROM conversations c
         WHERE c.stitched_key IS NOT NULL AND {LEG_DISPOSED} ORDER BY c.id"
    )
});

/// The tombstone, written only when every condition holds.
static TOMBSTONE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO stitched_disposals (conversation_id, storage_key, sha256, manifest,
            reason, disposed_at)
         SELECT c.id, c.stitched_key, c.sha256, c.manifest, $2, {{now}} FROM conversations c
         WHERE c.id = $1 AND c.stitched_key IS NOT NULL
           AND NOT {CONVERSATION_HELD}
           AND NOT {LEG_KEPT}
           AND {LEG_DISPOSED}
         ON CONFLICT (conversation_id) DO UPDATE SET storage_key = excluded.storage_key,
            sha256 = excluded.sha256, manifest = excluded.manifest,
            reason = excluded.reason, disposed_at = excluded.disposed_at,
            blob_deleted_at = NULL"
    )
});

/// Which condition kept a conversation's stitched file.
static WHY_NOT: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT CAST(CASE WHEN c.stitched_key IS NOT NULL AND {LEG_DISPOSED}
                 THEN 1 ELSE 0 END AS BIGINT) AS stitched,
            CAST(CASE WHEN {CONVERSATION_HELD} THEN 1 ELSE 0 END AS BIGINT) AS held,
            CAST(CASE WHEN {LEG_KEPT} THEN 1 ELSE 0 END AS BIGINT) AS kept
         FROM conversations c WHERE c.id = $1"
    )
});

const BY_CONVERSATION: &str = "SELECT conversation_id, storage_key, sha256, manifest, reason, \
     disposed_at, blob_deleted_at FROM stitched_disposals WHERE conversation_id = $1";

const PENDING: &str = "SELECT conversation_id, storage_key, sha256, manifest, reason, \
     disposed_at, blob_deleted_at FROM stitched_disposals WHERE blob_deleted_at IS NULL \
     ORDER BY disposed_at, conversation_id";

/// What [`Catalog::dispose_stitched_file`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StitchedDisposeOutcome {
    /// The tombstone is written and the conversation no longer names the
    /// file; the blob is still to delete.
    Disposed(StitchedDisposal),
    /// An active legal hold covers the conversation; nothing changed.
    Held,
    /// A recording of the conversation is kept (or still to come); nothing
    /// changed.
    LegsKept,
    /// The conversation has no stitched file, or retention disposed of
    /// none of its legs; nothing changed.
    NotEligible,
}

/// A disposed stitched file's tombstone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StitchedDisposal {
    /// The conversation.
    pub conversation_id: ConversationId,
    /// Where the stitched file was.
    pub storage_key: String,
    /// Its sha256.
    pub sha256: Option<String>,
    /// Its stitch manifest (legs and chapters), JSON text.
    pub manifest: Option<String>,
    /// Why it was disposed of.
    pub reason: String,
    /// When.
    pub disposed_at: DateTime<Utc>,
    /// When its blob was deleted (`None`: still to do).
    pub blob_deleted_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct StitchedDisposalSql {
    conversation_id: String,
    storage_key: String,
    sha256: Option<String>,
    manifest: Option<String>,
    reason: String,
    disposed_at: i64,
    blob_deleted_at: Option<i64>,
}

const TABLE: &str = "stitched_disposals";

impl TryFrom<StitchedDisposalSql> for StitchedDisposal {
    type Error = CatalogError;
    fn try_from(d: StitchedDisposalSql) -> Result<Self, CatalogError> {
        Ok(StitchedDisposal {
            conversation_id: ConversationId::parse(&d.conversation_id).or_corrupt(TABLE)?,
            storage_key: d.storage_key,
            sha256: d.sha256,
            manifest: d.manifest,
            reason: d.reason,
            disposed_at: from_ms(TABLE, d.disposed_at)?,
            blob_deleted_at: from_opt_ms(TABLE, d.blob_deleted_at)?,
        })
    }
}

#[derive(sqlx::FromRow)]
struct WhyNotSql {
    stitched: i64,
    held: i64,
    kept: i64,
}

impl Catalog {
    /// Conversations that still name a stitched file although retention
    /// disposed of at least one of their recordings: the candidates of
    /// [`Self::dispose_stitched_file`].
    pub async fn stitched_with_disposed_legs(&self) -> Result<Vec<ConversationId>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(CANDIDATES.as_str())
            .fetch_all(&self.pool)
            .await?;
        ids.iter()
            .map(|id| ConversationId::parse(id).or_corrupt("conversations"))
            .collect()
    }

    /// Disposes of conversation `id`'s stitched file with its legs: in ONE
    /// transaction writes its tombstone (with `reason`) and clears the
    /// conversation's stitched key and sha256, but only if it has a
    /// stitched file, every recording of it is `gone`, retention disposed
    /// of at least one, and no active legal hold covers it (all checked in
    /// the INSERT). The blob is deleted afterwards by the caller
    /// ([`Self::mark_stitched_disposal_blob_deleted`]).
    pub async fn dispose_stitched_file(
        &self,
        id: &ConversationId,
        reason: &str,
    ) -> Result<StitchedDisposeOutcome, CatalogError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(tx.sql(TOMBSTONE.as_str()))
            .bind(id.as_str())
            .bind(reason)
            .execute(tx.conn())
            .await?
            .rows_affected();
        if done != 1 {
            let why: Option<WhyNotSql> = sqlx::query_as(WHY_NOT.as_str())
                .bind(id.as_str())
                .fetch_optional(tx.conn())
                .await?;
            tx.rollback().await?;
            return Ok(match why {
                Some(w) if w.stitched != 0 && w.held != 0 => StitchedDisposeOutcome::Held,
                Some(w) if w.stitched != 0 && w.kept != 0 => StitchedDisposeOutcome::LegsKept,
                _ => StitchedDisposeOutcome::NotEligible,
            });
        }
        let row: Option<StitchedDisposalSql> = sqlx::query_as(BY_CONVERSATION)
            .bind(id.as_str())
            .fetch_optional(tx.conn())
            .await?;
        sqlx::query(tx.sql(
            "UPDATE conversations SET stitched_key = NULL, sha256 = NULL, reason = $2,
                updated_at = {now}
             WHERE id = $1",
        ))
        .bind(id.as_str())
        .bind(reason)
        .execute(tx.conn())
        .await?;
        tx.commit().await?;
        match row {
            Some(row) => Ok(StitchedDisposeOutcome::Disposed(row.try_into()?)),
            None => Ok(StitchedDisposeOutcome::NotEligible),
        }
    }

    /// Notes that a disposed stitched file's blob (and its manifest and
    /// chapters beside it) is deleted.
    pub async fn mark_stitched_disposal_blob_deleted(
        &self,
        id: &ConversationId,
    ) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "UPDATE stitched_disposals SET blob_deleted_at = {now}
             WHERE conversation_id = $1 AND blob_deleted_at IS NULL",
        ))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tombstone of conversation `id`'s stitched file, if it was
    /// disposed of.
    pub async fn stitched_disposal(
        &self,
        id: &ConversationId,
    ) -> Result<Option<StitchedDisposal>, CatalogError> {
        let row: Option<StitchedDisposalSql> = sqlx::query_as(BY_CONVERSATION)
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(StitchedDisposal::try_from).transpose()
    }

    /// Stitched-file tombstones whose blob is still to delete.
    pub async fn stitched_disposals_pending(&self) -> Result<Vec<StitchedDisposal>, CatalogError> {
        let rows: Vec<StitchedDisposalSql> = sqlx::query_as(PENDING).fetch_all(&self.pool).await?;
        rows.into_iter().map(StitchedDisposal::try_from).collect()
    }
}
