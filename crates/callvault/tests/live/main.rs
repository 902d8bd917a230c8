//! End-to-end tests of the live flow through the real binary: the
//! in-process sandbox delivers real webhooks over loopback HTTP to a real
//! `callvault serve` child process (SQLite catalog in a tempdir, or a
//! PostgreSQL schema for the outage test when `CALLVAULT_TEST_POSTGRES` is
//! set), which is SIGKILLed, kept down and restarted while calls go on.
//! Every test ends by comparing the vault with the sandbox's ground truth.

mod helpers;
#[path = "../support/login.rs"]
mod login_support;
#[path = "../support/moto.rs"]
mod moto;
#[path = "../support/common.rs"]
mod support;
#[path = "../support/listening.rs"]
mod support_listening;
// Waiting for what `serve` does on its own: the lib's own helper.
#[path = "../../src/test_wait.rs"]
mod test_wait;

// 200 calls with duplicated and reordered deliveries, serve SIGKILLed mid-run.
mod traffic;
// Receiver down: the safety-net sync fills the gap; the blacklisted
// subscription is recreated (on PostgreSQL when CALLVAULT_TEST_POSTGRES is set).
mod outage;
// Offered load above the Heavy budget: /status, /metrics, /healthz and the
// alert webhook all say so.
mod capacity;
// Two receivers and three workers on PostgreSQL and S3 (moto), the
// RingCentral gateway SIGKILLed mid-download twice: one client at a time.
mod cluster;
// `worker` with a receiver: port 0, the handshake, a webhook call, SIGTERM.
mod worker;
