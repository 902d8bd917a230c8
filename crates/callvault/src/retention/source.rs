//! Deleting recordings at RingCentral once our copy is verified
//! (`callvault retention delete-at-source`).
//!
//! Opt-in per rule (`delete_at_source_after_days`). A recording qualifies
//! when it is stored, older than its rule's N days, not on hold, and — at
//! the moment of deletion — its blob re-reads to the catalog's sha256 and
//! (on S3 with Object Lock) is locked. The hold check and the claim are
//! one statement ([`vault::Catalog::claim_source_deletion`]).
//!
//! The budget: requests are Heavy and go through the client's scheduler,
//! so they wait for budget instead of drawing a 429; and a run spends
//! nothing while backups are owed (the catalog's download backlog), so
//! live work and backups always come first.

use anyhow::Context;
use chrono::{DateTime, Utc};
use rc_api::RcClient;
use vault::{BlobStore, Catalog, RecordingId, SourceDeletionState, StorageKey, Verified};

use super::{Policy, audit, for_each_stored};

/// One recording that qualifies by age, rule and hold.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceCandidate {
    /// The recording.
    pub recording_id: String,
    /// The rule that opted in.
    pub rule: String,
    /// When it became deletable.
    pub due: DateTime<Utc>,
    #[serde(skip)]
    sha256: vault::Sha256Digest,
    #[serde(skip)]
    key: StorageKey,
}

/// What a run did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceReport {
    /// Nothing was sent to RingCentral.
    pub dry_run: bool,
    /// The recordings that qualified (dry run: would be deleted).
    pub candidates: Vec<SourceCandidate>,
    /// Deleted at RingCentral (204).
    pub deleted: Vec<String>,
    /// RingCentral did not know them (404 alone): recorded as deleted.
    pub already_gone: Vec<String>,
    /// Our copy did not re-hash to the catalog's sha256 (or is missing):
    /// kept at RingCentral.
    pub unverified: Vec<String>,
    /// Not locked in a WORM store that should lock them: kept.
    pub unlocked: Vec<String>,
    /// Put on hold (or changed) after they qualified: kept.
    pub held: Vec<String>,
    /// RingCentral refused or failed: kept, retried next run.
    pub failed: Vec<String>,
    /// The first RingCentral error, if any.
    pub error: Option<String>,
    /// Requests sent (each at most 100 ids).
    pub requests: u32,
    /// Why the run stopped early, if it did (backups owed).
    pub deferred: Option<String>,
}

/// The recordings that qualify now (database clock) by rule, age and hold.
pub async fn candidates(catalog: &Catalog) -> anyhow::Result<Vec<SourceCandidate>> {
    catalog
        .sweep_filter_holds()
        .await
        .context("sweeping filter holds")?;
    let now = catalog.now().await.context("reading the database clock")?;
    let policy = Policy::load(catalog).await?;
    let mut out = Vec::new();
    for_each_stored(catalog, |facts| {
        if facts.held || facts.deleted_at_source {
            return;
        }
        if let Some((rule, due)) = policy.source_deletion_due(facts)
            && due <= now
            && let (Some(sha), Some(key)) = (&facts.sha256, &facts.storage_key)
        {
            out.push(SourceCandidate {
                recording_id: facts.id.as_str().to_owned(),
                rule: rule.name.clone(),
                due,
                sha256: *sha,
                key: key.clone(),
            });
        }
    })
    .await?;
    Ok(out)
}

/// Whether the blob at `key` satisfies the WORM requirement before its
/// source copy may go: with an S3 bucket with Object Lock, the object must
/// carry a lock (retention or legal hold); elsewhere there is nothing to
/// check. THE HOOK for the Object Lock work: today no store locks, so it
/// answers `true`.
pub async fn locked_if_worm(blobs: &BlobStore, key: &StorageKey) -> anyhow::Result<bool> {
    let _ = (blobs, key);
    Ok(true)
}

/// Runs `callvault retention delete-at-source`: lists the candidates and,
/// with `execute`, deletes them at RingCentral in batches of at most 100.
pub async fn run(
    client: &RcClient,
    catalog: &Catalog,
    blobs: &BlobStore,
    execute: bool,
) -> anyhow::Result<SourceReport> {
    let found = candidates(catalog).await?;
    if !execute {
        return Ok(SourceReport {
            dry_run: true,
            candidates: found,
            ..SourceReport::default()
        });
    }
    execute_candidates(client, catalog, blobs, found).await
}

/// Deletes `candidates` (from [`candidates`], perhaps a while ago) at
/// RingCentral: each is re-hashed, lock-checked and claimed (holds are
/// checked in the claim, so a hold placed since they were listed wins)
/// right before its batch is sent.
pub async fn execute_candidates(
    client: &RcClient,
    catalog: &Catalog,
    blobs: &BlobStore,
    candidates: Vec<SourceCandidate>,
) -> anyhow::Result<SourceReport> {
    let mut report = SourceReport {
        candidates,
        ..SourceReport::default()
    };
    let todo = report.candidates.clone();
    for batch in todo.chunks(rc_api::MAX_DELETE_BATCH) {
        let owed = catalog.backlog().await.context("reading the backlog")?;
        if owed.recordings > 0 {
            report.deferred = Some(format!(
                "{} recordings are still to back up; backups come first",
                owed.recordings
            ));
            break;
        }
        let claimed = claim_verified(catalog, blobs, batch, &mut report).await?;
        if claimed.is_empty() {
            continue;
        }
        let answer = client.delete_recordings(&claimed).await;
        report.requests += answer.requests;
        let error = answer.error.as_ref().map(|e| e.to_string());
        settle(
            catalog,
            &answer.deleted,
            SourceDeletionState::Deleted,
            "204 No Content",
        )
        .await?;
        settle(
            catalog,
            &answer.not_found,
            SourceDeletionState::Deleted,
            "404 CMN-102: not found at RingCentral (already gone)",
        )
        .await?;
        let failure = error.clone().unwrap_or_else(|| "not sent".to_owned());
        settle(
            catalog,
            &answer.failed,
            SourceDeletionState::Failed,
            &failure,
        )
        .await?;
        let ids = |v: &[rc_api::ids::RecordingId]| {
            v.iter().map(|i| i.as_str().to_owned()).collect::<Vec<_>>()
        };
        report.deleted.extend(ids(&answer.deleted));
        report.already_gone.extend(ids(&answer.not_found));
        report.failed.extend(ids(&answer.failed));
        if let Some(e) = error {
            report.error = Some(e);
            break;
        }
    }
    Ok(report)
}

/// Re-hashes each candidate's blob, checks its lock, and claims it (the
/// hold check is in the claim). Returns the claimed ids.
async fn claim_verified(
    catalog: &Catalog,
    blobs: &BlobStore,
    batch: &[SourceCandidate],
    report: &mut SourceReport,
) -> anyhow::Result<Vec<RecordingId>> {
    let mut claimed = Vec::with_capacity(batch.len());
    for c in batch {
        let intact = matches!(
            blobs.verify(&c.key, &c.sha256).await,
            Ok(Verified::Intact { .. })
        );
        if !intact {
            report.unverified.push(c.recording_id.clone());
            continue;
        }
        if !locked_if_worm(blobs, &c.key).await? {
            report.unlocked.push(c.recording_id.clone());
            continue;
        }
        let id = RecordingId::parse(&c.recording_id).context("a candidate's id")?;
        if catalog
            .claim_source_deletion(&id, &c.sha256)
            .await
            .with_context(|| format!("claiming recording {id}"))?
        {
            claimed.push(id);
        } else {
            report.held.push(c.recording_id.clone());
        }
    }
    Ok(claimed)
}

/// Settles and audits each deletion with RingCentral's answer.
async fn settle(
    catalog: &Catalog,
    ids: &[rc_api::ids::RecordingId],
    state: SourceDeletionState,
    answer: &str,
) -> anyhow::Result<()> {
    for id in ids {
        catalog
            .settle_source_deletion(id, state, answer)
            .await
            .with_context(|| format!("recording the deletion of {id}"))?;
        if state == SourceDeletionState::Failed {
            // Not a deletion: nothing to put on the record; the answer is
            // kept with the claim, which the next run retries.
            tracing::warn!(recording = %id, answer, "RingCentral did not delete a recording");
            continue;
        }
        audit::record(
            catalog,
            audit::SYSTEM,
            audit::Action::DeletedAtSource,
            audit::Subject::Recording,
            id.as_str(),
            serde_json::json!({ "ringcentral": answer }),
        )
        .await?;
    }
    Ok(())
}
