//! `callvault stitch SESSION_ID [-o FILE] [--format F] [--gaps G]` and
//! `callvault stitch --all`: one file per conversation, from the catalog.
//!
//! `--all` runs directly in a loop over the catalog rather than through the
//! job queue: stitching is local work (blob store → CPU → blob store) and
//! idempotent (same legs, same bytes, same key), so a rerun after a crash
//! simply redoes what was not marked `stitched`. It never calls RingCentral:
//! conversations whose recordings the sync has not stored yet are left
//! `waiting` with the reason.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use vault::TelephonySessionId;

use crate::commands::join::FormatArg;
use crate::configuration::{RcArgs, StoreArgs};
use crate::stitching::{Outcome, StitchOptions, Stitcher};

/// Silence between legs.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum GapsArg {
    /// Back to back.
    #[default]
    None,
    /// The real time between legs, capped by `--gap-cap-secs`.
    Real,
}

/// Arguments of `callvault stitch`.
#[derive(Debug, Args)]
pub struct StitchArgs {
    /// RingCentral settings.
    #[command(flatten)]
    pub rc: RcArgs,
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The telephony session (`s-…`) of the conversation to stitch.
    #[arg(required_unless_present = "all", conflicts_with = "all")]
    pub session: Option<String>,
    /// Stitch every multi-leg conversation in the catalog not yet stitched.
    #[arg(long)]
    pub all: bool,
    /// Also write the result to this local file (plus `.json` and `.vtt`).
    #[arg(short, long, conflicts_with = "all")]
    pub output: Option<PathBuf>,
    /// Output container.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
    /// Silence between legs.
    #[arg(long, value_enum, default_value_t)]
    pub gaps: GapsArg,
    /// Longest gap of `--gaps real`, in seconds.
    #[arg(long, default_value_t = 600)]
    pub gap_cap_secs: u64,
    /// Do not join the other session of an attended transfer.
    #[arg(long)]
    pub no_follow_transfers: bool,
    /// Seconds to wait for recordings due soon when they must be downloaded.
    #[arg(long, default_value_t = 30)]
    pub max_wait: i64,
    /// Print the outcomes as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

impl StitchArgs {
    /// The stitch options these arguments ask for.
    pub fn options(&self) -> StitchOptions {
        StitchOptions {
            join: stitch::JoinOptions {
                format: self.format.into(),
                gaps: match self.gaps {
                    GapsArg::None => stitch::Gaps::None,
                    GapsArg::Real => stitch::Gaps::Real {
                        cap_ms: self.gap_cap_secs.saturating_mul(1000),
                    },
                },
                ..Default::default()
            },
            follow_transfers: !self.no_follow_transfers,
            output: self.output.clone(),
            max_wait_secs: self.max_wait,
            // Asked by hand: join again even when nothing changed.
            queued: None,
        }
    }
}

/// Runs the command and returns the outcomes.
pub async fn run(args: &StitchArgs) -> anyhow::Result<Vec<Outcome>> {
    let stitcher = Stitcher {
        catalog: crate::app::catalog(&args.store).await?,
        blobs: crate::app::blobs(&args.store)?,
        layout: vault::KeyLayout::default(),
        rc: Some(args.rc.clone()),
    };
    let options = args.options();
    if args.all {
        return stitcher.stitch_all(&options).await;
    }
    let session = args.session.as_deref().unwrap_or_default();
    let session = TelephonySessionId::parse(session)
        .with_context(|| format!("{session:?} is not a telephony session id"))?;
    Ok(vec![stitcher.stitch_session(&session, &options).await?])
}

/// Prints the outcomes, one line each or as JSON.
pub fn print(outcomes: &[Outcome], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcomes)?);
        return Ok(());
    }
    for o in outcomes {
        match o {
            Outcome::Stitched {
                conversation,
                key,
                sha256,
                legs,
                missing,
                duration_ms,
                ..
            } => println!(
                "{conversation}: stitched {legs} legs ({missing} missing), {duration_ms} ms → {key} sha256 {sha256}"
            ),
            Outcome::Single {
                conversation,
                recording,
            } => println!("{conversation}: single recording {recording}"),
            Outcome::Waiting {
                conversation,
                reason,
            } => println!("{conversation}: waiting — {reason}"),
            Outcome::NoRecordings { conversation } => {
                println!("{conversation}: no recordings")
            }
            Outcome::Incomplete {
                conversation,
                reason,
            } => println!("{conversation}: incomplete — {reason}"),
            Outcome::Unchanged { conversation, key } => {
                println!("{conversation}: already stitched from these legs → {key}")
            }
            Outcome::Merged { conversation, into } => {
                println!("{conversation}: merged into {into}")
            }
        }
    }
    if outcomes.is_empty() {
        println!("nothing to stitch");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: StitchArgs,
    }

    #[test]
    fn a_session_or_all_is_required_and_output_goes_with_one_session_only() {
        assert!(Cli::try_parse_from(["stitch"]).is_err());
        assert!(Cli::try_parse_from(["stitch", "s-1", "--all"]).is_err());
        assert!(Cli::try_parse_from(["stitch", "--all", "-o", "x.mp3"]).is_err());
        let cli = Cli::try_parse_from([
            "stitch",
            "s-1",
            "-o",
            "x.mp3",
            "--gaps",
            "real",
            "--gap-cap-secs",
            "5",
            "--no-follow-transfers",
            "--format",
            "wav",
        ])
        .unwrap();
        let o = cli.args.options();
        assert_eq!(o.join.gaps, stitch::Gaps::Real { cap_ms: 5000 });
        assert_eq!(o.join.format, stitch::OutputFormat::Wav);
        assert!(!o.follow_transfers);
        assert_eq!(o.output.as_deref(), Some(std::path::Path::new("x.mp3")));
    }
}
