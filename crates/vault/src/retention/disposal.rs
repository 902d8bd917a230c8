//! The two destructive steps of retention, each claimed in one statement
//! that also checks legal holds: disposal of our copy (with its tombstone)
//! and deletion at the source.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use super::held_sql;

use crate::db::{Catalog, Flag};
use crate::digest::Sha256Digest;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{ConversationId, RecordingId};
use crate::time::{from_ms, from_opt_ms, to_ms};

/// Marks a stored, unheld recording past its due time gone.
static DISPOSE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "UPDATE recordings SET state = 'gone', last_error = $4, updated_at = {{now}}
         WHERE id = $1 AND state = 'stored' AND sha256 = $2 AND {{now}} >= $3
           AND NOT {}",
        held_sql("recordings")
    )
});

/// Whether recording `$1` is held.
static IS_HELD: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {} FROM recordings r WHERE r.id = $1", held_sql("r")));

/// Claims the deletion at the source of a stored, unheld recording.
static CLAIM_SOURCE_DELETION: LazyLock<String> = LazyLock::new(|| {
    format!(
        "INSERT INTO source_deletions (recording_id, state, sha256, claimed_at)
         SELECT r.id, 'pending', r.sha256, {{now}} FROM recordings r
         WHERE r.id = $1 AND r.state = 'stored' AND r.sha256 = $2
           AND NOT {}
         ON CONFLICT (recording_id) DO UPDATE SET state = 'pending',
            claimed_at = excluded.claimed_at, answered_at = NULL, answer = NULL
         WHERE source_deletions.state <> 'deleted'",
        held_sql("r")
    )
});

/// Why [`Catalog::dispose_recording`] did not dispose of a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisposeOutcome {
    /// Disposed: the tombstone is written; the blob is still to delete.
    Disposed,
    /// An active legal hold covers it; nothing changed.
    Held,
    /// It is no longer stored with that hash, or not yet due by the
    /// database clock; nothing changed.
    NotEligible,
}

/// A disposed recording's tombstone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disposal {
    /// The recording.
    pub recording_id: RecordingId,
    /// Its call record.
    pub call_record_id: Option<String>,
    /// Its telephony session.
    pub telephony_session_id: Option<String>,
    /// Its conversation at disposal.
    pub conversation_id: Option<String>,
    /// Where its blob was.
    pub storage_key: Option<String>,
    /// Its sha256.
    pub sha256: Option<String>,
    /// Its size.
    pub size: Option<u64>,
    /// When the call started.
    pub call_start_time: Option<DateTime<Utc>>,
    /// When the call ended.
    pub call_end_time: Option<DateTime<Utc>>,
    /// When our copy was stored.
    pub stored_at: Option<DateTime<Utc>>,
    /// The rule's id (the rule may be gone since).
    pub rule_id: Option<i64>,
    /// The rule's name at disposal.
    pub rule_name: String,
    /// When it was disposed of.
    pub disposed_at: DateTime<Utc>,
    /// When its blob was deleted (`None`: still to do).
    pub blob_deleted_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct DisposalSql {
    recording_id: String,
    call_record_id: Option<String>,
    telephony_session_id: Option<String>,
    conversation_id: Option<String>,
    storage_key: Option<String>,
    sha256: Option<String>,
    size_bytes: Option<i64>,
    call_start_time: Option<i64>,
    call_end_time: Option<i64>,
    stored_at: Option<i64>,
    rule_id: Option<i64>,
    rule_name: String,
    disposed_at: i64,
    blob_deleted_at: Option<i64>,
}

const DISPOSAL_COLUMNS: &str = "recording_id, call_record_id, telephony_session_id, conversation_id, storage_key, sha256, size_bytes, call_start_time, call_end_time, stored_at, rule_id, rule_name, disposed_at, blob_deleted_at";

impl TryFrom<DisposalSql> for Disposal {
    type Error = CatalogError;
    fn try_from(d: DisposalSql) -> Result<Self, CatalogError> {
        const T: &str = "recording_disposals";
        Ok(Disposal {
            recording_id: RecordingId::parse(&d.recording_id).or_corrupt("recordings")?,
            call_record_id: d.call_record_id,
            telephony_session_id: d.telephony_session_id,
            conversation_id: d.conversation_id,
            storage_key: d.storage_key,
            sha256: d.sha256,
            size: d.size_bytes.and_then(|s| u64::try_from(s).ok()),
            call_start_time: from_opt_ms(T, d.call_start_time)?,
            call_end_time: from_opt_ms(T, d.call_end_time)?,
            stored_at: from_opt_ms(T, d.stored_at)?,
            rule_id: d.rule_id,
            rule_name: d.rule_name,
            disposed_at: from_ms(T, d.disposed_at)?,
            blob_deleted_at: from_opt_ms(T, d.blob_deleted_at)?,
        })
    }
}

/// How a deletion at the source ended, for [`Catalog::settle_source_deletion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceDeletionState {
    /// RingCentral deleted it (or it was already gone there).
    Deleted,
    /// RingCentral refused; it may be claimed again.
    Failed,
}

impl Catalog {
    /// Disposes of recording `id` under rule (`rule_id`, `rule_name`): in ONE
    /// transaction, marks it `gone` and writes its tombstone, but only if it
    /// is still `stored` with `sha256`, the database clock is at or past
    /// `due`, and no active legal hold covers its conversation (checked in
    /// the same UPDATE). The blob is deleted afterwards by the caller
    /// ([`Self::mark_disposal_blob_deleted`]), so a failed transaction never
    /// loses audio.
    pub async fn dispose_recording(
        &self,
        id: &RecordingId,
        sha256: &Sha256Digest,
        due: DateTime<Utc>,
        rule_id: Option<i64>,
        rule_name: &str,
    ) -> Result<DisposeOutcome, CatalogError> {
        let reason = format!("disposed of under retention rule {rule_name:?}");
        {
            let mut tx = self.begin_write().await?;
            let done = sqlx::query(self.sql(DISPOSE.as_str()))
                .bind(id.as_str())
                .bind(sha256.to_hex())
                .bind(to_ms(due))
                .bind(reason.as_str())
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if done != 1 {
                let held: bool = sqlx::query_scalar::<_, Flag>(IS_HELD.as_str())
                    .bind(id.as_str())
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some_and(bool::from);
                tx.rollback().await?;
                return Ok(if held {
                    DisposeOutcome::Held
                } else {
                    DisposeOutcome::NotEligible
                });
            }
            sqlx::query(self.sql(
                "INSERT INTO recording_disposals (recording_id, call_record_id, telephony_session_id,
                    conversation_id, storage_key, sha256, size_bytes, content_type, call_start_time,
                    call_end_time, stored_at, rule_id, rule_name, disposed_at)
                 SELECT r.id, r.call_record_id, r.telephony_session_id,
                    (SELECT cs.conversation_id FROM conversation_sessions cs
                      WHERE cs.telephony_session_id = r.telephony_session_id),
                    r.storage_key, r.sha256, r.size_bytes, r.content_type, r.call_start_time,
                    r.call_end_time, r.stored_at, $2, $3, {now}
                 FROM recordings r WHERE r.id = $1"))
                .bind(id.as_str())
                .bind(rule_id)
                .bind(rule_name)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        };
        Ok(DisposeOutcome::Disposed)
    }

    /// Notes that a disposed recording's blob is deleted.
    pub async fn mark_disposal_blob_deleted(&self, id: &RecordingId) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "UPDATE recording_disposals SET blob_deleted_at = {now}
             WHERE recording_id = $1 AND blob_deleted_at IS NULL",
        ))
        .bind(id.as_str())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The tombstone of recording `id`, if it was disposed of.
    pub async fn disposal(&self, id: &RecordingId) -> Result<Option<Disposal>, CatalogError> {
        let row: Option<DisposalSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DISPOSAL_COLUMNS} FROM recording_disposals WHERE recording_id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Disposal::try_from).transpose()
    }

    /// Tombstones: those of one conversation (`Some`), or all; with
    /// `blob_pending` only those whose blob is still to delete.
    pub async fn disposals(
        &self,
        conversation: Option<&ConversationId>,
        blob_pending: bool,
    ) -> Result<Vec<Disposal>, CatalogError> {
        let rows: Vec<DisposalSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {DISPOSAL_COLUMNS} FROM recording_disposals
                 WHERE ($1 IS NULL OR conversation_id = $1)
                   AND ($2 = 0 OR blob_deleted_at IS NULL)
                 ORDER BY disposed_at, recording_id"
        )))
        .bind(conversation.map(|c| c.as_str()))
        .bind(i64::from(blob_pending))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(Disposal::try_from).collect()
    }

    /// Claims recording `id` for deletion at the source: records a
    /// `pending` deletion, but only if the recording is stored with
    /// `sha256` and no active legal hold covers it — in ONE statement. A
    /// failed earlier attempt may be claimed again; a deleted one not.
    /// Returns whether it was claimed.
    pub async fn claim_source_deletion(
        &self,
        id: &RecordingId,
        sha256: &Sha256Digest,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(CLAIM_SOURCE_DELETION.as_str()))
            .bind(id.as_str())
            .bind(sha256.to_hex())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// Settles a claimed deletion with RingCentral's answer.
    pub async fn settle_source_deletion(
        &self,
        id: &RecordingId,
        state: SourceDeletionState,
        answer: &str,
    ) -> Result<(), CatalogError> {
        let state = match state {
            SourceDeletionState::Deleted => "deleted",
            SourceDeletionState::Failed => "failed",
        };
        {
            sqlx::query(self.sql(
                "UPDATE source_deletions SET state = $2, answer = $3, answered_at = {now}
                 WHERE recording_id = $1 AND state = 'pending'",
            ))
            .bind(id.as_str())
            .bind(state)
            .bind(answer)
            .execute(&self.pool)
            .await?;
        };
        Ok(())
    }

    /// How many recordings were deleted at the source by us.
    pub async fn source_deletion_count(&self) -> Result<u64, CatalogError> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM source_deletions WHERE state = 'deleted'")
                .fetch_one(&self.pool)
                .await?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
