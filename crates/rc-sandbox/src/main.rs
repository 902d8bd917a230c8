//! `rc-sandbox`: runs the RingCentral simulator until stopped and prints the
//! settings a client needs as `KEY=value` lines.

use clap::Parser;

/// A RingCentral platform on loopback, for developing and testing CallVault.
#[derive(Debug, Parser)]
#[command(name = "rc-sandbox", version, about)]
struct Cli {
    /// Platform (REST + OAuth) listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Media (recording content) listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    media_listen: std::net::SocketAddr,
    /// Seed for ids, history and audio.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Calls in the generated history.
    #[arg(long, default_value_t = 50)]
    calls: usize,
    /// Days the generated history spans.
    #[arg(long, default_value_t = 7)]
    days: u32,
    /// Number of extensions.
    #[arg(long, default_value_t = 8)]
    extensions: usize,
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
    let handle = rc_sandbox::Sandbox::builder()
        .seed(cli.seed)
        .configure(|c| {
            c.platform_addr = Some(cli.listen);
            c.media_addr = Some(cli.media_listen);
            c.scenario.calls = cli.calls;
            c.scenario.days = cli.days;
            c.scenario.extensions = cli.extensions;
        })
        .spawn()
        .await?;
    for (k, v) in handle.client_env() {
        println!("{k}={v}");
    }
    tokio::signal::ctrl_c().await?;
    handle.shutdown().await;
    Ok(())
}
