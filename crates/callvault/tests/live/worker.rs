//! `callvault worker` with its webhook receiver: it binds port 0 and says
//! where, answers RingCentral's validation handshake there, backs up a call
//! that arrives by webhook, and on SIGTERM stops serving, joins its receiver
//! and workers, and exits 0.

use rc_sandbox::model::Handoff;

use crate::helpers::*;

#[tokio::test]
async fn a_worker_receives_on_the_port_it_bound_and_exits_cleanly_on_sigterm() {
    // Arrange: a worker with a receiver, behind the test's webhook address.
    let mut live = Live::new(5, Backend::Sqlite, |_| {})
        .await
        .expect("a catalog");
    live.start_worker(2).await;
    // The subscription's validation handshake reached the receiver.
    live.active_subscription(None).await;

    // Act: a call ends, then the worker is asked to stop.
    let now = live.sandbox.state().clock().now();
    let calls = live.add_calls(vec![scripted(now, &[(0, Handoff::HangUp)])]);
    let truth = live.truth(&calls).await;
    wait_settled(&live, &truth, PATIENCE).await;
    let status = live.terminate_serve().await;

    // Assert: it shut down on its own, with success.
    assert!(status.success(), "{status}:\n{}", live.log_tail());
    live.finish().await;
}
