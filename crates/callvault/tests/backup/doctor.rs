//! `callvault doctor` against the sandbox: every check passing, then each
//! one failing for the reason it exists to find (reduced permissions, a user
//! without the company call log, a skewed clock, refused credentials, an
//! http public URL, an unwritable store). The public URL passing through TLS
//! is shown by the reverse-proxy test (`tests/web/deploy.rs`).

use std::path::Path;
use std::process::{Command, Output, Stdio};

use rc_sandbox::{Sandbox, SandboxConfig, SandboxHandle};
use serde_json::Value;

use crate::helpers::{one_second_limits, small_world};

/// A sandbox with a small history, changed by `f`.
pub async fn sandbox(f: impl FnOnce(&mut SandboxConfig)) -> SandboxHandle {
    Sandbox::builder()
        .seed(16)
        .configure(|c| {
            small_world(c);
            c.scenario.calls = 6;
            f(c);
        })
        .spawn()
        .await
        .unwrap()
}

/// `callvault ARGS` with nothing of this process's environment but `PATH`,
/// plus `env`.
pub fn callvault(args: &[&str], env: &[(&str, String)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callvault"));
    cmd.args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// The sandbox's `RC_*` settings.
pub fn rc_env(s: &SandboxHandle) -> Vec<(&'static str, String)> {
    s.client_env()
}

/// Runs `doctor --json --data DATA EXTRA…` and returns (exit ok, checks by name).
pub fn doctor(data: &Path, extra: &[&str], env: &[(&str, String)]) -> (bool, Value) {
    let data = data.display().to_string();
    let mut args = vec!["doctor", "--json", "--data", &data];
    args.extend_from_slice(extra);
    let out = callvault(&args, env);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "doctor printed no JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut by_name = serde_json::Map::new();
    for c in report["checks"].as_array().unwrap() {
        by_name.insert(c["name"].as_str().unwrap().to_owned(), c.clone());
    }
    (out.status.success(), Value::Object(by_name))
}

fn outcome(checks: &Value, name: &str) -> String {
    checks[name]["outcome"]
        .as_str()
        .unwrap_or("missing")
        .to_owned()
}

fn assert_outcomes(checks: &Value, want: &[(&str, &str)]) {
    for (name, o) in want {
        assert_eq!(outcome(checks, name), *o, "{name}: {:#}", checks[name]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_check_passes_on_a_healthy_setup_and_fails_on_an_http_url_or_unwritable_store() {
    // Arrange: a sandbox with rate limits on (one-second windows, so three
    // runs' grants and revokes fit the Auth group), so the budget line reads
    // real headers.
    let s = sandbox(one_second_limits).await;
    let env = rc_env(&s);
    let dir = tempfile::tempdir().unwrap();

    // Act + Assert: all pass (the public URL is not configured: skipped).
    let (ok, checks) = doctor(&dir.path().join("data"), &[], &env);
    assert!(ok, "{checks:#}");
    assert_outcomes(
        &checks,
        &[
            ("credentials", "ok"),
            ("permissions", "ok"),
            ("company call log", "ok"),
            ("clock", "ok"),
            ("media host", "ok"),
            ("public url", "skip"),
            ("catalog", "ok"),
            ("storage", "ok"),
            ("rate limits", "ok"),
        ],
    );
    let rate = checks["rate limits"]["detail"].as_str().unwrap();
    assert!(
        rate.contains("from RingCentral's headers") && rate.contains("100000-recording backfill"),
        "{rate}"
    );

    // An http public URL fails, and says why.
    let (ok, checks) = doctor(
        &dir.path().join("data"),
        &["--public-url", "http://callvault.example"],
        &env,
    );
    assert!(!ok);
    assert_outcomes(&checks, &[("public url", "fail"), ("permissions", "ok")]);
    assert!(
        checks["public url"]["detail"]
            .as_str()
            .unwrap()
            .contains("not https")
    );
    assert!(
        checks["public url"]["fix"]
            .as_str()
            .unwrap()
            .contains("https://")
    );

    // An unwritable store: the data folder is a file, so nothing can be made in it.
    let blocked = dir.path().join("a-file");
    std::fs::write(&blocked, b"not a folder").unwrap();
    let (ok, checks) = doctor(&blocked.join("data"), &[], &env);
    assert!(!ok);
    assert_outcomes(
        &checks,
        &[
            ("credentials", "ok"),
            ("catalog", "fail"),
            ("storage", "fail"),
        ],
    );
    assert!(
        checks["storage"]["fix"]
            .as_str()
            .unwrap()
            .contains("CALLVAULT_STORAGE")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reduced_app_permissions_name_what_is_missing() {
    let s = sandbox(|c| {
        c.permissions.app =
            rc_sandbox::permissions::PermissionSet::parse("ReadAccounts,ReadCallLog").unwrap();
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, checks) = doctor(
        dir.path(),
        &["--public-url", "https://callvault.invalid"],
        &rc_env(&s),
    );
    assert!(!ok);
    assert_outcomes(
        &checks,
        &[
            ("credentials", "ok"),
            ("permissions", "fail"),
            ("media host", "fail"),
        ],
    );
    let detail = checks["permissions"]["detail"].as_str().unwrap();
    assert!(
        detail.contains("lacks ReadCallRecording, CallControl, SubscriptionWebhook"),
        "{detail}"
    );
    assert!(
        checks["media host"]["fix"]
            .as_str()
            .unwrap()
            .contains("ReadCallRecording")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_without_the_company_call_log_is_found_by_a_one_record_read() {
    let s = sandbox(|c| c.permissions.company_call_log = false).await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, checks) = doctor(dir.path(), &[], &rc_env(&s));
    assert!(!ok);
    assert_outcomes(
        &checks,
        &[
            ("permissions", "ok"),
            ("company call log", "fail"),
            ("media host", "skip"),
        ],
    );
    let c = &checks["company call log"];
    assert!(c["detail"].as_str().unwrap().contains("CMN-419"), "{c}");
    assert!(
        c["fix"].as_str().unwrap().contains("Company Call Log"),
        "{c}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_five_minutes_off_ringcentrals_fails() {
    let s = sandbox(|c| c.clock_offset = chrono::Duration::minutes(5)).await;
    let dir = tempfile::tempdir().unwrap();
    let (ok, checks) = doctor(dir.path(), &[], &rc_env(&s));
    assert!(!ok);
    assert_outcomes(
        &checks,
        &[
            ("credentials", "ok"),
            ("clock", "fail"),
            ("media host", "ok"),
        ],
    );
    let detail = checks["clock"]["detail"].as_str().unwrap();
    assert!(detail.contains("behind RingCentral's"), "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_read_as_ringcentral_means_them() {
    let s = sandbox(|_| {}).await;
    let dir = tempfile::tempdir().unwrap();
    let with = |key: &str, value: &str| {
        let mut env = rc_env(&s);
        env.retain(|(k, _)| *k != key);
        env.push((
            if key == "RC_CLIENT_SECRET" {
                "RC_CLIENT_SECRET"
            } else {
                "RC_JWT"
            },
            value.to_owned(),
        ));
        env
    };
    let (ok, checks) = doctor(dir.path(), &[], &with("RC_CLIENT_SECRET", "wrong"));
    assert!(!ok);
    let c = &checks["credentials"];
    assert_eq!(c["outcome"], "fail");
    assert!(c["detail"].as_str().unwrap().contains("OAU-123"), "{c}");
    assert!(
        c["detail"]
            .as_str()
            .unwrap()
            .contains("client id or client secret is wrong"),
        "{c}"
    );
    assert_outcomes(
        &checks,
        &[
            ("permissions", "skip"),
            ("media host", "skip"),
            ("catalog", "ok"),
        ],
    );

    let (ok, checks) = doctor(dir.path(), &[], &with("RC_JWT", "eyJ.not-this-apps.jwt"));
    assert!(!ok);
    let c = &checks["credentials"];
    assert!(c["detail"].as_str().unwrap().contains("OAU-140"), "{c}");
    assert!(c["fix"].as_str().unwrap().contains("JWT credential"), "{c}");
}
