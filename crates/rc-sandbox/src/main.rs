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
    /// Rate-limit window and penalty, seconds (production 60).
    #[arg(long, value_name = "SECS")]
    rate_window: Option<u64>,
    /// Switch rate limits off (no 429s, no X-Rate-Limit headers).
    #[arg(long)]
    no_rate_limits: bool,
    /// Access-token lifetime, seconds of sandbox time.
    #[arg(long, value_name = "SECS")]
    access_ttl: Option<i64>,
    /// Refresh-token lifetime, seconds of sandbox time.
    #[arg(long, value_name = "SECS")]
    refresh_ttl: Option<i64>,
    /// Rate of 500 CMN-203 answers (0..1).
    #[arg(long, value_name = "RATE")]
    fault_500: Option<f64>,
    /// Rate of 503 CMN-201 answers (0..1).
    #[arg(long, value_name = "RATE")]
    fault_503: Option<f64>,
    /// Rate of recording downloads reset half-way (0..1).
    #[arg(long, value_name = "RATE")]
    fault_reset: Option<f64>,
    /// Rate of recording downloads cut short of Content-Length (0..1).
    #[arg(long, value_name = "RATE")]
    fault_truncate: Option<f64>,
    /// Rate of slow recording downloads (0..1).
    #[arg(long, value_name = "RATE")]
    fault_slow: Option<f64>,
    /// Rate of requests whose token is revoked first (0..1).
    #[arg(long, value_name = "RATE")]
    fault_revoke: Option<f64>,
    /// Rate of recording fetches that find the recording deleted (0..1).
    #[arg(long, value_name = "RATE")]
    fault_delete_recording: Option<f64>,
    /// Recording format of the account.
    #[arg(long, value_enum)]
    audio_format: Option<AudioFormatArg>,
    /// Sandbox seconds between a call's end and its call-log records.
    #[arg(long, value_name = "SECS")]
    call_log_lag: Option<i64>,
    /// Sandbox seconds between a call's end and its recording content.
    #[arg(long, value_name = "SECS")]
    recording_lag: Option<i64>,
}

/// `--audio-format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AudioFormatArg {
    /// audio/mpeg.
    Mp3,
    /// audio/wav.
    Wav,
}

impl Cli {
    /// Applies the REST options to the configuration.
    fn apply_rest(&self, c: &mut rc_sandbox::SandboxConfig) {
        if self.no_rate_limits {
            c.rate_limits = None;
        } else if let (Some(secs), Some(r)) = (self.rate_window, c.rate_limits.as_mut()) {
            r.window_secs = secs;
            r.penalty_secs = secs;
        }
        if let Some(t) = self.access_ttl {
            c.auth.access_ttl_secs = t;
        }
        if let Some(t) = self.refresh_ttl {
            c.auth.refresh_ttl_secs = t;
        }
        let f = &mut c.faults;
        for (opt, slot) in [
            (self.fault_500, &mut f.http500),
            (self.fault_503, &mut f.http503),
            (self.fault_reset, &mut f.reset_mid_body),
            (self.fault_truncate, &mut f.truncated_body),
            (self.fault_slow, &mut f.slow_body),
            (self.fault_revoke, &mut f.revoke_token),
            (self.fault_delete_recording, &mut f.delete_recording),
        ] {
            if let Some(rate) = opt {
                *slot = rate;
            }
        }
        if let Some(fmt) = self.audio_format {
            c.audio.format = match fmt {
                AudioFormatArg::Mp3 => rc_sandbox::model::AudioFormat::Mp3,
                AudioFormatArg::Wav => rc_sandbox::model::AudioFormat::Wav,
            };
        }
        if let Some(s) = self.call_log_lag {
            c.call_log_lag = chrono::Duration::seconds(s);
        }
        if let Some(s) = self.recording_lag {
            c.recording_lag = chrono::Duration::seconds(s);
        }
    }
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
            cli.apply_rest(c);
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
