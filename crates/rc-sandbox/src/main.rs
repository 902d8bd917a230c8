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
    /// The app's permissions, comma-separated (default: all of
    /// ReadAccounts, ReadCallLog, ReadCallRecording, CallControl,
    /// SubscriptionWebhook, EditCallLog). Tokens' `scope` lists them; calls
    /// needing another get 403 CMN-401.
    #[arg(long, value_name = "LIST", value_parser = rc_sandbox::permissions::PermissionSet::parse)]
    app_permissions: Option<rc_sandbox::permissions::PermissionSet>,
    /// The JWT user lacks the admin-level company call log: the
    /// account-level call log and other extensions' answer 403 CMN-419.
    #[arg(long)]
    no_company_call_log: bool,
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
    /// Sandbox seconds between a call's end and its call-log records.
    #[arg(long, value_name = "SECS")]
    call_log_lag: Option<i64>,
    /// Sandbox seconds between a call's end and its recording content.
    #[arg(long, value_name = "SECS")]
    recording_lag: Option<i64>,
    /// Share of calls that are recorded (0–1).
    #[arg(long, default_value_t = 0.8)]
    recorded_share: f64,
    /// Share of calls that are transferred, 2–4 legs each (0–1).
    #[arg(long, default_value_t = 0.3)]
    transferred_share: f64,
    /// Share of transfers that are attended (warm) rather than blind (0–1).
    #[arg(long, default_value_t = 0.3)]
    attended_share: f64,
    /// Recording container: mp3 (audio/mpeg) or wav (audio/wav).
    #[arg(long, value_enum, default_value_t = AudioFormatArg::Mp3)]
    audio_format: AudioFormatArg,
    /// Recording sample rate in Hz (MP3: an MPEG rate; 8000 = MPEG-2.5).
    #[arg(long, default_value_t = 8000)]
    audio_sample_rate: u32,
    /// MP3 CBR bitrate in kbit/s (below 24 at 8 kHz LAME writes no Info tag).
    #[arg(long, default_value_t = 16)]
    mp3_bitrate: u32,
    /// Variable-bitrate MP3 (LAME -V, with a Xing tag) instead of CBR.
    #[arg(long)]
    vbr: bool,
    /// LAME VBR quality with --vbr: 0 (best) – 9 (smallest).
    #[arg(long, default_value_t = 6)]
    vbr_quality: u8,
    /// WAV sample encoding: pcm16 (format tag 1) or mulaw (G.711, tag 7).
    #[arg(long, value_enum, default_value_t = WavEncodingArg::Pcm16)]
    wav_encoding: WavEncodingArg,
    /// Sandbox clock speed (1.0 = real time, 60 = a minute per second).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Start the sandbox clock this many seconds ahead of the machine's
    /// (negative: behind), as a RingCentral clock that disagrees with ours.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true)]
    clock_offset_secs: i64,
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

/// `--audio-format` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum AudioFormatArg {
    Mp3,
    Wav,
}

/// `--wav-encoding` values.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum WavEncodingArg {
    Pcm16,
    Mulaw,
}

impl Cli {
    /// The audio settings the flags describe, checked.
    fn audio(&self) -> anyhow::Result<rc_sandbox::audio::AudioSettings> {
        use rc_sandbox::audio::{AudioSettings, WavEncoding};
        use rc_sandbox::model::AudioFormat;
        let settings = AudioSettings {
            format: match self.audio_format {
                AudioFormatArg::Mp3 => AudioFormat::Mp3,
                AudioFormatArg::Wav => AudioFormat::Wav,
            },
            sample_rate: self.audio_sample_rate,
            mp3_bitrate_kbps: self.mp3_bitrate,
            vbr: self.vbr,
            vbr_quality: self.vbr_quality,
            wav_encoding: match self.wav_encoding {
                WavEncodingArg::Pcm16 => WavEncoding::Pcm16,
                WavEncodingArg::Mulaw => WavEncoding::MuLaw,
            },
        };
        settings.validate()?;
        Ok(settings)
    }

    /// The scenario the flags describe, checked.
    fn scenario(&self) -> anyhow::Result<rc_sandbox::scenario::ScenarioConfig> {
        let scenario = rc_sandbox::scenario::ScenarioConfig {
            calls: self.calls,
            days: self.days,
            extensions: self.extensions,
            recorded_share: self.recorded_share,
            transferred_share: self.transferred_share,
            attended_share: self.attended_share,
            ..Default::default()
        };
        scenario.validate()?;
        Ok(scenario)
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
    let audio = cli.audio()?;
    let scenario = cli.scenario()?;
    let handle = rc_sandbox::Sandbox::builder()
        .seed(cli.seed)
        .configure(|c| {
            c.platform_addr = Some(cli.listen);
            c.media_addr = Some(cli.media_listen);
            c.scenario = scenario;
            c.audio = audio;
            cli.apply_rest(c);
            c.speed = cli.speed;
            c.clock_offset = chrono::Duration::seconds(cli.clock_offset_secs);
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

impl Cli {
    /// Applies the REST options to the configuration.
    fn apply_rest(&self, c: &mut rc_sandbox::SandboxConfig) {
        if self.no_rate_limits {
            c.rate_limits = None;
        } else if let (Some(secs), Some(r)) = (self.rate_window, c.rate_limits.as_mut()) {
            r.window_secs = secs;
            r.penalty_secs = secs;
        }
        if let Some(app) = &self.app_permissions {
            c.permissions.app = app.clone();
        }
        c.permissions.company_call_log = !self.no_company_call_log;
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
        if let Some(s) = self.call_log_lag {
            c.call_log_lag = chrono::Duration::seconds(s);
        }
        if let Some(s) = self.recording_lag {
            c.recording_lag = chrono::Duration::seconds(s);
        }
    }
}
