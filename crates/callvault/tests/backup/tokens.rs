//! Access tokens that expire or are revoked in the middle of a run.

use rc_sandbox::faults::FaultConfig;

use crate::helpers::{on_both_backends, one_second_limits, spawn_app};

on_both_backends! {
    async fn access_tokens_expiring_mid_run_are_refreshed_and_nothing_is_lost(backend) {
        // One-second windows make the run take several seconds, so a
        // one-second token expires many times during it.
        let Some(app) = spawn_app(backend, 14, |c| {
            one_second_limits(c);
            c.auth.access_ttl_secs = 1;
        })
        .await else { return };

        let report = app.sync().await;

        let truth = app.assert_exact().await;
        assert_eq!(report.stored, truth.present.len() as u64);
        assert_eq!(report.failed, 0);
        app.finish().await;
    }

    async fn access_tokens_revoked_mid_run_are_replaced_and_nothing_is_lost(backend) {
        let Some(app) = spawn_app(backend, 15, |_| {}).await else { return };
        app.sandbox.state().faults().set(FaultConfig {
            revoke_token: 0.15,
            ..FaultConfig::default()
        });

        let report = app.sync().await;

        let truth = app.assert_exact().await;
        assert_eq!(report.stored, truth.present.len() as u64);
        assert_eq!(report.failed, 0);
        app.finish().await;
    }
}
