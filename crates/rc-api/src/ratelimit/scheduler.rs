//! The process-wide rate-limit scheduler.
//!
//! RingCentral counts requests per (user, app, group) in a sliding window and,
//! once a group's limit is reached, rejects every request of that group for a
//! penalty interval that **restarts with each new request**. So the scheduler
//! must never send into a full window or a penalty:
//!
//! * **One budget per group**, shared by every request of the process (clone
//!   the [`Scheduler`]; all clones share state). Limit and window come from the
//!   `X-Rate-Limit-Limit/-Window` headers of every response; before the first
//!   response of a group the documented defaults apply (Heavy 10/60 s, Medium
//!   40, Light 50, Auth 5); a group never heard of is unpaced until its first
//!   headers arrive, and so is a group whose successful responses carry no
//!   rate headers at all (a server without limits, e.g. the simulator with
//!   limits off). Limits once learned from headers are kept.
//! * **Sliding log.** Each send is stamped when it leaves and re-stamped when
//!   its response (or its failure) arrives: the server counted it somewhere in
//!   between, so expiring our copy `window + margin` after the *later* stamp is
//!   safe whatever the latency. A request may go only while fewer than `limit`
//!   stamps fall inside that window. Once half the budget is used, sends are
//!   also spread `window / limit` apart (measured between sends, not from the
//!   re-stamps, so latency is paid once per window and not once per request),
//!   so the window is used evenly instead of in bursts.
//! * **Foreign usage.** If `X-Rate-Limit-Remaining` says more requests were
//!   counted than this process sent (another process, a previous run), the gap
//!   is filled with placeholder stamps, so `Remaining` reaching 0 makes us wait
//!   a whole window instead of walking into a 429.
//! * **Penalty.** On 429 the group is blocked for `Retry-After` (or, if absent,
//!   the larger of 30 s and the window), plus the margin; nothing of that group
//!   is sent until then. (A 429's `Remaining: 0` is not read as foreign usage.)
//! * **Group learning.** Requests are mapped to a group before sending (the
//!   documented map, [`Endpoint::documented_group`]); when a response names
//!   another group, the endpoint is remapped for all later requests and the
//!   send is moved to that group's budget.
//!
//! Time is `tokio::time::Instant`, so tests drive it with a paused clock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use super::groups::{Endpoint, RateGroup, RateHeaders};

/// Pacing knobs.
#[derive(Debug, Clone)]
pub struct SchedulerConfig {
    /// Safety margin added to every window and penalty, as a fraction of it.
    pub margin_fraction: f64,
    /// Lower bound of that margin.
    pub min_margin: Duration,
    /// Spread sends `window / limit` apart once half the budget is in use.
    pub spread: bool,
    /// Penalty assumed for a 429 without `Retry-After` (at least the window).
    pub fallback_penalty: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            margin_fraction: 0.01,
            min_margin: Duration::from_millis(10),
            spread: true,
            fallback_penalty: Duration::from_secs(30),
        }
    }
}

impl SchedulerConfig {
    fn margin(&self, d: Duration) -> Duration {
        let frac = if self.margin_fraction.is_finite() && self.margin_fraction > 0.0 {
            d.mul_f64(self.margin_fraction.min(1.0))
        } else {
            Duration::ZERO
        };
        frac.max(self.min_margin)
    }
}

/// Figures for one group, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupMetrics {
    /// The group.
    pub group: RateGroup,
    /// Limit in force (from headers, else documented default).
    pub limit: Option<u32>,
    /// Window in force.
    pub window: Option<Duration>,
    /// Last `X-Rate-Limit-Remaining` seen.
    pub remaining: Option<u32>,
    /// Requests sent in this group.
    pub requests: u64,
    /// Total time requests of this group waited for a slot.
    pub waited: Duration,
    /// 429 responses received.
    pub rate_limited: u64,
    /// Time left in the current penalty, if any.
    pub blocked_for: Option<Duration>,
}

/// Process-wide rate-limit scheduler. Cheap to clone; clones share state.
#[derive(Debug, Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: SchedulerConfig,
    state: Mutex<State>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct State {
    budgets: HashMap<RateGroup, Budget>,
    learned: HashMap<Endpoint, RateGroup>,
}

#[derive(Debug)]
struct Budget {
    limit: Option<u32>,
    window: Option<Duration>,
    remaining: Option<u32>,
    /// True once limit/window came from the server's headers (not the docs).
    confirmed: bool,
    /// Send stamps (real and placeholder), ascending.
    sends: VecDeque<Instant>,
    /// When this process last sent in this group (not re-stamped): the
    /// spread paces sends from here, so a response's latency is not paid
    /// again on every request (the window rule alone guards the budget).
    last_send: Option<Instant>,
    blocked_until: Option<Instant>,
    requests: u64,
    waited: Duration,
    rate_limited: u64,
}

impl Budget {
    fn new(group: &RateGroup) -> Budget {
        let default = group.documented_default();
        Budget {
            limit: default.map(|d| d.0),
            window: default.map(|d| d.1),
            remaining: None,
            confirmed: false,
            sends: VecDeque::new(),
            last_send: None,
            blocked_until: None,
            requests: 0,
            waited: Duration::ZERO,
            rate_limited: 0,
        }
    }

    fn effective_window(&self, cfg: &SchedulerConfig) -> Option<Duration> {
        self.window.map(|w| w + cfg.margin(w))
    }

    fn prune(&mut self, now: Instant, cfg: &SchedulerConfig) {
        let Some(w) = self.effective_window(cfg) else {
            self.sends.clear();
            return;
        };
        while self.sends.front().is_some_and(|&t| t + w <= now) {
            self.sends.pop_front();
        }
    }

    /// When the next request may go; `None` = now.
    fn next_slot(&mut self, now: Instant, cfg: &SchedulerConfig) -> Option<Instant> {
        let mut earliest = now;
        if let Some(b) = self.blocked_until {
            if b > now {
                earliest = b;
            } else {
                self.blocked_until = None;
            }
        }
        self.prune(now, cfg);
        if let (Some(limit), Some(w)) = (self.limit, self.effective_window(cfg)) {
            let limit = usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
            let used = self.sends.len();
            if used >= limit
                && let Some(&oldest_in_way) = self.sends.get(used - limit)
            {
                earliest = earliest.max(oldest_in_way + w);
            }
            if cfg.spread
                && used * 2 >= limit
                && let Some(last) = self.last_send
            {
                let gap = w / u32::try_from(limit).unwrap_or(u32::MAX);
                earliest = earliest.max(last + gap);
            }
        }
        (earliest > now).then_some(earliest)
    }

    fn insert_sorted(&mut self, t: Instant) {
        let at = self.sends.partition_point(|&s| s <= t);
        self.sends.insert(at, t);
    }

    /// Moves one stamp `from` → `to` (no-op if it already expired).
    fn restamp(&mut self, from: Instant, to: Instant) {
        if let Some(pos) = self.sends.iter().position(|&t| t == from) {
            self.sends.remove(pos);
            self.insert_sorted(to);
        }
    }
}

/// A granted slot. Hand it back to [`Scheduler::observe`] with the response.
#[derive(Debug)]
pub struct Permit {
    group: RateGroup,
    endpoint: Endpoint,
    sent_at: Instant,
}

impl Permit {
    /// The group the request was counted in.
    pub fn group(&self) -> &RateGroup {
        &self.group
    }
}

impl Default for Scheduler {
    fn default() -> Self {
        Scheduler::new(SchedulerConfig::default())
    }
}

impl Scheduler {
    /// A scheduler with no history.
    pub fn new(config: SchedulerConfig) -> Scheduler {
        Scheduler {
            inner: Arc::new(Inner {
                config,
                state: Mutex::new(State::default()),
                changed: Notify::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent even if a holder panicked: every update
        // is a handful of field writes with no early exit.
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The group a request to `endpoint` is counted in: what the server said
    /// last time, else the documented group.
    pub fn group_of(&self, endpoint: Endpoint) -> RateGroup {
        self.lock()
            .learned
            .get(&endpoint)
            .cloned()
            .unwrap_or_else(|| endpoint.documented_group())
    }

    /// Waits until a request to `endpoint` may be sent without exceeding its
    /// group's budget or entering a penalty, and counts it.
    pub async fn acquire(&self, endpoint: Endpoint) -> Permit {
        let started = Instant::now();
        loop {
            let notified = self.inner.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let wake_at = {
                let now = Instant::now();
                let mut st = self.lock();
                let group = st
                    .learned
                    .get(&endpoint)
                    .cloned()
                    .unwrap_or_else(|| endpoint.documented_group());
                let budget = st
                    .budgets
                    .entry(group.clone())
                    .or_insert_with(|| Budget::new(&group));
                match budget.next_slot(now, &self.inner.config) {
                    None => {
                        budget.sends.push_back(now);
                        budget.last_send = Some(now);
                        budget.requests += 1;
                        budget.waited += now.saturating_duration_since(started);
                        if now > started {
                            tracing::debug!(group = %group, waited_ms = (now - started).as_millis() as u64, "rate-limit slot granted");
                        }
                        return Permit {
                            group,
                            endpoint,
                            sent_at: now,
                        };
                    }
                    Some(t) => t,
                }
            };
            tokio::select! {
                _ = tokio::time::sleep_until(wake_at) => {}
                _ = &mut notified => {}
            }
        }
    }

    /// Feeds a response back: learns the group, limit, window and remaining
    /// budget from its headers, and on 429 blocks the group. Returns the
    /// group and penalty when the response was a 429.
    pub fn observe(
        &self,
        permit: &Permit,
        status: u16,
        headers: &reqwest::header::HeaderMap,
    ) -> Option<(RateGroup, Duration)> {
        let h = RateHeaders::parse(headers);
        let cfg = &self.inner.config;
        let now = Instant::now();
        let mut penalty = None;
        {
            let mut st = self.lock();
            let mut group = permit.group.clone();
            if let Some(named) = h.group.clone().filter(|g| *g != group) {
                tracing::info!(endpoint = ?permit.endpoint, predicted = %group, actual = %named, "endpoint counted in another rate-limit group; remapping");
                st.learned.insert(permit.endpoint, named.clone());
                if let Some(old) = st.budgets.get_mut(&group) {
                    if let Some(pos) = old.sends.iter().position(|&t| t == permit.sent_at) {
                        old.sends.remove(pos);
                    }
                    old.requests = old.requests.saturating_sub(1);
                }
                let b = st
                    .budgets
                    .entry(named.clone())
                    .or_insert_with(|| Budget::new(&named));
                b.insert_sorted(now);
                b.requests += 1;
                group = named;
            } else if let Some(b) = st.budgets.get_mut(&group) {
                b.restamp(permit.sent_at, now);
            }
            let b = st
                .budgets
                .entry(group.clone())
                .or_insert_with(|| Budget::new(&group));
            if let Some(l) = h.limit {
                b.limit = Some(l);
                b.confirmed = true;
            }
            if let Some(w) = h.window {
                b.window = Some(w);
                b.confirmed = true;
            }
            if (200..300).contains(&status)
                && h.limit.is_none()
                && h.window.is_none()
                && !b.confirmed
                && b.limit.is_some()
            {
                // A success without rate headers for a group paced only by
                // the documented defaults: this server does not limit it.
                tracing::info!(group = %group, "no rate-limit headers on success; group unpaced until headers appear");
                b.limit = None;
                b.window = None;
            }
            if h.remaining.is_some() {
                b.remaining = h.remaining;
            }
            // On a 429 the server's Remaining describes the penalty, not a
            // count; Retry-After alone says when to come back.
            if let (Some(limit), Some(remaining), false) = (b.limit, h.remaining, status == 429) {
                b.prune(now, cfg);
                let counted = usize::try_from(limit.saturating_sub(remaining)).unwrap_or(0);
                let known = b.sends.len();
                if counted > known {
                    tracing::debug!(group = %group, foreign = counted - known, "server counted requests this process did not send");
                    for _ in known..counted {
                        b.sends.push_back(now);
                    }
                }
            }
            if status == 429 {
                let wait = h.retry_after.unwrap_or_else(|| {
                    cfg.fallback_penalty.max(b.window.unwrap_or(Duration::ZERO))
                });
                let until = now + wait + cfg.margin(wait);
                b.blocked_until = Some(b.blocked_until.map_or(until, |u| u.max(until)));
                b.rate_limited += 1;
                tracing::warn!(group = %group, retry_after_s = wait.as_secs_f64(), "429: group blocked");
                penalty = Some((group, wait));
            }
        }
        self.inner.changed.notify_waiters();
        penalty
    }

    /// A request that got no response (connection error, timeout): the
    /// server may have counted it as late as now, so its stamp moves to now.
    pub fn failed(&self, permit: &Permit) {
        let now = Instant::now();
        {
            let mut st = self.lock();
            if let Some(b) = st.budgets.get_mut(&permit.group) {
                b.restamp(permit.sent_at, now);
            }
        }
        self.inner.changed.notify_waiters();
    }

    /// Per-group figures, sorted by group name.
    pub fn metrics(&self) -> Vec<GroupMetrics> {
        let now = Instant::now();
        let st = self.lock();
        let mut out: Vec<GroupMetrics> = st
            .budgets
            .iter()
            .map(|(g, b)| GroupMetrics {
                group: g.clone(),
                limit: b.limit,
                window: b.window,
                remaining: b.remaining,
                requests: b.requests,
                waited: b.waited,
                rate_limited: b.rate_limited,
                blocked_for: b.blocked_until.filter(|&u| u > now).map(|u| u - now),
            })
            .collect();
        out.sort_by(|a, b| a.group.cmp(&b.group));
        out
    }
}

#[cfg(test)]
mod tests;
