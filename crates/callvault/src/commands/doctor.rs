//! `callvault doctor`: checks, in order, everything a first run depends on,
//! and prints one line per check: ok, or what is wrong and the exact fix.
//!
//! The order follows the dependencies: without credentials nothing else at
//! RingCentral can be asked, so those checks are skipped, not failed. The
//! checks live in [`doctor`](self)'s submodules, one per group:
//! [`ringcentral`] (credentials, permissions, company call log, clock,
//! media host, rate limits), [`public_url`] and [`storage`].
//!
//! # Does not
//! Change anything but one catalog setting (`doctor.last_check`) and a
//! probe object written and deleted in the blob store.

mod public_url;
mod ringcentral;
mod storage;

use clap::Args;
use serde::Serialize;

use crate::configuration::layers::Layered;
use crate::configuration::{RcArgs, StoreArgs};

/// Options of `callvault doctor`.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// RingCentral settings.
    #[command(flatten)]
    pub rc: RcArgs,
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The https URL `serve` will be reached at; when set, `serve`'s needs
    /// (CallControl, SubscriptionWebhook, a reachable `/healthz`) are checked.
    #[arg(long, env = "CALLVAULT_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Largest difference between our clock and RingCentral's that passes.
    #[arg(long, default_value_t = 30)]
    pub max_clock_skew_secs: u64,
    /// Print the checks as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Passed.
    Ok,
    /// Failed: the run exits non-zero.
    Fail,
    /// Not run: it depends on something that failed or is not configured.
    Skip,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Short name (`credentials`, `permissions`, …).
    pub name: &'static str,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found.
    pub detail: String,
    /// The exact fix, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Ok,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Fail,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }

    fn skip(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            outcome: Outcome::Skip,
            detail: detail.into(),
            fix: None,
        }
    }
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The configuration file in force, if any.
    pub config_file: Option<String>,
    /// The checks, in the order they ran.
    pub checks: Vec<Check>,
}

impl Report {
    /// True when no check failed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.outcome != Outcome::Fail)
    }
}

/// Runs every check.
pub async fn run(args: &DoctorArgs, layered: &Layered) -> Report {
    let mut checks = ringcentral::checks(args).await;
    checks.push(public_url::check(args.public_url.as_deref()).await);
    checks.extend(storage::checks(&args.store).await);
    // The rate-limit line reads what the RingCentral checks saw, so it
    // comes last although RingCentral answered it first.
    if let Some(i) = checks.iter().position(|c| c.name == "rate limits") {
        let rate = checks.remove(i);
        checks.push(rate);
    }
    Report {
        config_file: layered.file.as_ref().map(|p| p.display().to_string()),
        checks,
    }
}

/// Prints the report; `Ok(true)` when every check passed.
pub fn print(report: &Report, json: bool) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(report.passed());
    }
    if let Some(file) = &report.config_file {
        println!("configuration: {file}");
    }
    for c in &report.checks {
        let tag = match c.outcome {
            Outcome::Ok => "ok  ",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        };
        match &c.fix {
            Some(fix) => println!("{tag} {}: {}\n     fix: {fix}", c.name, c.detail),
            None => println!("{tag} {}: {}", c.name, c.detail),
        }
    }
    Ok(report.passed())
}
