//! Puts `callvault.toml` and the secrets' files under clap, so precedence
//! stays clap's own: flags, then the environment, then the file, then the
//! built-in defaults.
//!
//! clap already ranks a flag above its `env` above its `default_value`. This
//! layer runs before parsing and turns the lower levels into that last
//! slot: a setting found in the file (or a secret read from its file)
//! becomes the argument's default. The arguments are found by their `env`
//! name, which is also how the file's keys are named (see [`super::file`]).
//!
//! Secrets from files: `RC_JWT_FILE` (environment) ranks with `RC_JWT`, so
//! it only fills the default, and the environment's own `RC_JWT` would win;
//! both set is refused as ambiguous. `--rc-jwt-file PATH` ranks with the
//! flags: it switches the argument's environment off and fills the
//! default, so only `--rc-jwt` itself could beat it (both given is refused).

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Arg, Command};

use super::file::{ConfigError, FileValue, SettingsFile, read_secret};

/// The settings that are secrets: they may come from files, and their
/// values are never shown in `--help`.
pub const SECRETS: [&str; 4] = [
    "RC_JWT",
    "RC_CLIENT_SECRET",
    "CALLVAULT_DATABASE",
    "CALLVAULT_ALERT_WEBHOOK",
];

/// The file looked for beside `--data` when `--config` is not given.
pub const FILE_NAME: &str = "callvault.toml";

/// What the layer found, for `doctor` and the logs.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    /// The configuration file in force, if any.
    pub file: Option<PathBuf>,
    /// The environment names of the settings the file gave.
    pub from_file: BTreeSet<String>,
}

/// Adds `--config` and the `--…-file` flags to `cmd`, then fills the
/// defaults from the configuration file and the secrets' files. `argv` is
/// the command line (with the program name), `env` reads the environment.
pub fn apply(
    cmd: Command,
    argv: &[OsString],
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<(Command, Layered), ConfigError> {
    let cmd = with_file_flags(
        cmd.arg(
            Arg::new("config")
                .long("config")
                .env("CALLVAULT_CONFIG")
                .value_name("PATH")
                .global(true)
                .help(
                    "Settings file (default: callvault.toml in the --data folder); \
                 flags and the environment win over it",
                ),
        ),
    );
    let flags = Argv::scan(argv);
    let mut layered = Layered::default();
    let mut defaults: BTreeMap<String, String> = BTreeMap::new();

    if let Some(path) = config_path(&flags, env)? {
        let file = SettingsFile::load(&path)?;
        let base = path.parent().unwrap_or(Path::new("."));
        for (name, value) in file.values {
            let value = match value {
                FileValue::Value(v) => v,
                FileValue::File(p) => read_secret(&format!("{name}_FILE"), &base.join(p))?,
            };
            layered.from_file.insert(name.clone());
            defaults.insert(name, value);
        }
        layered.file = Some(path);
    }

    let mut env_off = BTreeSet::new();
    for secret in SECRETS {
        let file_name = format!("{secret}_FILE");
        if let Some(path) = env(&file_name) {
            if env(secret).is_some() {
                return Err(ConfigError::Twice(secret.to_owned()));
            }
            defaults.insert(
                secret.to_owned(),
                read_secret(&file_name, Path::new(&path))?,
            );
            layered.from_file.remove(secret);
        }
        let Some((direct, file_flag)) = secret_flags(&cmd, secret) else {
            continue;
        };
        if let Some(path) = flags.value(&file_flag) {
            if direct.iter().any(|d| flags.has(d)) {
                return Err(ConfigError::Twice(secret.to_owned()));
            }
            defaults.insert(
                secret.to_owned(),
                read_secret(&format!("--{file_flag}"), Path::new(&path))?,
            );
            layered.from_file.remove(secret);
            env_off.insert(secret);
        }
    }
    let cmd = fill(cmd, &|arg: Arg| {
        let Some(name) = arg.get_env().and_then(|e| e.to_str()).map(str::to_owned) else {
            return arg;
        };
        let Some(value) = defaults.get(&name) else {
            return arg;
        };
        let hide = SECRETS.contains(&name.as_str()) || arg.is_hide_default_value_set();
        let arg = arg.default_value(value.clone()).hide_default_value(hide);
        if env_off.contains(name.as_str()) {
            arg.env(None)
        } else {
            arg
        }
    });
    Ok((cmd, layered))
}

/// `--config`, `CALLVAULT_CONFIG`, or `callvault.toml` in the `--data` /
/// `CALLVAULT_DATA` folder (default `./callvault-data`) when it exists.
fn config_path(
    flags: &Argv,
    env: &dyn Fn(&str) -> Option<OsString>,
) -> Result<Option<PathBuf>, ConfigError> {
    if let Some(p) = flags.value("config").or_else(|| env("CALLVAULT_CONFIG")) {
        return Ok(Some(PathBuf::from(p)));
    }
    let data = flags
        .value("data")
        .or_else(|| env("CALLVAULT_DATA"))
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("./callvault-data"));
    let beside = data.join(FILE_NAME);
    Ok(beside.is_file().then_some(beside))
}

/// The long names (with aliases) of the argument whose env is `secret`, and
/// the name of its `-file` flag; `None` when no command has it.
fn secret_flags(cmd: &Command, secret: &str) -> Option<(Vec<String>, String)> {
    let mut found = None;
    visit(cmd, &mut |arg| {
        if found.is_none() && arg.get_env().and_then(|e| e.to_str()) == Some(secret) {
            let long = arg.get_long()?.to_owned();
            let mut names = vec![long.clone()];
            names.extend(
                arg.get_all_aliases()
                    .unwrap_or_default()
                    .into_iter()
                    .map(str::to_owned),
            );
            found = Some((names, format!("{long}-file")));
        }
        Some(())
    });
    found
}

fn visit(cmd: &Command, f: &mut dyn FnMut(&Arg) -> Option<()>) {
    for arg in cmd.get_arguments() {
        let _ = f(arg);
    }
    for sub in cmd.get_subcommands() {
        visit(sub, f);
    }
}

/// Gives every command that has a secret argument its `--…-file` sibling.
fn with_file_flags(cmd: Command) -> Command {
    let extra: Vec<Arg> = cmd
        .get_arguments()
        .filter_map(|arg| {
            let env = arg.get_env()?.to_str()?;
            if !SECRETS.contains(&env) {
                return None;
            }
            let long = arg.get_long()?;
            Some(
                Arg::new(format!("{}_file", arg.get_id()))
                    .long(format!("{long}-file"))
                    .value_name("PATH")
                    .help(format!(
                        "Read {env} from this file (or set {env}_FILE), as systemd \
                         credentials and Kubernetes secrets provide it"
                    )),
            )
        })
        .collect();
    each_subcommand(cmd.args(extra), &with_file_flags)
}

/// Applies `f` to every argument of `cmd` and its subcommands.
fn fill(cmd: Command, f: &dyn Fn(Arg) -> Arg) -> Command {
    each_subcommand(cmd.mut_args(f), &|s| fill(s, f))
}

/// `cmd` with `f` applied to each of its direct subcommands.
fn each_subcommand(cmd: Command, f: &dyn Fn(Command) -> Command) -> Command {
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect();
    names.iter().fold(cmd, |c, n| c.mut_subcommand(n, f))
}

/// The long flags on a command line, read before clap parses it (the
/// layer must know `--config`, `--data` and the `--…-file` flags first).
struct Argv(Vec<(String, Option<OsString>)>);

impl Argv {
    fn scan(argv: &[OsString]) -> Argv {
        let mut out = Vec::new();
        let mut it = argv.iter().skip(1).peekable();
        while let Some(a) = it.next() {
            let Some(s) = a.to_str() else { continue };
            if s == "--" {
                break;
            }
            let Some(flag) = s.strip_prefix("--") else {
                continue;
            };
            match flag.split_once('=') {
                Some((name, v)) => out.push((name.to_owned(), Some(OsString::from(v)))),
                None => {
                    let next = it
                        .peek()
                        .filter(|n| !n.to_str().is_some_and(|n| n.starts_with("--")))
                        .map(|n| (*n).clone());
                    out.push((flag.to_owned(), next));
                }
            }
        }
        Argv(out)
    }

    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|(n, _)| n == name)
    }

    /// The last value given to `--name` (clap keeps the last too).
    fn value(&self, name: &str) -> Option<OsString> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.clone())
    }
}
