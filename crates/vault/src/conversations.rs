//! Conversations: what a person experienced as one call, across one or two
//! telephony sessions, and its stitched file.

use chrono::{DateTime, Utc};

use crate::db::{Catalog, Flag, Tx};
use crate::digest::Sha256Digest;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{ConversationId, TelephonySessionId};
use crate::key::StorageKey;
use crate::records::{ArrivedBy, Source};
use crate::search_index::reindex_conversation;
use crate::time::{from_ms, from_opt_ms, to_ms};

/// Where a conversation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConversationState {
    /// Calls still in progress.
    Live,
    /// Every party has hung up.
    Ended,
    /// Waiting for its recordings to appear in the call log.
    Waiting,
    /// Several recordings, joined into one stitched file.
    Stitched,
    /// One recording; nothing to stitch.
    Single,
    /// Given up on, with a reason.
    Incomplete,
}

impl ConversationState {
    /// The value in the `state` column.
    pub fn as_str(self) -> &'static str {
        match self {
            ConversationState::Live => "live",
            ConversationState::Ended => "ended",
            ConversationState::Waiting => "waiting",
            ConversationState::Stitched => "stitched",
            ConversationState::Single => "single",
            ConversationState::Incomplete => "incomplete",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "live" => ConversationState::Live,
            "ended" => ConversationState::Ended,
            "waiting" => ConversationState::Waiting,
            "stitched" => ConversationState::Stitched,
            "single" => ConversationState::Single,
            "incomplete" => ConversationState::Incomplete,
            _ => return None,
        })
    }
}

/// What [`Catalog::upsert_conversation`] records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationUpsert {
    /// The conversation.
    pub id: ConversationId,
    /// Its telephony sessions in order; sessions already attached to some
    /// conversation stay where they are (use [`Catalog::attach_session`] to move one).
    pub sessions: Vec<TelephonySessionId>,
    /// The state a new row starts in (an existing row keeps its state).
    pub initial_state: ConversationState,
    /// When it started, if known (an existing value is kept when `None`).
    pub started_at: Option<DateTime<Utc>>,
    /// Which path reports it; OR-ed into the arrival flags.
    pub source: Source,
}

/// A conversation row with its sessions.
#[derive(Debug, Clone, PartialEq)]
pub struct Conversation {
    /// The conversation.
    pub id: ConversationId,
    /// Its telephony sessions, in order.
    pub sessions: Vec<TelephonySessionId>,
    /// Where it stands.
    pub state: ConversationState,
    /// Why it is `incomplete` (or other notes).
    pub reason: Option<String>,
    /// When it started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// The stitched file.
    pub stitched_key: Option<StorageKey>,
    /// The stitched file's sha256.
    pub sha256: Option<Sha256Digest>,
    /// The stitch manifest (legs, chapters, method).
    pub manifest: Option<serde_json::Value>,
    /// Which paths reported it.
    pub arrived_by: ArrivedBy,
    /// First seen (database clock).
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct ConversationSql {
    id: String,
    state: String,
    reason: Option<String>,
    started_at: Option<i64>,
    ended_at: Option<i64>,
    stitched_key: Option<String>,
    sha256: Option<String>,
    manifest: Option<String>,
    #[sqlx(try_from = "Flag")]
    arrived_by_webhook: bool,
    #[sqlx(try_from = "Flag")]
    arrived_by_sync: bool,
    created_at: i64,
    updated_at: i64,
}

const TABLE: &str = "conversations";
const COLUMNS: &str = "id, state, reason, started_at, ended_at, stitched_key, sha256, manifest, CAST(arrived_by_webhook AS INTEGER) AS arrived_by_webhook, CAST(arrived_by_sync AS INTEGER) AS arrived_by_sync, created_at, updated_at";

impl ConversationSql {
    fn into_conversation(
        self,
        sessions: Vec<TelephonySessionId>,
    ) -> Result<Conversation, CatalogError> {
        Ok(Conversation {
            id: ConversationId::parse(&self.id).or_corrupt(TABLE)?,
            sessions,
            state: ConversationState::parse(&self.state).ok_or_else(|| {
                CatalogError::corrupt(TABLE, format!("unknown state {:?}", self.state))
            })?,
            reason: self.reason,
            started_at: from_opt_ms(TABLE, self.started_at)?,
            ended_at: from_opt_ms(TABLE, self.ended_at)?,
            stitched_key: self
                .stitched_key
                .as_deref()
                .map(StorageKey::from_stored)
                .transpose()
                .or_corrupt(TABLE)?,
            sha256: self
                .sha256
                .as_deref()
                .map(Sha256Digest::parse_hex)
                .transpose()
                .or_corrupt(TABLE)?,
            manifest: self
                .manifest
                .as_deref()
                .map(serde_json::from_str)
                .transpose()?,
            arrived_by: ArrivedBy::from_flags(self.arrived_by_webhook, self.arrived_by_sync),
            created_at: from_ms(TABLE, self.created_at)?,
            updated_at: from_ms(TABLE, self.updated_at)?,
        })
    }
}

impl Catalog {
    /// Creates a conversation or notes another report of it. Idempotent.
    /// Returns whether it was new.
    pub async fn upsert_conversation(&self, c: &ConversationUpsert) -> Result<bool, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_ledger().await?;
        let new = upsert_conversation_in(&mut tx, c).await?;
        tx.commit().await?;
        Ok(new)
    }

    /// Moves (or adds) `session` into conversation `id` at `position`, e.g.
    /// when an attended transfer reveals that two sessions are one
    /// conversation. A conversation left without sessions is deleted.
    pub async fn attach_session(
        &self,
        id: &ConversationId,
        session: &TelephonySessionId,
        position: u32,
    ) -> Result<(), CatalogError> {
        let mut tx = self.begin_write().await?;
        // It rewrites a conversation's rows like a ledger batch does:
        // taking their turn, the two cannot deadlock on PostgreSQL.
        tx.serialise_with_ledger().await?;
        let previous: Option<String> = sqlx::query_scalar(
            "SELECT conversation_id FROM conversation_sessions WHERE telephony_session_id = $1",
        )
        .bind(session.as_str())
        .fetch_optional(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO conversation_sessions (telephony_session_id, conversation_id, position)
             VALUES ($1, $2, $3)
             ON CONFLICT (telephony_session_id) DO UPDATE
             SET conversation_id = excluded.conversation_id, position = excluded.position",
        )
        .bind(session.as_str())
        .bind(id.as_str())
        .bind(i64::from(position))
        .execute(&mut *tx)
        .await?;
        if let Some(previous) = previous.filter(|p| p != id.as_str()) {
            sqlx::query(
                "DELETE FROM conversations WHERE id = $1 AND NOT EXISTS
                    (SELECT 1 FROM conversation_sessions s WHERE s.conversation_id = $1)",
            )
            .bind(previous.as_str())
            .execute(&mut *tx)
            .await?;
            reindex_conversation(&mut tx, previous.as_str()).await?;
        }
        reindex_conversation(&mut tx, id.as_str()).await?;
        sqlx::query(self.sql("UPDATE conversations SET updated_at = {now} WHERE id = $1"))
            .bind(id.as_str())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Sets a conversation's state and reason (and end time when given).
    /// Returns whether the conversation exists.
    pub async fn set_conversation_state(
        &self,
        id: &ConversationId,
        state: ConversationState,
        reason: Option<&str>,
        ended_at: Option<DateTime<Utc>>,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(
            "UPDATE conversations SET state = $2, reason = $3,
                    ended_at = COALESCE($4, ended_at), updated_at = {now}
                 WHERE id = $1",
        ))
        .bind(id.as_str())
        .bind(state.as_str())
        .bind(reason)
        .bind(ended_at.map(to_ms))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// Records the stitched file of a conversation and sets it `stitched`.
    pub async fn mark_conversation_stitched(
        &self,
        id: &ConversationId,
        key: &StorageKey,
        sha256: &Sha256Digest,
        manifest: &serde_json::Value,
    ) -> Result<bool, CatalogError> {
        let manifest = serde_json::to_string(manifest)?;
        let n = sqlx::query(self.sql(
            "UPDATE conversations SET state = 'stitched', reason = NULL, stitched_key = $2,
                    sha256 = $3, manifest = $4, updated_at = {now}
                 WHERE id = $1",
        ))
        .bind(id.as_str())
        .bind(key.as_str())
        .bind(sha256.to_hex())
        .bind(manifest.as_str())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// The conversation a telephony session belongs to.
    pub async fn conversation_for_session(
        &self,
        session: &TelephonySessionId,
    ) -> Result<Option<ConversationId>, CatalogError> {
        let id: Option<String> = sqlx::query_scalar(
            "SELECT conversation_id FROM conversation_sessions WHERE telephony_session_id = $1",
        )
        .bind(session.as_str())
        .fetch_optional(&self.pool)
        .await?;
        id.map(|i| ConversationId::parse(&i).or_corrupt(TABLE))
            .transpose()
    }

    async fn sessions_of(&self, id: &str) -> Result<Vec<TelephonySessionId>, CatalogError> {
        let rows: Vec<String> = sqlx::query_scalar(
            "SELECT telephony_session_id FROM conversation_sessions WHERE conversation_id = $1
                 ORDER BY position, telephony_session_id",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|s| TelephonySessionId::parse(s).or_corrupt(TABLE))
            .collect()
    }

    /// One conversation with its sessions.
    pub async fn conversation(
        &self,
        id: &ConversationId,
    ) -> Result<Option<Conversation>, CatalogError> {
        let row: Option<ConversationSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversations WHERE id = $1"
        )))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => {
                let sessions = self.sessions_of(&row.id).await?;
                Ok(Some(row.into_conversation(sessions)?))
            }
            None => Ok(None),
        }
    }

    /// A page of conversations, optionally of one state, newest first.
    pub async fn list_conversations(
        &self,
        state: Option<ConversationState>,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<Conversation>, CatalogError> {
        let offset =
            i64::try_from(offset).map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let rows: Vec<ConversationSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM conversations WHERE ($1 IS NULL OR state = $1)
                 ORDER BY COALESCE(started_at, created_at) DESC, id DESC LIMIT $2 OFFSET $3"
        )))
        .bind(state.map(|s| s.as_str()))
        .bind(i64::from(limit.min(1000)))
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let sessions = self.sessions_of(&row.id).await?;
            out.push(row.into_conversation(sessions)?);
        }
        Ok(out)
    }
}

/// [`Catalog::upsert_conversation`] inside the caller's write transaction
/// `tx` (so the ledger can write a whole page in one); returns whether the
/// conversation was new.
pub(crate) async fn upsert_conversation_in(
    tx: &mut Tx<'_>,
    c: &ConversationUpsert,
) -> Result<bool, CatalogError> {
    let (webhook, sync) = (c.source == Source::Webhook, c.source == Source::Sync);
    // A session already folded into another conversation (the second
    // half of an attended transfer) must not grow a conversation of
    // its own: the arrival is credited to the one it belongs to.
    let owner: Option<String> = match c.sessions.as_slice() {
        [session] => sqlx::query_scalar(
            "SELECT conversation_id FROM conversation_sessions WHERE telephony_session_id = $1",
        )
        .bind(session.as_str())
        .fetch_optional(tx.conn())
        .await?
        .filter(|o: &String| o != c.id.as_str()),
        _ => None,
    };
    if let Some(owner) = owner {
        sqlx::query(tx.sql(
            "UPDATE conversations SET arrived_by_webhook = (arrived_by_webhook OR $2),
                arrived_by_sync = (arrived_by_sync OR $3), updated_at = {now}
             WHERE id = $1",
        ))
        .bind(owner)
        .bind(webhook)
        .bind(sync)
        .execute(tx.conn())
        .await?;
        Ok(false)
    } else {
        let inserted: Option<String> = sqlx::query_scalar(tx.sql(
            "INSERT INTO conversations (id, state, started_at, arrived_by_webhook, arrived_by_sync,
                created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, {now}, {now})
             ON CONFLICT (id) DO NOTHING RETURNING id",
        ))
        .bind(c.id.as_str())
        .bind(c.initial_state.as_str())
        .bind(c.started_at.map(to_ms))
        .bind(webhook)
        .bind(sync)
        .fetch_optional(tx.conn())
        .await?;
        if inserted.is_none() {
            sqlx::query(tx.sql(
                "UPDATE conversations SET started_at = COALESCE($2, started_at),
                    arrived_by_webhook = (arrived_by_webhook OR $3),
                    arrived_by_sync = (arrived_by_sync OR $4), updated_at = {now}
                 WHERE id = $1",
            ))
            .bind(c.id.as_str())
            .bind(c.started_at.map(to_ms))
            .bind(webhook)
            .bind(sync)
            .execute(tx.conn())
            .await?;
        }
        for (position, session) in c.sessions.iter().enumerate() {
            sqlx::query(
                "INSERT INTO conversation_sessions (telephony_session_id, conversation_id, position)
                 VALUES ($1, $2, $3) ON CONFLICT (telephony_session_id) DO NOTHING",
            )
            .bind(session.as_str())
            .bind(c.id.as_str())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(tx.conn())
            .await?;
        }
        reindex_conversation(tx, c.id.as_str()).await?;
        Ok(inserted.is_some())
    }
}
