//! Where CallVault's settings come from: flags, then environment (the names
//! RingCentral's own samples use: `RC_SERVER_URL`, `RC_CLIENT_ID`, …), then
//! `callvault.toml` ([`file`], put under clap by [`layers`]), then
//! defaults. One name per setting across the three: `--rc-client-id`,
//! `RC_CLIENT_ID`, `[rc] client_id` (the rule is in [`file`]). Secrets are
//! `rc_api::Secret`s, so `Debug` never prints them, and may come from files.

pub mod address;
pub mod file;
pub mod layers;

use std::path::PathBuf;

use clap::Args;
use rc_api::Secret;

/// How to reach RingCentral (or the sandbox).
#[derive(Debug, Clone, Args)]
pub struct RcArgs {
    /// Platform base URL.
    #[arg(
        long = "rc-server-url",
        alias = "server-url",
        env = "RC_SERVER_URL",
        default_value = "https://platform.ringcentral.com"
    )]
    pub server_url: String,
    /// Media base URL (recording content); defaults to the media host of the platform.
    #[arg(long = "rc-media-url", alias = "media-url", env = "RC_MEDIA_URL")]
    pub media_url: Option<String>,
    /// OAuth client id of the app.
    #[arg(
        long = "rc-client-id",
        alias = "client-id",
        env = "RC_CLIENT_ID",
        default_value = ""
    )]
    pub client_id: String,
    /// OAuth client secret of the app.
    #[arg(
        long = "rc-client-secret",
        alias = "client-secret",
        env = "RC_CLIENT_SECRET",
        default_value = "",
        hide_env_values = true
    )]
    pub client_secret: Secret,
    /// The JWT credential of the (admin) user.
    #[arg(
        long = "rc-jwt",
        alias = "jwt",
        env = "RC_JWT",
        default_value = "",
        hide_env_values = true,
        value_parser = parse_secret
    )]
    pub jwt: Secret,
}

fn parse_secret(s: &str) -> Result<Secret, std::convert::Infallible> {
    Ok(Secret::from(s))
}

/// Where the catalog and the recordings live.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Folder for the SQLite catalog and the recordings.
    #[arg(
        long = "data",
        env = "CALLVAULT_DATA",
        default_value = "./callvault-data"
    )]
    pub data_dir: PathBuf,
    /// Catalog URL (`sqlite:…` or `postgres://…`); overrides `--data` for the catalog.
    #[arg(long, env = "CALLVAULT_DATABASE", hide_env_values = true)]
    pub database: Option<String>,
    /// Blob store URL (a folder or `s3://…`); overrides `--data` for the recordings.
    #[arg(long, env = "CALLVAULT_STORAGE")]
    pub storage: Option<String>,
    /// WORM storage (S3 Object Lock).
    #[command(flatten)]
    pub worm: crate::worm::WormArgs,
}

/// When the live flow does what: the safety-net interval, and (hidden, for
/// tests and the demo) one pace that compresses every other delay.
#[derive(Debug, Clone, Args)]
pub struct LiveTiming {
    /// Minutes between safety-net incremental syncs.
    #[arg(long, env = "CALLVAULT_SYNC_EVERY_MINUTES", default_value_t = 15)]
    pub sync_every_minutes: u64,
    /// Seconds between safety-net syncs; overrides `--sync-every-minutes`
    /// (for tests and demos, which cannot wait a quarter of an hour).
    #[arg(long, env = "CALLVAULT_SYNC_EVERY_SECS", hide = true)]
    pub sync_every_secs: Option<u64>,
    /// Scales every live delay, poll, retry and lease down to this many
    /// milliseconds per step (see `LiveConfig::paced`), so a test or the
    /// demo sees a call backed up in seconds; production leaves it unset.
    #[arg(long, env = "CALLVAULT_PACE_MS", hide = true)]
    pub pace_ms: Option<u64>,
}

impl Default for LiveTiming {
    fn default() -> Self {
        LiveTiming {
            sync_every_minutes: 15,
            sync_every_secs: None,
            pace_ms: None,
        }
    }
}

impl LiveTiming {
    /// The live configuration these settings give, with `workers` workers.
    pub fn live_config(&self, workers: usize) -> crate::live::LiveConfig {
        let base = match self.pace_ms {
            Some(ms) => crate::live::LiveConfig::paced(std::time::Duration::from_millis(ms.max(1))),
            None => crate::live::LiveConfig::default(),
        };
        let sync_every = match self.sync_every_secs {
            Some(s) => s.max(1),
            None => self.sync_every_minutes.max(1).saturating_mul(60),
        };
        crate::live::LiveConfig {
            workers: workers.max(1),
            safety_net_every: std::time::Duration::from_secs(sync_every),
            ..base
        }
    }
}

/// Capacity monitoring and alerts of the live gateway ([`crate::capacity`],
/// [`crate::alerts`]).
#[derive(Debug, Clone, Args)]
pub struct Monitoring {
    /// URL that receives a JSON POST (`{"event", "text"}`, Slack-compatible)
    /// when the backlog turns degraded, new jobs die, or the webhook
    /// subscription stops being Active; sent by the RingCentral gateway only.
    // A `Secret` checked by `alert_url`, not a clap-parsed URL: clap's error
    // would echo the value, and a chat webhook's path is its secret.
    #[arg(long, env = "CALLVAULT_ALERT_WEBHOOK", hide_env_values = true, value_parser = parse_secret)]
    pub alert_webhook: Option<Secret>,
    /// Minutes the backlog of recordings may keep growing before `/healthz`
    /// reports degraded and the alert webhook is told.
    #[arg(long, env = "CALLVAULT_DEGRADED_AFTER_MINUTES", default_value_t = 30)]
    pub degraded_after_minutes: u64,
    /// Seconds instead of `--degraded-after-minutes` (for tests and demos).
    #[arg(long, env = "CALLVAULT_DEGRADED_AFTER_SECS", hide = true)]
    pub degraded_after_secs: Option<u64>,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            alert_webhook: None,
            degraded_after_minutes: 30,
            degraded_after_secs: None,
        }
    }
}

impl Monitoring {
    /// The alert webhook, if one is set; an error (which never repeats the
    /// value) when it is not an http(s) URL.
    pub fn alert_url(
        &self,
    ) -> Result<Option<crate::alerts::AlertUrl>, crate::alerts::AlertUrlError> {
        self.alert_webhook
            .as_ref()
            .filter(|s| !s.is_empty())
            .map(|s| s.expose().parse())
            .transpose()
    }

    /// How long the backlog may grow before the node is degraded.
    pub fn degraded_after(&self) -> std::time::Duration {
        std::time::Duration::from_secs(match self.degraded_after_secs {
            Some(s) => s,
            None => self.degraded_after_minutes.saturating_mul(60),
        })
    }
}

impl StoreArgs {
    /// The catalog URL in force.
    pub fn database_url(&self) -> String {
        self.database.clone().unwrap_or_else(|| {
            format!(
                "sqlite:{}?mode=rwc",
                self.data_dir.join("catalog.sqlite").display()
            )
        })
    }

    /// The blob store location in force.
    pub fn storage_url(&self) -> String {
        self.storage
            .clone()
            .unwrap_or_else(|| self.data_dir.join("recordings").display().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_alert_webhook_is_refused_without_repeating_it() {
        let monitoring = |url: &str| Monitoring {
            alert_webhook: Some(Secret::from(url)),
            ..Monitoring::default()
        };
        let bad = monitoring("ftp://hooks.example/SECRETPATH");
        let error = bad.alert_url().unwrap_err().to_string();
        assert!(!error.contains("SECRETPATH"), "{error}");
        assert!(!format!("{bad:?}").contains("SECRETPATH"));
        let good = monitoring("https://hooks.example/SECRETPATH");
        assert!(good.alert_url().unwrap().is_some());
        assert!(!format!("{good:?}").contains("SECRETPATH"));
        assert_eq!(monitoring("").alert_url(), Ok(None));
        assert_eq!(Monitoring::default().alert_url(), Ok(None));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let rc = RcArgs {
            server_url: "http://x".into(),
            media_url: None,
            client_id: "id".into(),
            client_secret: "s3cr3t-value".into(),
            jwt: "eyJ.jwt.value".into(),
        };
        let shown = format!("{rc:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("eyJ.jwt.value"), "{shown}");
    }
}
