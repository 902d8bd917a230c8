//! When a session job looks at the call log again: a ladder measured from
//! the call's end, both on RingCentral's clock (the call's end is an event
//! time it stamped; "now" is `rc_api::ServerClock`), clamped so a job never
//! busy-loops nor sleeps for hours should the two still disagree.

use chrono::{DateTime, Duration, Utc};

/// Retry ladder for waiting on the call log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    /// Offsets from the call's end, ascending; after the last one, every
    /// `steps.last()` again.
    pub steps: Vec<Duration>,
    /// Shortest gap between two tries.
    pub min_gap: Duration,
    /// Longest gap between two tries.
    pub max_gap: Duration,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        let m = Duration::minutes;
        RetrySchedule {
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
        }
    }
}

impl RetrySchedule {
    /// The first moment the call log may hold a call that ended at
    /// `call_end`: the ladder's first point.
    pub fn first_look(&self, call_end: DateTime<Utc>) -> DateTime<Utc> {
        call_end + self.steps.first().copied().unwrap_or(self.min_gap)
    }

    /// The next try after `now` for a call that ended at `call_end`: the
    /// first ladder point after `now` (or `now` plus the last step past the
    /// ladder), then clamped into `[now + min_gap, now + max_gap]`.
    pub fn next(&self, call_end: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
        let last = self.steps.last().copied().unwrap_or(self.max_gap);
        let wanted = self
            .steps
            .iter()
            .map(|s| call_end + *s)
            .find(|t| *t > now)
            .unwrap_or(now + last);
        wanted.clamp(now + self.min_gap, now + self.max_gap.max(self.min_gap))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + secs, 0).unwrap()
    }

    #[test]
    fn tries_follow_the_ladder_from_the_call_end() {
        let s = RetrySchedule::default();
        let end = at(0);
        assert_eq!(s.next(end, at(5)), at(30));
        assert_eq!(s.next(end, at(30)), at(60));
        assert_eq!(s.next(end, at(100)), at(120));
        assert_eq!(s.next(end, at(3 * 3600)), at(4 * 3600));
    }

    #[test]
    fn gaps_are_clamped_when_the_clocks_disagree() {
        let s = RetrySchedule::default();
        // The call "ended" far in our future: no sleeping for hours.
        assert_eq!(s.next(at(10_000_000), at(0)), at(3600));
        // Just before a ladder point: never a busy loop.
        assert_eq!(s.next(at(0), at(29)), at(39));
    }
}
