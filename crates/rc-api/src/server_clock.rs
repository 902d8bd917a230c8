//! RingCentral's clock, as the `Date` header of its answers tells it.
//!
//! Call-log start times, telephony event times and subscription expiries are
//! stamped by RingCentral's clock. A schedule measured from them (try a
//! recording again 30 s after the call ended, call it gone 24 h after) must
//! compare them with RingCentral's "now", not ours: a local clock some
//! minutes off, or a sandbox running faster than real time, would otherwise
//! give up too early or wait for a moment that never comes.
//!
//! So the clock learns both how far RingCentral is ahead and how fast its
//! clock runs against ours. A fixed offset is not enough: against a sandbox
//! running 30× fast, an offset learnt a few seconds ago already lags by
//! minutes, and every "wake me when RingCentral shows T" fires late. The rate
//! is measured over a window of answers (the header has a one-second
//! resolution, so only spans of several seconds tell a rate); a rate within
//! that resolution of one is one, and an offset within it is none, so the
//! real platform and a synchronised host count as one clock. An answer far
//! from what the model predicts (either clock was stepped) starts the
//! measurement afresh.

use std::collections::VecDeque;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use reqwest::header::{DATE, HeaderMap};

/// Offsets this small are the `Date` header's resolution, not a difference.
const DEAD_BAND_MS: i64 = 2_000;
/// The shortest local span over which a rate is measured. Over short spans
/// the header's one-second resolution is a large error, so a rate is taken
/// as one unless it differs from one by more than that error.
const MIN_RATE_SPAN_MS: i64 = 1_000;
/// Answers older than this no longer take part in the rate (a long window
/// smooths the resolution; a bounded one follows a changed rate).
const RATE_WINDOW_MS: i64 = 15 * 60_000;
/// A sample is kept only this far from the one before the newest (bounds
/// memory at any answer rate: at most `2 × RATE_WINDOW_MS /
/// SAMPLE_SPACING_MS` of them).
const SAMPLE_SPACING_MS: i64 = 1_000;
/// An answer this far (in local time) from the model's prediction means a
/// clock was stepped: the measurement starts again from it.
const JUMP_MS: i64 = 5_000;

/// One answer: when it arrived here, and the time RingCentral stamped on it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    local: DateTime<Utc>,
    server: DateTime<Utc>,
}

/// The learnt relation between the clocks: `server = base.server +
/// rate × (local − base.local)`, or, at rate one, `server = local + offset`.
#[derive(Debug, Default)]
struct Model {
    /// Answers within the rate window, oldest first, newest last.
    samples: VecDeque<Sample>,
    /// RingCentral seconds per local second (1.0 until measured otherwise).
    rate: Option<f64>,
}

impl Model {
    fn rate(&self) -> f64 {
        self.rate.unwrap_or(1.0)
    }

    /// RingCentral's time at local moment `local`.
    fn server_at(&self, local: DateTime<Utc>) -> DateTime<Utc> {
        let Some(base) = self.samples.back() else {
            return local;
        };
        let rate = self.rate();
        if rate == 1.0 {
            return local + self.unit_offset(base);
        }
        base.server + scale(local - base.local, rate)
    }

    /// The local moment at which RingCentral shows `server`.
    fn local_at(&self, server: DateTime<Utc>) -> DateTime<Utc> {
        let Some(base) = self.samples.back() else {
            return server;
        };
        let rate = self.rate();
        if rate == 1.0 {
            return server - self.unit_offset(base);
        }
        base.local + scale(server - base.server, 1.0 / rate)
    }

    /// At rate one: the offset, with the header's resolution read as none.
    fn unit_offset(&self, base: &Sample) -> Duration {
        let offset = (base.server - base.local).num_milliseconds();
        if offset.abs() < DEAD_BAND_MS {
            Duration::zero()
        } else {
            Duration::milliseconds(offset)
        }
    }

    fn observe(&mut self, sample: Sample) {
        if let Some(last) = self.samples.back().copied()
            && (sample.local < last.local || self.stepped(sample))
        {
            self.samples.clear();
        }
        let len = self.samples.len();
        if len >= 2
            && (sample.local - self.samples[len - 2].local).num_milliseconds() < SAMPLE_SPACING_MS
        {
            // Too close to the one before to tell anything new: the newer
            // stamp (the same or a later second) takes the newest's place.
            self.samples.pop_back();
        }
        self.samples.push_back(sample);
        while self.samples.len() > 2
            && self
                .samples
                .front()
                .is_some_and(|o| (sample.local - o.local).num_milliseconds() > RATE_WINDOW_MS)
        {
            self.samples.pop_front();
        }
        self.measure_rate();
    }

    /// Whether `sample` is so far from what a measured rate predicts that a
    /// clock was stepped. Before a rate is measured any answer is news.
    fn stepped(&self, sample: Sample) -> bool {
        if self.rate.is_none() {
            return false;
        }
        let off_by = (sample.server - self.server_at(sample.local)).num_milliseconds();
        off_by.unsigned_abs() as f64 / self.rate().max(1.0) > JUMP_MS as f64
    }

    fn measure_rate(&mut self) {
        let (Some(oldest), Some(newest)) = (self.samples.front(), self.samples.back()) else {
            return;
        };
        let span_ms = (newest.local - oldest.local).num_milliseconds();
        if span_ms < MIN_RATE_SPAN_MS {
            return;
        }
        let server_ms = (newest.server - oldest.server).num_milliseconds();
        let measured = server_ms as f64 / span_ms as f64;
        // Each stamp is truncated to its second, so the server span is off by
        // under a second: a rate that close to one is one.
        let resolution = 1_000.0 / span_ms as f64;
        self.rate = if (measured - 1.0).abs() <= resolution * 1.5 {
            Some(1.0)
        } else if measured > 0.0 {
            Some(measured)
        } else {
            // A clock running backwards is a step the jump test missed.
            None
        };
    }
}

/// `d × factor`, at millisecond precision.
fn scale(d: Duration, factor: f64) -> Duration {
    Duration::milliseconds((d.num_milliseconds() as f64 * factor).round() as i64)
}

/// RingCentral's clock against ours (shared by every request of one
/// [`crate::RcClient`]).
#[derive(Debug, Default)]
pub struct ServerClock {
    model: Mutex<Model>,
}

impl ServerClock {
    /// Learns from an answer's `Date` header (ignored when absent or
    /// unparsable: what was learnt stays).
    pub(crate) fn observe(&self, headers: &HeaderMap) {
        let Some(date) = headers.get(DATE).and_then(|v| v.to_str().ok()) else {
            return;
        };
        // IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT") is RFC 2822 syntax.
        let Ok(server) = DateTime::parse_from_rfc2822(date) else {
            return;
        };
        self.observe_at(Utc::now(), server.with_timezone(&Utc));
    }

    fn observe_at(&self, local: DateTime<Utc>, server: DateTime<Utc>) {
        self.lock().observe(Sample { local, server });
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Model> {
        // The model is plain data, valid after any panic mid-update.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// RingCentral's time minus ours, now.
    pub fn offset(&self) -> Duration {
        let local = Utc::now();
        self.lock().server_at(local) - local
    }

    /// RingCentral seconds per local second: 1.0 for the real platform; more
    /// for a sandbox running fast.
    pub fn rate(&self) -> f64 {
        self.lock().rate()
    }

    /// Whether answers far enough apart have measured the rate. Until then
    /// (a process that has made only its first few requests) RingCentral's
    /// "now" is a guess that may lag a fast clock badly: a schedule should
    /// not wait on it.
    pub fn rate_known(&self) -> bool {
        self.lock().rate.is_some()
    }

    /// RingCentral's "now", to compare with the times it stamps.
    pub fn now(&self) -> DateTime<Utc> {
        self.lock().server_at(Utc::now())
    }

    /// The local moment at which RingCentral's clock will show `server_time`:
    /// what a local timer or job queue must wait for.
    pub fn to_local(&self, server_time: DateTime<Utc>) -> DateTime<Utc> {
        self.lock().local_at(server_time)
    }

    /// A span of RingCentral's time as local time (a pace of "every 30 s of
    /// call time" against a fast sandbox).
    pub fn to_local_span(&self, server_span: Duration) -> Duration {
        scale(server_span, 1.0 / self.rate())
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

    /// A stamp as the header carries it: truncated to the second.
    fn stamp(t: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::from_timestamp(t.timestamp(), 0).unwrap()
    }

    fn secs(s: f64) -> Duration {
        Duration::milliseconds((s * 1000.0) as i64)
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

    #[test]
    fn a_server_running_thirty_times_fast_is_followed_between_answers() {
        let clock = ServerClock::default();
        let local0 = Utc::now();
        let server0 = local0 + Duration::hours(2);
        // Answers every 0.7 s for 20 s, each stamped to its second.
        for i in 0..30 {
            let local = local0 + secs(0.7 * i as f64);
            clock.observe_at(local, stamp(server0 + scale(local - local0, 30.0)));
        }
        let rate = clock.rate();
        assert!(clock.rate_known());
        assert!((29.0..=31.0).contains(&rate), "rate {rate}");
        // Ten local seconds after the last answer, RingCentral is 300 s on.
        let last_local = local0 + secs(0.7 * 29.0);
        let later = last_local + Duration::seconds(10);
        let truth = server0 + scale(later - local0, 30.0);
        let model = clock.lock().server_at(later);
        let err = (model - truth).num_seconds().abs();
        assert!(err <= 5, "RingCentral's now off by {err} s of 300");
        // A moment 60 s ahead on RingCentral's clock is 2 s ahead here.
        let wait = clock.lock().local_at(truth + Duration::seconds(60)) - later;
        assert!(
            (1_800..=2_200).contains(&wait.num_milliseconds()),
            "waits {wait}"
        );
        assert_eq!(clock.to_local_span(Duration::seconds(60)).num_seconds(), 2);
    }

    #[test]
    fn answers_a_second_apart_already_tell_a_fast_clock_but_not_a_slow_drift() {
        let clock = ServerClock::default();
        let local0 = Utc::now();
        clock.observe_at(local0, stamp(local0));
        clock.observe_at(local0 + secs(0.3), stamp(local0 + secs(9.0)));
        assert!(!clock.rate_known(), "0.3 s tells nothing");
        clock.observe_at(local0 + secs(1.5), stamp(local0 + secs(45.0)));
        assert!(clock.rate_known());
        assert!((25.0..=35.0).contains(&clock.rate()), "{}", clock.rate());

        let real = ServerClock::default();
        real.observe_at(local0, stamp(local0 + secs(0.9)));
        real.observe_at(local0 + secs(1.2), stamp(local0 + secs(2.3)));
        assert_eq!(real.rate(), 1.0, "a second's resolution is no drift");
        assert!(real.rate_known());
    }

    #[test]
    fn a_server_at_our_rate_stays_at_rate_one_despite_the_header_resolution() {
        let clock = ServerClock::default();
        let local0 = Utc::now();
        for i in 0..40 {
            let local = local0 + secs(0.45 * i as f64);
            clock.observe_at(local, stamp(local - Duration::minutes(7)));
        }
        assert_eq!(clock.rate(), 1.0);
        let off = (clock.lock().server_at(local0) - local0).num_seconds();
        assert!((-421..=-419).contains(&off), "offset {off} s");
    }

    #[test]
    fn a_stepped_clock_starts_the_measurement_afresh() {
        let clock = ServerClock::default();
        let local0 = Utc::now();
        for i in 0..20 {
            let local = local0 + Duration::seconds(i);
            clock.observe_at(local, stamp(local));
        }
        assert_eq!(clock.rate(), 1.0);
        // RingCentral's clock is set an hour on: no rate of 3,600 is learnt.
        for i in 20..30 {
            let local = local0 + Duration::seconds(i);
            clock.observe_at(local, stamp(local + Duration::hours(1)));
        }
        assert_eq!(clock.rate(), 1.0);
        let off = (clock.lock().server_at(local0) - local0).num_seconds();
        assert!((3_598..=3_601).contains(&off), "offset {off} s");
    }

    #[test]
    fn memory_stays_bounded_at_any_answer_rate() {
        let clock = ServerClock::default();
        let local0 = Utc::now();
        for i in 0..100_000 {
            let local = local0 + Duration::milliseconds(i * 20);
            clock.observe_at(local, stamp(local));
        }
        let kept = clock.lock().samples.len() as i64;
        // Every other sample is at least the spacing apart.
        assert!(kept <= 2 * RATE_WINDOW_MS / SAMPLE_SPACING_MS + 2, "{kept}");
    }
}
