//! `callvault audit keygen|checkpoint|verify|export`: the sealed audit
//! trail's key, its checkpoints, its verification and its export.

use std::io::BufReader;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use vault::audit::{AuditSigner, ChainReport};

use crate::audit::{AuditKeyArgs, public_key_path, trusted_public_key};
use crate::commands::user::open_catalog;
use crate::configuration::StoreArgs;

/// Options of `callvault audit`.
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: AuditAction,
}

/// `audit` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum AuditAction {
    /// Create the Ed25519 signing key (mode 0600) and write its public key
    /// beside it (PATH.pub); never overwrites a key.
    Keygen {
        /// Where to write the private key (default: --audit-key / CALLVAULT_AUDIT_KEY).
        #[arg(short = 'o', long = "out", value_name = "PATH")]
        out: Option<PathBuf>,
        /// The signing key's path, when --out is not given.
        #[command(flatten)]
        key: AuditKeyArgs,
    },
    /// Sign the chain's head now (`serve` does this periodically).
    Checkpoint {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// The signing key.
        #[command(flatten)]
        key: AuditKeyArgs,
    },
    /// Recompute the chain and check every checkpoint's signature; names
    /// the first altered, deleted or reordered entry and exits non-zero.
    Verify {
        /// Where the catalog lives (ignored with --file).
        #[command(flatten)]
        store: StoreArgs,
        /// The public key to trust (default: the signing key's PATH.pub).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// Verify an `audit export` file instead of the catalog.
        #[arg(long, value_name = "FILE.jsonl")]
        file: Option<PathBuf>,
        /// The signing key, whose PATH.pub is trusted without --public-key.
        #[command(flatten)]
        key: AuditKeyArgs,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the whole chain as JSON Lines for a third party (see the
    /// format in the README); signs a checkpoint first when a key is set.
    Export {
        /// Where the catalog lives.
        #[command(flatten)]
        store: StoreArgs,
        /// The file to write.
        #[arg(short = 'o', long = "out", value_name = "FILE.jsonl")]
        out: PathBuf,
        /// The signing key (optional: seals the head before exporting).
        #[command(flatten)]
        key: AuditKeyArgs,
    },
}

/// Runs an `audit` subcommand.
pub async fn run(args: AuditArgs) -> anyhow::Result<()> {
    match args.action {
        AuditAction::Keygen { out, key } => {
            let Some(path) = out.or(key.audit_key) else {
                bail!("pass -o PATH (or set CALLVAULT_AUDIT_KEY) for the new key");
            };
            let signer = AuditSigner::generate(&path)?;
            let public = signer.public_key().to_hex();
            let public_path = public_key_path(&path);
            write_new(&public_path, &format!("{public}\n"))?;
            println!("audit key written to {} (mode 0600)", path.display());
            println!("public key {public} written to {}", public_path.display());
            Ok(())
        }
        AuditAction::Checkpoint { store, key } => {
            let signer = key.require_signer()?;
            let catalog = open_catalog(&store).await?;
            let made = catalog.checkpoint_audit(&signer).await;
            catalog.close().await;
            match made? {
                Some(c) => println!("checkpoint {} signs {} entries", c.seq, c.count),
                None => println!("the last checkpoint already signs the head"),
            }
            Ok(())
        }
        AuditAction::Verify {
            store,
            public_key,
            file,
            key,
            json,
        } => {
            let trusted = trusted_public_key(public_key.as_deref(), &key)?;
            let report = match file {
                Some(path) => {
                    let f = std::fs::File::open(&path)
                        .with_context(|| format!("opening {}", path.display()))?;
                    crate::audit::verify_jsonl(BufReader::new(f), &trusted)?
                }
                None => {
                    let catalog = open_catalog(&store).await?;
                    let report = catalog.verify_audit(&trusted).await;
                    catalog.close().await;
                    report?
                }
            };
            print_report(&report, json)?;
            match report.first_fault() {
                None => Ok(()),
                Some(fault) => bail!("the audit trail does not verify: {fault}"),
            }
        }
        AuditAction::Export { store, out, key } => {
            let signer = key.signer()?;
            let catalog = open_catalog(&store).await?;
            if let Some(signer) = &signer {
                catalog.checkpoint_audit(signer).await?;
            }
            let written = write_export(&catalog, signer.as_ref(), &out).await;
            catalog.close().await;
            let written = written?;
            println!(
                "wrote {} entries and {} checkpoints to {}",
                written.entries,
                written.checkpoints,
                out.display()
            );
            Ok(())
        }
    }
}

/// Writes the export into a temporary file beside `out`, renamed into
/// place only when complete: no partial export is ever left.
async fn write_export(
    catalog: &vault::Catalog,
    signer: Option<&AuditSigner>,
    out: &Path,
) -> anyhow::Result<crate::audit::Exported> {
    let mut writer = std::io::BufWriter::new(temp_file_beside(out)?);
    let written =
        crate::audit::export_jsonl(catalog, signer.map(AuditSigner::public_key), &mut writer)
            .await?;
    let tmp = writer.into_inner().map_err(|e| e.into_error())?;
    tmp.as_file().sync_all()?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(written)
}

/// A temporary file in `out`'s folder, to be renamed onto `out` once
/// complete (so a failure never leaves a partial file at `out`).
pub(crate) fn temp_file_beside(out: &Path) -> anyhow::Result<tempfile::NamedTempFile> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))
}

/// Creates `path` holding `text`; refuses to overwrite.
fn write_new(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}

fn print_report(report: &ChainReport, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    println!(
        "{} entries, {} checkpoints; the last valid checkpoint signs {} entries",
        report.entries, report.checkpoints, report.signed_entries
    );
    if report.is_intact() {
        println!("head {}", report.head_hash);
        let unsigned = report.entries - report.signed_entries;
        if unsigned > 0 {
            println!("{unsigned} entries after the last checkpoint are chained but not yet signed");
        }
        println!("OK: every entry and checkpoint verifies");
    }
    for fault in &report.faults {
        println!("FAULT: {fault}");
    }
    Ok(())
}
