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

use chrono::{DateTime, Utc};

use crate::db::{Catalog, sql, with_pool};
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

/// The one key every PostgreSQL appender locks (`pg_advisory_xact_lock`):
/// "CVAUDIT" in ASCII, distinct from the gateway's session lock.
const PG_AUDIT_LOCK: i64 = 0x0043_5641_5544_4954;

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

/// Takes the chain's append lock inside transaction `$tx` (on SQLite the
/// write transaction is the lock), reads the head and the database clock,
/// and appends `$event`. Yields the new entry's seq.
macro_rules! append_locked {
    ($tx:ident, $backend:ident, $event:expr) => {{
        lock_chain!($tx, $backend);
        let event: &AuditEvent = $event;
        let head: Option<(i64, String)> =
            sqlx::query_as("SELECT seq, event_hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *$tx)
                .await?;
        let at: i64 = sqlx::query_scalar(sql!($backend, "SELECT {now}"))
            .fetch_one(&mut *$tx)
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
        let hash = entry_hash(&prev_hash, &canonical).ok_or_else(|| CatalogError::CorruptRow {
            table: "audit_events",
            what: format!("entry {prev_seq} has a malformed hash"),
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
        .execute(&mut *$tx)
        .await?;
        seq
    }};
}

/// Serialises appenders and checkpointers: on PostgreSQL a lock held to the
/// end of the transaction; on SQLite the transaction already holds the
/// database's write lock (`BEGIN IMMEDIATE`).
macro_rules! lock_chain {
    ($tx:ident, $backend:ident) => {
        if $backend == crate::db::Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_AUDIT_LOCK)
                .execute(&mut *$tx)
                .await?;
        }
    };
}

impl Catalog {
    /// Appends `event` to the chain and returns its seq. Safe to call from
    /// any number of tasks and processes at once.
    pub async fn append_audit_event(&self, event: &AuditEvent) -> Result<i64, CatalogError> {
        with_pool!(self, pool, backend => {
            let mut tx = crate::db::begin_write!(pool, backend);
            let seq = append_locked!(tx, backend, event);
            tx.commit().await?;
            Ok(seq)
        })
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
        with_pool!(self, pool, backend => {
            let mut tx = crate::db::begin_write!(pool, backend);
            let first = sqlx::query(
                "INSERT INTO session_audio_opened (token_hash, object_kind, object_id)
                 VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                .bind(session_token_hash)
                .bind(object.kind().as_str())
                .bind(object.id())
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if first {
                append_locked!(tx, backend, &object.event(user, AuditAction::Play, client));
            }
            tx.commit().await?;
            Ok(first)
        })
    }

    /// A page of the trail, newest first.
    pub async fn audit_entries(
        &self,
        limit: u32,
        offset: u64,
    ) -> Result<Vec<AuditEntry>, CatalogError> {
        let offset =
            i64::try_from(offset).map_err(|_| CatalogError::OutOfRange { column: "offset" })?;
        let rows: Vec<EntryRow> = with_pool!(self, pool, _b => {
            sqlx::query_as(
                "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                 FROM audit_events ORDER BY seq DESC LIMIT $1 OFFSET $2")
                .bind(i64::from(limit.min(1000)))
                .bind(offset)
                .fetch_all(pool)
                .await?
        });
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

    /// Up to 1000 entries after `after_seq`, in chain order: read the whole
    /// chain page by page with bounded memory.
    pub async fn audit_chain_page(&self, after_seq: i64) -> Result<Vec<ChainEntry>, CatalogError> {
        let rows: Vec<EntryRow> = with_pool!(self, pool, _b => {
            sqlx::query_as(
                "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                 FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
                .bind(after_seq)
                .bind(CHAIN_PAGE)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(EntryRow::into_chain_entry).collect())
    }

    /// Every entry about any of `subjects` (kind, id), in chain order.
    pub async fn audit_entries_about(
        &self,
        subjects: &[(SubjectKind, String)],
    ) -> Result<Vec<ChainEntry>, CatalogError> {
        let mut out = Vec::new();
        for (kind, id) in subjects {
            let rows: Vec<EntryRow> = with_pool!(self, pool, _b => {
                sqlx::query_as(
                    "SELECT seq, at, actor, action, subject_kind, subject_id, canonical, prev_hash, event_hash
                     FROM audit_events WHERE subject_kind = $1 AND subject_id = $2 ORDER BY seq")
                    .bind(kind.as_str())
                    .bind(id)
                    .fetch_all(pool)
                    .await?
            });
            out.extend(rows.into_iter().map(EntryRow::into_chain_entry));
        }
        out.sort_by_key(|e| e.seq);
        out.dedup_by_key(|e| e.seq);
        Ok(out)
    }

    /// Every checkpoint, in order.
    pub async fn audit_checkpoints(&self) -> Result<Vec<ChainCheckpoint>, CatalogError> {
        let rows: Vec<(String, String, String)> = with_pool!(self, pool, _b => {
            sqlx::query_as("SELECT payload, signature, public_key FROM audit_checkpoints ORDER BY seq")
                .fetch_all(pool)
                .await?
        });
        Ok(rows
            .into_iter()
            .map(|(payload, signature, public_key)| ChainCheckpoint {
                payload,
                signature,
                public_key,
            })
            .collect())
    }

    /// Signs the chain's head with `signer` unless the last checkpoint
    /// already covers it. Returns the new checkpoint, if one was written.
    /// Serialised with appends, so the head it signs is the head.
    pub async fn checkpoint_audit(
        &self,
        signer: &AuditSigner,
    ) -> Result<Option<CheckpointPayload>, CatalogError> {
        with_pool!(self, pool, backend => {
            let mut tx = crate::db::begin_write!(pool, backend);
            lock_chain!(tx, backend);
            let head: Option<(i64, String)> =
                sqlx::query_as("SELECT seq, event_hash FROM audit_events ORDER BY seq DESC LIMIT 1")
                    .fetch_optional(&mut *tx)
                    .await?;
            let last: Option<(i64, i64, String)> = sqlx::query_as(
                "SELECT seq, count, payload FROM audit_checkpoints ORDER BY seq DESC LIMIT 1")
                .fetch_optional(&mut *tx)
                .await?;
            let (count, head_hash) = head.unwrap_or((0, GENESIS_HASH.to_owned()));
            if last.as_ref().is_some_and(|(_, signed, _)| *signed == count) {
                return Ok(None);
            }
            let at: i64 = sqlx::query_scalar(sql!(backend, "SELECT {now}"))
                .fetch_one(&mut *tx)
                .await?;
            let (prev_seq, prev_checkpoint_hash) = last
                .map_or((0, GENESIS_HASH.to_owned()), |(seq, _, payload)| (seq, checkpoint_hash(&payload)));
            let payload = CheckpointPayload {
                seq: prev_seq + 1,
                at: chain::canonical_time(from_ms("audit_checkpoints", at)?),
                count,
                head_hash,
                prev_checkpoint_hash,
            };
            let text = serde_json::to_string(&payload)?;
            sqlx::query(
                "INSERT INTO audit_checkpoints
                     (seq, at, count, head_hash, prev_checkpoint_hash, payload, signature, public_key)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
                .bind(payload.seq)
                .bind(at)
                .bind(payload.count)
                .bind(&payload.head_hash)
                .bind(&payload.prev_checkpoint_hash)
                .bind(&text)
                .bind(signer.sign_hex(text.as_bytes()))
                .bind(signer.public_key().to_hex())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(payload))
        })
    }

    /// Recomputes the whole chain and checks every checkpoint with `key`.
    pub async fn verify_audit(&self, key: &AuditPublicKey) -> Result<ChainReport, CatalogError> {
        let mut verifier = ChainVerifier::new(key, &self.audit_checkpoints().await?);
        let mut after = 0;
        loop {
            let page = self.audit_chain_page(after).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for entry in &page {
                verifier.entry(entry);
            }
            if verifier.found_entry_fault() {
                break;
            }
        }
        Ok(verifier.finish())
    }

    /// Chains the rows of the pre-chain `audit_log` (plays and downloads
    /// recorded before the trail was sealed) into `audit_events`, oldest
    /// first, and removes them from `audit_log`, in one transaction. Their
    /// original time is kept in `details.logged_at`.
    pub(crate) async fn chain_legacy_audit_log(&self) -> Result<(), CatalogError> {
        with_pool!(self, pool, backend => {
            let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
                .fetch_one(pool)
                .await?;
            if pending == 0 {
                return Ok(());
            }
            let mut tx = crate::db::begin_write!(pool, backend);
            let rows: Vec<LegacyRow> = sqlx::query_as(
                "SELECT at, user_id, user_name, action, object_kind, object_id, client
                 FROM audit_log ORDER BY at, id",
            )
            .fetch_all(&mut *tx)
            .await?;
            for row in rows {
                let event = row.into_event()?;
                append_locked!(tx, backend, &event);
            }
            sqlx::query("DELETE FROM audit_log").execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(())
        })
    }
}
