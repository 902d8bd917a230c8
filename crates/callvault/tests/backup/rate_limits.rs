//! Rate limits with a short window: the scheduler never draws a 429.

use crate::helpers::{on_both_backends, one_second_limits, spawn_app};

on_both_backends! {
    async fn with_a_one_second_rate_window_the_backup_never_draws_a_429(backend) {
        let Some(app) = spawn_app(backend, 13, |c| {
            one_second_limits(c);
            c.scenario.calls = 30;
        })
        .await else { return };

        let (report, client) = app
            .sync_with(rc_api::ladder::Ladder::recording_content(), chrono::Duration::seconds(20))
            .await;

        let truth = app.assert_exact().await;
        assert_eq!(report.stored, truth.present.len() as u64);
        let metrics = client.rate_limit_metrics();
        let heavy = metrics
            .iter()
            .find(|m| m.group == rc_api::RateGroup::heavy())
            .expect("the heavy group was used");
        assert!(
            heavy.requests > u64::from(heavy.limit.unwrap_or(10)),
            "the run must exceed one window's budget to prove anything: {heavy:?}"
        );
        let limited: u64 = metrics.iter().map(|m| m.rate_limited).sum();
        assert_eq!(limited, 0, "429s received: {metrics:?}");
        app.finish().await;
    }
}
