//! The hold fence: a conversation's stitched file is replaced only at a
//! moment when no legal hold on it can appear.
//!
//! A re-stitch checks for holds before it joins, but the join takes seconds,
//! and a hold placed meanwhile must still stop the write: the held file is
//! evidence as it was. [`Catalog::fence_holds`] opens a transaction that
//! placing a hold and sweeping filter holds both wait for (SQLite's write
//! lock; on PostgreSQL the holds advisory lock, which they take too), and
//! reads the conversation's active holds inside it. The caller writes the
//! file only while the fence stands and only if no hold was found; a hold
//! placed at the same moment lands after the write, and covers the new
//! file. Nothing is written to the catalog through the fence.

use crate::db::{Catalog, Tx};
use crate::error::CatalogError;
use crate::ids::ConversationId;

/// An active legal hold on the fenced conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveHold {
    /// The hold's row id.
    pub id: i64,
    /// Its matter.
    pub matter: String,
}

/// Keeps legal holds from being placed until [`HoldFence::lift`] (or drop).
#[derive(Debug)]
pub struct HoldFence {
    tx: Tx<'static>,
    holds: Vec<ActiveHold>,
}

impl HoldFence {
    /// The conversation's active holds when the fence went up: while the
    /// fence stands, no other can appear.
    pub fn holds(&self) -> &[ActiveHold] {
        &self.holds
    }

    /// Lets holds be placed again.
    pub async fn lift(self) -> Result<(), CatalogError> {
        self.tx.rollback().await
    }
}

impl Catalog {
    /// Puts up the fence for `conversation` (see the module doc): waits
    /// for any hold being placed, then reads the conversation's active holds.
    /// On SQLite every other catalog writer waits while the fence stands,
    /// so hold it only for the write it guards.
    pub async fn fence_holds(
        &self,
        conversation: &ConversationId,
    ) -> Result<HoldFence, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_holds().await?;
        let rows: Vec<(i64, String)> = sqlx::query_as(
            "SELECT h.id, h.matter FROM legal_holds h
               JOIN legal_hold_conversations hc ON hc.hold_id = h.id
              WHERE hc.conversation_id = $1 AND h.released_at IS NULL
              ORDER BY h.id",
        )
        .bind(conversation.as_str())
        .fetch_all(tx.conn())
        .await?;
        Ok(HoldFence {
            tx,
            holds: rows
                .into_iter()
                .map(|(id, matter)| ActiveHold { id, matter })
                .collect(),
        })
    }
}
