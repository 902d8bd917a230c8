//! The arithmetic of capacity planning, kept pure (samples in, figures out)
//! so that it is tested without a clock, a catalog or RingCentral.
//!
//! Every figure is measured over the samples of a recent window:
//! * counters (Heavy requests sent, call-log looks run, recordings the ledger
//!   knows) become rates per minute from the first and last sample, which is
//!   their exact mean over the span;
//! * the backlog is a level, so its trend is the least-squares slope of all
//!   its samples: one download finishing or one look listing a batch moves a
//!   single sample, not the line.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Heavy requests one recording costs: its download. Its call-log record
/// comes in a batched look of up to 1,000 records a page, counted apart
/// (as looks), so it adds next to nothing per recording.
pub const HEAVY_PER_RECORDING: f64 = 1.0;

/// What the gateway reads at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When, in seconds on a monotonic clock of the caller's choosing.
    pub at_secs: f64,
    /// Recordings owed ([`vault::Backlog::recordings`]).
    pub backlog: u64,
    /// Recordings the ledger knows in any state: its growth is the
    /// arrival rate, whichever path (webhook look, sync) listed them.
    pub known: u64,
    /// Heavy requests this process has sent (a counter).
    pub heavy_requests: u64,
    /// Call-log looks this process has run (a counter).
    pub looks: u64,
}

/// The samples of the last window, oldest first; bounded in length so a
/// long-running gateway keeps a fixed amount of memory.
#[derive(Debug, Clone)]
pub struct Samples {
    window_secs: f64,
    max_len: usize,
    items: VecDeque<Sample>,
}

impl Samples {
    /// An empty series keeping `window_secs` of samples, at most `max_len`.
    pub fn new(window_secs: f64, max_len: usize) -> Samples {
        Samples {
            window_secs: window_secs.max(0.0),
            max_len: max_len.max(2),
            items: VecDeque::new(),
        }
    }

    /// Adds `s` and forgets what fell out of the window. A counter that went
    /// backwards (another process's counters, or a restart) starts the
    /// series again: rates across it would be nonsense.
    pub fn push(&mut self, s: Sample) {
        if let Some(last) = self.items.back()
            && (s.heavy_requests < last.heavy_requests
                || s.looks < last.looks
                || s.known < last.known
                || s.at_secs < last.at_secs)
        {
            self.items.clear();
        }
        self.items.push_back(s);
        while self.items.len() > self.max_len
            || self
                .items
                .front()
                .is_some_and(|f| s.at_secs - f.at_secs > self.window_secs)
        {
            self.items.pop_front();
        }
    }

    /// Seconds between the first and last sample kept.
    pub fn span_secs(&self) -> f64 {
        match (self.items.front(), self.items.back()) {
            (Some(f), Some(l)) => l.at_secs - f.at_secs,
            _ => 0.0,
        }
    }

    /// The samples kept, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &Sample> + Clone {
        self.items.iter()
    }

    /// How many samples are kept.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The least-squares slope of `points` (x, y): change of y per unit of x.
/// `None` with fewer than two distinct x.
pub fn least_squares_slope(points: impl Iterator<Item = (f64, f64)> + Clone) -> Option<f64> {
    let (n, sx, sy) = points.clone().fold((0.0, 0.0, 0.0), |(n, sx, sy), (x, y)| {
        (n + 1.0, sx + x, sy + y)
    });
    if n < 2.0 {
        return None;
    }
    let (mx, my) = (sx / n, sy / n);
    let (sxy, sxx) = points.fold((0.0, 0.0), |(sxy, sxx), (x, y)| {
        (sxy + (x - mx) * (y - my), sxx + (x - mx) * (x - mx))
    });
    (sxx > 0.0).then(|| sxy / sxx)
}

/// What the samples of one window say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Seconds of samples these figures come from.
    pub measured_over_secs: f64,
    /// Heavy requests sent per minute.
    pub heavy_used_per_minute: f64,
    /// Heavy requests RingCentral allows per minute (its limit per window,
    /// from the rate-limit headers, scaled to a minute); `None` before the
    /// first Heavy answer.
    pub heavy_allowed_per_minute: Option<f64>,
    /// Recordings arriving (newly listed) per minute.
    pub recordings_arriving_per_minute: f64,
    /// Call-log looks per minute.
    pub looks_per_minute: f64,
    /// Heavy requests per minute the offered load needs: arrivals times
    /// [`HEAVY_PER_RECORDING`], plus the looks.
    pub heavy_needed_per_minute: f64,
    /// Least-squares slope of the backlog, recordings per hour.
    pub backlog_growth_per_hour: f64,
}

impl Figures {
    /// The figures of `samples` with `allowed_per_minute` in force; `None`
    /// until the samples span at least `min_span_secs` (a rate over a few
    /// seconds says more about one look than about the call rate).
    pub fn measure(
        samples: &Samples,
        allowed_per_minute: Option<f64>,
        min_span_secs: f64,
    ) -> Option<Figures> {
        let span = samples.span_secs();
        if span <= 0.0 || span < min_span_secs {
            return None;
        }
        let (first, last) = (samples.items.front()?, samples.items.back()?);
        let per_minute =
            |f: fn(&Sample) -> u64| f(last).saturating_sub(f(first)) as f64 * 60.0 / span;
        let arriving = per_minute(|s| s.known);
        let looks = per_minute(|s| s.looks);
        let growth_per_sec =
            least_squares_slope(samples.iter().map(|s| (s.at_secs, s.backlog as f64)))?;
        Some(Figures {
            measured_over_secs: span,
            heavy_used_per_minute: per_minute(|s| s.heavy_requests),
            heavy_allowed_per_minute: allowed_per_minute.filter(|a| a.is_finite() && *a > 0.0),
            recordings_arriving_per_minute: arriving,
            looks_per_minute: looks,
            heavy_needed_per_minute: arriving * HEAVY_PER_RECORDING + looks,
            backlog_growth_per_hour: growth_per_sec * 3600.0,
        })
    }

    /// Whether the backlog grows: its fitted line rises by at least one
    /// whole recording across the window (a smaller slope is the noise of
    /// calls arriving one by one and leaving in batches).
    pub fn growing(&self) -> bool {
        self.backlog_growth_per_hour * self.measured_over_secs / 3600.0 >= 1.0
    }

    /// Whether the offered load exceeds the budget: more Heavy requests are
    /// needed than RingCentral allows, and the backlog shows it by growing.
    /// Both, so that one look listing a burst does not cry wolf.
    pub fn exceeded(&self) -> bool {
        self.heavy_allowed_per_minute
            .is_some_and(|allowed| self.heavy_needed_per_minute > allowed)
            && self.growing()
    }

    /// The plain sentence an admin reads when [`Figures::exceeded`].
    pub fn sentence(&self) -> Option<String> {
        if !self.exceeded() {
            return None;
        }
        let allowed = self.heavy_allowed_per_minute?;
        Some(format!(
            "At the current call rate the backlog grows by {} recordings an hour; \
             RingCentral allows {} Heavy requests a minute; about {} are needed \
             (ask RingCentral to raise the limit).",
            self.backlog_growth_per_hour.round().max(1.0),
            rate(allowed),
            rate(self.heavy_needed_per_minute),
        ))
    }
}

/// A rate for people: whole numbers from 10 on, one decimal below
/// ("10", "0.5", "12").
pub fn rate(per_minute: f64) -> String {
    if per_minute >= 10.0 || per_minute.fract().abs() < 0.05 {
        format!("{}", per_minute.round())
    } else {
        format!("{per_minute:.1}")
    }
}

/// How long the backlog has kept growing, across samples: the start of the
/// current run of growing windows.
///
/// A run survives a lull shorter than `grace_secs` (the caller passes half
/// its window): looks list recordings in batches that the downloads then chew
/// through, so an overloaded backlog is a rising sawtooth, and a window
/// that ends on a tooth's downslope can fit a falling line. Ending the run
/// there would restart the degraded clock (and could repeat the alert)
/// while nothing has got better. The price: degraded outlasts a real
/// recovery by up to the grace.
#[derive(Debug, Clone)]
pub struct GrowthRun {
    since_secs: Option<f64>,
    lull_since_secs: Option<f64>,
    grace_secs: f64,
}

impl GrowthRun {
    /// A run that ends after `grace_secs` without growth, already
    /// `growing_for_secs` long at `now_secs`: what a new gateway takes over
    /// from its predecessor's last report, so a hand-over does not clear a
    /// degraded verdict for another `degraded_after`.
    pub fn resumed(now_secs: f64, growing_for_secs: Option<f64>, grace_secs: f64) -> GrowthRun {
        GrowthRun {
            since_secs: growing_for_secs.map(|g| now_secs - g.max(0.0)),
            lull_since_secs: None,
            grace_secs: grace_secs.max(0.0),
        }
    }

    /// Notes whether the backlog grows at `now_secs` (`None`: not measured
    /// yet, which changes nothing); returns for how long the run has lasted
    /// (`None`: no run, or its lull outlasted the grace).
    pub fn observe(&mut self, now_secs: f64, growing: Option<bool>) -> Option<f64> {
        match growing {
            Some(false) => {
                let lull = *self.lull_since_secs.get_or_insert(now_secs);
                if now_secs - lull >= self.grace_secs {
                    self.since_secs = None;
                }
            }
            Some(true) => {
                self.since_secs.get_or_insert(now_secs);
                self.lull_since_secs = None;
            }
            None => {}
        }
        if self.since_secs.is_none() {
            self.lull_since_secs = None;
        }
        self.since_secs.map(|since| (now_secs - since).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: f64, backlog: u64, known: u64, heavy: u64, looks: u64) -> Sample {
        Sample {
            at_secs: at,
            backlog,
            known,
            heavy_requests: heavy,
            looks,
        }
    }

    #[test]
    fn the_slope_of_a_straight_line_is_its_gradient_and_needs_two_points() {
        let line = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0), (3.0, 7.0)];
        assert_eq!(least_squares_slope(line.iter().copied()), Some(2.0));
        // Noise around a flat line fits flat.
        let flat = [(0.0, 5.0), (1.0, 6.0), (2.0, 6.0), (3.0, 5.0)];
        assert_eq!(least_squares_slope(flat.iter().copied()), Some(0.0));
        assert_eq!(least_squares_slope([(1.0, 1.0)].iter().copied()), None);
        assert_eq!(
            least_squares_slope([(1.0, 1.0), (1.0, 9.0)].iter().copied()),
            None
        );
    }

    #[test]
    fn the_window_forgets_old_samples_and_restarts_when_a_counter_goes_back() {
        let mut s = Samples::new(60.0, 100);
        for t in 0..10u64 {
            s.push(sample(t as f64 * 10.0, 0, 0, t, 0));
        }
        assert_eq!(s.span_secs(), 60.0);
        assert_eq!(s.len(), 7);
        s.push(sample(100.0, 0, 0, 0, 0));
        assert_eq!(s.len(), 1, "a counter that went backwards starts again");
        let mut bounded = Samples::new(1e9, 3);
        for t in 0..10u64 {
            bounded.push(sample(t as f64, 0, 0, 0, 0));
        }
        assert_eq!(bounded.len(), 3);
    }

    /// The arithmetic: 10 Heavy a minute allowed; 30 recordings a
    /// minute arriving and 2 looks a minute need 32; 10 are spent, so the
    /// backlog grows by about 22 a minute, 1,320 an hour.
    #[test]
    fn offered_load_above_the_budget_gives_the_sentence() {
        let mut s = Samples::new(600.0, 100);
        for minute in 0..=10u64 {
            s.push(sample(
                minute as f64 * 60.0,
                22 * minute,
                30 * minute,
                10 * minute,
                2 * minute,
            ));
        }
        let f = Figures::measure(&s, Some(10.0), 300.0).expect("ten minutes of samples");
        assert_eq!(f.heavy_used_per_minute, 10.0);
        assert_eq!(f.recordings_arriving_per_minute, 30.0);
        assert_eq!(f.looks_per_minute, 2.0);
        assert_eq!(f.heavy_needed_per_minute, 32.0);
        assert!((f.backlog_growth_per_hour - 1320.0).abs() < 1e-6, "{f:?}");
        assert!(f.growing() && f.exceeded());
        assert_eq!(
            f.sentence().as_deref(),
            Some(
                "At the current call rate the backlog grows by 1320 recordings an hour; \
                 RingCentral allows 10 Heavy requests a minute; about 32 are needed \
                 (ask RingCentral to raise the limit)."
            )
        );
    }

    #[test]
    fn load_within_the_budget_says_nothing() {
        // 6 arriving and 1 look a minute against 10 allowed: the backlog
        // wobbles around 3 and does not grow.
        let mut s = Samples::new(600.0, 100);
        for minute in 0..=10u64 {
            s.push(sample(
                minute as f64 * 60.0,
                [3, 4, 2][minute as usize % 3],
                6 * minute,
                7 * minute,
                minute,
            ));
        }
        let f = Figures::measure(&s, Some(10.0), 300.0).unwrap();
        assert_eq!(f.heavy_needed_per_minute, 7.0);
        assert!(!f.exceeded() && f.sentence().is_none(), "{f:?}");
    }

    #[test]
    fn a_burst_that_the_budget_absorbs_is_not_exceeded() {
        // Needed is above allowed over the window, but the backlog is
        // already shrinking: no sentence.
        let mut s = Samples::new(600.0, 100);
        for (i, backlog) in [40u64, 35, 30, 25, 20].into_iter().enumerate() {
            let i = i as u64;
            s.push(sample(i as f64 * 60.0, backlog, 40 + 15 * i, 10 * i, 0));
        }
        let f = Figures::measure(&s, Some(10.0), 60.0).unwrap();
        assert!(f.heavy_needed_per_minute > 10.0);
        assert!(!f.growing() && !f.exceeded(), "{f:?}");
        // Unknown allowance: never exceeded.
        let mut g = f.clone();
        g.backlog_growth_per_hour = 100.0;
        g.heavy_allowed_per_minute = None;
        assert!(g.growing() && !g.exceeded());
    }

    #[test]
    fn too_short_a_span_measures_nothing() {
        let mut s = Samples::new(600.0, 100);
        s.push(sample(0.0, 0, 0, 0, 0));
        assert_eq!(Figures::measure(&s, Some(10.0), 0.0), None);
        s.push(sample(10.0, 5, 5, 1, 0));
        assert_eq!(Figures::measure(&s, Some(10.0), 30.0), None);
        assert!(Figures::measure(&s, Some(10.0), 10.0).is_some());
    }

    #[test]
    fn without_grace_a_growth_run_lasts_until_one_window_does_not_grow() {
        let mut run = GrowthRun::resumed(0.0, None, 0.0);
        assert_eq!(run.observe(0.0, Some(false)), None);
        assert_eq!(
            run.observe(5.0, None),
            None,
            "nothing measured, nothing known"
        );
        assert_eq!(run.observe(10.0, Some(true)), Some(0.0));
        assert_eq!(run.observe(70.0, Some(true)), Some(60.0));
        assert_eq!(
            run.observe(75.0, None),
            Some(65.0),
            "not measured keeps the run"
        );
        assert_eq!(run.observe(80.0, Some(false)), None);
        assert_eq!(run.observe(90.0, Some(true)), Some(0.0));
        // A new gateway resumes its predecessor's run.
        let mut taken_over = GrowthRun::resumed(3.0, Some(1800.0), 0.0);
        assert_eq!(taken_over.observe(4.0, None), Some(1801.0));
        assert_eq!(taken_over.observe(5.0, Some(true)), Some(1802.0));
        assert_eq!(GrowthRun::resumed(3.0, None, 0.0).observe(4.0, None), None);
    }

    #[test]
    fn a_lull_shorter_than_the_grace_keeps_the_run_and_a_longer_one_ends_it() {
        let mut run = GrowthRun::resumed(0.0, None, 60.0);
        assert_eq!(run.observe(0.0, Some(true)), Some(0.0));
        // A sawtooth's downslope: 50 s without growth, then growth again.
        assert_eq!(run.observe(30.0, Some(false)), Some(30.0));
        assert_eq!(run.observe(80.0, Some(false)), Some(80.0));
        assert_eq!(run.observe(90.0, Some(true)), Some(90.0));
        // A real recovery: a lull of a whole window ends the run.
        assert_eq!(run.observe(100.0, Some(false)), Some(100.0));
        assert_eq!(run.observe(159.0, Some(false)), Some(159.0));
        assert_eq!(run.observe(160.0, Some(false)), None);
        assert_eq!(run.observe(170.0, Some(false)), None);
        assert_eq!(run.observe(180.0, Some(true)), Some(0.0), "a new run");
    }

    #[test]
    fn rates_read_naturally() {
        assert_eq!(rate(10.0), "10");
        assert_eq!(rate(31.6), "32");
        assert_eq!(rate(0.5), "0.5");
        assert_eq!(rate(2.0), "2");
    }
}
