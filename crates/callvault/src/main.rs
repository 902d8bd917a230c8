//! The binary: glue and policy only.
//!
//! Commands: `demo` (the whole flow against an embedded sandbox), `sync`
//! (back up recordings), `stitch` and `join` (one file per conversation),
//! `status`, `ls`, `verify`, `serve` (the web UI), `user`, `jobs` (list
//! jobs, requeue dead ones), `retention` and `hold` (records management),
//! `worker` and `subscription`. Each command
//! lives in the library's `commands/`.

use callvault::{commands, live};
use clap::{Parser, Subcommand};

/// Back up, stitch and play RingCentral call recordings.
#[derive(Debug, Parser)]
#[command(name = "callvault", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the whole flow against an embedded RingCentral sandbox.
    Demo(commands::demo::DemoArgs),
    /// Back up every recording in range into the catalog and blob store.
    Sync(commands::sync::SyncArgs),
    /// Join local recordings into one file with a chapter per leg.
    Join(commands::join::JoinArgs),
    /// Run the backup workers (and, with --public-url, the webhook receiver).
    Worker(live::command::WorkerArgs),
    /// List or delete the webhook subscriptions.
    Subscription(live::command::SubscriptionArgs),
    /// Stitch the legs of a conversation (or `--all`) from the catalog into one file.
    Stitch(commands::stitch::StitchArgs),
    /// Counts by state, the last sync, and failures with their reasons.
    Status(commands::status::StatusArgs),
    /// Conversations with their recordings, states and storage keys.
    Ls(commands::ls::LsArgs),
    /// Re-hash every stored recording against the catalog.
    Verify(commands::verify::VerifyArgs),
    /// Serve the web UI: browse, search and play recordings.
    Serve(commands::serve::ServeArgs),
    /// Manage web users: add, list, remove, passwd.
    User(commands::user::UserArgs),
    /// List jobs (`jobs ls`) and requeue dead ones (`jobs retry`).
    Jobs(commands::jobs::JobsArgs),
    /// Retention rules, disposal (`plan`, `apply`) and deletion at RingCentral.
    Retention(commands::retention::RetentionArgs),
    /// Legal holds: place, release, list.
    Hold(commands::hold::HoldArgs),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // The demo tells its story on standard output, line by line; the
    // workers' per-job logs would bury it (RUST_LOG still shows them).
    // symphonia warns on every tagged MP3 it probes ("skipped N bytes of
    // junk"): expected here, and no use to a user.
    let default_filter = match cli.command {
        Command::Demo(_) => "warn,symphonia_core=error",
        _ => "info,symphonia_core=error,symphonia_bundle_mp3=warn",
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // `join` is plain file work: no runtime, no catalog. Starting tokio's
    // worker threads for it would only add startup time and memory.
    let result = match cli.command {
        Command::Join(args) => commands::join::run(args),
        command => match tokio::runtime::Runtime::new() {
            Ok(rt) => rt.block_on(run(command)),
            Err(e) => Err(anyhow::Error::new(e).context("starting the async runtime")),
        },
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Demo(args) => commands::demo::run(args).await,
        Command::Sync(args) => match commands::sync::run(&args).await {
            Ok(report) => commands::sync::print_report(&report, args.json).and_then(|clean| {
                anyhow::ensure!(
                    clean,
                    "{} recordings failed permanently (see `callvault status`)",
                    report.failed
                );
                Ok(())
            }),
            Err(e) => Err(e),
        },
        Command::Join(args) => commands::join::run(args),
        Command::Worker(args) => live::command::worker(args).await,
        Command::Subscription(args) => live::command::subscription(args).await,
        Command::Stitch(args) => commands::stitch::run(&args)
            .await
            .and_then(|o| commands::stitch::print(&o, args.json)),
        Command::Status(args) => commands::status::run(&args)
            .await
            .and_then(|s| commands::status::print(&s, args.json)),
        Command::Ls(args) => commands::ls::run(&args)
            .await
            .and_then(|l| commands::ls::print(&l, args.json)),
        Command::Verify(args) => commands::verify::run(&args).await.and_then(|report| {
            let clean = commands::verify::print_report(&report, args.json)?;
            anyhow::ensure!(
                clean,
                "{} stored recordings are missing or altered",
                report.problems.len()
            );
            Ok(())
        }),
        Command::Serve(args) => commands::serve::run(args).await,
        Command::User(args) => commands::user::run(args).await,
        Command::Jobs(args) => commands::jobs::run(args).await,
        Command::Retention(args) => commands::retention::run(args).await,
        Command::Hold(args) => commands::hold::run(args).await,
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
