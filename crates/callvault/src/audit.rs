//! The sealed audit trail at the binary's edge: where the signing key
//! lives (`--audit-key`), the checkpoint task of `serve`, and the JSON
//! Lines export a third party verifies with the public key alone.
//!
//! The chain itself (append, checkpoint, verify) lives in
//! [`vault::audit`]; this module only moves it in and out of files.
//!
//! # Export format (`callvault audit export`)
//! One JSON object per line, in this order:
//! 1. `{"type":"header","format":"callvault-audit-v1","exported_at":…,"public_key":…}`
//!    (`public_key` is the exporter's, for information only: a verifier
//!    trusts the key it was given, never the file's);
//! 2. every checkpoint, oldest first:
//!    `{"type":"checkpoint","payload":"…","signature":"…","public_key":"…"}`,
//!    where `payload` is the exact signed text (JSON with `seq`, `at`,
//!    `count`, `head_hash`, `prev_checkpoint_hash`) and `signature` the
//!    hex Ed25519 signature over its UTF-8 bytes;
//! 3. every entry, in chain order:
//!    `{"type":"entry","seq":…,"canonical":"…","prev_hash":"…","event_hash":"…"}`,
//!    where `event_hash = sha256(bytes(prev_hash) || utf8(canonical))`, hex,
//!    entry 1's `prev_hash` is 64 zeros, and `canonical` (the exact hashed
//!    text) holds `v`, `seq`, `at`, `actor`, `action`, `subject_kind`,
//!    `subject_id` and `details`.
//!
//! A checkpoint's `prev_checkpoint_hash` is the sha256 (hex) of the previous
//! checkpoint's payload text (64 zeros for the first); its `head_hash` must
//! equal the `event_hash` of entry `count`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;
use vault::Catalog;
use vault::audit::{
    AuditPublicKey, AuditSigner, ChainCheckpoint, ChainEntry, ChainReport, ChainVerifier,
};

/// The format name in an export's header line.
pub const EXPORT_FORMAT: &str = "callvault-audit-v1";

/// Where the audit trail's signing key lives.
#[derive(Debug, Clone, Default, Args)]
pub struct AuditKeyArgs {
    /// The Ed25519 key that signs audit checkpoints and export manifests
    /// (made by `callvault audit keygen`). Keep it outside the catalog's
    /// reach: a database administrator who can read it can forge seals.
    /// Without it the chain is still kept, but not sealed.
    #[arg(long = "audit-key", env = "CALLVAULT_AUDIT_KEY", value_name = "PATH")]
    pub audit_key: Option<PathBuf>,
}

impl AuditKeyArgs {
    /// The signer, if a key is configured.
    pub fn signer(&self) -> anyhow::Result<Option<AuditSigner>> {
        self.audit_key
            .as_deref()
            .map(|path| AuditSigner::load(path).context("loading the audit key"))
            .transpose()
    }

    /// The signer, or an error saying how to make one.
    pub fn require_signer(&self) -> anyhow::Result<AuditSigner> {
        match self.signer()? {
            Some(signer) => Ok(signer),
            None => bail!(
                "no audit key: pass --audit-key PATH or set CALLVAULT_AUDIT_KEY (create one with `callvault audit keygen`)"
            ),
        }
    }
}

/// Where `keygen` puts the public key beside `key`: `key` + `.pub`.
pub fn public_key_path(key: &Path) -> PathBuf {
    let mut name = key.as_os_str().to_owned();
    name.push(".pub");
    PathBuf::from(name)
}

/// The trusted public key: the file given, else the one beside the
/// configured private key.
pub fn trusted_public_key(
    public_key: Option<&Path>,
    key: &AuditKeyArgs,
) -> anyhow::Result<AuditPublicKey> {
    match (public_key, key.audit_key.as_deref()) {
        (Some(path), _) => Ok(AuditPublicKey::load(path)?),
        (None, Some(private)) => Ok(AuditPublicKey::load(&public_key_path(private))?),
        (None, None) => {
            bail!("pass --public-key FILE (or --audit-key PATH with PATH.pub beside it)")
        }
    }
}

/// Who a command-line action is attributed to: `cli:` and the OS user.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

/// Signs the chain's head if it moved since the last checkpoint; logs and
/// carries on when the database refuses (the next round tries again).
pub async fn checkpoint(catalog: &Catalog, signer: &AuditSigner) {
    match catalog.checkpoint_audit(signer).await {
        Ok(Some(c)) => tracing::info!(seq = c.seq, count = c.count, "audit checkpoint signed"),
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "audit checkpoint failed"),
    }
}

/// Signs a checkpoint every `every` until `stop`, and once more on the way
/// out: the checkpoint task of `serve`.
pub async fn run_checkpoints(
    catalog: Catalog,
    signer: Arc<AuditSigner>,
    every: Duration,
    stop: CancellationToken,
) {
    loop {
        checkpoint(&catalog, &signer).await;
        tokio::select! {
            () = stop.cancelled() => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    checkpoint(&catalog, &signer).await;
}

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ExportLine {
    Header {
        format: String,
        exported_at: String,
        public_key: Option<String>,
    },
    Checkpoint(ChainCheckpoint),
    Entry(ChainEntry),
}

/// How much an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Checkpoint lines.
    pub checkpoints: usize,
    /// Entry lines.
    pub entries: u64,
}

/// Writes the whole chain to `out` as JSON Lines (see the module doc),
/// page by page: memory does not grow with the chain.
pub async fn export_jsonl(
    catalog: &Catalog,
    public_key: Option<AuditPublicKey>,
    out: &mut impl Write,
) -> anyhow::Result<Exported> {
    let line = |l: &ExportLine, out: &mut dyn Write| -> anyhow::Result<()> {
        serde_json::to_writer(&mut *out, l)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    line(
        &ExportLine::Header {
            format: EXPORT_FORMAT.into(),
            exported_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            public_key: public_key.map(AuditPublicKey::to_hex),
        },
        out,
    )?;
    let checkpoints = catalog.audit_checkpoints().await?;
    for c in &checkpoints {
        line(&ExportLine::Checkpoint(c.clone()), out)?;
    }
    let mut entries = 0;
    let mut after = 0;
    loop {
        let page = catalog.audit_chain_page(after).await?;
        let Some(last) = page.last() else { break };
        after = last.seq;
        for entry in page {
            entries += 1;
            line(&ExportLine::Entry(entry), out)?;
        }
    }
    out.flush()?;
    Ok(Exported {
        checkpoints: checkpoints.len(),
        entries,
    })
}

/// Verifies an export read from `input` with `key`, line by line.
pub fn verify_jsonl(input: impl BufRead, key: &AuditPublicKey) -> anyhow::Result<ChainReport> {
    let mut checkpoints = Vec::new();
    let mut verifier: Option<ChainVerifier> = None;
    let mut saw_header = false;
    for (n, line) in input.lines().enumerate() {
        let line = line.context("reading the export")?;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: ExportLine = serde_json::from_str(&line)
            .with_context(|| format!("line {} is not an audit export line", n + 1))?;
        match parsed {
            ExportLine::Header { format, .. } => {
                if format != EXPORT_FORMAT || saw_header {
                    bail!("line {}: unexpected header (format {format:?})", n + 1);
                }
                saw_header = true;
            }
            ExportLine::Checkpoint(c) => {
                if verifier.is_some() {
                    bail!("line {}: a checkpoint after the first entry", n + 1);
                }
                checkpoints.push(c);
            }
            ExportLine::Entry(entry) => {
                verifier
                    .get_or_insert_with(|| ChainVerifier::new(key, &checkpoints))
                    .entry(&entry);
            }
        }
    }
    if !saw_header {
        bail!("not a CallVault audit export (no header line)");
    }
    Ok(verifier
        .unwrap_or_else(|| ChainVerifier::new(key, &checkpoints))
        .finish())
}
