//! Batched call-log looks: one account-level call-log query serves every
//! session job waiting for its records.
//!
//! Every call-log read is a Heavy request, RingCentral's scarcest budget
//! (10 a minute per user and app by default), and every recording download
//! needs one too. Reading the call log once per waiting session, along its
//! retry ladder, spent nearly a second Heavy request per recording. Here a
//! session job that misses records only asks for a look ([`request`]) at
//! the next point of its ladder; the one `calllog_look` job ([`Job::Look`],
//! dedupe key `calllog-look`, run by the gateway) lists the company call log from the
//! oldest waiting session's start (minus [`MARGIN`]) to RingCentral's now,
//! `view=Detailed`, `recordingType=All`, 1,000 records a page, writes every
//! record into the ledger (which enqueues the downloads) and wakes the
//! session jobs of the sessions it listed.
//!
//! How often is decided from the Heavy budget: never sooner than
//! [`LiveConfig::look_min_gap`] after the last look, nor sooner than one
//! Heavy slot at the limit in force. While downloads are due, looks take
//! at most one slot in [`BUDGET_SHARE`]: whatever the call rate, the
//! downloads keep most of the budget, and one look serves however many
//! sessions wait. With no download due, the budget would go unused: the
//! waiting sessions get their look at the next slot. How long a session
//! has waited sets when it asks ([`LiveConfig::schedule`]'s ladder from
//! its call's end).

use std::collections::BTreeSet;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use futures::TryStreamExt;
use vault::{Catalog, JobState, Source, TelephonySessionId};

use super::LiveConfig;
use crate::jobs::{Job, JobKind};
use crate::sync::ledger;

/// Catalog setting: when the last look started (RFC 3339, our clock).
const LAST_LOOK_SETTING: &str = "live.last_calllog_look";

/// How far before the oldest waiting session's first event a look starts
/// (a record's `startTime` is the call's start, which the first event may
/// trail by the ring time).
pub const MARGIN: Duration = Duration::minutes(5);

/// How far back a look ever reaches: a session older than this waits for
/// the safety-net sync instead.
const MAX_SPAN: Duration = Duration::hours(6);

/// Looks take at most one Heavy slot in this many.
const BUDGET_SHARE: i32 = 5;

/// What one look did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Looked {
    /// Session jobs waiting when it started.
    pub waiting: usize,
    /// Records listed.
    pub records: usize,
    /// Session jobs woken (their sessions were listed).
    pub woken: usize,
}

/// Asks for a look at `at` (our clock) or soon after: enqueues the look job,
/// or brings a pending one forward. Never sooner than the pacing allows.
pub async fn request(
    catalog: &Catalog,
    client: &rc_api::RcClient,
    config: &LiveConfig,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let at = at.max(earliest_next(catalog, client, config).await?);
    // One look at a time: requests while one is pending join it.
    let job = Job::Look
        .to_new_job()
        .run_at(at)
        .priority(crate::priority::LIVE);
    if let vault::Enqueued::AlreadyLive(_) = catalog.enqueue(&job).await? {
        catalog
            .due_by(JobKind::Look.as_str(), &Job::Look.dedupe_key(), at)
            .await?;
    }
    Ok(())
}

/// The soonest the next look may run: the last one plus the gap.
async fn earliest_next(
    catalog: &Catalog,
    client: &rc_api::RcClient,
    config: &LiveConfig,
) -> anyhow::Result<DateTime<Utc>> {
    let Some(last) = catalog.setting(LAST_LOOK_SETTING).await? else {
        return Ok(Utc::now());
    };
    let Ok(last) = DateTime::parse_from_rfc3339(&last) else {
        return Ok(Utc::now());
    };
    let downloads_due = catalog
        .next_run_at(&[JobKind::Download.as_str()])
        .await?
        .is_some_and(|next| next <= Utc::now());
    let share = if downloads_due { BUDGET_SHARE } else { 1 };
    Ok(last.with_timezone(&Utc) + gap(client, config, share))
}

/// The gap between two looks: the configured minimum, or `share` Heavy
/// slots at the limit in force, whichever is longer.
fn gap(client: &rc_api::RcClient, config: &LiveConfig, share: i32) -> Duration {
    let heavy = client
        .rate_limit_metrics()
        .into_iter()
        .find(|m| m.group.as_str() == "heavy");
    let slot = heavy
        .and_then(|m| Some((m.window?, m.limit?)))
        .filter(|(_, limit)| *limit > 0)
        .and_then(|(window, limit)| Duration::from_std(window / limit).ok())
        .unwrap_or(Duration::zero());
    config.look_min_gap.max(slot * share)
}

/// Runs one look (the job's body; the caller settles the job).
pub async fn look(client: &rc_api::RcClient, catalog: &Catalog) -> anyhow::Result<Looked> {
    catalog
        .set_setting(LAST_LOOK_SETTING, &Utc::now().to_rfc3339())
        .await?;
    let now = client.server_clock().now();
    let waiting = waiting_sessions(catalog).await?;
    let Some(oldest) = oldest_start(catalog, &waiting).await? else {
        return Ok(Looked {
            waiting: waiting.len(),
            records: 0,
            woken: 0,
        });
    };
    let from = (oldest - MARGIN).max(now - MAX_SPAN);
    let query = rc_api::CallLogQuery::new(from, now);
    let records: Vec<_> = client
        .list_company_call_log_records(&query)
        .try_collect()
        .await
        .with_context(|| format!("listing the call log {from} .. {now}"))?;
    for chunk in records.chunks(crate::sync::LEDGER_BATCH) {
        ledger::records(catalog, chunk, Source::Webhook).await?;
    }
    let listed: BTreeSet<&str> = records
        .iter()
        .flat_map(crate::stitching::plan::sessions_named)
        .collect();
    let mut woken = 0;
    for session in waiting.iter().filter(|t| listed.contains(t.as_str())) {
        let job = Job::Session {
            session: session.clone(),
        };
        if job.run_now(catalog).await? {
            woken += 1;
        }
    }
    tracing::debug!(
        waiting = waiting.len(),
        records = records.len(),
        woken,
        "call log looked at"
    );
    Ok(Looked {
        waiting: waiting.len(),
        records: records.len(),
        woken,
    })
}

/// Sessions whose job is waiting (for its end, the call log or downloads).
async fn waiting_sessions(catalog: &Catalog) -> anyhow::Result<Vec<TelephonySessionId>> {
    let mut out = Vec::new();
    for state in [JobState::Queued, JobState::Retry] {
        for job in catalog
            .jobs_of_kind_in_state(JobKind::Session.as_str(), state, 100_000)
            .await?
        {
            if let Ok(Job::Session { session }) = Job::parse(&job.kind, &job.payload) {
                out.push(session);
            }
        }
    }
    Ok(out)
}

/// The earliest start the catalog knows among `sessions`.
async fn oldest_start(
    catalog: &Catalog,
    sessions: &[TelephonySessionId],
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let mut oldest: Option<DateTime<Utc>> = None;
    for tsid in sessions {
        let Some(id) = catalog.conversation_for_session(tsid).await? else {
            continue;
        };
        if let Some(started) = catalog.conversation(&id).await?.and_then(|c| c.started_at) {
            oldest = Some(oldest.map_or(started, |o| o.min(started)));
        }
    }
    Ok(oldest)
}
