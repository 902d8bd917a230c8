//! Gathers the call-log records of a conversation: from the catalog (what
//! the sync stored, raw JSON included), following attended-transfer links
//! from session to session; or, when the catalog lacks them, from the company
//! call log through rc-api, written into the ledger on the way.

use std::collections::VecDeque;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use rc_api::models::CallLogRecord;
use vault::{CallSearch, Catalog, Source, TelephonySessionId};

use super::plan;

/// Most telephony sessions one conversation may span (a chain of attended
/// transfers); a bound so a corrupt link cycle cannot run away.
pub const MAX_SESSIONS: usize = 16;

/// How far around a known time the catalog is searched for a session's records.
const CATALOG_WINDOW_HOURS: i64 = 12;

/// How far around a known time the call log is asked for a session's records.
const CALL_LOG_WINDOW_DAYS: i64 = 1;

/// How far back the call log is asked when nothing dates the session (the
/// recording retention).
const UNDATED_DAYS: i64 = 90;

/// The records of a conversation and its sessions in order.
#[derive(Debug, Default)]
pub struct Gathered {
    /// Telephony sessions, the asked-for one's chain in time order.
    pub sessions: Vec<String>,
    /// Every record of those sessions.
    pub records: Vec<CallLogRecord>,
}

/// A time the catalog knows for `session`: its conversation's start or a
/// recording's call start.
pub async fn session_time(
    catalog: &Catalog,
    session: &TelephonySessionId,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    if let Some(id) = catalog.conversation_for_session(session).await?
        && let Some(c) = catalog.conversation(&id).await?
        && let Some(t) = c.started_at
    {
        return Ok(Some(t));
    }
    let recs = catalog.recordings_for_session(session).await?;
    Ok(recs.iter().find_map(|r| r.call_start_time))
}

/// The stored records of one session (raw JSON re-read as rc-api records).
pub async fn catalog_records(
    catalog: &Catalog,
    session: &TelephonySessionId,
) -> anyhow::Result<Vec<CallLogRecord>> {
    let Some(t) = session_time(catalog, session).await? else {
        return Ok(Vec::new());
    };
    let window = Duration::hours(CATALOG_WINDOW_HOURS);
    let mut out = Vec::new();
    let mut offset = 0u64;
    loop {
        let page = catalog
            .search_calls(&CallSearch {
                from: Some(t - window),
                to: Some(t + window),
                limit: 1000,
                offset,
                ..Default::default()
            })
            .await
            .context("searching the catalog")?;
        let n = page.len();
        for call in page {
            if call.telephony_session_id.as_ref() != Some(session) {
                continue;
            }
            let Some(raw) = catalog.call_record_raw(&call.id).await? else {
                continue;
            };
            let rec: CallLogRecord = serde_json::from_value(raw)
                .with_context(|| format!("re-reading call record {}", call.id))?;
            out.push(rec);
        }
        if n < 1000 {
            break;
        }
        offset += 1000;
    }
    Ok(out)
}

/// Gathers `start`'s conversation from the catalog, following transfer links
/// when `follow` is set.
///
/// Following, the walk also starts from every session the catalog already
/// joined into `start`'s conversation (attended transfers the webhooks
/// reported): RingCentral may name the link on one side only (the second
/// session's `transferee`), so from the first session alone the second
/// could not be found.
pub async fn from_catalog(
    catalog: &Catalog,
    start: &TelephonySessionId,
    follow: bool,
) -> anyhow::Result<Gathered> {
    let mut starts = vec![start.clone()];
    if follow
        && let Some(id) = catalog.conversation_for_session(start).await?
        && let Some(conversation) = catalog.conversation(&id).await?
    {
        starts.extend(conversation.sessions.into_iter().filter(|s| s != start));
    }
    walk(&starts, follow, |s| async move {
        catalog_records(catalog, &s).await
    })
    .await
}

/// Gathers `start`'s conversation from the company call log, writing every
/// record into the ledger (which enqueues the missing downloads).
pub async fn from_call_log(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    start: &TelephonySessionId,
    follow: bool,
) -> anyhow::Result<Gathered> {
    walk(std::slice::from_ref(start), follow, |s| async move {
        let around = session_time(catalog, &s).await?;
        let (from, to) = match around {
            Some(t) => (
                t - Duration::days(CALL_LOG_WINDOW_DAYS),
                t + Duration::days(CALL_LOG_WINDOW_DAYS),
            ),
            None => (Utc::now() - Duration::days(UNDATED_DAYS), Utc::now()),
        };
        let records = client
            .call_log_by_session(&s, from, to)
            .await
            .with_context(|| format!("reading the call log of session {s}"))?;
        for rec in &records {
            crate::sync::ledger::record(catalog, rec, Source::Sync)
                .await
                .with_context(|| format!("recording call {}", rec.id))?;
        }
        Ok(records)
    })
    .await
}

/// Breadth-first over sessions linked by transfers; sessions end up ordered
/// by their earliest record.
async fn walk<F, Fut>(
    starts: &[TelephonySessionId],
    follow: bool,
    fetch: F,
) -> anyhow::Result<Gathered>
where
    F: Fn(TelephonySessionId) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<Vec<CallLogRecord>>>,
{
    let mut seen: Vec<String> = starts.iter().map(|s| s.as_str().to_owned()).collect();
    let mut queue: VecDeque<TelephonySessionId> = starts.iter().cloned().collect();
    let mut firsts: Vec<(Option<DateTime<Utc>>, String)> = Vec::new();
    let mut records = Vec::new();
    while let Some(session) = queue.pop_front() {
        let recs = fetch(session.clone()).await?;
        if follow {
            for rec in &recs {
                for linked in plan::linked_sessions(rec) {
                    if seen.contains(&linked) || seen.len() >= MAX_SESSIONS {
                        continue;
                    }
                    let id = TelephonySessionId::parse(&linked)
                        .with_context(|| format!("linked session id {linked:?}"))?;
                    seen.push(linked);
                    queue.push_back(id);
                }
            }
        }
        let first = recs.iter().map(|r| r.start_time).min();
        if !recs.is_empty() {
            firsts.push((first, session.as_str().to_owned()));
        }
        records.extend(recs);
    }
    firsts.sort();
    Ok(Gathered {
        sessions: firsts.into_iter().map(|(_, s)| s).collect(),
        records,
    })
}
