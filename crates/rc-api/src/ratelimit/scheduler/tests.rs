use super::*;
use reqwest::header::HeaderMap;

fn headers(group: &str, limit: u32, remaining: u32, window: u64) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-rate-limit-group", group.parse().unwrap());
    h.insert("x-rate-limit-limit", limit.to_string().parse().unwrap());
    h.insert(
        "x-rate-limit-remaining",
        remaining.to_string().parse().unwrap(),
    );
    h.insert("x-rate-limit-window", window.to_string().parse().unwrap());
    h
}

fn exact() -> SchedulerConfig {
    SchedulerConfig {
        margin_fraction: 0.0,
        min_margin: Duration::from_millis(10),
        spread: false,
        fallback_penalty: Duration::from_secs(30),
    }
}

fn metrics_of(s: &Scheduler, g: &str) -> GroupMetrics {
    s.metrics()
        .into_iter()
        .find(|m| m.group.as_str() == g)
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn response_latency_is_paid_once_per_window_not_once_per_request() {
    let s = Scheduler::new(SchedulerConfig {
        spread: true,
        ..exact()
    });
    let latency = Duration::from_millis(50);
    let mut started = None;
    for i in 0..60 {
        if i == 20 {
            started = Some(Instant::now());
        }
        let p = s.acquire(Endpoint::RecordingContent).await;
        tokio::time::sleep(latency).await;
        s.observe(&p, 200, &headers("heavy", 10, 5, 1));
    }
    // Steady state: 10 sends per (window + margin + one latency), i.e.
    // 106 ms a send; pacing from the re-stamps would cost 151 ms.
    let per_send = started.unwrap().elapsed() / 40;
    assert!(
        per_send >= Duration::from_millis(101) && per_send <= Duration::from_millis(110),
        "{per_send:?} a send"
    );
}

#[tokio::test(start_paused = true)]
async fn a_full_window_makes_the_next_request_wait_for_the_oldest_send_to_expire() {
    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &headers("heavy", 3, 2, 10));
    s.acquire(Endpoint::RecordingContent).await;
    s.acquire(Endpoint::RecordingMetadata).await;
    assert_eq!(Instant::now(), t0, "three sends fit in a budget of three");
    s.acquire(Endpoint::CallLogList).await;
    assert_eq!(Instant::now() - t0, Duration::from_millis(10_010));
    let m = metrics_of(&s, "heavy");
    assert_eq!(m.requests, 4);
    assert_eq!(m.waited, Duration::from_millis(10_010));
    assert_eq!(
        (m.limit, m.window),
        (Some(3), Some(Duration::from_secs(10)))
    );
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_never_exceed_the_limit_in_any_window() {
    let s = Scheduler::new(SchedulerConfig::default());
    let p = s.acquire(Endpoint::RecordingContent).await;
    s.observe(&p, 200, &headers("heavy", 5, 4, 1));
    let mut tasks = Vec::new();
    for _ in 0..40 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.acquire(Endpoint::RecordingContent).await;
            Instant::now()
        }));
    }
    let mut times = vec![p.sent_at];
    for t in tasks {
        times.push(t.await.unwrap());
    }
    times.sort();
    for (i, &t) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .take_while(|&&u| u < t + Duration::from_secs(1))
            .count();
        assert!(
            in_window <= 5,
            "{in_window} sends within 1 s starting at #{i}"
        );
    }
    // 41 sends at 5 per (1 s + 20 ms): at least 8 full windows.
    let span = *times.last().unwrap() - times[0];
    assert!(span >= Duration::from_secs(8), "{span:?}");
    assert!(
        span <= Duration::from_millis(8_300),
        "pacing wastes budget: {span:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_send_counts_from_its_response_so_latency_cannot_squeeze_the_window() {
    let s = Scheduler::new(exact());
    let p = s.acquire(Endpoint::CallLogList).await;
    let t_sent = Instant::now();
    // The response takes 3 s to arrive (the server counted it in between).
    tokio::time::sleep(Duration::from_secs(3)).await;
    s.observe(&p, 200, &headers("heavy", 1, 0, 10));
    s.acquire(Endpoint::CallLogList).await;
    assert!(Instant::now() - t_sent >= Duration::from_millis(13_010));

    let p = s.acquire(Endpoint::SubscriptionGet).await;
    let t_sent = Instant::now();
    let mut h = headers("light", 1, 0, 5);
    h.remove("x-rate-limit-remaining");
    s.observe(&p, 200, &h);
    let p = s.acquire(Endpoint::SubscriptionGet).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    s.failed(&p); // connection reset after 2 s
    s.acquire(Endpoint::SubscriptionGet).await;
    // Second send at +5.01 s, failed at +7.01 s, so the next one waits until +12.02 s.
    assert!(Instant::now() - t_sent >= Duration::from_millis(12_020));
}

#[tokio::test(start_paused = true)]
async fn sends_are_spread_evenly_once_half_the_budget_is_used() {
    let s = Scheduler::new(SchedulerConfig {
        spread: true,
        ..exact()
    });
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &headers("heavy", 4, 3, 4));
    let t0 = Instant::now();
    s.acquire(Endpoint::CallLogList).await; // 2 of 4: now half used
    assert_eq!(Instant::now(), t0);
    s.acquire(Endpoint::CallLogList).await;
    // window 4 s + 10 ms margin, spread over 4 slots (timers tick in whole ms).
    let gap = Instant::now() - t0;
    assert!(
        gap >= Duration::from_micros(1_002_500) && gap <= Duration::from_millis(1_004),
        "{gap:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_blocks_its_group_for_retry_after_and_leaves_other_groups_alone() {
    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::RecordingContent).await;
    let mut h = headers("heavy", 10, 0, 60);
    h.insert("retry-after", "45".parse().unwrap());
    assert_eq!(
        s.observe(&p, 429, &h),
        Some((RateGroup::heavy(), Duration::from_secs(45)))
    );
    s.acquire(Endpoint::SubscriptionGet).await;
    assert_eq!(Instant::now(), t0, "light group is not blocked");
    assert!(metrics_of(&s, "heavy").blocked_for.is_some());
    s.acquire(Endpoint::CallLogList).await;
    assert!(Instant::now() - t0 >= Duration::from_secs(45));
    let m = metrics_of(&s, "heavy");
    assert_eq!(m.rate_limited, 1);
    assert!(m.waited >= Duration::from_secs(45));
}

#[tokio::test(start_paused = true)]
async fn a_429_is_left_after_retry_after_even_when_it_reports_nothing_remaining() {
    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::RecordingMetadata).await;
    let mut h = headers("heavy", 10, 0, 60);
    h.insert("retry-after", "2".parse().unwrap());
    s.observe(&p, 429, &h);
    s.acquire(Endpoint::RecordingMetadata).await;
    let waited = Instant::now() - t0;
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_429_without_retry_after_blocks_for_the_window_or_30_seconds() {
    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::SubscriptionCreate).await;
    s.observe(&p, 429, &headers("medium", 40, 0, 60));
    s.acquire(Endpoint::SubscriptionCreate).await;
    assert!(Instant::now() - t0 >= Duration::from_secs(60));

    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::Token).await;
    s.observe(&p, 429, &HeaderMap::new());
    s.acquire(Endpoint::Token).await;
    let waited = Instant::now() - t0;
    assert!(
        waited >= Duration::from_secs(60),
        "auth default window is 60 s: {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn requests_waiting_in_a_group_are_held_back_by_a_new_penalty() {
    let s = Scheduler::new(exact());
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &headers("heavy", 1, 0, 2));
    // A waiter queued behind the full window...
    let s2 = s.clone();
    let waiter = tokio::spawn(async move {
        s2.acquire(Endpoint::CallLogList).await;
        Instant::now()
    });
    tokio::task::yield_now().await;
    // ...then a 429 with a long penalty arrives for the same group.
    let t0 = Instant::now();
    let mut h = headers("heavy", 1, 0, 2);
    h.insert("retry-after", "20".parse().unwrap());
    s.observe(&p, 429, &h);
    let sent = waiter.await.unwrap();
    assert!(sent - t0 >= Duration::from_secs(20));
}

#[tokio::test(start_paused = true)]
async fn remaining_lower_than_our_own_count_means_someone_else_shares_the_budget() {
    let s = Scheduler::new(exact());
    let t0 = Instant::now();
    let p = s.acquire(Endpoint::CallLogList).await;
    // We sent one request, but the server says the whole budget is used.
    s.observe(&p, 200, &headers("heavy", 10, 0, 5));
    s.acquire(Endpoint::CallLogList).await;
    assert!(
        Instant::now() - t0 >= Duration::from_secs(5),
        "must wait a whole window when Remaining hit 0"
    );
    assert_eq!(metrics_of(&s, "heavy").rate_limited, 0);
}

#[tokio::test(start_paused = true)]
async fn an_unknown_group_named_by_the_server_is_learned_and_used_for_that_endpoint() {
    let s = Scheduler::new(exact());
    assert_eq!(s.group_of(Endpoint::RecordingContent), RateGroup::heavy());
    let p = s.acquire(Endpoint::RecordingContent).await;
    s.observe(&p, 200, &headers("media-download", 2, 1, 3));
    assert_eq!(
        s.group_of(Endpoint::RecordingContent).as_str(),
        "media-download"
    );
    assert_eq!(metrics_of(&s, "heavy").requests, 0, "the send moved groups");
    let t0 = Instant::now();
    s.acquire(Endpoint::RecordingContent).await;
    assert_eq!(Instant::now(), t0);
    s.acquire(Endpoint::RecordingContent).await;
    assert!(Instant::now() - t0 >= Duration::from_secs(3));
    // Heavy is untouched by media traffic.
    let t1 = Instant::now();
    s.acquire(Endpoint::CallLogList).await;
    assert_eq!(Instant::now(), t1);
    let m = metrics_of(&s, "media-download");
    assert_eq!((m.limit, m.requests), (Some(2), 3));
}

#[tokio::test(start_paused = true)]
async fn documented_defaults_are_dropped_when_successes_carry_no_rate_headers() {
    let s = Scheduler::new(exact());
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &HeaderMap::new());
    let t0 = Instant::now();
    for _ in 0..50 {
        s.acquire(Endpoint::RecordingContent).await;
    }
    assert_eq!(Instant::now(), t0, "a server without limits is not paced");
    assert_eq!(metrics_of(&s, "heavy").limit, None);
}

#[tokio::test(start_paused = true)]
async fn limits_learned_from_headers_survive_a_response_without_headers() {
    let s = Scheduler::new(exact());
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &headers("heavy", 2, 1, 10));
    let p = s.acquire(Endpoint::CallLogList).await;
    s.observe(&p, 200, &HeaderMap::new());
    let t0 = Instant::now();
    s.acquire(Endpoint::CallLogList).await;
    assert!(Instant::now() - t0 >= Duration::from_secs(10));
}

#[tokio::test(start_paused = true)]
async fn a_group_with_no_documented_default_and_no_headers_is_not_paced() {
    let s = Scheduler::new(exact());
    let p = s.acquire(Endpoint::RecordingContent).await;
    let mut h = HeaderMap::new();
    h.insert("x-rate-limit-group", "NoThrottling".parse().unwrap());
    s.observe(&p, 200, &h);
    let t0 = Instant::now();
    for _ in 0..100 {
        s.acquire(Endpoint::RecordingContent).await;
    }
    assert_eq!(Instant::now(), t0);
}
