//! Call records and their legs, as the call log (or a webhook) told us, and
//! the search the web UI runs over them.

use chrono::{DateTime, Utc};

use sqlx::Any;
use sqlx::any::AnyArguments;

use crate::db::{Catalog, Flag, Tx};
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{CallRecordId, RecordingId, TelephonySessionId};
use crate::search_index::reindex_conversation;
use crate::time::{from_ms, from_opt_ms, to_ms};

/// Which path told us about something: the webhook receiver or a call-log sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A telephony-session notification.
    Webhook,
    /// A backfill or incremental call-log sync.
    Sync,
}

/// Which paths have told us about a record or conversation so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArrivedBy {
    /// Only the webhook receiver.
    Webhook,
    /// Only a sync.
    Sync,
    /// Both.
    Both,
    /// Neither flag set (a row written by an older version or by hand).
    Unknown,
}

impl ArrivedBy {
    pub(crate) fn from_flags(webhook: bool, sync: bool) -> Self {
        match (webhook, sync) {
            (true, true) => ArrivedBy::Both,
            (true, false) => ArrivedBy::Webhook,
            (false, true) => ArrivedBy::Sync,
            (false, false) => ArrivedBy::Unknown,
        }
    }
}

/// One leg of a call record (`legs[]` in the Detailed view).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LegRow {
    /// Position in the record's `legs[]`, from 0.
    pub index: i64,
    /// `legType` as sent (unknown values kept verbatim).
    pub leg_type: Option<String>,
    /// The leg's telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// The leg's recording, if it carries one.
    pub recording_id: Option<RecordingId>,
    /// When the leg started.
    pub start_time: Option<DateTime<Utc>>,
    /// Length in milliseconds.
    pub duration_ms: Option<i64>,
    /// `Inbound` / `Outbound`.
    pub direction: Option<String>,
    /// Caller number.
    pub from_number: Option<String>,
    /// Callee number.
    pub to_number: Option<String>,
    /// The extension the leg belongs to.
    pub extension_id: Option<String>,
    /// Whether RingCentral marks it the master leg.
    pub master: bool,
}

/// A call-log record to store: the fields we query on plus the raw JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecordRow {
    /// `records[].id`.
    pub id: CallRecordId,
    /// `telephonySessionId`.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// The legacy `sessionId`.
    pub session_id: Option<String>,
    /// `startTime`.
    pub start_time: DateTime<Utc>,
    /// `duration` in milliseconds.
    pub duration_ms: Option<i64>,
    /// `direction`.
    pub direction: Option<String>,
    /// `from.phoneNumber`.
    pub from_number: Option<String>,
    /// `from.name`.
    pub from_name: Option<String>,
    /// `to.phoneNumber`.
    pub to_number: Option<String>,
    /// `to.name`.
    pub to_name: Option<String>,
    /// The owning extension's id.
    pub extension_id: Option<String>,
    /// The record's JSON text exactly as received (unknown fields included).
    pub raw: String,
    /// Its legs; an upsert replaces the stored legs with these.
    pub legs: Vec<LegRow>,
}

/// A stored call record (without its raw JSON unless asked for).
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// `records[].id`.
    pub id: CallRecordId,
    /// `telephonySessionId`.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// The legacy `sessionId`.
    pub session_id: Option<String>,
    /// `startTime`.
    pub start_time: DateTime<Utc>,
    /// `duration` in milliseconds.
    pub duration_ms: Option<i64>,
    /// `direction`.
    pub direction: Option<String>,
    /// `from.phoneNumber`.
    pub from_number: Option<String>,
    /// `from.name`.
    pub from_name: Option<String>,
    /// `to.phoneNumber`.
    pub to_number: Option<String>,
    /// `to.name`.
    pub to_name: Option<String>,
    /// The owning extension's id.
    pub extension_id: Option<String>,
    /// Which paths reported it.
    pub arrived_by: ArrivedBy,
    /// When the row was first written (database clock).
    pub created_at: DateTime<Utc>,
    /// When the row last changed.
    pub updated_at: DateTime<Utc>,
}

/// Filters for [`Catalog::search_calls`]; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSearch {
    /// Calls that started at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Calls that started before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Calls of this extension.
    pub extension_id: Option<String>,
    /// Calls whose from or to number contains this text (taken literally).
    pub number_contains: Option<String>,
    /// Page size (capped at 1000; 0 means 50).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

#[derive(sqlx::FromRow)]
struct CallRecordSql {
    id: String,
    telephony_session_id: Option<String>,
    session_id: Option<String>,
    start_time: i64,
    duration_ms: Option<i64>,
    direction: Option<String>,
    from_number: Option<String>,
    from_name: Option<String>,
    to_number: Option<String>,
    to_name: Option<String>,
    extension_id: Option<String>,
    #[sqlx(try_from = "Flag")]
    seen_by_webhook: bool,
    #[sqlx(try_from = "Flag")]
    seen_by_sync: bool,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct LegSql {
    leg_index: i64,
    leg_type: Option<String>,
    telephony_session_id: Option<String>,
    recording_id: Option<String>,
    start_time: Option<i64>,
    duration_ms: Option<i64>,
    direction: Option<String>,
    from_number: Option<String>,
    to_number: Option<String>,
    extension_id: Option<String>,
    #[sqlx(try_from = "Flag")]
    master: bool,
}

const TABLE: &str = "call_records";

impl TryFrom<CallRecordSql> for CallRecord {
    type Error = CatalogError;
    fn try_from(r: CallRecordSql) -> Result<Self, CatalogError> {
        Ok(CallRecord {
            id: CallRecordId::parse(&r.id).or_corrupt(TABLE)?,
            telephony_session_id: r
                .telephony_session_id
                .as_deref()
                .map(TelephonySessionId::parse)
                .transpose()
                .or_corrupt(TABLE)?,
            session_id: r.session_id,
            start_time: from_ms(TABLE, r.start_time)?,
            duration_ms: r.duration_ms,
            direction: r.direction,
            from_number: r.from_number,
            from_name: r.from_name,
            to_number: r.to_number,
            to_name: r.to_name,
            extension_id: r.extension_id,
            arrived_by: ArrivedBy::from_flags(r.seen_by_webhook, r.seen_by_sync),
            created_at: from_ms(TABLE, r.created_at)?,
            updated_at: from_ms(TABLE, r.updated_at)?,
        })
    }
}

impl TryFrom<LegSql> for LegRow {
    type Error = CatalogError;
    fn try_from(l: LegSql) -> Result<Self, CatalogError> {
        Ok(LegRow {
            index: l.leg_index,
            leg_type: l.leg_type,
            telephony_session_id: l
                .telephony_session_id
                .as_deref()
                .map(TelephonySessionId::parse)
                .transpose()
                .or_corrupt(TABLE)?,
            recording_id: l
                .recording_id
                .as_deref()
                .map(RecordingId::parse)
                .transpose()
                .or_corrupt(TABLE)?,
            start_time: from_opt_ms("legs", l.start_time)?,
            duration_ms: l.duration_ms,
            direction: l.direction,
            from_number: l.from_number,
            to_number: l.to_number,
            extension_id: l.extension_id,
            master: l.master,
        })
    }
}

/// Escapes `%`, `_` and `\` for a `LIKE … ESCAPE '\'` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

const RECORD_COLUMNS: &str = "id, telephony_session_id, session_id, start_time, duration_ms, direction, from_number, from_name, to_number, to_name, extension_id, CAST(seen_by_webhook AS INTEGER) AS seen_by_webhook, CAST(seen_by_sync AS INTEGER) AS seen_by_sync, created_at, updated_at";

impl Catalog {
    /// Inserts or refreshes a call record and replaces its legs, in one
    /// transaction. Idempotent; `source` is OR-ed into the arrival flags.
    /// Returns whether the record was new.
    pub async fn upsert_call_record(
        &self,
        record: &CallRecordRow,
        source: Source,
    ) -> Result<bool, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_ledger().await?;
        let new = upsert_call_record_in(&mut tx, record, source).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// One call record, if known.
    pub async fn call_record(&self, id: &CallRecordId) -> Result<Option<CallRecord>, CatalogError> {
        let row: Option<CallRecordSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {RECORD_COLUMNS} FROM call_records WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        row.map(CallRecord::try_from).transpose()
    }

    /// The raw JSON of a call record, exactly as stored.
    pub async fn call_record_raw(
        &self,
        id: &CallRecordId,
    ) -> Result<Option<serde_json::Value>, CatalogError> {
        let raw: Option<String> = sqlx::query_scalar("SELECT raw FROM call_records WHERE id = $1")
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        Ok(raw.map(|r| serde_json::from_str(&r)).transpose()?)
    }

    /// The legs of a call record, in order.
    pub async fn legs(&self, id: &CallRecordId) -> Result<Vec<LegRow>, CatalogError> {
        let rows: Vec<LegSql> = sqlx::query_as(
                "SELECT leg_index, leg_type, telephony_session_id, recording_id, start_time,
                    duration_ms, direction, from_number, to_number, extension_id, CAST(master AS INTEGER) AS master
                 FROM legs WHERE call_record_id = $1 ORDER BY leg_index")
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(LegRow::try_from).collect()
    }

    /// Call records matching `filter`, newest first, one page.
    pub async fn search_calls(&self, filter: &CallSearch) -> Result<Vec<CallRecord>, CatalogError> {
        let limit = match filter.limit {
            0 => 50,
            n => i64::from(n.min(1000)),
        };
        let offset = i64::try_from(filter.offset)
            .map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let pattern = filter.number_contains.as_deref().map(like_escape);
        let rows: Vec<CallRecordSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
                "SELECT {RECORD_COLUMNS} FROM call_records
                 WHERE ($1 IS NULL OR start_time >= $1)
                   AND ($2 IS NULL OR start_time < $2)
                   AND ($3 IS NULL OR extension_id = $3)
                   AND ($4 IS NULL OR from_number LIKE $4 ESCAPE '\\' OR to_number LIKE $4 ESCAPE '\\')
                 ORDER BY start_time DESC, id DESC
                 LIMIT $5 OFFSET $6")))
                .bind(filter.from.map(to_ms))
                .bind(filter.to.map(to_ms))
                .bind(filter.extension_id.as_deref())
                .bind(pattern.as_deref())
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(CallRecord::try_from).collect()
    }
}

/// Binds `record`'s 14 columns, in the order of the `$1`…`$14` that the
/// insert and the update of [`upsert_call_record_in`] share.
fn bind_record<'q>(
    query: sqlx::query::Query<'q, Any, AnyArguments>,
    record: &'q CallRecordRow,
    source: Source,
) -> sqlx::query::Query<'q, Any, AnyArguments> {
    query
        .bind(record.id.as_str())
        .bind(record.telephony_session_id.as_ref().map(|t| t.as_str()))
        .bind(record.session_id.as_deref())
        .bind(to_ms(record.start_time))
        .bind(record.duration_ms)
        .bind(record.direction.as_deref())
        .bind(record.from_number.as_deref())
        .bind(record.from_name.as_deref())
        .bind(record.to_number.as_deref())
        .bind(record.to_name.as_deref())
        .bind(record.extension_id.as_deref())
        .bind(record.raw.as_str())
        .bind(source == Source::Webhook)
        .bind(source == Source::Sync)
}

/// [`Catalog::upsert_call_record`] inside the caller's write transaction
/// `tx` (so the ledger can write a whole page in one); returns whether the
/// record was new.
pub(crate) async fn upsert_call_record_in(
    tx: &mut Tx<'_>,
    record: &CallRecordRow,
    source: Source,
) -> Result<bool, CatalogError> {
    let inserted = bind_record(
        sqlx::query(tx.sql(
        "INSERT INTO call_records (id, telephony_session_id, session_id, start_time, duration_ms,
            direction, from_number, from_name, to_number, to_name, extension_id, raw,
            seen_by_webhook, seen_by_sync, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, {now}, {now})
         ON CONFLICT (id) DO NOTHING RETURNING id",
        )),
        record,
        source,
    )
    .fetch_optional(tx.conn())
    .await?;
    if inserted.is_none() {
        bind_record(
            sqlx::query(tx.sql(
                "UPDATE call_records SET telephony_session_id = COALESCE($2, telephony_session_id),
                session_id = COALESCE($3, session_id), start_time = $4, duration_ms = $5,
                direction = $6, from_number = $7, from_name = $8, to_number = $9, to_name = $10,
                extension_id = $11, raw = $12,
                seen_by_webhook = (seen_by_webhook OR $13), seen_by_sync = (seen_by_sync OR $14),
                updated_at = {now}
             WHERE id = $1",
            )),
            record,
            source,
        )
        .execute(tx.conn())
        .await?;
    }
    sqlx::query("DELETE FROM legs WHERE call_record_id = $1")
        .bind(record.id.as_str())
        .execute(tx.conn())
        .await?;
    for leg in &record.legs {
        sqlx::query(
            "INSERT INTO legs (call_record_id, leg_index, leg_type, telephony_session_id,
                recording_id, start_time, duration_ms, direction, from_number, to_number,
                extension_id, master)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (call_record_id, leg_index) DO NOTHING",
        )
        .bind(record.id.as_str())
        .bind(leg.index)
        .bind(leg.leg_type.as_deref())
        .bind(leg.telephony_session_id.as_ref().map(|t| t.as_str()))
        .bind(leg.recording_id.as_ref().map(|r| r.as_str()))
        .bind(leg.start_time.map(to_ms))
        .bind(leg.duration_ms)
        .bind(leg.direction.as_deref())
        .bind(leg.from_number.as_deref())
        .bind(leg.to_number.as_deref())
        .bind(leg.extension_id.as_deref())
        .bind(leg.master)
        .execute(tx.conn())
        .await?;
    }
    // The calls page's term index follows the record's parties.
    let conversation: Option<String> = sqlx::query_scalar(
        "SELECT cs.conversation_id FROM call_records r
         JOIN conversation_sessions cs ON cs.telephony_session_id = r.telephony_session_id
         WHERE r.id = $1",
    )
    .bind(record.id.as_str())
    .fetch_optional(tx.conn())
    .await?;
    if let Some(conversation) = conversation.as_deref() {
        reindex_conversation(tx, conversation).await?;
    }
    Ok(inserted.is_some())
}
