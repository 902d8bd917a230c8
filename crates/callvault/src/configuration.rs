//! Where CallVault's settings come from: flags, then environment (the names
//! RingCentral's own samples use: `RC_SERVER_URL`, `RC_CLIENT_ID`, …), then
//! defaults. Secrets are wrapped so `Debug` never prints them.

use std::path::PathBuf;

use clap::Args;

/// A secret string whose `Debug` is redacted.
#[derive(Clone, Default)]
pub struct Secret(String);

impl Secret {
    /// The secret value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Secret {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() {
            "[empty]"
        } else {
            "[redacted]"
        })
    }
}

/// How to reach RingCentral (or the sandbox).
#[derive(Debug, Clone, Args)]
pub struct RcArgs {
    /// Platform base URL.
    #[arg(
        long,
        env = "RC_SERVER_URL",
        default_value = "https://platform.ringcentral.com"
    )]
    pub server_url: String,
    /// Media base URL (recording content); defaults to the media host of the platform.
    #[arg(long, env = "RC_MEDIA_URL")]
    pub media_url: Option<String>,
    /// OAuth client id of the app.
    #[arg(long, env = "RC_CLIENT_ID", default_value = "")]
    pub client_id: String,
    /// OAuth client secret of the app.
    #[arg(
        long,
        env = "RC_CLIENT_SECRET",
        default_value = "",
        hide_env_values = true
    )]
    pub client_secret: Secret,
    /// The JWT credential of the (admin) user.
    #[arg(long, env = "RC_JWT", default_value = "", hide_env_values = true)]
    pub jwt: Secret,
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
    #[arg(long, env = "CALLVAULT_DATABASE")]
    pub database: Option<String>,
    /// Blob store URL (a folder or `s3://…`); overrides `--data` for the recordings.
    #[arg(long, env = "CALLVAULT_STORAGE")]
    pub storage: Option<String>,
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
    fn secrets_never_show_in_debug_output() {
        let rc = RcArgs {
            server_url: "http://x".into(),
            media_url: None,
            client_id: "id".into(),
            client_secret: "s3cr3t-value".parse().unwrap(),
            jwt: "eyJ.jwt.value".parse().unwrap(),
        };
        let shown = format!("{rc:?}");
        assert!(!shown.contains("s3cr3t-value"), "{shown}");
        assert!(!shown.contains("eyJ.jwt.value"), "{shown}");
    }
}
