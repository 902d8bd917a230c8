//! The audit log: who played or downloaded which recording, and when.

use chrono::{DateTime, Utc};

use crate::db::{Catalog, sql, with_pool};
use crate::error::CatalogError;
use crate::ids::{ConversationId, RecordingId};
use crate::time::from_ms;
use crate::users::User;

/// What a user did with audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// Started listening in the browser.
    Play,
    /// Downloaded the file.
    Download,
}

impl AuditAction {
    /// The value in the `action` column.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Play => "play",
            AuditAction::Download => "download",
        }
    }
}

/// Which audio an audit entry is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditObject {
    /// One leg's recording.
    Recording(RecordingId),
    /// A conversation's stitched file.
    Conversation(ConversationId),
}

impl AuditObject {
    fn kind(&self) -> &'static str {
        match self {
            AuditObject::Recording(_) => "recording",
            AuditObject::Conversation(_) => "conversation",
        }
    }

    fn id(&self) -> &str {
        match self {
            AuditObject::Recording(id) => id.as_str(),
            AuditObject::Conversation(id) => id.as_str(),
        }
    }
}

/// One row of the audit log, for the admins' page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Row id (increasing).
    pub id: i64,
    /// When (database clock).
    pub at: DateTime<Utc>,
    /// The user's name at the time.
    pub user_name: String,
    /// `play` or `download`.
    pub action: String,
    /// `recording` or `conversation`.
    pub object_kind: String,
    /// The recording or conversation id.
    pub object_id: String,
    /// The client address, when known.
    pub client: Option<String>,
}

#[derive(sqlx::FromRow)]
struct AuditSql {
    id: i64,
    at: i64,
    user_name: String,
    action: String,
    object_kind: String,
    object_id: String,
    client: Option<String>,
}

impl Catalog {
    /// Appends one entry to the audit log.
    pub async fn append_audit(
        &self,
        user: &User,
        action: AuditAction,
        object: &AuditObject,
        client: Option<&str>,
    ) -> Result<(), CatalogError> {
        with_pool!(self, pool, backend => {
            sqlx::query(sql!(backend,
                "INSERT INTO audit_log (at, user_id, user_name, action, object_kind, object_id, client)
                 VALUES ({now}, $1, $2, $3, $4, $5, $6)"))
                .bind(user.id.get())
                .bind(user.name.as_str())
                .bind(action.as_str())
                .bind(object.kind())
                .bind(object.id())
                .bind(client)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Audits the first time the session keyed `session_token_hash` opens
    /// `object`, whatever part of it was asked for: the session's first
    /// access appends one `play` entry, later ones (seeks, the next chunk,
    /// a reload) nothing. Remembering the access and appending the entry is
    /// one transaction, so concurrent first requests (a player often sends
    /// two) audit exactly once, on SQLite and PostgreSQL alike. Returns
    /// whether an entry was appended.
    pub async fn audit_first_play(
        &self,
        session_token_hash: &str,
        user: &User,
        object: &AuditObject,
        client: Option<&str>,
    ) -> Result<bool, CatalogError> {
        with_pool!(self, pool, backend => {
            let mut tx = crate::db::begin_write!(pool, backend);
            let first = sqlx::query(
                "INSERT INTO session_audio_opened (token_hash, object_kind, object_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(session_token_hash)
                .bind(object.kind())
                .bind(object.id())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if first {
                sqlx::query(sql!(backend,
                    "INSERT INTO audit_log (at, user_id, user_name, action, object_kind, object_id, client)
                     VALUES ({now}, $1, $2, $3, $4, $5, $6)"))
                    .bind(user.id.get())
                    .bind(user.name.as_str())
                    .bind(AuditAction::Play.as_str())
                    .bind(object.kind())
                    .bind(object.id())
                    .bind(client)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(first)
        })
    }

    /// A page of the audit log, newest first.
    pub async fn audit_entries(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        let offset =
            i64::try_from(offset).map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let rows: Vec<AuditSql> = with_pool!(self, pool, _b => {
            sqlx::query_as(
                "SELECT id, at, user_name, action, object_kind, object_id, client FROM audit_log
                 ORDER BY at DESC, id DESC LIMIT $1 OFFSET $2")
                .bind(i64::from(limit.min(1000)))
                .bind(offset)
                .fetch_all(pool)
                .await?
        });
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.id,
                    at: from_ms("audit_log", r.at)?,
                    user_name: r.user_name,
                    action: r.action,
                    object_kind: r.object_kind,
                    object_id: r.object_id,
                    client: r.client,
                })
            })
            .collect()
    }
}
