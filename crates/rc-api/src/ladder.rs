//! When to try again something RingCentral does not have yet, measured
//! from the call's end: one [`Ladder`] type for both waits of the recording
//! path.
//!
//! - **A recording's content** appears "shortly after the call concludes"
//!   (demos wait 20–40 s; the guide warns of minutes), while a deleted or
//!   purged recording answers the same 404 `CMN-102`. The rule
//!   ([`Ladder::recording_content`]): a recording id seen in the call log
//!   that still answers 404 after [`Ladder::give_up_after`] (24 h) measured
//!   **from the call's end** is gone for good; before that it is retried at
//!   the ladder's steps, also measured from the call's end. Nothing is
//!   fetched before the first step ([`Ladder::first_try`]): every try is a
//!   Heavy request, and one spent on a 404 is one not spent on a recording.
//!   The first step is a minute, past the demos' 20–40 s.
//! - **A call's records in the call log** ([`Ladder::call_log_records`]):
//!   the call log catches up within a minute or so; a session waiting for
//!   its records looks again at each step. Its deadline is the caller's
//!   (a conversation is flagged incomplete, not gone).
//!
//! The call's end is a time RingCentral stamped, so "now" must be
//! RingCentral's too ([`crate::ServerClock`]). Should the two clocks still
//! disagree, [`Ladder::min_gap`] and [`Ladder::max_gap`] keep a waiter from
//! busy-looping or sleeping for hours.

use chrono::{DateTime, Duration, Utc};

/// Tries at fixed offsets from a call's end, then every last step, each
/// gap clamped, with an optional point after which the thing is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ladder {
    /// Offsets from the call's end at which to try, ascending; past the
    /// last one, every last step again.
    pub steps: Vec<Duration>,
    /// Shortest gap between a try and the next.
    pub min_gap: Duration,
    /// Longest gap between a try and the next.
    pub max_gap: Duration,
    /// After this long past the call's end, stop: [`Verdict::Gone`].
    pub give_up_after: Option<Duration>,
}

/// What to do with something that was not there yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Stop: treat it as gone (a recording deleted or purged).
    Gone,
}

impl Ladder {
    /// A recording's content: 1, 2, 5, 10, 30 minutes, 1, 2, 6, 12, 24
    /// hours after the call's end; a 404 at 24 hours means gone.
    pub fn recording_content() -> Ladder {
        Ladder {
            steps: [60, 120, 300, 600, 1800, 3600, 7200, 21_600, 43_200, 86_400]
                .into_iter()
                .map(Duration::seconds)
                .collect(),
            min_gap: Duration::zero(),
            max_gap: Duration::hours(24),
            give_up_after: Some(Duration::hours(24)),
        }
    }

    /// A call's records in the call log: 30 s, 1, 2, 4, 8, 15, 30, 60
    /// minutes after the call's end, then hourly; never less than 10 s
    /// apart.
    pub fn call_log_records() -> Ladder {
        let m = Duration::minutes;
        Ladder {
            steps: vec![
                Duration::seconds(30),
                m(1),
                m(2),
                m(4),
                m(8),
                m(15),
                m(30),
                m(60),
            ],
            min_gap: Duration::seconds(10),
            max_gap: m(60),
            give_up_after: None,
        }
    }

    /// This ladder with every step replaced by `step` per `unit` of it
    /// (at least one step each): production's shape at a test's pace.
    pub fn scaled(&self, unit: Duration, step: Duration) -> Ladder {
        let unit_secs = unit.num_seconds().max(1);
        let scale = |d: Duration| {
            step * i32::try_from((d.num_seconds() / unit_secs).max(1)).unwrap_or(i32::MAX)
        };
        Ladder {
            steps: self.steps.iter().copied().map(scale).collect(),
            ..self.clone()
        }
    }

    /// The first moment worth trying for a call that ended at `call_end`:
    /// the first step.
    pub fn first_try(&self, call_end: DateTime<Utc>) -> DateTime<Utc> {
        call_end + self.steps.first().copied().unwrap_or(self.min_gap)
    }

    /// The next try after `now` for a call that ended at `call_end`: the
    /// first step after `now` (or `now` plus the last step past the
    /// ladder), clamped into `[now + min_gap, now + max_gap]`, and never
    /// past the give-up point.
    pub fn next(&self, call_end: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        let last = self.steps.last().copied().unwrap_or(self.max_gap);
        let wanted = self
            .steps
            .iter()
            .map(|s| call_end + *s)
            .find(|t| *t > now)
            .unwrap_or(now + last);
        let next = wanted.clamp(now + self.min_gap, now + self.max_gap.max(self.min_gap));
        match self.give_up_after {
            Some(after) => next.min((call_end + after).max(now)),
            None => next,
        }
    }

    /// The verdict for a miss observed at `now` on a call that ended at
    /// `call_end`.
    pub fn verdict(&self, call_end: DateTime<Utc>, now: DateTime<Utc>) -> Verdict {
        match self.give_up_after {
            Some(after) if now >= call_end + after => Verdict::Gone,
            _ => Verdict::RetryAt(self.next(call_end, now)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn content_retries_are_measured_from_the_call_end_and_stop_at_the_deadline() {
        let s = Ladder::recording_content();
        let end = t("2026-11-25T10:00:00Z");
        assert_eq!(s.first_try(end), t("2026-11-25T10:01:00Z"));
        assert_eq!(
            s.verdict(end, t("2026-11-25T10:00:10Z")),
            Verdict::RetryAt(t("2026-11-25T10:01:00Z"))
        );
        assert_eq!(
            s.verdict(end, t("2026-11-25T10:03:00Z")),
            Verdict::RetryAt(t("2026-11-25T10:05:00Z"))
        );
        assert_eq!(
            s.verdict(end, t("2026-11-26T09:00:00Z")),
            Verdict::RetryAt(t("2026-11-26T10:00:00Z"))
        );
        assert_eq!(s.verdict(end, t("2026-11-26T10:00:00Z")), Verdict::Gone);
    }

    #[test]
    fn call_log_tries_follow_the_ladder_from_the_call_end() {
        let s = Ladder::call_log_records();
        let end = at(0);
        assert_eq!(s.first_try(end), at(30));
        assert_eq!(s.next(end, at(5)), at(30));
        assert_eq!(s.next(end, at(30)), at(60));
        assert_eq!(s.next(end, at(100)), at(120));
        assert_eq!(s.next(end, at(3 * 3600)), at(4 * 3600));
        assert_eq!(
            s.verdict(end, at(100 * 3600)),
            Verdict::RetryAt(at(101 * 3600))
        );
    }

    #[test]
    fn gaps_are_clamped_when_the_clocks_disagree() {
        let s = Ladder::call_log_records();
        // The call "ended" far in our future: no sleeping for hours.
        assert_eq!(s.next(at(10_000_000), at(0)), at(3600));
        // Just before a ladder point: never a busy loop.
        assert_eq!(s.next(at(0), at(29)), at(39));
    }

    #[test]
    fn a_scaled_ladder_keeps_the_shape_and_the_give_up_point() {
        let paced =
            Ladder::recording_content().scaled(Duration::seconds(15), Duration::milliseconds(100));
        assert_eq!(paced.steps[0], Duration::milliseconds(400));
        assert_eq!(paced.steps[1], Duration::milliseconds(800));
        assert_eq!(paced.give_up_after, Some(Duration::hours(24)));
    }
}
