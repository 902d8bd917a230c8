//! `sync --plan`: what a sync of a range would do, read without writing.
//!
//! It lists the call log as a sync does and compares each record and
//! recording with the catalog, but writes nothing: no ledger row, no job,
//! no watermark, no rate snapshot. A plan is a question, and asking it
//! twice must give the same answer.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use futures::StreamExt;
use vault::Catalog;

use super::{Progress, WINDOW};

/// What a sync of the range would find.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Call records in range.
    pub records: u64,
    /// Of those, records the ledger does not have yet.
    pub new_records: u64,
    /// Recordings the records in range name.
    pub recordings: u64,
    /// Of those, distinct recordings the ledger does not have yet.
    pub new_recordings: u64,
}

/// Lists `[from, to)` from RingCentral and compares it with `catalog`,
/// read-only.
pub async fn plan(
    client: &rc_api::RcClient,
    catalog: &Catalog,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    progress: &Progress,
) -> anyhow::Result<Plan> {
    let mut plan = Plan::default();
    let mut seen_records = HashSet::new();
    let mut seen_recordings = HashSet::new();
    let mut start = from;
    while start < to {
        let end = (start + Duration::days(WINDOW)).min(to);
        let query = rc_api::CallLogQuery::new(start, end);
        let mut pages = std::pin::pin!(client.list_company_call_log_records(&query));
        while let Some(rec) = pages.next().await {
            let rec = rec.with_context(|| format!("listing the call log {start} .. {end}"))?;
            progress.records.fetch_add(1, Ordering::Relaxed);
            // Counted as a sync's report counts them; checked once each.
            plan.records += 1;
            let recordings = rec.recordings();
            plan.recordings += recordings.len() as u64;
            if seen_records.insert(rec.id.clone()) && catalog.call_record(&rec.id).await?.is_none()
            {
                plan.new_records += 1;
            }
            for info in recordings {
                if !seen_recordings.insert(info.id.clone()) {
                    continue;
                }
                if catalog.recording(&info.id).await?.is_none() {
                    plan.new_recordings += 1;
                }
            }
        }
        start = end;
    }
    Ok(plan)
}
