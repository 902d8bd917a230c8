//! Writes what the call log says into the ledger: the one place where
//! RingCentral's records (rc-api types) become catalog rows (vault types).
//! Data flows one way, so neither crate knows the other; the ids are the same
//! types on both sides (the `rc-ids` crate), so they move over unparsed.

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use rc_api::models::{CallLogLeg, CallLogParty, CallLogRecord};
use vault::{
    CallRecordRow, Catalog, ConversationId, ConversationState, ConversationUpsert, LedgerEntry,
    LegRow, NewRecording, Source,
};

use crate::jobs::Job;

/// What writing one record changed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    /// The record was new to the ledger.
    pub new_record: bool,
    /// Recordings the record names.
    pub recordings: u32,
    /// Downloads enqueued (recordings not yet stored or given up on).
    pub enqueued: u32,
}

/// Records one call-log record, its legs, recordings and conversation, and
/// enqueues a download for each recording not yet stored. Idempotent.
pub async fn record(
    catalog: &Catalog,
    rec: &CallLogRecord,
    source: Source,
) -> anyhow::Result<Written> {
    let mut written = records(catalog, std::slice::from_ref(rec), source).await?;
    Ok(written.pop().unwrap_or_default())
}

/// [`record`] for many records (a page of the call log) in one catalog
/// transaction, in order. All or nothing.
pub async fn records(
    catalog: &Catalog,
    recs: &[CallLogRecord],
    source: Source,
) -> anyhow::Result<Vec<Written>> {
    let entries = recs
        .iter()
        .map(|rec| entry(rec, source).with_context(|| format!("recording call {}", rec.id)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let written = catalog
        .write_ledger(&entries)
        .await
        .context("writing call records")?;
    Ok(entries
        .iter()
        .zip(written)
        .map(|(e, w)| Written {
            new_record: w.new_record,
            recordings: u32::try_from(e.recordings.len()).unwrap_or(u32::MAX),
            enqueued: w.enqueued,
        })
        .collect())
}

/// What the ledger keeps of one record: the row, its conversation, and each
/// recording with its download job.
fn entry(rec: &CallLogRecord, source: Source) -> anyhow::Result<LedgerEntry> {
    let row = call_record_row(rec)?;
    let tsid = row.telephony_session_id.clone();
    let conversation = tsid.as_ref().map(|tsid| ConversationUpsert {
        id: ConversationId::from(tsid.clone()),
        sessions: vec![tsid.clone()],
        initial_state: ConversationState::Ended,
        started_at: Some(rec.start_time),
        source,
    });
    let end = call_end(rec);
    let recordings = rec
        .recordings()
        .into_iter()
        .map(|info| {
            let id = info.id.clone();
            let job = Job::Download {
                recording: id.clone(),
            }
            .to_new_job()
            .priority(crate::priority::of_download(source));
            let recording = NewRecording {
                id,
                call_record_id: Some(row.id.clone()),
                telephony_session_id: tsid.clone(),
                content_uri: Some(info.content_uri.clone()),
                content_type: None,
                call_start_time: rec.start_time,
                call_end_time: Some(end),
            };
            (recording, job)
        })
        .collect();
    Ok(LedgerEntry {
        record: row,
        source,
        conversation,
        recordings,
    })
}

/// When the call (this record's part of it) ended.
pub fn call_end(rec: &CallLogRecord) -> DateTime<Utc> {
    let ms = rec
        .duration_ms
        .or(rec.duration.map(|s| s.saturating_mul(1000)))
        .unwrap_or(0);
    rec.start_time + Duration::milliseconds(i64::try_from(ms).unwrap_or(i64::MAX / 2))
}

fn call_record_row(rec: &CallLogRecord) -> anyhow::Result<CallRecordRow> {
    let legs = rec
        .legs
        .iter()
        .enumerate()
        .map(|(i, leg)| leg_row(i, leg))
        .collect();
    Ok(CallRecordRow {
        id: rec.id.clone(),
        telephony_session_id: rec.telephony_session_id.clone(),
        session_id: rec.session_id.clone(),
        start_time: rec.start_time,
        duration_ms: duration_ms(rec.duration_ms, rec.duration),
        direction: rec.direction.as_ref().map(|d| d.as_str().to_owned()),
        from_number: number(rec.from.as_ref()),
        from_name: rec.from.as_ref().and_then(|p| p.name.clone()),
        to_number: number(rec.to.as_ref()),
        to_name: rec.to.as_ref().and_then(|p| p.name.clone()),
        extension_id: rec
            .extension
            .as_ref()
            .and_then(|e| e.id.as_ref())
            .map(|id| id.to_string()),
        raw: match &rec.raw {
            Some(raw) => raw.get().to_owned(),
            None => serde_json::to_string(rec).context("encoding the record")?,
        },
        legs,
    })
}

fn leg_row(index: usize, leg: &CallLogLeg) -> LegRow {
    LegRow {
        index: i64::try_from(index).unwrap_or(i64::MAX),
        leg_type: leg.leg_type.as_ref().map(|t| t.as_str().to_owned()),
        telephony_session_id: leg.telephony_session_id.clone(),
        recording_id: leg.recording.as_ref().map(|r| r.id.clone()),
        start_time: leg.start_time,
        duration_ms: duration_ms(leg.duration_ms, leg.duration),
        direction: leg.direction.as_ref().map(|d| d.as_str().to_owned()),
        from_number: number(leg.from.as_ref()),
        to_number: number(leg.to.as_ref()),
        extension_id: leg
            .extension
            .as_ref()
            .and_then(|e| e.id.as_ref())
            .map(|id| id.to_string()),
        master: leg.master,
    }
}

fn duration_ms(ms: Option<u64>, secs: Option<u64>) -> Option<i64> {
    ms.or(secs.map(|s| s.saturating_mul(1000)))
        .and_then(|v| i64::try_from(v).ok())
}

fn number(party: Option<&CallLogParty>) -> Option<String> {
    party.and_then(|p| {
        p.phone_number
            .clone()
            .or_else(|| p.extension_number.clone())
    })
}
