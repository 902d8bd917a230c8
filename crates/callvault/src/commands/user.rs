//! `callvault user add|list|remove|passwd`: web users and their extensions.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::{Args, Subcommand, ValueEnum};
use vault::Catalog;
use vault::audit::{AuditAction, AuditEvent, SubjectKind};
use vault::users::{NewUser, Role};

use crate::audit::AuditKeyArgs;
use crate::configuration::StoreArgs;
use crate::web::auth::password::hash_password;

/// Options of `callvault user`.
#[derive(Debug, Clone, Args)]
pub struct UserArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: UserAction,
}

/// The role flag.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Sees everything, the status page and the audit log.
    Admin,
    /// Sees only conversations of their extensions.
    Viewer,
}

/// `user` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum UserAction {
    /// Create a user (password from the terminal, or stdin with --password-stdin).
    Add {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// The audit key, to seal the change in a checkpoint at once.
        #[command(flatten)]
        audit: AuditKeyArgs,
        /// Login name: 1–64 of A–Z a–z 0–9 . _ @ -
        name: String,
        /// What the user may see.
        #[arg(long, value_enum)]
        role: RoleArg,
        /// A RingCentral extension id whose conversations the user may see (repeatable).
        #[arg(long = "extension", value_name = "ID")]
        extensions: Vec<String>,
        /// An extension group whose conversations the user may see
        /// (repeatable; see `callvault retention groups set`).
        #[arg(long = "group", value_name = "NAME")]
        groups: Vec<String>,
        /// May play recordings but never download them.
        #[arg(long)]
        listen_only: bool,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users, their roles and extensions.
    List {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Remove a user and end their sessions.
    Remove {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// The audit key, to seal the change in a checkpoint at once.
        #[command(flatten)]
        audit: AuditKeyArgs,
        /// Login name.
        name: String,
    },
    /// Set a new password (ends the user's sessions).
    Passwd {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// The audit key, to seal the change in a checkpoint at once.
        #[command(flatten)]
        audit: AuditKeyArgs,
        /// Login name.
        name: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
}

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 8;

/// Checks a login name: 1–64 characters of `[A-Za-z0-9._@-]`.
pub fn check_user_name(name: &str) -> anyhow::Result<()> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'));
    if !ok {
        bail!("user name must be 1–64 characters of A–Z a–z 0–9 . _ @ -");
    }
    Ok(())
}

fn read_line_stdin() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("reading the password from standard input")?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

/// Reads a password without echo (via `stty`) when stdin is a terminal.
fn prompt_hidden(prompt: &str) -> anyhow::Result<String> {
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let tty = std::io::stdin().is_terminal();
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    if tty {
        stty("-echo").context("turning off terminal echo")?;
    }
    let line = read_line_stdin();
    if tty {
        let _ = stty("echo"); // best effort: restore echo whatever happened
        eprintln!();
    }
    line
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    let password = if from_stdin {
        read_line_stdin()?
    } else {
        let first = prompt_hidden("Password: ")?;
        let second = prompt_hidden("Repeat password: ")?;
        if first != second {
            bail!("the passwords differ");
        }
        first
    };
    if password.chars().count() < MIN_PASSWORD_LEN {
        bail!("the password must have at least {MIN_PASSWORD_LEN} characters");
    }
    Ok(password)
}

async fn hash(password: String) -> anyhow::Result<String> {
    Ok(tokio::task::spawn_blocking(move || hash_password(&password)).await??)
}

/// Opens the catalog `store` names, creating the data folder of a default
/// SQLite catalog first.
pub async fn open_catalog(store: &StoreArgs) -> anyhow::Result<Catalog> {
    if store.database.is_none() {
        std::fs::create_dir_all(&store.data_dir)
            .with_context(|| format!("creating {}", store.data_dir.display()))?;
    }
    Catalog::open(&store.database_url())
        .await
        .context("opening the catalog")
}

/// Runs a `user` subcommand.
pub async fn run(args: UserArgs) -> anyhow::Result<()> {
    let (store, audit) = match &args.action {
        UserAction::Add { store, audit, .. }
        | UserAction::Remove { store, audit, .. }
        | UserAction::Passwd { store, audit, .. } => (store.clone(), audit.clone()),
        UserAction::List { store } => (store.clone(), AuditKeyArgs::default()),
    };
    let signer = audit.signer()?;
    let catalog = open_catalog(&store).await?;
    let changed = change(&catalog, args.action).await;
    if let Ok(Some(event)) = &changed {
        catalog.append_audit_event(event).await?;
        if let Some(signer) = &signer {
            crate::audit::checkpoint(&catalog, signer).await;
        }
    }
    catalog.close().await;
    changed.map(drop)
}

/// Does what `action` asks; returns the audit entry of a change.
async fn change(catalog: &Catalog, action: UserAction) -> anyhow::Result<Option<AuditEvent>> {
    let event = |action, name: &str, details| {
        Some(AuditEvent {
            actor: crate::audit::cli_actor(),
            action,
            subject_kind: SubjectKind::User,
            subject_id: name.to_owned(),
            details,
        })
    };
    match action {
        UserAction::Add {
            name,
            role,
            extensions,
            groups,
            listen_only,
            password_stdin,
            ..
        } => {
            check_user_name(&name)?;
            for ext in &extensions {
                vault::CallRecordId::parse(ext)
                    .with_context(|| format!("extension id {ext:?} is not an id"))?;
            }
            let password_hash = hash(read_password(password_stdin)?).await?;
            let role = match role {
                RoleArg::Admin => Role::Admin,
                RoleArg::Viewer => Role::Viewer,
            };
            let created = catalog
                .create_user(&NewUser {
                    name: name.clone(),
                    password_hash,
                    role,
                    extensions: extensions.clone(),
                })
                .await?;
            if created.is_none() {
                bail!("a user called {name:?} already exists");
            }
            if !groups.is_empty() {
                catalog.set_user_extension_groups(&name, &groups).await?;
            }
            if listen_only {
                catalog.set_listen_only(&name, true).await?;
            }
            println!(
                "added {name} ({}{})",
                role.as_str(),
                if listen_only { ", listen-only" } else { "" }
            );
            let details = serde_json::json!({
                "role": role.as_str(),
                "extensions": extensions,
                "groups": groups,
                "listenOnly": listen_only,
            });
            Ok(event(AuditAction::UserAdded, &name, details))
        }
        UserAction::List { .. } => {
            for u in catalog.list_users().await? {
                let scope: Vec<String> = u
                    .extensions
                    .iter()
                    .cloned()
                    .chain(u.extension_groups.iter().map(|g| format!("group:{g}")))
                    .collect();
                println!(
                    "{}\t{}{}\t{}",
                    u.name,
                    u.role.as_str(),
                    if u.listen_only { " (listen-only)" } else { "" },
                    if scope.is_empty() {
                        "-".to_owned()
                    } else {
                        scope.join(",")
                    }
                );
            }
            Ok(None)
        }
        UserAction::Remove { name, .. } => {
            if !catalog.remove_user(&name).await? {
                bail!("no user called {name:?}");
            }
            println!("removed {name}");
            Ok(event(
                AuditAction::UserRemoved,
                &name,
                serde_json::json!({}),
            ))
        }
        UserAction::Passwd {
            name,
            password_stdin,
            ..
        } => {
            if catalog.user_by_name(&name).await?.is_none() {
                bail!("no user called {name:?}");
            }
            let phc = hash(read_password(password_stdin)?).await?;
            catalog.set_password_hash(&name, &phc).await?;
            println!("password of {name} changed; their sessions ended");
            let details = serde_json::json!({ "changed": "password" });
            Ok(event(AuditAction::UserChanged, &name, details))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::check_user_name;

    #[test]
    fn user_names_are_short_and_plain() {
        for ok in ["alice", "a.b-c_d@example.com", "x"] {
            assert!(check_user_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "has space", "semi;colon", &"x".repeat(65), "ünï"] {
            assert!(check_user_name(bad).is_err(), "{bad}");
        }
    }
}
