//! Every sandbox HTTP fault at once still ends in the exact state.

use rc_sandbox::faults::FaultConfig;

use crate::helpers::{impatient_schedule, on_both_backends, one_second_limits, spawn_app};

on_both_backends! {
    async fn with_every_http_fault_switched_on_the_backup_is_still_exact(backend) {
        let Some(app) = spawn_app(backend, 12, |c| {
            one_second_limits(c);
            c.auth.access_ttl_secs = 3;
        })
        .await else { return };
        app.sandbox.state().faults().set(FaultConfig {
            http500: 0.08,
            http503: 0.08,
            reset_mid_body: 0.08,
            truncated_body: 0.08,
            slow_body: 0.05,
            slow_body_bytes_per_sec: 200_000,
            revoke_token: 0.05,
            delete_recording: 0.1,
            ..FaultConfig::default()
        });

        // Deleted recordings answer 404 like late ones; the impatient
        // schedule calls them gone at once instead of after 24 h.
        let (report, client) = app
            .sync_with(impatient_schedule(), chrono::Duration::seconds(30))
            .await;

        let truth = app.assert_exact().await;
        assert!(!truth.deleted.is_empty(), "the delete fault never struck: {report:?}");
        assert_eq!(report.gone, truth.deleted.len() as u64);
        let limited: u64 = client.rate_limit_metrics().iter().map(|m| m.rate_limited).sum();
        assert_eq!(limited, 0, "429s received");
        app.finish().await;
    }
}
