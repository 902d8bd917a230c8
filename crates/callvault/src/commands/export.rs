//! `callvault export --matter NAME [filters] -o BUNDLE.zip` and
//! `callvault export verify BUNDLE.zip`: eDiscovery bundles
//! ([`crate::ediscovery`]).

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use tokio::io::AsyncWriteExt;

use crate::audit::{AuditKeyArgs, trusted_public_key};
use crate::commands::user::open_catalog;
use crate::configuration::StoreArgs;
use crate::ediscovery::{ExportRequest, export_bundle, verify::verify_bundle};
use crate::web::routes::calls::CallsQuery;

/// Options of `callvault export`.
#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ExportArgs {
    /// `verify`, or nothing to export.
    #[command(subcommand)]
    pub verify: Option<ExportAction>,
    /// What to export.
    #[command(flatten)]
    pub bundle: BundleArgs,
}

/// `export` subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum ExportAction {
    /// Check a bundle with the public key alone: the manifest's signature,
    /// every file's sha256, no unlisted file; exits non-zero on any fault.
    Verify {
        /// The bundle.
        bundle: PathBuf,
        /// The public key to trust (default: the signing key's PATH.pub).
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
        /// The signing key, whose PATH.pub is trusted without --public-key.
        #[command(flatten)]
        key: AuditKeyArgs,
    },
}

/// The export itself: a matter, the calls page's filters, and the output.
#[derive(Debug, Clone, Args)]
pub struct BundleArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The signing key (required: the manifest is signed).
    #[command(flatten)]
    pub key: AuditKeyArgs,
    /// The matter (case) the export is for; goes into the custody record.
    #[arg(long)]
    pub matter: Option<String>,
    /// The bundle to write (a zip).
    #[arg(short = 'o', long = "out", value_name = "BUNDLE.zip")]
    pub out: Option<PathBuf>,
    /// Search: a number, a name, or an id (as the calls page's box).
    #[arg(long = "q", value_name = "TEXT", default_value = "")]
    pub q: String,
    /// First day, YYYY-MM-DD.
    #[arg(long, default_value = "")]
    pub from: String,
    /// Last day, YYYY-MM-DD.
    #[arg(long, default_value = "")]
    pub to: String,
    /// An extension id that took part.
    #[arg(long, default_value = "")]
    pub extension: String,
    /// A party's number (or its last 4+ digits) or name.
    #[arg(long, default_value = "")]
    pub party: String,
    /// Inbound or Outbound.
    #[arg(long, default_value = "")]
    pub direction: String,
    /// stitched, single, waiting, incomplete, failed, live or ended.
    #[arg(long, default_value = "")]
    pub state: String,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

impl BundleArgs {
    fn query(&self) -> CallsQuery {
        CallsQuery {
            q: self.q.clone(),
            from: self.from.clone(),
            to: self.to.clone(),
            extension: self.extension.clone(),
            party: self.party.clone(),
            direction: self.direction.clone(),
            state: self.state.clone(),
            page: None,
            ..CallsQuery::default()
        }
    }
}

/// Runs `export` or `export verify`.
pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    match args.verify {
        Some(ExportAction::Verify {
            bundle,
            public_key,
            key,
        }) => {
            let trusted = trusted_public_key(public_key.as_deref(), &key)?;
            let report = tokio::task::spawn_blocking(move || verify_bundle(&bundle, &trusted))
                .await
                .context("the verifier panicked")??;
            for problem in &report.problems {
                println!("FAULT: {problem}");
            }
            if !report.is_intact() {
                bail!(
                    "the bundle does not verify ({} problems)",
                    report.problems.len()
                );
            }
            println!(
                "OK: signature valid; {} files and {} audit entries verify",
                report.files, report.audit_entries
            );
            Ok(())
        }
        None => export(args.bundle).await,
    }
}

async fn export(args: BundleArgs) -> anyhow::Result<()> {
    let (Some(matter), Some(out)) = (args.matter.clone(), args.out.clone()) else {
        bail!("pass --matter NAME and -o BUNDLE.zip (or `export verify BUNDLE.zip`)");
    };
    if matter.trim().is_empty() || matter.len() > 200 || matter.chars().any(char::is_control) {
        bail!("the matter name must be 1–200 printable characters");
    }
    let query = args.query();
    if let Err(notes) = crate::ediscovery::filter_of(&query) {
        bail!("{}", notes.join(" "));
    }
    let signer = args.key.require_signer()?;
    let catalog = open_catalog(&args.store).await?;
    let blobs =
        vault::BlobStore::open(&args.store.storage_url()).context("opening the blob store")?;
    let request = ExportRequest {
        matter,
        query,
        actor: crate::audit::cli_actor(),
        client: None,
    };
    let result = write_bundle(&out, |tx| {
        let (catalog, blobs, request) = (&catalog, &blobs, &request);
        let signer = &signer;
        async move { export_bundle(catalog, blobs, signer, request, tx).await }
    })
    .await;
    if result.is_ok() {
        crate::audit::checkpoint(&catalog, &signer).await;
    }
    catalog.close().await;
    let summary = result?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "exported {} conversations ({} files, {} bytes) to {}; manifest sha256 {}; audit entry {}",
            summary.conversations,
            summary.files,
            summary.bytes,
            out.display(),
            summary.manifest_sha256,
            summary.audit_seq
        );
    }
    for problem in &summary.integrity_problems {
        eprintln!("warning: {problem}");
    }
    Ok(())
}

/// Runs `produce` with a channel whose chunks are written to a temporary
/// file beside `out`, renamed into place only when the bundle is complete.
async fn write_bundle<F, Fut, T>(out: &Path, produce: F) -> anyhow::Result<T>
where
    F: FnOnce(tokio::sync::mpsc::Sender<std::io::Result<bytes::Bytes>>) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let tmp = crate::commands::audit::temp_file_beside(out)?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(8);
    let mut file = tokio::fs::File::from_std(tmp.reopen()?);
    let writer = async move {
        while let Some(chunk) = rx.recv().await {
            let chunk = chunk?;
            file.write_all(&chunk).await?;
        }
        file.sync_all().await?;
        anyhow::Ok(())
    };
    let (made, written) = tokio::join!(produce(tx), writer);
    let made = made?;
    written.with_context(|| format!("writing {}", out.display()))?;
    tmp.persist(out)
        .with_context(|| format!("writing {}", out.display()))?;
    Ok(made)
}
