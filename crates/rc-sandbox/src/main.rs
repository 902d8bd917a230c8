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
    /// Sandbox clock speed (1.0 = real time, 60 = a minute per second).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Live traffic: new calls per sandbox minute (0 = none).
    #[arg(long, default_value_t = 0.0)]
    live: f64,
    /// Real-time limit for the webhook validation handshake and each delivery.
    #[arg(long, default_value_t = 3000)]
    webhook_timeout_ms: u64,
    /// Consecutive failed deliveries before a subscription is blacklisted (0 = never).
    #[arg(long, default_value_t = 3)]
    blacklist_after: u32,
    /// Largest subscription `expiresIn` in seconds (larger requests are clamped).
    #[arg(long, default_value_t = 315_360_000)]
    max_expires_in: i64,
    /// Probability that a webhook notification is delivered twice.
    #[arg(long, default_value_t = 0.0)]
    webhook_duplicate: f64,
    /// Probability that a webhook notification is delivered after the next one of its session.
    #[arg(long, default_value_t = 0.0)]
    webhook_reorder: f64,
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
            c.speed = cli.speed;
            c.live_calls_per_minute = cli.live;
            c.subscriptions.webhook_timeout_ms = cli.webhook_timeout_ms;
            c.subscriptions.blacklist_after = cli.blacklist_after;
            c.subscriptions.max_expires_in = cli.max_expires_in;
            c.faults.webhook_duplicate = cli.webhook_duplicate;
            c.faults.webhook_reorder = cli.webhook_reorder;
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
