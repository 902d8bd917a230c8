//! `callvault verify`: re-hashes every stored blob against the catalog and
//! reports the missing and altered ones, so silent corruption of the backup
//! is found before the source copy is gone.

use clap::Args;
use serde::Serialize;
use vault::{RecordingId, Verified};

use crate::configuration::StoreArgs;

/// Arguments of `callvault verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// Where the catalog and recordings live.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Print a machine-readable summary on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One blob that does not match its catalog row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Problem {
    /// The recording.
    pub recording_id: String,
    /// Where its blob should be.
    pub storage_key: String,
    /// `missing`, `altered` or `unreadable`.
    pub kind: &'static str,
    /// Details (the hash found, or the read error).
    pub detail: String,
}

/// What `verify` found.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// Stored recordings checked.
    pub checked: u64,
    /// Of which intact.
    pub intact: u64,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Missing, altered or unreadable blobs.
    pub problems: Vec<Problem>,
}

/// Re-hashes every stored recording's blob.
pub async fn run(args: &VerifyArgs) -> anyhow::Result<VerifyReport> {
    let catalog = crate::app::catalog(&args.store).await?;
    let blobs = crate::app::blobs(&args.store)?;
    let mut report = VerifyReport::default();
    let mut after: Option<RecordingId> = None;
    loop {
        let page = catalog.stored_recordings(after.as_ref(), 500).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for rec in page {
            report.checked += 1;
            let id = rec.id.as_str().to_owned();
            let (Some(key), Some(sha)) = (rec.storage_key, rec.sha256) else {
                report.problems.push(Problem {
                    recording_id: id,
                    storage_key: String::new(),
                    kind: "missing",
                    detail: "the catalog has no storage key or sha256".into(),
                });
                continue;
            };
            let problem = |kind, detail| Problem {
                recording_id: id.clone(),
                storage_key: key.as_str().to_owned(),
                kind,
                detail,
            };
            match blobs.verify(&key, &sha).await {
                Ok(Verified::Intact { size }) => {
                    report.intact += 1;
                    report.bytes += size;
                }
                Ok(Verified::Missing) => report
                    .problems
                    .push(problem("missing", "no blob at the key".into())),
                Ok(Verified::Altered { actual }) => report.problems.push(problem(
                    "altered",
                    format!(
                        "expected sha256 {}, found {} ({} bytes)",
                        sha.to_hex(),
                        actual.sha256.to_hex(),
                        actual.size
                    ),
                )),
                Err(e) => report.problems.push(problem("unreadable", e.to_string())),
            }
        }
    }
    Ok(report)
}

/// Prints the report; `Ok(false)` when any blob is missing or altered.
pub fn print_report(report: &VerifyReport, json: bool) -> anyhow::Result<bool> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
    } else {
        for p in &report.problems {
            println!(
                "{}: recording {} at {}: {}",
                p.kind, p.recording_id, p.storage_key, p.detail
            );
        }
        println!(
            "checked {} stored recordings ({:.1} MB): {} intact, {} missing or altered",
            report.checked,
            report.bytes as f64 / 1e6,
            report.intact,
            report.problems.len()
        );
    }
    Ok(report.problems.is_empty())
}
