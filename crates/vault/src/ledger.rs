//! A page of the call log written in one transaction.
//!
//! A sync writes every record with its legs, conversation, recordings and
//! downloads. Written one statement group at a time, each record costs
//! several commits, and each commit rewrites the pages it touched (the term
//! index's among them): the ledger, not RingCentral, would set the pace of a
//! backfill. [`Catalog::write_ledger`] writes many records in one write
//! transaction with exactly the statements of the single-row methods.

use crate::conversations::upsert_conversation_in;
use crate::db::Catalog;
use crate::error::CatalogError;
use crate::queue::enqueue::enqueue_in;
use crate::recordings::write::upsert_recording_in;
use crate::records::upsert_call_record_in;
use crate::{CallRecordRow, ConversationUpsert, NewJob, NewRecording, RecordingState, Source};

/// One call-log record and what follows from it, for [`Catalog::write_ledger`].
#[derive(Debug, Clone)]
pub struct LedgerEntry {
    /// The record and its legs.
    pub record: CallRecordRow,
    /// Who reported it.
    pub source: Source,
    /// The conversation of its telephony session, when it has one.
    pub conversation: Option<ConversationUpsert>,
    /// Its recordings, each with the download to enqueue unless the
    /// recording is already `stored` or `gone`.
    pub recordings: Vec<(NewRecording, NewJob)>,
}

/// What writing one [`LedgerEntry`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct LedgerWritten {
    /// The record was new to the ledger.
    pub new_record: bool,
    /// Downloads enqueued (or found already live).
    pub enqueued: u32,
}

impl Catalog {
    /// Writes `entries` in one transaction, in order, with the effects of
    /// [`Catalog::upsert_call_record`], [`Catalog::upsert_conversation`],
    /// [`Catalog::upsert_recording`] and [`Catalog::enqueue`] for each.
    /// All or nothing: on an error nothing of the batch is kept. Keep
    /// batches to a few hundred records, as a SQLite write transaction
    /// holds the one write lock while it runs.
    pub async fn write_ledger(
        &self,
        entries: &[LedgerEntry],
    ) -> Result<Vec<LedgerWritten>, CatalogError> {
        let mut attempt = 1;
        loop {
            match self.write_ledger_once(entries).await {
                Err(e) if attempt < MAX_ATTEMPTS && is_deadlock(&e) => {
                    tracing::debug!(attempt, "ledger batch chosen as a deadlock victim; again");
                    attempt += 1;
                }
                done => return done,
            }
        }
    }

    async fn write_ledger_once(
        &self,
        entries: &[LedgerEntry],
    ) -> Result<Vec<LedgerWritten>, CatalogError> {
        let mut tx = self.begin_write().await?;
        tx.serialise_with_ledger().await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let new_record = upsert_call_record_in(&mut tx, &e.record, e.source).await?;
            if let Some(c) = &e.conversation {
                upsert_conversation_in(&mut tx, c).await?;
            }
            let mut enqueued = 0;
            for (recording, job) in &e.recordings {
                let _new = upsert_recording_in(&mut tx, recording).await?;
                let state: Option<String> =
                    sqlx::query_scalar("SELECT state FROM recordings WHERE id = $1")
                        .bind(recording.id.as_str())
                        .fetch_optional(&mut *tx)
                        .await?;
                let done = [RecordingState::Stored, RecordingState::Gone];
                if done.iter().any(|d| state.as_deref() == Some(d.as_str())) {
                    continue;
                }
                enqueue_in(&mut tx, job).await?;
                enqueued += 1;
            }
            out.push(LedgerWritten {
                new_record,
                enqueued,
            });
        }
        tx.commit().await?;
        Ok(out)
    }
}

/// Tries of one batch that PostgreSQL aborts to break a deadlock with
/// another writer (the whole batch is idempotent, so it simply runs again).
const MAX_ATTEMPTS: u32 = 4;

/// PostgreSQL's `deadlock_detected` or `serialization_failure`.
fn is_deadlock(e: &CatalogError) -> bool {
    match e {
        CatalogError::Database(sqlx::Error::Database(db)) => {
            matches!(db.code().as_deref(), Some("40P01" | "40001"))
        }
        _ => false,
    }
}
