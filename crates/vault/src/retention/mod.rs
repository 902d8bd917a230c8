//! Retention: the rules admins keep, the facts a rule is matched against,
//! and the two destructive steps (disposal of our copy, deletion at the
//! source), each claimed in ONE statement that also checks legal holds.
//!
//! Which rule governs a recording, and when it is due, is policy and lives
//! in the binary; this module only stores and re-checks. The guard that
//! matters is in SQL: [`Catalog::dispose_recording`] and
//! [`Catalog::claim_source_deletion`] refuse a recording whose conversation
//! is on an active hold in the same statement that changes it, so a hold
//! placed after a plan was made still wins, on both backends.
//!
//! This file holds the rules and the facts; `disposal` the two destructive
//! steps and their tombstones.

pub(crate) mod disposal;

use chrono::{DateTime, Utc};

use std::sync::LazyLock;

use crate::db::{Catalog, replace_set};
use crate::digest::Sha256Digest;
use crate::error::{CatalogError, OrCorrupt};
use crate::ids::{CallRecordId, ConversationId, RecordingId, TelephonySessionId};
use crate::key::StorageKey;
use crate::statement::Statement;
use crate::time::{from_ms, from_opt_ms};

/// A retention rule as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RetentionRule {
    /// Row id.
    pub id: i64,
    /// Unique name.
    pub name: String,
    /// Evaluation order (lower first, then id).
    pub position: i64,
    /// Only recordings an extension took part in (record owner or leg).
    pub extension_id: Option<String>,
    /// Only recordings an extension of this group took part in.
    pub extension_group: Option<String>,
    /// Only `Inbound` or `Outbound` calls.
    pub direction: Option<String>,
    /// Only recordings of this kind (`Automatic`, `OnDemand`, …).
    pub recording_kind: Option<String>,
    /// Nothing may delete our copy before this many days.
    pub min_keep_days: u32,
    /// Our copy is disposed of after this many days; `None`: kept for ever.
    pub max_keep_days: Option<u32>,
    /// Opt-in: delete RingCentral's copy after this many days.
    pub delete_at_source_after_days: Option<u32>,
    /// Who added it.
    pub created_by: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// A rule to add with [`Catalog::add_retention_rule`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NewRetentionRule {
    /// Unique name.
    pub name: String,
    /// Evaluation order (lower first).
    pub position: i64,
    /// See [`RetentionRule::extension_id`].
    pub extension_id: Option<String>,
    /// See [`RetentionRule::extension_group`].
    pub extension_group: Option<String>,
    /// See [`RetentionRule::direction`].
    pub direction: Option<String>,
    /// See [`RetentionRule::recording_kind`].
    pub recording_kind: Option<String>,
    /// See [`RetentionRule::min_keep_days`].
    pub min_keep_days: u32,
    /// See [`RetentionRule::max_keep_days`].
    pub max_keep_days: Option<u32>,
    /// See [`RetentionRule::delete_at_source_after_days`].
    pub delete_at_source_after_days: Option<u32>,
    /// Who adds it.
    pub created_by: String,
}

#[derive(sqlx::FromRow)]
struct RuleSql {
    id: i64,
    name: String,
    position: i64,
    extension_id: Option<String>,
    extension_group: Option<String>,
    direction: Option<String>,
    recording_kind: Option<String>,
    min_keep_days: i64,
    max_keep_days: Option<i64>,
    delete_at_source_after_days: Option<i64>,
    created_by: String,
    created_at: i64,
}

fn days(column: &'static str, v: i64) -> Result<u32, CatalogError> {
    u32::try_from(v)
        .map_err(|_| CatalogError::corrupt("retention_rules", format!("{column} {v} out of range")))
}

impl TryFrom<RuleSql> for RetentionRule {
    type Error = CatalogError;
    fn try_from(r: RuleSql) -> Result<Self, CatalogError> {
        Ok(RetentionRule {
            id: r.id,
            name: r.name,
            position: r.position,
            extension_id: r.extension_id,
            extension_group: r.extension_group,
            direction: r.direction,
            recording_kind: r.recording_kind,
            min_keep_days: days("min_keep_days", r.min_keep_days)?,
            max_keep_days: r
                .max_keep_days
                .map(|d| days("max_keep_days", d))
                .transpose()?,
            delete_at_source_after_days: r
                .delete_at_source_after_days
                .map(|d| days("delete_at_source_after_days", d))
                .transpose()?,
            created_by: r.created_by,
            created_at: from_ms("retention_rules", r.created_at)?,
        })
    }
}

/// What a stored recording looks like to a retention rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionFacts {
    /// The recording.
    pub id: RecordingId,
    /// Its call record.
    pub call_record_id: Option<CallRecordId>,
    /// Its telephony session.
    pub telephony_session_id: Option<TelephonySessionId>,
    /// Its conversation, if attached to one.
    pub conversation_id: Option<ConversationId>,
    /// The record owner's extension and every leg's.
    pub extension_ids: Vec<String>,
    /// The call record's direction.
    pub direction: Option<String>,
    /// `recording.type` in the call record (`Automatic`, `OnDemand`, …).
    pub recording_kind: Option<String>,
    /// When the call started.
    pub call_start_time: Option<DateTime<Utc>>,
    /// When our copy was stored.
    pub stored_at: Option<DateTime<Utc>>,
    /// Where the blob is.
    pub storage_key: Option<StorageKey>,
    /// The catalog's sha256 of it.
    pub sha256: Option<Sha256Digest>,
    /// Its size.
    pub size: Option<u64>,
    /// Whether an active legal hold covers its conversation now.
    pub held: bool,
    /// Whether RingCentral's copy was deleted by us.
    pub deleted_at_source: bool,
}

#[derive(sqlx::FromRow)]
struct FactsSql {
    id: String,
    call_record_id: Option<String>,
    telephony_session_id: Option<String>,
    conversation_id: Option<String>,
    extension_id: Option<String>,
    direction: Option<String>,
    raw: Option<String>,
    call_start_time: Option<i64>,
    stored_at: Option<i64>,
    storage_key: Option<String>,
    sha256: Option<String>,
    size_bytes: Option<i64>,
    held: i64,
    deleted_at_source: i64,
}

/// SQL true when the recording row `r` belongs to a conversation on an
/// active legal hold. The one definition of "held", used by every guard.
fn held_sql(r: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM conversation_sessions hs
           JOIN legal_hold_conversations hc ON hc.conversation_id = hs.conversation_id
           JOIN legal_holds h ON h.id = hc.hold_id
          WHERE hs.telephony_session_id = {r}.telephony_session_id AND h.released_at IS NULL)"
    )
}

/// What a rule matches on, per stored recording (append a `WHERE`).
static FACTS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT r.id, r.call_record_id, r.telephony_session_id,
        (SELECT cs.conversation_id FROM conversation_sessions cs
          WHERE cs.telephony_session_id = r.telephony_session_id) AS conversation_id,
        cr.extension_id, cr.direction, cr.raw, r.call_start_time, r.stored_at,
        r.storage_key, r.sha256, r.size_bytes,
        CAST(CASE WHEN {} THEN 1 ELSE 0 END AS BIGINT) AS held,
        CAST(CASE WHEN EXISTS (SELECT 1 FROM source_deletions sd
                           WHERE sd.recording_id = r.id AND sd.state = 'deleted')
             THEN 1 ELSE 0 END AS BIGINT) AS deleted_at_source
     FROM recordings r LEFT JOIN call_records cr ON cr.id = r.call_record_id",
        held_sql("r")
    )
});

/// `recording.type` of recording `id` in a call record's JSON: the record's
/// own `recording`, or a leg's.
fn recording_kind(raw: &str, id: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(raw).ok()?;
    let of = |r: &serde_json::Value| {
        (r.get("id").and_then(|i| i.as_str()) == Some(id))
            .then(|| r.get("type").and_then(|t| t.as_str()).map(str::to_owned))
            .flatten()
    };
    v.get("recording").and_then(of).or_else(|| {
        v.get("legs")?
            .as_array()?
            .iter()
            .find_map(|l| l.get("recording").and_then(of))
    })
}

impl Catalog {
    /// Adds a rule. Returns `None` when the name is taken.
    pub async fn add_retention_rule(
        &self,
        rule: &NewRetentionRule,
    ) -> Result<Option<i64>, CatalogError> {
        let id: Option<i64> = sqlx::query_scalar(self.sql(
            "INSERT INTO retention_rules (name, position, extension_id, extension_group,
                    direction, recording_kind, min_keep_days, max_keep_days,
                    delete_at_source_after_days, created_by, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, {now})
                 ON CONFLICT (name) DO NOTHING RETURNING id",
        ))
        .bind(rule.name.as_str())
        .bind(rule.position)
        .bind(rule.extension_id.as_deref())
        .bind(rule.extension_group.as_deref())
        .bind(rule.direction.as_deref())
        .bind(rule.recording_kind.as_deref())
        .bind(i64::from(rule.min_keep_days))
        .bind(rule.max_keep_days.map(i64::from))
        .bind(rule.delete_at_source_after_days.map(i64::from))
        .bind(rule.created_by.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(id)
    }

    /// Every rule, in evaluation order.
    pub async fn retention_rules(&self) -> Result<Vec<RetentionRule>, CatalogError> {
        let rows: Vec<RuleSql> = sqlx::query_as(
            "SELECT id, name, position, extension_id, extension_group, direction,
                    recording_kind, min_keep_days, max_keep_days, delete_at_source_after_days,
                    created_by, created_at
                 FROM retention_rules ORDER BY position, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(RetentionRule::try_from).collect()
    }

    /// Removes the rule called `name`; returns whether it existed.
    pub async fn remove_retention_rule(&self, name: &str) -> Result<bool, CatalogError> {
        let n = sqlx::query("DELETE FROM retention_rules WHERE name = $1")
            .bind(name)
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(n == 1)
    }

    /// The members of every extension group, as (group, extension id).
    pub async fn extension_group_members(&self) -> Result<Vec<(String, String)>, CatalogError> {
        Ok(sqlx::query_as(
            "SELECT name, extension_id FROM extension_groups ORDER BY name, extension_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces the members of extension group `name` (an empty list
    /// removes the group).
    pub async fn set_extension_group(
        &self,
        name: &str,
        extension_ids: &[String],
    ) -> Result<(), CatalogError> {
        let mut tx = self.begin_write().await?;
        replace_set(
            &mut tx,
            "DELETE FROM extension_groups WHERE name = $1",
            "INSERT INTO extension_groups (name, extension_id) VALUES ($1, $2)
             ON CONFLICT (name, extension_id) DO NOTHING",
            name,
            extension_ids,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Stored recordings in id order after `after`, with what a rule
    /// matches on, for the retention planner to page through.
    pub async fn retention_facts(
        &self,
        after: Option<&RecordingId>,
        limit: u32,
    ) -> Result<Vec<RetentionFacts>, CatalogError> {
        let facts = FACTS.as_str();
        let rows: Vec<FactsSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{facts} WHERE r.state = 'stored' AND ($1 IS NULL OR r.id > $1)
                 ORDER BY r.id LIMIT $2"
        )))
        .bind(after.map(|a| a.as_str()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        self.facts_from_rows(rows).await
    }

    /// [`Self::retention_facts`] of one recording, whatever its state.
    pub async fn recording_retention_facts(
        &self,
        id: &RecordingId,
    ) -> Result<Option<RetentionFacts>, CatalogError> {
        let facts = FACTS.as_str();
        let rows: Vec<FactsSql> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{facts} WHERE r.id = $1")))
                .bind(id.as_str())
                .fetch_all(&self.pool)
                .await?;
        Ok(self.facts_from_rows(rows).await?.into_iter().next())
    }

    async fn facts_from_rows(
        &self,
        rows: Vec<FactsSql>,
    ) -> Result<Vec<RetentionFacts>, CatalogError> {
        let records: Vec<&str> = rows
            .iter()
            .filter_map(|r| r.call_record_id.as_deref())
            .collect();
        let legs: Vec<(String, String)> = if records.is_empty() {
            Vec::new()
        } else {
            {
                let mut q = Statement::new(
                    "SELECT call_record_id, extension_id FROM legs
                     WHERE extension_id IS NOT NULL AND call_record_id IN (",
                );
                q.push_bind_list(records.iter().copied());
                q.push(")");
                q.build_query_as()?.fetch_all(&self.pool).await?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for r in rows {
            let mut extension_ids: Vec<String> = r.extension_id.iter().cloned().collect();
            if let Some(cr) = r.call_record_id.as_deref() {
                extension_ids.extend(legs.iter().filter(|(c, _)| c == cr).map(|(_, e)| e.clone()));
            }
            extension_ids.sort();
            extension_ids.dedup();
            out.push(RetentionFacts {
                recording_kind: r.raw.as_deref().and_then(|raw| recording_kind(raw, &r.id)),
                id: RecordingId::parse(&r.id).or_corrupt("recordings")?,
                call_record_id: r
                    .call_record_id
                    .as_deref()
                    .map(CallRecordId::parse)
                    .transpose()
                    .or_corrupt("recordings")?,
                telephony_session_id: r
                    .telephony_session_id
                    .as_deref()
                    .map(TelephonySessionId::parse)
                    .transpose()
                    .or_corrupt("recordings")?,
                conversation_id: r
                    .conversation_id
                    .as_deref()
                    .map(ConversationId::parse)
                    .transpose()
                    .or_corrupt("recordings")?,
                extension_ids,
                direction: r.direction,
                call_start_time: from_opt_ms("recordings", r.call_start_time)?,
                stored_at: from_opt_ms("recordings", r.stored_at)?,
                storage_key: r
                    .storage_key
                    .as_deref()
                    .map(StorageKey::from_stored)
                    .transpose()
                    .or_corrupt("recordings")?,
                sha256: r
                    .sha256
                    .as_deref()
                    .map(Sha256Digest::parse_hex)
                    .transpose()
                    .or_corrupt("recordings")?,
                size: r.size_bytes.and_then(|s| u64::try_from(s).ok()),
                held: r.held != 0,
                deleted_at_source: r.deleted_at_source != 0,
            });
        }
        Ok(out)
    }
}
