//! The binary: glue and policy only.
//!
//! Commands: `demo` (the whole flow against an embedded sandbox; the
//! default cargo feature `demo`), `sync`
//! (back up recordings), `stitch` and `join` (one file per conversation),
//! `status`, `ls`, `verify`, `serve` (the web UI), `user`, `jobs` (list
//! jobs, requeue dead ones), `audit` (the sealed trail), `export` (eDiscovery
//! bundles), `retention` and `hold` (records management), `worker` (the
//! job loop and webhook receiver without the UI) and `subscription` (list or
//! delete the webhook subscriptions). Each command lives in the library's
//! `commands/`, one module per command.

use callvault::commands;
use callvault::configuration::layers::{self, Layered};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

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
    #[cfg(feature = "demo")]
    Demo(commands::demo::DemoArgs),
    /// Check everything a first run depends on, one line per check.
    Doctor(commands::doctor::DoctorArgs),
    /// Back up every recording in range into the catalog and blob store.
    Sync(commands::sync::SyncArgs),
    /// Join local recordings into one file with a chapter per leg.
    Join(commands::join::JoinArgs),
    /// Run the backup workers (and, with --public-url, the webhook receiver).
    Worker(commands::worker::WorkerArgs),
    /// List or delete the webhook subscriptions.
    Subscription(commands::subscription::SubscriptionArgs),
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
    /// The sealed audit trail: keygen, checkpoint, verify, export.
    Audit(commands::audit::AuditArgs),
    /// eDiscovery: export conversations as a signed bundle, or verify one.
    Export(commands::export::ExportArgs),
    /// Retention rules, disposal (`plan`, `apply`) and deletion at RingCentral.
    Retention(commands::retention::RetentionArgs),
    /// Legal holds: place, release, list.
    Hold(commands::hold::HoldArgs),
}

/// Parses the command line over the environment, `callvault.toml` and the
/// secrets' files ([`layers`]).
fn parse() -> Result<(Cli, Layered), std::process::ExitCode> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let (command, layered) =
        match layers::apply(Cli::command(), &argv, &|name| std::env::var_os(name)) {
            Ok(x) => x,
            Err(e) => {
                eprintln!("error: {e}");
                return Err(std::process::ExitCode::from(2));
            }
        };
    let cli = command
        .try_get_matches_from(argv)
        .and_then(|m| Cli::from_arg_matches(&m))
        .unwrap_or_else(|e| e.exit());
    Ok((cli, layered))
}

fn main() -> std::process::ExitCode {
    let (cli, layered) = match parse() {
        Ok(x) => x,
        Err(code) => return code,
    };
    // The demo tells its story on standard output, line by line; the
    // workers' per-job logs would bury it (RUST_LOG still shows them).
    // symphonia warns on every tagged MP3 it probes ("skipped N bytes of
    // junk"): expected here, and no use to a user.
    let default_filter = match cli.command {
        #[cfg(feature = "demo")]
        Command::Demo(_) => "warn,symphonia_core=error",
        // The doctor's report is its output; a token log line would only
        // interleave with it.
        Command::Doctor(_) => "warn",
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
            Ok(rt) => rt.block_on(run(command, layered)),
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

async fn run(command: Command, layered: Layered) -> anyhow::Result<()> {
    match command {
        Command::Doctor(args) => {
            let report = commands::doctor::run(&args, &layered).await;
            let passed = commands::doctor::print(&report, args.json)?;
            anyhow::ensure!(passed, "some checks failed");
            Ok(())
        }
        #[cfg(feature = "demo")]
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
        Command::Worker(args) => commands::worker::run(args).await,
        Command::Subscription(args) => commands::subscription::run(args).await,
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
        Command::Audit(args) => commands::audit::run(args).await,
        Command::Export(args) => commands::export::run(args).await,
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

    #[test]
    fn the_layered_cli_is_consistent_and_every_example_key_is_a_setting() {
        let (cmd, layered) = callvault::configuration::layers::apply(
            super::Cli::command(),
            &["callvault".into()],
            &|_| None,
        )
        .unwrap();
        assert!(layered.file.is_none());
        cmd.clone().debug_assert();
        // Every key of the shipped example names, by the rule, the env of
        // some argument: the file, the environment and the flags agree.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../deploy/callvault.example.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let file = callvault::configuration::file::SettingsFile::parse(&path, &text).unwrap();
        let mut envs = Vec::new();
        fn collect(cmd: &clap::Command, out: &mut Vec<String>) {
            for a in cmd.get_arguments() {
                if let Some(e) = a.get_env().and_then(|e| e.to_str()) {
                    out.push(e.to_owned());
                }
            }
            for s in cmd.get_subcommands() {
                collect(s, out);
            }
        }
        collect(&cmd, &mut envs);
        for (name, _) in &file.values {
            assert!(
                envs.contains(name),
                "{name} (from the example) is no argument's env"
            );
        }
    }
}
