//! Queue priorities: live work before backfill.
//!
//! Live backup and a long backfill (`callvault sync`, or the safety-net sync
//! after an outage) share one Heavy budget and one queue, which serves the
//! highest priority first and, within one, the longest due. Without
//! priorities a call that ended a minute ago waits behind every download of
//! a year's backfill. So everything a live call needs (its session job, the
//! batched look, its downloads and its stitch) runs at [`LIVE`], and the
//! backfill fills the budget the live calls leave. Live jobs that only wait
//! are woken by the event they wait for rather than polling, so they cannot
//! crowd the backfill out either; it still finishes.

/// Jobs of calls heard live (webhooks), and what they wait on.
pub const LIVE: i64 = 10;

/// Downloads a call-log sync found (backfill and safety net).
pub const BACKFILL: i64 = 0;

/// The priority of a download found by `source`.
pub fn of_download(source: vault::Source) -> i64 {
    match source {
        vault::Source::Webhook => LIVE,
        vault::Source::Sync => BACKFILL,
    }
}

/// Records management's standing jobs (retention runs, deletions at the
/// source): they wait behind live work and backfill alike, so a deletion at
/// RingCentral never spends Heavy budget a backup could use.
pub const RECORDS: i64 = -10;
