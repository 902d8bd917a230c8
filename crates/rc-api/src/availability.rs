//! When to retry a recording that answered 404, and when to call it gone.
//!
//! Recording content appears "shortly after the call concludes" (demos wait
//! 20–40 s; the guide warns of minutes), while a deleted or purged recording
//! answers the same 404 `CMN-102`. The rule: a recording id seen in the call
//! log that still answers 404 after [`NotReadySchedule::give_up_after`]
//! (default 24 h) measured **from the call's end** is gone for good; before
//! that it is retried at the schedule's steps, also measured from the call's end.
//! Nothing is fetched before the first step ([`NotReadySchedule::first_try`]):
//! every try is a Heavy request, and one spent on a 404 is one not spent on
//! a recording. The first step is a minute, past the demos' 20–40 s.

use chrono::{DateTime, Duration, Utc};

/// Retry schedule for [`crate::Error::NotReady`].
#[derive(Debug, Clone)]
pub struct NotReadySchedule {
    /// Offsets from the call's end at which to try again, ascending.
    pub steps: Vec<Duration>,
    /// After this long past the call's end, a 404 means gone.
    pub give_up_after: Duration,
}

impl Default for NotReadySchedule {
    fn default() -> Self {
        NotReadySchedule {
            steps: [60, 120, 300, 600, 1800, 3600, 7200, 21_600, 43_200, 86_400]
                .into_iter()
                .map(Duration::seconds)
                .collect(),
            give_up_after: Duration::hours(24),
        }
    }
}

/// What to do with a recording that answered 404.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Try again at this time.
    RetryAt(DateTime<Utc>),
    /// Stop: treat the recording as gone (deleted or purged).
    Gone,
}

impl NotReadySchedule {
    /// The first moment worth asking for the content of a call that ended
    /// at `call_end`: the first step.
    pub fn first_try(&self, call_end: DateTime<Utc>) -> DateTime<Utc> {
        call_end + self.steps.first().copied().unwrap_or_else(Duration::zero)
    }

    /// The verdict for a 404 observed at `now` on a call that ended at `call_end`.
    pub fn verdict(&self, call_end: DateTime<Utc>, now: DateTime<Utc>) -> Verdict {
        let deadline = call_end + self.give_up_after;
        if now >= deadline {
            return Verdict::Gone;
        }
        let next = self
            .steps
            .iter()
            .map(|s| call_end + *s)
            .find(|t| *t > now)
            .unwrap_or(deadline)
            .min(deadline);
        Verdict::RetryAt(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn retries_are_measured_from_the_call_end_and_stop_at_the_deadline() {
        let s = NotReadySchedule::default();
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
}
