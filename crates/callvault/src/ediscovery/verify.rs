//! `callvault export verify`: checks a bundle with the public key alone:
//! the manifest's signature, every listed file's size and sha256, that no
//! file is unlisted, and that each audit entry's hash recomputes.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::Context;
use sha2::{Digest, Sha256};
use vault::audit::{AuditPublicKey, ChainCheckpoint, ChainEntry, entry_hash};

use super::signed_text;
use super::zipstream::WrittenFile;

/// What a verification found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct BundleReport {
    /// Files listed in the manifest and checked.
    pub files: u64,
    /// Audit entries whose hash recomputed.
    pub audit_entries: u64,
    /// Everything wrong, in the order found.
    pub problems: Vec<String>,
}

impl BundleReport {
    /// Whether the bundle is intact.
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

type Archive = zip::ZipArchive<std::fs::File>;

/// sha256 and size of the entry `name`, read in chunks.
fn hash_entry(archive: &mut Archive, name: &str) -> anyhow::Result<(String, u64)> {
    let mut file = archive.by_name(name)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// Checks the bundle at `path` with `key`.
pub fn verify_bundle(path: &Path, key: &AuditPublicKey) -> anyhow::Result<BundleReport> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut archive = zip::ZipArchive::new(file).context("not a readable zip")?;
    let mut report = BundleReport::default();
    let (manifest_sha, _) =
        hash_entry(&mut archive, "manifest.jsonl").context("reading manifest.jsonl")?;
    let mut signature = String::new();
    archive
        .by_name("manifest.sig")
        .context("reading manifest.sig")?
        .read_to_string(&mut signature)?;
    if !key.verify(signed_text(&manifest_sha).as_bytes(), signature.trim()) {
        report.problems.push(
            "manifest.sig: the manifest's signature does not verify with the public key".into(),
        );
    }
    let mut listed = Vec::new();
    {
        let manifest = BufReader::new(archive.by_name("manifest.jsonl")?);
        for (n, line) in manifest.lines().enumerate() {
            match serde_json::from_str::<WrittenFile>(&line?) {
                Ok(f) => listed.push(f),
                Err(e) => report
                    .problems
                    .push(format!("manifest.jsonl line {}: {e}", n + 1)),
            }
        }
    }
    let mut names: HashSet<String> = HashSet::new();
    for f in &listed {
        names.insert(f.path.clone());
        report.files += 1;
        match hash_entry(&mut archive, &f.path) {
            Ok((sha, size)) if sha == f.sha256 && size == f.size => {}
            Ok((sha, size)) => report.problems.push(format!(
                "{}: altered (sha256 {sha}, {size} bytes; the manifest says {}, {} bytes)",
                f.path, f.sha256, f.size
            )),
            Err(e) => report
                .problems
                .push(format!("{}: unreadable ({e:#})", f.path)),
        }
    }
    for i in 0..archive.len() {
        let name = archive.by_index_raw(i)?.name()?.into_owned();
        if !names.contains(&name) && name != "manifest.jsonl" && name != "manifest.sig" {
            report.problems.push(format!("{name}: not in the manifest"));
        }
    }
    if names.contains("audit.jsonl") {
        check_audit(&mut archive, key, &mut report)?;
    }
    Ok(report)
}

/// Each audit entry's hash must recompute from its text and `prev_hash`;
/// the checkpoint line must carry a valid signature.
fn check_audit(
    archive: &mut Archive,
    key: &AuditPublicKey,
    report: &mut BundleReport,
) -> anyhow::Result<()> {
    #[derive(serde::Deserialize)]
    struct CheckpointLine {
        checkpoint: ChainCheckpoint,
    }
    let lines = BufReader::new(archive.by_name("audit.jsonl")?);
    for (n, line) in lines.lines().enumerate() {
        let line = line?;
        if let Ok(entry) = serde_json::from_str::<ChainEntry>(&line) {
            if entry_hash(&entry.prev_hash, &entry.canonical).as_deref()
                == Some(entry.event_hash.as_str())
            {
                report.audit_entries += 1;
            } else {
                report.problems.push(format!(
                    "audit.jsonl: entry {} does not hash to its event_hash",
                    entry.seq
                ));
            }
        } else if let Ok(c) = serde_json::from_str::<CheckpointLine>(&line) {
            if !key.verify(c.checkpoint.payload.as_bytes(), &c.checkpoint.signature) {
                report
                    .problems
                    .push("audit.jsonl: the checkpoint's signature does not verify".into());
            }
        } else {
            report
                .problems
                .push(format!("audit.jsonl line {}: unreadable", n + 1));
        }
    }
    Ok(())
}
