//! The sealed audit trail: who did what to which recording, conversation,
//! user, hold or rule, in an append-only hash chain with signed checkpoints.
//!
//! # Brief overview
//! * [`Catalog::append_audit_event`] appends an [`AuditEvent`]. Appends are
//!   serialised (SQLite's write transaction; a transaction-scoped advisory
//!   lock on PostgreSQL), so concurrent appenders, in one process or many,
//!   extend one chain and never fork it.
//! * Each entry stores the exact bytes it hashed ([`CanonicalEntry`] as JSON
//!   text) with `prev_hash` and `event_hash = sha256(prev_hash || bytes)`.
//!   Triggers refuse UPDATE and DELETE on both backends.
//! * [`Catalog::checkpoint_audit`] signs the head with an [`AuditSigner`]
//!   whose key lives outside the catalog; [`Catalog::verify_audit`] walks
//!   the chain ([`ChainVerifier`]) and names the first entry that was
//!   altered, deleted or reordered.
//!
//! # Does not
//! Stop a database administrator from rewriting rows: the triggers stop
//! accidents, the signed checkpoints expose the rest. Entries after the last
//! checkpoint are vouched for by the chain only.

mod chain;
mod seal;
mod verify;

use chrono::{DateTime, Utc};

use crate::db::{Catalog, Tx};
use crate::error::CatalogError;
use crate::ids::{ConversationId, RecordingId};
use crate::time::from_ms;
use crate::users::User;

pub use chain::{
    CanonicalEntry, ChainCheckpoint, ChainEntry, ChainFault, ChainReport, ChainVerifier,
    EntryColumns, GENESIS_HASH, entry_hash,
};
pub use seal::{AuditPublicKey, AuditSigner, CheckpointPayload, KeyError, checkpoint_hash};

/// What was done. Stored by its snake_case name; new variants may be added,
/// never renamed (old entries keep their names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AuditAction {
    /// Started listening in the browser.
    Play,
    /// Downloaded the file.
    Download,
    /// Exported conversations into an eDiscovery bundle.
    Export,
    /// Placed a legal hold.
    HoldPlaced,
    /// Released a legal hold.
    HoldReleased,
    /// Created, changed or removed a retention rule.
    RuleChanged,
    /// Disposed of a recording under a retention rule.
    Disposed,
    /// Deleted a recording at RingCentral.
    DeletedAtSource,
    /// Refused to replace a stitched file (legal hold, WORM lock).
    OverwriteRefused,
    /// Logged in.
    Login,
    /// Failed to log in.
    LoginFailed,
    /// Logged out.
    Logout,
    /// Added a user.
    UserAdded,
    /// Removed a user.
    UserRemoved,
    /// Changed a user (password, role, scope).
    UserChanged,
}

impl AuditAction {
    /// The value in the `action` column and the canonical text.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::Play => "play",
            AuditAction::Download => "download",
            AuditAction::Export => "export",
            AuditAction::HoldPlaced => "hold_placed",
            AuditAction::HoldReleased => "hold_released",
            AuditAction::RuleChanged => "rule_changed",
            AuditAction::Disposed => "disposed",
            AuditAction::DeletedAtSource => "deleted_at_source",
            AuditAction::OverwriteRefused => "overwrite_refused",
            AuditAction::Login => "login",
            AuditAction::LoginFailed => "login_failed",
            AuditAction::Logout => "logout",
            AuditAction::UserAdded => "user_added",
            AuditAction::UserRemoved => "user_removed",
            AuditAction::UserChanged => "user_changed",
        }
    }
}

/// What kind of thing an entry is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SubjectKind {
    /// One leg's recording (id: the RingCentral recording id).
    Recording,
    /// A conversation (id: the conversation id).
    Conversation,
    /// A web user (id: the login name).
    User,
    /// A legal hold (id: its id or matter name).
    Hold,
    /// A retention rule (id: its id or name).
    RetentionRule,
    /// An eDiscovery export (id: the matter name).
    Export,
}

impl SubjectKind {
    /// The value in the `subject_kind` column and the canonical text.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Recording => "recording",
            SubjectKind::Conversation => "conversation",
            SubjectKind::User => "user",
            SubjectKind::Hold => "hold",
            SubjectKind::RetentionRule => "retention_rule",
            SubjectKind::Export => "export",
        }
    }
}

/// One thing to put on the record.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Who: a user name, `cli:<os user>` for a command, `system:<task>`
    /// for a background task.
    pub actor: String,
    /// What.
    pub action: AuditAction,
    /// To what kind of thing.
    pub subject_kind: SubjectKind,
    /// To which one.
    pub subject_id: String,
    /// Anything else worth keeping (client address, the query, an answer).
    /// Keep it small: it is stored and hashed as text.
    pub details: serde_json::Value,
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
    fn kind(&self) -> SubjectKind {
        match self {
            AuditObject::Recording(_) => SubjectKind::Recording,
            AuditObject::Conversation(_) => SubjectKind::Conversation,
        }
    }

    fn id(&self) -> &str {
        match self {
            AuditObject::Recording(id) => id.as_str(),
            AuditObject::Conversation(id) => id.as_str(),
        }
    }

    fn event(&self, user: &User, action: AuditAction, client: Option<&str>) -> AuditEvent {
        AuditEvent {
            actor: user.name.clone(),
            action,
            subject_kind: self.kind(),
            subject_id: self.id().to_owned(),
            details: serde_json::json!({ "user_id": user.id.get(), "client": client }),
        }
    }
}

/// One entry of the trail, for the admins' page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// Position in the chain (increasing).
    pub id: i64,
    /// When (database clock).
    pub at: DateTime<Utc>,
    /// Who (the user's name at the time).
    pub user_name: String,
    /// What (an [`AuditAction`] name).
    pub action: String,
    /// To what kind of thing (a [`SubjectKind`] name).
    pub object_kind: String,
    /// Which one.
    pub object_id: String,
    /// The client address, when known.
    pub client: Option<String>,
}

/// Page size when reading the whole chain.
const CHAIN_PAGE: i64 = 1000;

/// A row of the pre-chain `audit_log`.
#[derive(sqlx::FromRow)]
struct LegacyRow {
    at: i64,
    user_id: Option<i64>,
    user_name: String,
    action: String,
    object_kind: String,
    object_id: String,
    client: Option<String>,
}

impl LegacyRow {
    fn into_event(self) -> Result<AuditEvent, CatalogError> {
        Ok(AuditEvent {
            actor: self.user_name,
            action: if self.action == "download" {
                AuditAction::Download
            } else {
                AuditAction::Play
            },
            subject_kind: if self.object_kind == "conversation" {
                SubjectKind::Conversation
            } else {
                SubjectKind::Recording
            },
            subject_id: self.object_id,
            details: serde_json::json!({
                "user_id": self.user_id,
                "client": self.client,
                "logged_at": chain::canonical_time(from_ms("audit_log", self.at)?),
            }),
        })
    }
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    seq: i64,
    at: i64,
    actor: String,
    action: String,
    subject_kind: String,
    subject_id: String,
    canonical: String,
    prev_hash: String,
    event_hash: String,
}

impl EntryRow {
    fn into_chain_entry(self) -> ChainEntry {
        ChainEntry {
            seq: self.seq,
            canonical: self.canonical,
            prev_hash: self.prev_hash,
            event_hash: self.event_hash,
            columns: Some(EntryColumns {
                at_ms: self.at,
                actor: self.actor,
                action: self.action,
                subject_kind: self.subject_kind,
                subject_id: self.subject_id,
            }),
        }
    }
}

/// Takes the chain's append lock inside transaction `tx` (on SQLite the
/// write transaction is the lock), reads the head and the database clock,
/// and appends `event`. Returns the new entry's seq.
async fn append_locked(tx: &mut Tx<'_>, event: &AuditEvent) -> Result<i64, CatalogError> {
    tx.serialise_with_audit().await?;
    let head: Option<(i64, String)> =
        sqlx::query_as("SELECT seq, event_hash FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(tx.conn())
            .await?;
    let at: i64 = sqlx::query_scalar(tx.sql("SELECT {now}"))
        .fetch_one(tx.conn())
        .await?;
    let (prev_seq, prev_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
    let seq = prev_seq + 1;
    let text = CanonicalEntry {
        v: chain::CANONICAL_VERSION,
        seq,
        at: chain::canonical_time(from_ms("audit_events", at)?),
        actor: event.actor.clone(),
        action: event.action.as_str().to_owned(),
        subject_kind: event.subject_kind.as_str().to_owned(),
        subject_id: event.subject_id.clone(),
        details: event.details.clone(),
    };
    let canonical = serde_json::to_string(&text)?;
    let hash = entry_hash(&prev_hash, &canonical).ok_or_else(|| {
        CatalogError::corrupt(
            "audit_events",
            format!("entry {prev_seq} has a malformed hash"),
        )
    })?;
    sqlx::query(
        "INSERT INTO audit_events
             (seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(at)
    .bind(&text.actor)
    .bind(&text.action)
    .bind(&text.subject_kind)
    .bind(&text.subject_id)
    .bind(&canonical)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(tx.conn())
    .await?;
    Ok(seq)
}

impl Catalog {
    /// Appends `event` to the chain and returns its seq. Safe to call from
    /// any number of tasks and processes at once.
    pub async fn append_audit_event(&self, event: &AuditEvent) -> Result<i64, CatalogError> {
        let mut tx = self.begin_write().await?;
        let seq = append_locked(&mut tx, event).await?;
        tx.commit().await?;
        Ok(seq)
    }

    /// Appends one play or download by `user`.
    pub async fn append_audit(
        &self,
        user: &User,
        action: AuditAction,
        object: &AuditObject,
        client: Option<&str>,
    ) -> Result<(), CatalogError> {
        self.append_audit_event(&object.event(user, action, client))
            .await
            .map(drop)
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
        let mut tx = self.begin_write().await?;
        let first = sqlx::query(
            "INSERT INTO session_audio_opened (token_hash, object_kind, object_id)
             VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        )
        .bind(session_token_hash)
        .bind(object.kind().as_str())
        .bind(object.id())
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if first {
            append_locked(&mut tx, &object.event(user, AuditAction::Play, client)).await?;
        }
        tx.commit().await?;
        Ok(first)
    }

    /// A page of the trail, newest first.
    pub async fn audit_entries(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        let offset =
            i64::try_from(offset).map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let rows: Vec<EntryRow> = sqlx::query_as(
                "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                 FROM audit_events ORDER BY seq DESC LIMIT $1 OFFSET $2")
                .bind(i64::from(limit.min(1000)))
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|r| {
                let client = serde_json::from_str::<CanonicalEntry>(&r.canonical)
                    .ok()
                    .and_then(|c| c.details.get("client")?.as_str().map(str::to_owned));
                Ok(AuditEntry {
                    id: r.seq,
                    at: from_ms("audit_events", r.at)?,
                    user_name: r.actor,
                    action: r.action,
                    object_kind: r.subject_kind,
                    object_id: r.subject_id,
                    client,
                })
            })
            .collect()
    }

    /// Chains the rows of the pre-chain `audit_log` (plays and downloads
    /// recorded before the trail was sealed) into `audit_events`, oldest
    /// first, and removes them from `audit_log`, in one transaction. Their
    /// original time is kept in `details.logged_at`.
    pub(crate) async fn chain_legacy_audit_log(&self) -> Result<(), CatalogError> {
        let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(&self.pool)
            .await?;
        if pending == 0 {
            return Ok(());
        }
        let mut tx = self.begin_write().await?;
        let rows: Vec<LegacyRow> = sqlx::query_as(
            "SELECT at, user_id, user_name, action, object_kind, object_id, client
             FROM audit_log ORDER BY at, id",
        )
        .fetch_all(&mut *tx)
        .await?;
        for row in rows {
            let event = row.into_event()?;
            append_locked(&mut tx, &event).await?;
        }
        sqlx::query("DELETE FROM audit_log")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
