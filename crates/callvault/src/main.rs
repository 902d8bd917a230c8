//! The binary: glue and policy only.
//!
//! Commands: `demo` (the whole flow against an embedded sandbox), `join`
//! (the joiner on local files). Each command lives in `commands/`.

mod commands;
#[allow(dead_code, reason = "read by sync and serve, which land next")]
mod configuration;

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
    /// Join local recordings into one file with a chapter per leg.
    Join(commands::join::JoinArgs),
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
        Command::Demo => demo().await,
        Command::Join(args) => commands::join::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn demo() -> anyhow::Result<()> {
    let sandbox = rc_sandbox::Sandbox::builder().spawn().await?;
    println!("sandbox platform at {}", sandbox.platform_url());
    sandbox.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
