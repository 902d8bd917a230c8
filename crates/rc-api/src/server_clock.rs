//! RingCentral's clock, as the `Date` header of its answers tells it.
//!
//! Call-log start times, telephony event times and subscription expiries are
//! stamped by RingCentral's clock. A schedule measured from them (try a
//! recording again 30 s after the call ended, call it gone 24 h after) must
//! compare them with RingCentral's "now", not ours: a local clock some
//! minutes off, or a sandbox running faster than real time, would otherwise
//! give up too early or wait for a moment that never comes. Every answer
//! updates the offset; until the first one, and within the header's
//! one-second resolution, the two clocks count as one.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{DATE, HeaderMap};

/// Offsets this small are the `Date` header's resolution, not a difference.
const DEAD_BAND_MS: i64 = 2_000;

/// How far RingCentral's clock is ahead of ours (shared by every request of
/// one [`crate::RcClient`]).
#[derive(Debug, Default)]
pub struct ServerClock {
    /// RingCentral's time minus ours, in ms, as of the last answer.
    offset_ms: AtomicI64,
}

impl ServerClock {
    /// Learns the offset from an answer's `Date` header (ignored when absent
    /// or unparsable: the last known offset stays).
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let Some(date) = headers.get(DATE).and_then(|v| v.to_str().ok()) else {
            return;
        };
        // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax.
        let Ok(server) = DateTime::parse_from_rfc2822(date) else {
            return;
        };
        let offset = (server.with_timezone(&Utc) - Utc::now()).num_milliseconds();
        let offset = if offset.abs() < DEAD_BAND_MS {
            0
        } else {
            offset
        };
        self.offset_ms.store(offset, Ordering::Relaxed);
    }

    /// RingCentral's time minus ours.
    pub fn offset(&self) -> Duration {
        Duration::milliseconds(self.offset_ms.load(Ordering::Relaxed))
    }

    /// RingCentral's "now", to compare with the times it stamps.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }

    /// The local moment at which RingCentral's clock will show `server_time`
    /// (at the current offset): what a local timer or job queue must wait for.
    pub fn to_local(&self, server_time: DateTime<Utc>) -> DateTime<Utc> {
        server_time - self.offset()
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn answer_dated(t: DateTime<Utc>) -> HeaderMap {
        let mut h = HeaderMap::new();
        let text = t.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        h.insert(DATE, HeaderValue::from_str(&text).unwrap());
        h
    }

    #[test]
    fn a_server_an_hour_ahead_shifts_now_and_local_deadlines_by_an_hour() {
        let clock = ServerClock::default();
        clock.observe(&answer_dated(Utc::now() + Duration::hours(1)));
        let off = clock.offset().num_seconds();
        assert!((3_598..=3_601).contains(&off), "offset {off} s");
        let call_end = Utc::now() + Duration::hours(1);
        let local = clock.to_local(call_end + Duration::seconds(30));
        let wait = (local - Utc::now()).num_seconds();
        assert!((27..=33).contains(&wait), "waits {wait} s");
        assert!((clock.now() - call_end).num_seconds().abs() <= 2);
    }

    #[test]
    fn the_header_resolution_and_bad_headers_leave_the_clocks_as_one() {
        let clock = ServerClock::default();
        clock.observe(&HeaderMap::new());
        assert_eq!(clock.offset(), Duration::zero());
        clock.observe(&answer_dated(Utc::now()));
        assert_eq!(clock.offset(), Duration::zero());
        let mut garbage = HeaderMap::new();
        garbage.insert(DATE, HeaderValue::from_static("yesterday-ish"));
        clock.observe(&answer_dated(Utc::now() - Duration::minutes(5)));
        clock.observe(&garbage);
        let off = clock.offset().num_seconds();
        assert!((-301..=-299).contains(&off), "a bad header keeps {off} s");
    }
}
