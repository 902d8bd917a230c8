//! The binary: glue and policy only.
//!
//! Commands: `demo` (the whole flow against an embedded sandbox), `sync`
//! (back up recordings), `join` (the joiner on local files). Each command
//! lives in `commands/`; the backup machinery in `sync/`.

mod app;
mod commands;
mod configuration;
mod live;
mod sync;

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
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let result = match cli.command {
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
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
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
