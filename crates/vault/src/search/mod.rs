//! Access-scoped reads for the web UI: the calls list with its filters, and
//! single conversations and recordings, each answering only what the asking
//! user may see.
//!
//! Access is decided in SQL, in the same statement that finds the row: a
//! viewer sees a conversation only when one of their extensions (table
//! `user_extensions`, or an extension group named in `user_extension_groups`)
//! owns one of its call records or one of those records' legs. A row the
//! user may not see is indistinguishable from a missing row.
//!
//! The page query itself is planned in `page`.

mod page;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};

use crate::conversations::{Conversation, ConversationState};
use crate::db::Catalog;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{CallRecordId, ConversationId, RecordingId};
use crate::recordings::Recording;
use crate::records::CallRecord;
use crate::search_index;
use crate::statement::Statement;
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
    /// A party's phone number (whole, or its last 4 or more digits) or name
    /// (every word starts a word of the name, case-insensitive; words of 1–2
    /// characters match whole words). Text with a letter is a name.
    pub party: Option<String>,
    /// `Inbound` or `Outbound` (of any of its call records).
    pub direction: Option<String>,
    /// The state filter.
    pub state: Option<StateFilter>,
    /// Free text: a party's number or name (as [`Self::party`]), or an exact
    /// id (conversation, telephony session, call record, recording).
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

/// The calls page's columns, computed only for the rows of one page (the
/// page is chosen first, by recency and id alone, so a sort over many matches
/// never evaluates these subqueries).
const SUMMARY_COLUMNS: &str = "SELECT c.id, c.state, c.started_at, c.ended_at, c.stitched_key,
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
     FROM conversations c WHERE c.id IN (";

/// The extensions each user may see: those listed for them and those of
/// the extension groups named in their scope. One definition, used by every
/// scoped statement.
const USER_EXTENSIONS: &str = "(SELECT user_id, extension_id FROM user_extensions
          UNION SELECT ug.user_id, eg.extension_id FROM user_extension_groups ug
          JOIN extension_groups eg ON eg.name = ug.group_name)";

/// `c` (a conversation row) is visible to the user bound at `$1`, or `$1`
/// is NULL (everything visible).
static VISIBLE: LazyLock<String> = LazyLock::new(|| {
    format!(
        "($1 IS NULL OR EXISTS (
    SELECT 1 FROM conversation_sessions vs
    JOIN call_records vr ON vr.telephony_session_id = vs.telephony_session_id
    JOIN {USER_EXTENSIONS} ue ON ue.user_id = $1
    WHERE vs.conversation_id = c.id
      AND (vr.extension_id = ue.extension_id
           OR EXISTS (SELECT 1 FROM legs vl
                      WHERE vl.call_record_id = vr.id AND vl.extension_id = ue.extension_id))))"
    )
});

/// A download is asked for by the user bound at `$3` and that user is not
/// listen-only, or `$3` is NULL (playing, or a command-line tool).
const MAY_DOWNLOAD: &str =
    "($3 IS NULL OR NOT EXISTS (SELECT 1 FROM users lu WHERE lu.id = $3 AND lu.listen_only))";

fn parse_state(text: &str) -> Result<ConversationState, CatalogError> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|_| CatalogError::corrupt("conversations", format!("unknown state {text:?}")))
}

impl Catalog {
    /// The calls page: conversations `scope` may see, matching `filter`,
    /// newest first.
    ///
    /// The extension, number-or-name and search-box filters are answered
    /// from the term index (see the `search_index` module for what matches
    /// what); the search box also matches an exact conversation, telephony
    /// session, call record or recording id.
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
        let page = self.matching_page(scope, filter, limit, offset).await?;
        self.summaries(&page).await
    }

    /// Every conversation matching `filter` (its page fields ignored), in
    /// the calls page's order, for a filter legal hold.
    pub(crate) async fn all_matching_ids(
        &self,
        filter: &ConversationFilter,
    ) -> Result<Vec<String>, CatalogError> {
        const PAGE: i64 = 1000;
        let mut out = Vec::new();
        loop {
            let offset = i64::try_from(out.len()).unwrap_or(i64::MAX);
            let page = self.matching_page(Scope::All, filter, PAGE, offset).await?;
            let n = page.len();
            out.extend(page.into_iter().map(|(id, _)| id));
            if i64::try_from(n).unwrap_or(0) < PAGE {
                return Ok(out);
            }
        }
    }

    /// The calls page's rows for `page` (ids in page order).
    async fn summaries(
        &self,
        page: &[(String, i64)],
    ) -> Result<Vec<ConversationSummary>, CatalogError> {
        if page.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows: Vec<SummarySql> = {
            let mut q = Statement::new(SUMMARY_COLUMNS);
            q.push_bind_list(page.iter().map(|(id, _)| id.as_str()));
            q.push(")");
            q.build_query_as()?.fetch_all(&self.pool).await?
        };
        let position = |id: &str| page.iter().position(|(p, _)| p == id);
        rows.sort_by_key(|r| position(&r.id));
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let first_record = match row.first_record.as_deref() {
                Some(id) => {
                    let id = CallRecordId::parse(id).or_corrupt("conversations")?;
                    self.call_record(&id).await?
                }
                None => None,
            };
            out.push(ConversationSummary {
                id: ConversationId::parse(&row.id).or_corrupt("conversations")?,
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
        self.conversation_for(scope, None, id).await
    }

    /// The conversation `id`, if `scope` may see it and user `by` may
    /// download (is not listen-only): the download routes' access, decided
    /// in the same statement as the scope.
    pub async fn downloadable_conversation(
        &self,
        scope: Scope,
        by: UserId,
        id: &ConversationId,
    ) -> Result<Option<Conversation>, CatalogError> {
        self.conversation_for(scope, Some(by), id).await
    }

    async fn conversation_for(
        &self,
        scope: Scope,
        download_by: Option<UserId>,
        id: &ConversationId,
    ) -> Result<Option<Conversation>, CatalogError> {
        let visible = VISIBLE.as_str();
        let check = format!(
            "SELECT c.id FROM conversations c WHERE c.id = $2 AND {visible} AND {MAY_DOWNLOAD}"
        );
        if self.allows(check, scope, id.as_str(), download_by).await? {
            self.conversation(id).await
        } else {
            Ok(None)
        }
    }

    /// The recording `id`, if `scope` may see a conversation that holds it
    /// (or, for a recording in no conversation yet, its call record).
    pub async fn visible_recording(
        &self,
        scope: Scope,
        id: &RecordingId,
    ) -> Result<Option<Recording>, CatalogError> {
        self.recording_for(scope, None, id).await
    }

    /// The recording `id`, if `scope` may see it and user `by` may download
    /// (is not listen-only), decided in the same statement as the scope.
    pub async fn downloadable_recording(
        &self,
        scope: Scope,
        by: UserId,
        id: &RecordingId,
    ) -> Result<Option<Recording>, CatalogError> {
        self.recording_for(scope, Some(by), id).await
    }

    async fn recording_for(
        &self,
        scope: Scope,
        download_by: Option<UserId>,
        id: &RecordingId,
    ) -> Result<Option<Recording>, CatalogError> {
        let visible = VISIBLE.as_str();
        let check = format!(
            "SELECT r.id FROM recordings r WHERE r.id = $2 AND {MAY_DOWNLOAD} AND ($1 IS NULL
                    OR EXISTS (SELECT 1 FROM conversation_sessions rs
                               JOIN conversations c ON c.id = rs.conversation_id
                               WHERE rs.telephony_session_id = r.telephony_session_id AND {visible})
                    OR EXISTS (SELECT 1 FROM call_records rr
                               JOIN {USER_EXTENSIONS} rue ON rue.user_id = $1
                               WHERE rr.id = r.call_record_id
                                 AND (rr.extension_id = rue.extension_id
                                      OR EXISTS (SELECT 1 FROM legs rl WHERE rl.call_record_id = rr.id
                                                 AND rl.extension_id = rue.extension_id))))"
        );
        if self.allows(check, scope, id.as_str(), download_by).await? {
            self.recording(id).await
        } else {
            Ok(None)
        }
    }

    /// Whether `check`, an access statement over `$1` (the scope), `$2` (the
    /// id) and `$3` (the downloading user, or NULL), finds its row.
    async fn allows(
        &self,
        check: String,
        scope: Scope,
        id: &str,
        download_by: Option<UserId>,
    ) -> Result<bool, CatalogError> {
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(check))
            .bind(scope.bind())
            .bind(id)
            .bind(download_by.map(UserId::get))
            .fetch_optional(&self.pool)
            .await?;
        Ok(found.is_some())
    }

    /// The call records of a conversation, session by session, oldest first.
    pub async fn conversation_records(
        &self,
        id: &ConversationId,
    ) -> Result<Vec<CallRecord>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT cr.id FROM conversation_sessions cs
                 JOIN call_records cr ON cr.telephony_session_id = cs.telephony_session_id
                 WHERE cs.conversation_id = $1
                 ORDER BY cs.position, cr.start_time, cr.id",
        )
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let id = CallRecordId::parse(&id).or_corrupt("conversations")?;
            if let Some(record) = self.call_record(&id).await? {
                out.push(record);
            }
        }
        Ok(out)
    }

    /// Every sync watermark, by name, for the status page.
    pub async fn watermarks(&self) -> Result<Vec<(String, DateTime<Utc>)>, CatalogError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT name, value FROM sync_watermarks ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(name, ms)| Ok((name, crate::time::from_ms("sync_watermarks", ms)?)))
            .collect()
    }

    /// Recordings in state `failed`, newest change first, for the status page.
    pub async fn failed_recordings(&self, limit: u32) -> Result<Vec<Recording>, CatalogError> {
        let ids: Vec<String> = sqlx::query_scalar(
                "SELECT id FROM recordings WHERE state = 'failed' ORDER BY updated_at DESC, id LIMIT $1")
                .bind(i64::from(limit))
                .fetch_all(&self.pool)
                .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            let id = RecordingId::parse(&id).or_corrupt("conversations")?;
            if let Some(r) = self.recording(&id).await? {
                out.push(r);
            }
        }
        Ok(out)
    }
}
