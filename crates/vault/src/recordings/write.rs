//! Writes to recordings: the listing facts (upsert) and each change of
//! state a download goes through.

use chrono::{DateTime, Utc};

use super::*;
use crate::db::Tx;

impl Catalog {
    /// Records that a recording exists. New rows start `listed`; a known row
    /// has its listing facts refreshed (absent facts keep their old value) and
    /// keeps its state. Returns whether the row was new.
    pub async fn upsert_recording(&self, rec: &NewRecording) -> Result<bool, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_ledger().await?;
        let new = upsert_recording_in(&mut tx, rec).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Marks a recording `stored` once its blob exists and its hash is known.
    /// Returns `false` when it was already stored (the first copy wins) or is
    /// unknown.
    pub async fn mark_recording_stored(
        &self,
        id: &RecordingId,
        key: &StorageKey,
        sha256: &Sha256Digest,
        size: u64,
        content_type: &str,
    ) -> Result<bool, CatalogError> {
        let size = i64::try_from(size).map_err(|_| CatalogError::OutOfRange {
            column: "size_bytes",
        })?;
        let done = sqlx::query(self.sql(
            "UPDATE recordings SET state = 'stored', storage_key = $2, sha256 = $3,
                    size_bytes = $4, content_type = $5, last_error = NULL, next_attempt_at = NULL,
                    stored_at = {now}, updated_at = {now}
                 WHERE id = $1 AND state <> 'stored'",
        ))
        .bind(id.as_str())
        .bind(key.as_str())
        .bind(sha256.to_hex())
        .bind(size)
        .bind(content_type)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Marks a recording `not_ready`, due again at `next_at`; counts an attempt.
    pub async fn mark_recording_not_ready(
        &self,
        id: &RecordingId,
        next_at: DateTime<Utc>,
        reason: &str,
    ) -> Result<bool, CatalogError> {
        self.mark_recording(id, RecordingState::NotReady, Some(next_at), reason)
            .await
    }

    /// Marks a recording `gone` (deleted or purged at the source).
    pub async fn mark_recording_gone(
        &self,
        id: &RecordingId,
        reason: &str,
    ) -> Result<bool, CatalogError> {
        self.mark_recording(id, RecordingState::Gone, None, reason)
            .await
    }

    /// Marks a recording `failed`, for a person to look at.
    pub async fn mark_recording_failed(
        &self,
        id: &RecordingId,
        reason: &str,
    ) -> Result<bool, CatalogError> {
        self.mark_recording(id, RecordingState::Failed, None, reason)
            .await
    }

    /// Puts a `failed` or `gone` recording back to `listed` (a person's
    /// retry); never one disposed of under a retention rule.
    pub async fn relist_recording(&self, id: &RecordingId) -> Result<bool, CatalogError> {
        let done = sqlx::query(self.sql(
                "UPDATE recordings SET state = 'listed', next_attempt_at = NULL, updated_at = {now}
                 WHERE id = $1 AND state IN ('failed', 'gone')
                   AND NOT EXISTS (SELECT 1 FROM recording_disposals d WHERE d.recording_id = recordings.id)"))
                .bind(id.as_str())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(done == 1)
    }

    async fn mark_recording(
        &self,
        id: &RecordingId,
        state: RecordingState,
        next_at: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Result<bool, CatalogError> {
        let done = sqlx::query(self.sql(
            "UPDATE recordings SET state = $2, next_attempt_at = $3, last_error = $4,
                    attempts = attempts + 1, updated_at = {now}
                 WHERE id = $1 AND state <> 'stored'",
        ))
        .bind(id.as_str())
        .bind(state.as_str())
        .bind(next_at.map(to_ms))
        .bind(reason)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}

/// [`Catalog::upsert_recording`] inside the caller's write transaction
/// `tx` (so the ledger can write a whole page in one); returns whether the
/// row was new.
pub(crate) async fn upsert_recording_in(
    tx: &mut Tx<'_>,
    rec: &NewRecording,
) -> Result<bool, CatalogError> {
    let inserted: Option<String> = sqlx::query_scalar(tx.sql(
        "INSERT INTO recordings (id, call_record_id, telephony_session_id, content_uri,
            content_type, call_start_time, call_end_time, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, {now}, {now})
         ON CONFLICT (id) DO NOTHING RETURNING id",
    ))
    .bind(rec.id.as_str())
    .bind(rec.call_record_id.as_ref().map(|c| c.as_str()))
    .bind(rec.telephony_session_id.as_ref().map(|t| t.as_str()))
    .bind(rec.content_uri.as_deref())
    .bind(rec.content_type.as_deref())
    .bind(crate::time::to_ms(rec.call_start_time))
    .bind(rec.call_end_time.map(crate::time::to_ms))
    .fetch_optional(tx.conn())
    .await?;
    if inserted.is_none() {
        sqlx::query(tx.sql(
            "UPDATE recordings SET call_record_id = COALESCE($2, call_record_id),
                telephony_session_id = COALESCE($3, telephony_session_id),
                content_uri = COALESCE($4, content_uri),
                content_type = CASE WHEN state = 'stored' THEN content_type
                                    ELSE COALESCE($5, content_type) END,
                call_start_time = $6,
                call_end_time = COALESCE($7, call_end_time),
                updated_at = {now}
             WHERE id = $1",
        ))
        .bind(rec.id.as_str())
        .bind(rec.call_record_id.as_ref().map(|c| c.as_str()))
        .bind(rec.telephony_session_id.as_ref().map(|t| t.as_str()))
        .bind(rec.content_uri.as_deref())
        .bind(rec.content_type.as_deref())
        .bind(crate::time::to_ms(rec.call_start_time))
        .bind(rec.call_end_time.map(crate::time::to_ms))
        .execute(tx.conn())
        .await?;
    }
    Ok(inserted.is_some())
}
