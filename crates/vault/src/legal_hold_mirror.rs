//! Legal holds mirrored onto S3 Object Lock's legal hold.
//!
//! In WORM mode every recording and stitched file is a locked object
//! (`blob_locks`). An active legal hold on a conversation must also be an
//! S3 legal hold on each of its objects, so the bucket itself refuses their
//! deletion whatever the retain-until date says, even to a principal allowed
//! to bypass GOVERNANCE retention. The catalog's holds are the truth; this
//! module finds the locked objects whose recorded S3 legal hold differs
//! from what the holds ask for, and records a change once the store made it.

use crate::db::Catalog;
use crate::error::{CatalogError, OrCorrupt};
use crate::key::StorageKey;

/// True when an active legal hold covers a conversation that owns the
/// object `bl.storage_key`: as one of its recordings, or as its stitched
/// file.
const WANTED: &str = "EXISTS (SELECT 1 FROM legal_hold_conversations hc
     JOIN legal_holds h ON h.id = hc.hold_id AND h.released_at IS NULL
    WHERE hc.conversation_id IN (
        SELECT cs.conversation_id FROM recordings r
          JOIN conversation_sessions cs ON cs.telephony_session_id = r.telephony_session_id
         WHERE r.storage_key = bl.storage_key
        UNION
        SELECT c.id FROM conversations c WHERE c.stitched_key = bl.storage_key))";

/// A locked object whose S3 legal hold must change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegalHoldDrift {
    /// The object.
    pub key: StorageKey,
    /// Whether a legal hold must be on (a hold covers its conversation) or
    /// off (the last such hold was released).
    pub wanted: bool,
}

impl Catalog {
    /// Up to `limit` locked objects whose recorded S3 legal hold differs
    /// from what the active holds ask for, oldest key first.
    pub async fn legal_hold_drift(&self, limit: u32) -> Result<Vec<LegalHoldDrift>, CatalogError> {
        static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT storage_key, wanted FROM (
                    SELECT bl.storage_key, bl.legal_hold,
                           CAST(CASE WHEN {WANTED} THEN 1 ELSE 0 END AS BIGINT) AS wanted
                      FROM blob_locks bl) d
                  WHERE d.wanted <> d.legal_hold
                  ORDER BY storage_key LIMIT $1"
            )
        });
        let rows: Vec<(String, i64)> = sqlx::query_as(QUERY.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(key, wanted)| {
                let key = StorageKey::from_stored(&key).or_corrupt("blob_locks")?;
                Ok(LegalHoldDrift {
                    key,
                    wanted: wanted != 0,
                })
            })
            .collect()
    }

    /// Whether the locked object at `key` lacks the S3 legal hold an active
    /// hold asks for: a file written for a conversation already on hold (a
    /// late leg, a first stitch), checked right after its write.
    pub async fn legal_hold_missing(&self, key: &StorageKey) -> Result<bool, CatalogError> {
        static QUERY: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
            format!(
                "SELECT COUNT(*) FROM blob_locks bl
                  WHERE bl.storage_key = $1 AND bl.legal_hold = 0 AND {WANTED}"
            )
        });
        let n: i64 = sqlx::query_scalar(QUERY.as_str())
            .bind(key.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(n > 0)
    }

    /// Records that the store's legal hold on the object at `key` is now
    /// `on` (after the store confirmed the change).
    pub async fn record_blob_legal_hold(
        &self,
        key: &StorageKey,
        on: bool,
    ) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "UPDATE blob_locks SET legal_hold = $2, recorded_at = {now} WHERE storage_key = $1",
        ))
        .bind(key.as_str())
        .bind(i64::from(on))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
