//! Access-scoped reads for the web UI: the calls list with its filters, and
//! single conversations and recordings, each answering only what the asking
//! user may see.
//!
//! Access is decided in SQL, in the same statement that finds the row: a
//! viewer sees a conversation only when one of their extensions (table
//! `user_extensions`) owns one of its call records or one of those records'
//! legs. A row the user may not see is indistinguishable from a missing row.

use chrono::{DateTime, Utc};

use crate::conversations::{Conversation, ConversationState};
use crate::db::{Catalog, with_pool};
use crate::error::CatalogError;
use crate::ids::{CallRecordId, ConversationId, RecordingId};
use crate::recordings::Recording;
use crate::records::CallRecord;
use crate::time::{from_opt_ms, to_ms};
use crate::users::{Role, User, UserId};

/// Whose eyes a query runs for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Everything (admins, command-line tools).
    All,
    /// Only conversations this user's extensions took part in.
    User(UserId),
}

impl Scope {
    /// The scope a user's role gives them.
    pub fn of(user: &User) -> Self {
        match user.role {
            Role::Admin => Scope::All,
            Role::Viewer => Scope::User(user.id),
        }
    }

    fn bind(self) -> Option<i64> {
        match self {
            Scope::All => None,
            Scope::User(id) => Some(id.get()),
        }
    }
}

/// The state filter of the calls page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    /// Conversations in exactly this state.
    Is(ConversationState),
    /// Conversations with at least one recording in state `failed`.
    HasFailedRecording,
}

/// Filters of the calls page; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Started at or after.
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    pub to: Option<DateTime<Utc>>,
    /// An extension that took part (record owner or leg).
    pub extension_id: Option<String>,
    /// Text contained in a party's number or name (case-insensitive).
    pub party: Option<String>,
    /// `Inbound` or `Outbound` (of any of its call records).
    pub direction: Option<String>,
    /// The state filter.
    pub state: Option<StateFilter>,
    /// Free text: a party's number or name, or an id (conversation,
    /// telephony session, call record, recording).
    pub text: Option<String>,
    /// Page size (capped at 200; 0 means 50).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u64,
}

/// One row of the calls page.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversationSummary {
    /// The conversation.
    pub id: ConversationId,
    /// Where it stands.
    pub state: ConversationState,
    /// When it started (or was first seen).
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Its first call record (caller, callee, direction), if any.
    pub first_record: Option<CallRecord>,
    /// How many call records it has.
    pub record_count: u64,
    /// How many recordings it has.
    pub recording_count: u64,
    /// Whether a stitched file exists.
    pub stitched: bool,
}

#[derive(sqlx::FromRow)]
struct SummarySql {
    id: String,
    state: String,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    stitched_key: Option<String>,
    first_record: Option<String>,
    record_count: i64,
    recording_count: i64,
}

/// The calls page's columns, computed only for the rows of one page: the
/// inner query (built by the caller, ending in `ORDER BY … LIMIT … OFFSET …`)
/// picks the page by (recency, id) alone, so a sort over many matches never
/// evaluates these subqueries.
const SUMMARY_OUTER: &str = "SELECT c.id, c.state, c.started_at, c.ended_at, c.stitched_key,
        (SELECT fr.id FROM conversation_sessions fs
           JOIN call_records fr ON fr.telephony_session_id = fs.telephony_session_id
          WHERE fs.conversation_id = c.id
          ORDER BY fs.position, fr.start_time, fr.id LIMIT 1) AS first_record,
        (SELECT COUNT(*) FROM conversation_sessions ns
           JOIN call_records nr ON nr.telephony_session_id = ns.telephony_session_id
          WHERE ns.conversation_id = c.id) AS record_count,
        (SELECT COUNT(*) FROM conversation_sessions ms
           JOIN recordings mr ON mr.telephony_session_id = ms.telephony_session_id
          WHERE ms.conversation_id = c.id) AS recording_count
     FROM conversations c JOIN (";

/// The inner page query; filters are appended as `AND …` clauses.
const PAGE_INNER: &str = "SELECT c.id AS page_id, COALESCE(c.started_at, c.created_at) AS page_at
     FROM conversations c WHERE 1 = 1";

/// Appends "a party of call record `alias` contains `pattern`" (already a
/// lower-cased `LIKE` pattern).
fn push_party_match<DB: sqlx::Database>(q: &mut sqlx::QueryBuilder<DB>, alias: &str, pattern: &str)
where
    String: for<'t> sqlx::Encode<'t, DB> + sqlx::Type<DB>,
{
    for (i, column) in ["from_number", "to_number", "from_name", "to_name"]
        .into_iter()
        .enumerate()
    {
        if i > 0 {
            q.push(" OR ");
        }
        q.push(format!("LOWER({alias}.{column}) LIKE "));
        q.push_bind(pattern.to_owned());
        q.push(" ESCAPE '\\'");
    }
}

/// `c` (a conversation row) is visible to the user bound at `$1`, or `$1`
/// is NULL (everything visible).
const VISIBLE: &str = "($1 IS NULL OR EXISTS (
    SELECT 1 FROM conversation_sessions vs
    JOIN call_records vr ON vr.telephony_session_id = vs.telephony_session_id
    JOIN user_extensions ue ON ue.user_id = $1
    WHERE vs.conversation_id = c.id
      AND (vr.extension_id = ue.extension_id
           OR EXISTS (SELECT 1 FROM legs vl
                      WHERE vl.call_record_id = vr.id AND vl.extension_id = ue.extension_id))))";

/// Escapes `%`, `_` and `\` and lower-cases, for `LOWER(x) LIKE $n ESCAPE '\'`.
fn contains_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

fn corrupt(what: impl std::fmt::Display) -> CatalogError {
    CatalogError::CorruptRow {
        table: "conversations",
        what: what.to_string(),
    }
}

fn parse_state(text: &str) -> Result<ConversationState, CatalogError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| corrupt(format!("unknown state {text:?}")))
}

impl Catalog {
    /// The calls page: conversations `scope` may see, matching `filter`,
    /// newest first.
    pub async fn search_conversations(
        &self,
        scope: Scope,
        filter: &ConversationFilter,
    ) -> Result<Vec<ConversationSummary>, CatalogError> {
        let limit = match filter.limit {
            0 => 50,
            n => i64::from(n.min(200)),
        };
        let offset = i64::try_from(filter.offset)
            .map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let party = filter.party.as_deref().map(contains_pattern);
        let text_pattern = filter.text.as_deref().map(contains_pattern);
        let (state, failed) = match filter.state {
            Some(StateFilter::Is(s)) => (Some(s.as_str()), false),
            Some(StateFilter::HasFailedRecording) => (None, true),
            None => (None, false),
        };
        let rows: Vec<SummarySql> = with_pool!(self, pool, _b => {
            let mut q = sqlx::QueryBuilder::new(SUMMARY_OUTER);
            q.push(PAGE_INNER);
            // Only the filters in use appear in the statement, so the planner
            // sees plain predicates it can match to indexes.
            if let Scope::User(user) = scope {
                q.push(" AND EXISTS (SELECT 1 FROM conversation_sessions vs
                    JOIN call_records vr ON vr.telephony_session_id = vs.telephony_session_id
                    JOIN user_extensions ue ON ue.user_id = ");
                q.push_bind(user.get());
                q.push(" WHERE vs.conversation_id = c.id
                      AND (vr.extension_id = ue.extension_id
                           OR EXISTS (SELECT 1 FROM legs vl
                                      WHERE vl.call_record_id = vr.id
                                        AND vl.extension_id = ue.extension_id)))");
            }
            if let Some(from) = filter.from {
                q.push(" AND COALESCE(c.started_at, c.created_at) >= ");
                q.push_bind(to_ms(from));
            }
            if let Some(to) = filter.to {
                q.push(" AND COALESCE(c.started_at, c.created_at) < ");
                q.push_bind(to_ms(to));
            }
            if let Some(ext) = filter.extension_id.as_deref() {
                // A correlated EXISTS, probed along the recency index (an
                // `IN (… UNION …)` set measured 4× slower on SQLite).
                q.push(" AND EXISTS (SELECT 1 FROM conversation_sessions xs
                    JOIN call_records xr ON xr.telephony_session_id = xs.telephony_session_id
                    WHERE xs.conversation_id = c.id AND (xr.extension_id = ");
                q.push_bind(ext);
                q.push(" OR EXISTS (SELECT 1 FROM legs xl WHERE xl.call_record_id = xr.id
                    AND xl.extension_id = ");
                q.push_bind(ext);
                q.push(")))");
            }
            if let Some(pattern) = party.as_deref() {
                q.push(" AND EXISTS (SELECT 1 FROM conversation_sessions ps
                    JOIN call_records pr ON pr.telephony_session_id = ps.telephony_session_id
                    WHERE ps.conversation_id = c.id AND (");
                push_party_match(&mut q, "pr", pattern);
                q.push("))");
            }
            if let Some(direction) = filter.direction.as_deref() {
                q.push(" AND EXISTS (SELECT 1 FROM conversation_sessions ds
                    JOIN call_records dr ON dr.telephony_session_id = ds.telephony_session_id
                    WHERE ds.conversation_id = c.id AND dr.direction = ");
                q.push_bind(direction);
                q.push(")");
            }
            if let Some(state) = state {
                q.push(" AND c.state = ");
                q.push_bind(state);
            }
            if failed {
                q.push(" AND EXISTS (SELECT 1 FROM conversation_sessions fs2
                    JOIN recordings fr2 ON fr2.telephony_session_id = fs2.telephony_session_id
                    WHERE fs2.conversation_id = c.id AND fr2.state = 'failed')");
            }
            if let (Some(text), Some(pattern)) = (filter.text.as_deref(), text_pattern.as_deref()) {
                q.push(" AND (c.id = ");
                q.push_bind(text);
                q.push(" OR EXISTS (SELECT 1 FROM conversation_sessions ts
                    JOIN call_records tr ON tr.telephony_session_id = ts.telephony_session_id
                    LEFT JOIN recordings trec ON trec.telephony_session_id = ts.telephony_session_id
                    WHERE ts.conversation_id = c.id AND (ts.telephony_session_id = ");
                q.push_bind(text);
                q.push(" OR tr.id = ");
                q.push_bind(text);
                q.push(" OR trec.id = ");
                q.push_bind(text);
                q.push(" OR ");
                push_party_match(&mut q, "tr", pattern);
                q.push(")))");
            }
            q.push(" ORDER BY COALESCE(c.started_at, c.created_at) DESC, c.id DESC LIMIT ");
            q.push_bind(limit);
            q.push(" OFFSET ");
            q.push_bind(offset);
            q.push(") page ON page.page_id = c.id ORDER BY page.page_at DESC, c.id DESC");
            q.build_query_as().fetch_all(pool).await?
        });
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let first_record = match row.first_record.as_deref() {
                Some(id) => {
                    let id = CallRecordId::parse(id).map_err(corrupt)?;
                    self.call_record(&id).await?
                }
                None => None,
            };
            out.push(ConversationSummary {
                id: ConversationId::parse(&row.id).map_err(corrupt)?,
                state: parse_state(&row.state)?,
                started_at: from_opt_ms("conversations", row.started_at)?,
                ended_at: from_opt_ms("conversations", row.ended_at)?,
                first_record,
                record_count: u64::try_from(row.record_count).unwrap_or(0),
                recording_count: u64::try_from(row.recording_count).unwrap_or(0),
                stitched: row.stitched_key.is_some(),
            });
        }
        Ok(out)
    }

    /// The conversation `id`, if `scope` may see it.
    pub async fn visible_conversation(
        &self,
        scope: Scope,
        id: &ConversationId,
    ) -> Result<Option<Conversation>, CatalogError> {
        let found: Option<String> = with_pool!(self, pool, _b => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT c.id FROM conversations c WHERE c.id = $2 AND {VISIBLE}")))
                .bind(scope.bind())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        match found {
            Some(_) => self.conversation(id).await,
            None => Ok(None),
        }
    }

    /// The recording `id`, if `scope` may see a conversation that holds it
    /// (or, for a recording in no conversation yet, its call record).
    pub async fn visible_recording(
        &self,
        scope: Scope,
        id: &RecordingId,
    ) -> Result<Option<Recording>, CatalogError> {
        let found: Option<String> = with_pool!(self, pool, _b => {
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT r.id FROM recordings r WHERE r.id = $2 AND ($1 IS NULL
                    OR EXISTS (SELECT 1 FROM conversation_sessions rs
                               JOIN conversations c ON c.id = rs.conversation_id
                               WHERE rs.telephony_session_id = r.telephony_session_id AND {VISIBLE})
                    OR EXISTS (SELECT 1 FROM call_records rr
                               JOIN user_extensions rue ON rue.user_id = $1
                               WHERE rr.id = r.call_record_id
                                 AND (rr.extension_id = rue.extension_id
                                      OR EXISTS (SELECT 1 FROM legs rl WHERE rl.call_record_id = rr.id
                                                 AND rl.extension_id = rue.extension_id))))")))
                .bind(scope.bind())
                .bind(id.as_str())
                .fetch_optional(pool)
                .await?
        });
        match found {
            Some(_) => self.recording(id).await,
            None => Ok(None),
        }
    }

    /// The call records of a conversation, session by session, oldest first.
    pub async fn conversation_records(
        &self,
        id: &ConversationId,
    ) -> Result<Vec<CallRecord>, CatalogError> {
        let ids: Vec<String> = with_pool!(self, pool, _b => {
            sqlx::query_scalar(
                "SELECT cr.id FROM conversation_sessions cs
                 JOIN call_records cr ON cr.telephony_session_id = cs.telephony_session_id
                 WHERE cs.conversation_id = $1
                 ORDER BY cs.position, cr.start_time, cr.id")
                .bind(id.as_str())
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let id = CallRecordId::parse(&id).map_err(corrupt)?;
            if let Some(record) = self.call_record(&id).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Every sync watermark, by name, for the status page.
    pub async fn watermarks(&self) -> Result<Vec<(String, DateTime<Utc>)>, CatalogError> {
        let rows: Vec<(String, i64)> = with_pool!(self, pool, _b => {
            sqlx::query_as("SELECT name, value FROM sync_watermarks ORDER BY name")
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|(name, ms)| Ok((name, crate::time::from_ms("sync_watermarks", ms)?)))
            .collect()
    }

    /// Recordings in state `failed`, newest change first, for the status page.
    pub async fn failed_recordings(&self, limit: u32) -> Result<Vec<Recording>, CatalogError> {
        let ids: Vec<String> = with_pool!(self, pool, _b => {
            sqlx::query_scalar(
                "SELECT id FROM recordings WHERE state = 'failed' ORDER BY updated_at DESC, id LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let id = RecordingId::parse(&id).map_err(corrupt)?;
            if let Some(r) = self.recording(&id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }
}
