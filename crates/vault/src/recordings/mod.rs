//! Recordings: what RingCentral holds, and how far we are with our copy.
//!
//! States: `listed` → `stored` (verified), or `not_ready` (try again at
//! `next_attempt_at`, counted from the call's end by the caller), `gone`
//! (deleted or purged at the source) or `failed` (needs a person). No
//! transition ever leaves `stored`: every marking statement is guarded by
//! `state <> 'stored'`, so a late or duplicate worker cannot undo a copy.
//!
//! This file holds the types and the reads; `write` the upsert and the
//! state changes.

pub(crate) mod write;

use chrono::{DateTime, Utc};

use crate::db::Catalog;
use crate::digest::Sha256Digest;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{CallRecordId, RecordingId, TelephonySessionId};
use crate::key::StorageKey;
use crate::time::{from_ms, from_opt_ms, to_ms};

/// Where a recording stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordingState {
    /// Known from the call log or a webhook; not yet copied.
    Listed,
    /// Copied, with size and sha256 known.
    Stored,
    /// RingCentral does not serve it yet; try again later.
    NotReady,
    /// Deleted or purged at the source; nothing more to do.
    Gone,
    /// Failed for a reason a person must look at.
    Failed,
}

impl RecordingState {
    /// The value in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordingState::Listed => "listed",
            RecordingState::Stored => "stored",
            RecordingState::NotReady => "not_ready",
            RecordingState::Gone => "gone",
            RecordingState::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "listed" => RecordingState::Listed,
            "stored" => RecordingState::Stored,
            "not_ready" => RecordingState::NotReady,
            "gone" => RecordingState::Gone,
            "failed" => RecordingState::Failed,
            _ => return None,
        })
    }

    /// Every state, for reports.
    pub const ALL: [RecordingState; 5] = [
        RecordingState::Listed,
        RecordingState::Stored,
        RecordingState::NotReady,
        RecordingState::Gone,
        RecordingState::Failed,
    ];
}

/// A recording as listed by RingCentral, for [`Catalog::upsert_recording`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording {
    /// `recording.id`.
    pub id: RecordingId,
    /// The call record that carries it.
    pub call_record_id: Option<CallRecordId>,
    /// Its telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// `recording.contentUri`.
    pub content_uri: Option<String>,
    /// `recording.contentType`, if the listing had one.
    pub content_type: Option<String>,
    /// When the call started (dates the storage key).
    pub call_start_time: DateTime<Utc>,
    /// When the call ended (not-ready retries count from here).
    pub call_end_time: Option<DateTime<Utc>>,
}

/// A recording row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// `recording.id`.
    pub id: RecordingId,
    /// The call record that carries it.
    pub call_record_id: Option<CallRecordId>,
    /// Its telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Where RingCentral serves it.
    pub content_uri: Option<String>,
    /// Where we stand.
    pub state: RecordingState,
    /// `Content-Type` (from the listing, then from the download).
    pub content_type: Option<String>,
    /// Stored size in bytes.
    pub size: Option<u64>,
    /// Stored sha256.
    pub sha256: Option<Sha256Digest>,
    /// Where the blob is.
    pub storage_key: Option<StorageKey>,
    /// Failed or not-ready tries so far.
    pub attempts: u32,
    /// The last reason it was not stored.
    pub last_error: Option<String>,
    /// When a `not_ready` recording is due again.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the call started.
    pub call_start_time: Option<DateTime<Utc>>,
    /// When the call ended.
    pub call_end_time: Option<DateTime<Utc>>,
    /// When it became `stored`.
    pub stored_at: Option<DateTime<Utc>>,
    /// First seen (database clock).
    pub created_at: DateTime<Utc>,
    /// Last change (database clock).
    pub updated_at: DateTime<Utc>,
}

/// The recordings still owed: known to the ledger, not stored yet, and
/// not given up on (`listed` or `not_ready`; `failed` waits for a person
/// and `gone` for nothing, so neither is work the budget can do).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// How many.
    pub recordings: u64,
    /// When the one known longest was first listed (the ledger's
    /// `created_at`, the database's clock): how long the backlog has kept
    /// someone waiting, whatever the age of the call itself.
    pub oldest_listed_at: Option<DateTime<Utc>>,
}

/// Recording counts per state, for `status` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RecordingCounts {
    /// `listed`.
    pub listed: u64,
    /// `stored`.
    pub stored: u64,
    /// `not_ready`.
    pub not_ready: u64,
    /// `gone`.
    pub gone: u64,
    /// `failed`.
    pub failed: u64,
}

#[derive(sqlx::FromRow)]
struct RecordingSql {
    id: String,
    call_record_id: Option<String>,
    telephony_session_id: Option<String>,
    content_uri: Option<String>,
    state: String,
    content_type: Option<String>,
    size_bytes: Option<i64>,
    sha256: Option<String>,
    storage_key: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    next_attempt_at: Option<i64>,
    call_start_time: Option<i64>,
    call_end_time: Option<i64>,
    stored_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

const TABLE: &str = "recordings";
const COLUMNS: &str = "id, call_record_id, telephony_session_id, content_uri, state, content_type, size_bytes, sha256, storage_key, attempts, last_error, next_attempt_at, call_start_time, call_end_time, stored_at, created_at, updated_at";

impl TryFrom<RecordingSql> for Recording {
    type Error = CatalogError;
    fn try_from(r: RecordingSql) -> Result<Self, CatalogError> {
        Ok(Recording {
            id: RecordingId::parse(&r.id).or_corrupt(TABLE)?,
            call_record_id: r
                .call_record_id
                .as_deref()
                .map(CallRecordId::parse)
                .transpose()
                .or_corrupt(TABLE)?,
            telephony_session_id: r
                .telephony_session_id
                .as_deref()
                .map(TelephonySessionId::parse)
                .transpose()
                .or_corrupt(TABLE)?,
            content_uri: r.content_uri,
            state: RecordingState::parse(&r.state).ok_or_else(|| {
                CatalogError::corrupt(TABLE, format!("unknown state {:?}", r.state))
            })?,
            content_type: r.content_type,
            size: r
                .size_bytes
                .map(u64::try_from)
                .transpose()
                .or_corrupt(TABLE)?,
            sha256: r
                .sha256
                .as_deref()
                .map(Sha256Digest::parse_hex)
                .transpose()
                .or_corrupt(TABLE)?,
            storage_key: r
                .storage_key
                .as_deref()
                .map(StorageKey::from_stored)
                .transpose()
                .or_corrupt(TABLE)?,
            attempts: u32::try_from(r.attempts).or_corrupt(TABLE)?,
            last_error: r.last_error,
            next_attempt_at: from_opt_ms(TABLE, r.next_attempt_at)?,
            call_start_time: from_opt_ms(TABLE, r.call_start_time)?,
            call_end_time: from_opt_ms(TABLE, r.call_end_time)?,
            stored_at: from_opt_ms(TABLE, r.stored_at)?,
            created_at: from_ms(TABLE, r.created_at)?,
            updated_at: from_ms(TABLE, r.updated_at)?,
        })
    }
}

fn to_recordings(rows: Vec<RecordingSql>) -> Result<Vec<Recording>, CatalogError> {
    rows.into_iter().map(Recording::try_from).collect()
}

impl Catalog {
    /// One recording, if known.
    pub async fn recording(&self, id: &RecordingId) -> Result<Option<Recording>, CatalogError> {
        let row: Option<RecordingSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recordings WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(Recording::try_from).transpose()
    }

    /// The recordings of one telephony session, oldest call first.
    pub async fn recordings_for_session(
        &self,
        session: &TelephonySessionId,
    ) -> Result<Vec<Recording>, CatalogError> {
        let rows: Vec<RecordingSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recordings WHERE telephony_session_id = $1
                 ORDER BY call_start_time, id"
        )))
        .bind(session.as_str())
        .fetch_all(&self.pool)
        .await?;
        to_recordings(rows)
    }

    /// The recordings a call record carries, oldest first (for the web UI).
    pub async fn recordings_for_call_record(
        &self,
        call_record: &CallRecordId,
    ) -> Result<Vec<Recording>, CatalogError> {
        let rows: Vec<RecordingSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recordings WHERE call_record_id = $1
                 ORDER BY call_start_time, id"
        )))
        .bind(call_record.as_str())
        .fetch_all(&self.pool)
        .await?;
        to_recordings(rows)
    }

    /// A page of recordings in `state`, most recently changed first (for
    /// `status`: failures with their reasons).
    pub async fn recordings_in_state(
        &self,
        state: RecordingState,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Recording>, CatalogError> {
        let offset =
            i64::try_from(offset).map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let rows: Vec<RecordingSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recordings WHERE state = $1
                 ORDER BY updated_at DESC, id LIMIT $2 OFFSET $3"
        )))
        .bind(state.as_str())
        .bind(i64::from(limit.min(1000)))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        to_recordings(rows)
    }

    /// Up to `limit` recordings that should be downloaded now: every `listed`
    /// one and every `not_ready` one whose time has come (database clock),
    /// oldest call first (retention drops the oldest first).
    pub async fn recordings_to_download(&self, limit: u32) -> Result<Vec<Recording>, CatalogError> {
        let rows: Vec<RecordingSql> = {
            let text = format!(
                "SELECT {COLUMNS} FROM recordings
                 WHERE state = 'listed' OR (state = 'not_ready' AND next_attempt_at <= {})
                 ORDER BY call_start_time, id LIMIT $1",
                self.backend().now()
            );
            sqlx::query_as(sqlx::AssertSqlSafe(text))
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?
        };
        to_recordings(rows)
    }

    /// Stored recordings in id order after `after`, for `verify` to page through.
    pub async fn stored_recordings(
        &self,
        after: Option<&RecordingId>,
        limit: u32,
    ) -> Result<Vec<Recording>, CatalogError> {
        let rows: Vec<RecordingSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM recordings WHERE state = 'stored' AND ($1 IS NULL OR id > $1)
                 ORDER BY id LIMIT $2"
        )))
        .bind(after.map(|a| a.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        to_recordings(rows)
    }

    /// How many recordings are in each state.
    pub async fn recording_counts(&self) -> Result<RecordingCounts, CatalogError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT state, COUNT(*) FROM recordings GROUP BY state")
                .fetch_all(&self.pool)
                .await?;
        let mut counts = RecordingCounts::default();
        for (state, n) in rows {
            let n = u64::try_from(n).unwrap_or(0);
            match RecordingState::parse(&state) {
                Some(RecordingState::Listed) => counts.listed = n,
                Some(RecordingState::Stored) => counts.stored = n,
                Some(RecordingState::NotReady) => counts.not_ready = n,
                Some(RecordingState::Gone) => counts.gone = n,
                Some(RecordingState::Failed) => counts.failed = n,
                None => {
                    return Err(CatalogError::corrupt(
                        TABLE,
                        format!("unknown state {state:?}"),
                    ));
                }
            }
        }
        Ok(counts)
    }

    /// The [`Backlog`]: recordings `listed` or `not_ready`, and when the
    /// oldest of them was first listed.
    pub async fn backlog(&self) -> Result<Backlog, CatalogError> {
        let (n, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM recordings
                 WHERE state IN ('listed', 'not_ready')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(Backlog {
            recordings: u64::try_from(n).unwrap_or(0),
            oldest_listed_at: from_opt_ms("recordings", oldest)?,
        })
    }
}
