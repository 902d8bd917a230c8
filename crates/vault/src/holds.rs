//! Legal holds: a named matter keeps conversations from being disposed of
//! or deleted at the source, whatever the rules say.
//!
//! A hold names conversations by id, or by a calls-page filter. Either way
//! its conversations are written to `legal_hold_conversations` when it is
//! placed, and that table is what every destructive statement checks (see
//! `held_sql` in the retention module). A filter hold is also swept again
//! ([`Catalog::sweep_filter_holds`]) before each retention run, so calls
//! that match it later (future matches) are held too. Placing a hold and
//! sweeping wait for a standing hold fence (`hold_fence`), so no hold
//! appears while a re-stitch replaces a stitched file.

use chrono::{DateTime, Utc};

use crate::db::{Catalog, Tx};
use crate::error::CatalogError;
use crate::ids::ConversationId;
use crate::search::ConversationFilter;
use crate::time::{from_ms, from_opt_ms};

/// Inserts one (hold, conversation) membership inside `tx`; returns the
/// rows added (0 or 1).
async fn add_member(tx: &mut Tx<'_>, hold: i64, conv: &str) -> Result<u64, CatalogError> {
    Ok(sqlx::query(tx.sql(
        "INSERT INTO legal_hold_conversations (hold_id, conversation_id, added_at)
         VALUES ($1, $2, {now}) ON CONFLICT (hold_id, conversation_id) DO NOTHING",
    ))
    .bind(hold)
    .bind(conv)
    .execute(tx.conn())
    .await?
    .rows_affected())
}

/// The calls-page filter a hold keeps (the page's own fields — state,
/// paging — make no sense for a hold and are left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HoldFilter {
    /// Started at or after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    /// Started before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    /// An extension that took part.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_id: Option<String>,
    /// A party's number or name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party: Option<String>,
    /// `Inbound` or `Outbound`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    /// The search box: a number, a name or an exact id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

impl HoldFilter {
    /// Whether it narrows nothing (a hold on everything is refused:
    /// it is almost surely a mistake, and "every call" has a clearer form).
    pub fn is_empty(&self) -> bool {
        *self == HoldFilter::default()
    }

    /// The calls page's filter for it.
    pub fn to_conversation_filter(&self) -> ConversationFilter {
        ConversationFilter {
            from: self.from,
            to: self.to,
            extension_id: self.extension_id.clone(),
            party: self.party.clone(),
            direction: self.direction.clone(),
            text: self.text.clone(),
            ..ConversationFilter::default()
        }
    }
}

/// What a hold covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldTarget {
    /// These conversations.
    Conversations(Vec<ConversationId>),
    /// Every conversation matching the filter, now and later.
    Filter(HoldFilter),
}

/// A hold to place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    /// The matter (case) name.
    pub matter: String,
    /// Why.
    pub reason: String,
    /// Who places it.
    pub placed_by: String,
    /// What it covers.
    pub target: HoldTarget,
}

/// A legal hold as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LegalHold {
    /// Row id.
    pub id: i64,
    /// The matter.
    pub matter: String,
    /// Why.
    pub reason: String,
    /// Who placed it.
    pub placed_by: String,
    /// When.
    pub placed_at: DateTime<Utc>,
    /// The filter of a filter hold.
    pub filter: Option<HoldFilter>,
    /// Who released it.
    pub released_by: Option<String>,
    /// When it was released (`None`: active).
    pub released_at: Option<DateTime<Utc>>,
    /// Why it was released.
    pub release_reason: Option<String>,
    /// How many conversations it covers.
    pub conversations: u64,
}

#[derive(sqlx::FromRow)]
struct HoldSql {
    id: i64,
    matter: String,
    reason: String,
    placed_by: String,
    placed_at: i64,
    filter: Option<String>,
    released_by: Option<String>,
    released_at: Option<i64>,
    release_reason: Option<String>,
    conversations: i64,
}

const HOLD_COLUMNS: &str = "h.id, h.matter, h.reason, h.placed_by, h.placed_at, h.filter,
    h.released_by, h.released_at, h.release_reason,
    (SELECT COUNT(*) FROM legal_hold_conversations m WHERE m.hold_id = h.id) AS conversations";

impl TryFrom<HoldSql> for LegalHold {
    type Error = CatalogError;
    fn try_from(h: HoldSql) -> Result<Self, CatalogError> {
        Ok(LegalHold {
            id: h.id,
            matter: h.matter,
            reason: h.reason,
            placed_by: h.placed_by,
            placed_at: from_ms("legal_holds", h.placed_at)?,
            filter: h
                .filter
                .as_deref()
                .map(serde_json::from_str)
                .transpose()
                .map_err(|e| CatalogError::corrupt("legal_holds", format!("filter: {e}")))?,
            released_by: h.released_by,
            released_at: from_opt_ms("legal_holds", h.released_at)?,
            release_reason: h.release_reason,
            conversations: u64::try_from(h.conversations).unwrap_or(0),
        })
    }
}

impl Catalog {
    /// Places a hold: the hold and every conversation it covers now, in
    /// one transaction. Returns its id.
    pub async fn place_hold(&self, hold: &NewHold) -> Result<i64, CatalogError> {
        let (filter, members): (Option<String>, Vec<String>) = match &hold.target {
            HoldTarget::Conversations(ids) => {
                (None, ids.iter().map(|c| c.as_str().to_owned()).collect())
            }
            HoldTarget::Filter(f) => (
                Some(serde_json::to_string(f)?),
                self.all_matching_ids(&f.to_conversation_filter()).await?,
            ),
        };
        {
            let mut tx = self.begin_write().await?;
            tx.serialise_with_holds().await?;
            let id: i64 = sqlx::query_scalar(self.sql(
                "INSERT INTO legal_holds (matter, reason, placed_by, placed_at, filter)
                 VALUES ($1, $2, $3, {now}, $4) RETURNING id",
            ))
            .bind(hold.matter.as_str())
            .bind(hold.reason.as_str())
            .bind(hold.placed_by.as_str())
            .bind(filter)
            .fetch_one(&mut *tx)
            .await?;
            for conv in &members {
                add_member(&mut tx, id, conv).await?;
            }
            tx.commit().await?;
            Ok(id)
        }
    }

    /// Releases hold `id`. Returns whether an active hold was released.
    pub async fn release_hold(
        &self,
        id: i64,
        released_by: &str,
        reason: &str,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(
            "UPDATE legal_holds SET released_at = {now}, released_by = $2, release_reason = $3
                 WHERE id = $1 AND released_at IS NULL",
        ))
        .bind(id)
        .bind(released_by)
        .bind(reason)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(n == 1)
    }

    /// One hold.
    pub async fn legal_hold(&self, id: i64) -> Result<Option<LegalHold>, CatalogError> {
        let row: Option<HoldSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds h WHERE h.id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(LegalHold::try_from).transpose()
    }

    /// Every hold (or only the active ones), newest first.
    pub async fn legal_holds(&self, active_only: bool) -> Result<Vec<LegalHold>, CatalogError> {
        let rows: Vec<HoldSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds h
                 WHERE ($1 = 0 OR h.released_at IS NULL) ORDER BY h.id DESC"
        )))
        .bind(i64::from(active_only))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(LegalHold::try_from).collect()
    }

    /// The holds that cover conversation `id` (active and released), newest first.
    pub async fn conversation_holds(
        &self,
        id: &ConversationId,
    ) -> Result<Vec<LegalHold>, CatalogError> {
        let rows: Vec<HoldSql> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT {HOLD_COLUMNS} FROM legal_holds h
                 WHERE EXISTS (SELECT 1 FROM legal_hold_conversations hc
                                WHERE hc.hold_id = h.id AND hc.conversation_id = $1)
                 ORDER BY h.id DESC"
        )))
        .bind(id.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(LegalHold::try_from).collect()
    }

    /// Adds to every active filter hold the conversations that match it
    /// now (calls that arrived after it was placed). Returns how many
    /// memberships were added.
    pub async fn sweep_filter_holds(&self) -> Result<u64, CatalogError> {
        let mut added = 0;
        for hold in self.legal_holds(true).await? {
            let Some(filter) = hold.filter else { continue };
            let matches = self
                .all_matching_ids(&filter.to_conversation_filter())
                .await?;
            {
                let mut tx = self.begin_write().await?;
                tx.serialise_with_holds().await?;
                for conv in &matches {
                    added += add_member(&mut tx, hold.id, conv).await?;
                }
                tx.commit().await?;
            };
        }
        Ok(added)
    }
}
