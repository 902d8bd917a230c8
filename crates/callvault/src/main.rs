//! The binary: glue and policy only. Commands: `demo` (against an embedded
//! sandbox), `sync`, `stitch`, `join`, `serve`, `worker`.

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
    Demo,
    /// Serve the web UI: browse, search and play recordings.
    Serve(callvault::commands::serve::ServeArgs),
    /// Manage web users: add, list, remove, passwd.
    User(callvault::commands::user::UserArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo => {
            let sandbox = rc_sandbox::Sandbox::builder().spawn().await?;
            println!("sandbox platform at {}", sandbox.platform_url());
            sandbox.shutdown().await;
        }
        Command::Serve(args) => callvault::commands::serve::run(args).await?,
        Command::User(args) => callvault::commands::user::run(args).await?,
    }
    Ok(())
}
