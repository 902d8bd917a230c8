//! `callvault.toml`: the settings file, and the one naming rule it shares
//! with the flags and the environment.
//!
//! **The rule.** A top-level key `k` is the environment variable
//! `CALLVAULT_K` and the flag `--k` (`_` becomes `-`): `data` ↔
//! `CALLVAULT_DATA` ↔ `--data`. A key `k` of the `[rc]` table is `RC_K` and
//! `--rc-k`: `client_id` ↔ `RC_CLIENT_ID` ↔ `--rc-client-id` (the older
//! `--client-id` still works). A secret `s` may instead be read from a file,
//! as systemd credentials and Kubernetes secrets provide them: `s_file` in
//! the file, `S_FILE` in the environment, `--s-file` on the command line.
//!
//! The file is parsed twice: into [`FileSettings`], whose
//! `deny_unknown_fields` refuses a misspelt key by name and whose types
//! refuse a wrong value, then as a table that the rule maps onto the
//! environment names, so there is no second list of settings to keep in
//! step.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why the configuration could not be read. Never carries a secret's value.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file named by `--config` / `CALLVAULT_CONFIG` is not there.
    #[error("reading the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not TOML, an unknown key, or a value of the wrong type (the message
    /// names the key).
    #[error("in {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// toml's message, which names the key and shows the line.
        message: String,
    },
    /// A secret's file could not be read.
    #[error("reading {setting} from {path}: {source}")]
    SecretFile {
        /// The setting, e.g. `RC_JWT_FILE`.
        setting: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A secret's file is empty.
    #[error("{setting}: {path} is empty")]
    EmptySecretFile {
        /// The setting, e.g. `RC_JWT_FILE`.
        setting: String,
        /// The file.
        path: PathBuf,
    },
    /// A secret given twice at the same level (`RC_JWT` and `RC_JWT_FILE`).
    #[error("{0} and {0}_FILE are both set at the same level; keep one")]
    Twice(String),
}

/// Every key `callvault.toml` may hold. Only the types matter here: the
/// values are applied through the naming rule (see the module docs).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSettings {
    /// Folder for the SQLite catalog and the recordings.
    pub data: Option<PathBuf>,
    /// Catalog URL (`sqlite:…` or `postgres://…`).
    pub database: Option<String>,
    /// File holding the catalog URL.
    pub database_file: Option<PathBuf>,
    /// Blob store (a folder or `s3://…`).
    pub storage: Option<String>,
    /// Address `serve` (and `worker --public-url`) listens on.
    pub listen: Option<String>,
    /// The https URL users and RingCentral reach this server at.
    pub public_url: Option<String>,
    /// Job workers per `serve` / `worker` process.
    pub workers: Option<u32>,
    /// Minutes between safety-net syncs.
    pub sync_every_minutes: Option<u64>,
    /// Web session idle timeout, minutes.
    pub session_idle_minutes: Option<u64>,
    /// Memory for concurrent password checks, MiB.
    pub password_memory_mib: Option<u32>,
    /// Alert webhook URL (a secret: its path is the key).
    pub alert_webhook: Option<String>,
    /// File holding the alert webhook URL.
    pub alert_webhook_file: Option<PathBuf>,
    /// Minutes of growing backlog before `/healthz` says degraded.
    pub degraded_after_minutes: Option<u64>,
    /// RingCentral.
    pub rc: Option<RcFileSettings>,
}

/// The `[rc]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RcFileSettings {
    /// Platform base URL.
    pub server_url: Option<String>,
    /// Media base URL.
    pub media_url: Option<String>,
    /// The app's client id.
    pub client_id: Option<String>,
    /// The app's client secret.
    pub client_secret: Option<String>,
    /// File holding the client secret.
    pub client_secret_file: Option<PathBuf>,
    /// The JWT credential.
    pub jwt: Option<String>,
    /// File holding the JWT credential.
    pub jwt_file: Option<PathBuf>,
}

/// One value of the file, under its environment name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileValue {
    /// The value itself.
    Value(String),
    /// A `_file` key: where the value is.
    File(PathBuf),
}

/// A parsed `callvault.toml`: `(environment name, value)` by the rule.
#[derive(Debug, Clone, Default)]
pub struct SettingsFile {
    /// Where it was read.
    pub path: PathBuf,
    /// Its values, under their environment names (`RC_CLIENT_ID`, …);
    /// `_file` keys under the name of the secret they hold (`RC_JWT`).
    pub values: Vec<(String, FileValue)>,
}

impl SettingsFile {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<SettingsFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        SettingsFile::parse(path, &text)
    }

    /// Checks `text` (from `path`, for messages) and maps it by the rule.
    pub fn parse(path: &Path, text: &str) -> Result<SettingsFile, ConfigError> {
        let invalid = |e: toml::de::Error| ConfigError::Invalid {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        };
        let _typed: FileSettings = toml::from_str(text).map_err(invalid)?;
        let table: toml::Table = toml::from_str(text).map_err(invalid)?;
        let mut values = Vec::new();
        for (key, value) in &table {
            match value {
                toml::Value::Table(section) => {
                    for (k, v) in section {
                        values.push(entry(&key.to_uppercase(), k, v));
                    }
                }
                v => values.push(entry("CALLVAULT", key, v)),
            }
        }
        values.sort_by(|a, b| a.0.cmp(&b.0));
        // The same secret twice in one file (`jwt` and `jwt_file`).
        for (i, (name, _)) in values.iter().enumerate() {
            if values[..i].iter().any(|(n, _)| n == name) {
                return Err(ConfigError::Twice(name.clone()));
            }
        }
        Ok(SettingsFile {
            path: path.to_owned(),
            values,
        })
    }
}

/// `prefix` + `key` by the rule; a `_file` key becomes a [`FileValue::File`]
/// under the secret's name.
/// Every value is a string or a number ([`FileSettings`] checked the types
/// already).
fn entry(prefix: &str, key: &str, value: &toml::Value) -> (String, FileValue) {
    let name = format!("{prefix}_{}", key.to_uppercase());
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Float(x) => x.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Datetime(d) => d.to_string(),
        toml::Value::Array(_) | toml::Value::Table(_) => String::new(),
    };
    match name.strip_suffix("_FILE") {
        Some(secret) => (secret.to_owned(), FileValue::File(PathBuf::from(text))),
        None => (name, FileValue::Value(text)),
    }
}

/// Reads a secret from `path` (as `setting`, for the message): the whole
/// file less trailing whitespace, so a final newline does not end up in a
/// token. An empty file is an error, not an empty secret.
pub fn read_secret(setting: &str, path: &Path) -> Result<String, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::SecretFile {
        setting: setting.to_owned(),
        path: path.to_owned(),
        source,
    })?;
    let value = text.trim_end();
    if value.is_empty() {
        return Err(ConfigError::EmptySecretFile {
            setting: setting.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SettingsFile, ConfigError> {
        SettingsFile::parse(Path::new("callvault.toml"), text)
    }

    #[test]
    fn keys_map_to_environment_names_by_the_rule() {
        let f = parse(
            "data = \"/var/lib/callvault\"\nworkers = 8\n[rc]\nclient_id = \"abc\"\njwt_file = \"/run/credentials/jwt\"\n",
        )
        .unwrap();
        assert_eq!(
            f.values,
            vec![
                (
                    "CALLVAULT_DATA".into(),
                    FileValue::Value("/var/lib/callvault".into())
                ),
                ("CALLVAULT_WORKERS".into(), FileValue::Value("8".into())),
                ("RC_CLIENT_ID".into(), FileValue::Value("abc".into())),
                (
                    "RC_JWT".into(),
                    FileValue::File("/run/credentials/jwt".into())
                ),
            ]
        );
    }

    #[test]
    fn an_unknown_key_is_refused_by_name() {
        for (text, key) in [
            ("datta = \"x\"\n", "datta"),
            ("[rc]\nclient_idd = \"x\"\n", "client_idd"),
            ("[rcc]\nclient_id = \"x\"\n", "rcc"),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(&format!("unknown field `{key}`")), "{e}");
            assert!(e.contains("callvault.toml"), "{e}");
        }
    }

    #[test]
    fn a_wrong_type_and_a_secret_given_twice_are_refused() {
        let e = parse("workers = \"many\"\n").unwrap_err().to_string();
        assert!(e.contains("workers"), "{e}");
        let e = parse("[rc]\njwt = \"a\"\njwt_file = \"/x\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("RC_JWT and RC_JWT_FILE"), "{e}");
    }

    #[test]
    fn a_secret_file_loses_its_final_newline_and_may_not_be_empty() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwt");
        std::fs::write(&path, "eyJ.secret\n").unwrap();
        assert_eq!(read_secret("RC_JWT_FILE", &path).unwrap(), "eyJ.secret");
        std::fs::write(&path, "\n").unwrap();
        let e = read_secret("RC_JWT_FILE", &path).unwrap_err().to_string();
        assert!(e.contains("is empty"), "{e}");
    }
}
