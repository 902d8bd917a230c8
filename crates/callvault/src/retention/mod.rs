//! Retention policy: which rule governs a recording, when it may be
//! deleted and when it must be, and the runs that act on it.
//!
//! * A recording is governed by the FIRST rule (by position) whose criteria
//!   it matches, for its minimum and maximum alike; a rule without criteria
//!   is the default (give it the highest position); no match keeps it for
//!   ever.
//! * Disposal is due at `max(call start + max keep, stored + min keep)`:
//!   never before the minimum, counted from when our copy was written (the
//!   same instant an S3 Object Lock counts from, see [`retain_until`]).
//!
//! The catalog re-checks holds and eligibility in the statement that
//! disposes ([`vault::Catalog::dispose_recording`]); a plan is only advice.

pub mod audit;
pub mod holds;
pub mod jobs;
pub mod rules;
pub mod source;
pub mod stitched;

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use vault::{
    BlobStore, Catalog, DisposeOutcome, RecordingId, RetentionFacts, RetentionRule, Sha256Digest,
    StorageKey,
};

/// The rules and extension groups in force.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    rules: Vec<RetentionRule>,
    groups: BTreeMap<String, BTreeSet<String>>,
}

fn days(n: u32) -> Duration {
    Duration::days(i64::from(n))
}

impl Policy {
    /// The policy stored in the catalog now.
    pub async fn load(catalog: &Catalog) -> anyhow::Result<Policy> {
        let rules = catalog
            .retention_rules()
            .await
            .context("reading the retention rules")?;
        let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (name, ext) in catalog
            .extension_group_members()
            .await
            .context("reading the extension groups")?
        {
            groups.entry(name).or_default().insert(ext);
        }
        Ok(Policy { rules, groups })
    }

    /// The rules, in evaluation order.
    pub fn rules(&self) -> &[RetentionRule] {
        &self.rules
    }

    fn matches(&self, rule: &RetentionRule, facts: &RetentionFacts) -> bool {
        let took_part = |ext: &str| facts.extension_ids.iter().any(|e| e == ext);
        rule.extension_id.as_deref().is_none_or(took_part)
            && rule.extension_group.as_deref().is_none_or(|g| {
                self.groups
                    .get(g)
                    .is_some_and(|members| members.iter().any(|m| took_part(m)))
            })
            && rule
                .direction
                .as_deref()
                .is_none_or(|d| facts.direction.as_deref() == Some(d))
            && rule
                .recording_kind
                .as_deref()
                .is_none_or(|k| facts.recording_kind.as_deref() == Some(k))
    }

    /// The rule that governs `facts`, if any.
    pub fn governing(&self, facts: &RetentionFacts) -> Option<&RetentionRule> {
        self.rules.iter().find(|r| self.matches(r, facts))
    }

    /// The governing rule's minimum keep (0: no rule).
    pub fn min_keep_days(&self, facts: &RetentionFacts) -> u32 {
        self.governing(facts).map_or(0, |r| r.min_keep_days)
    }

    /// Until when nothing may delete our copy of `facts`, written at
    /// `stored_at`: `stored_at + minimum keep`, or `None` when no rule asks
    /// for a minimum. (The retain-until date of an S3 Object Lock.)
    pub fn retain_until(
        &self,
        facts: &RetentionFacts,
        stored_at: DateTime<Utc>,
    ) -> Option<DateTime<Utc>> {
        match self.min_keep_days(facts) {
            0 => None,
            d => Some(stored_at + days(d)),
        }
    }

    /// When `facts` is due for disposal, and under which rule.
    pub fn disposal_due(&self, facts: &RetentionFacts) -> Option<(&RetentionRule, DateTime<Utc>)> {
        let rule = self.governing(facts)?;
        let max = rule.max_keep_days?;
        let stored = facts.stored_at?;
        let start = facts.call_start_time.unwrap_or(stored);
        let floor = self.retain_until(facts, stored).unwrap_or(stored);
        Some((rule, (start + days(max)).max(floor)))
    }

    /// When RingCentral's copy of `facts` may be deleted (the governing
    /// rule opted in), and under which rule.
    pub fn source_deletion_due(
        &self,
        facts: &RetentionFacts,
    ) -> Option<(&RetentionRule, DateTime<Utc>)> {
        let rule = self.governing(facts)?;
        let after = rule.delete_at_source_after_days?;
        let start = facts.call_start_time.or(facts.stored_at)?;
        Some((rule, start + days(after)))
    }
}

/// The retain-until date of recording `id` if our copy is (or was) written
/// at `stored_at`: `stored_at` + its governing rule's minimum keep; `None`
/// when no rule sets a minimum. For S3 Object Lock.
pub async fn retain_until(
    catalog: &Catalog,
    id: &RecordingId,
    stored_at: DateTime<Utc>,
) -> anyhow::Result<Option<DateTime<Utc>>> {
    let policy = Policy::load(catalog).await?;
    let facts = catalog
        .recording_retention_facts(id)
        .await
        .with_context(|| format!("reading recording {id}"))?
        .with_context(|| format!("recording {id} is not in the catalog"))?;
    Ok(policy.retain_until(&facts, stored_at))
}

/// One recording a rule will dispose of.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedDisposal {
    /// The recording.
    pub recording_id: String,
    /// Its conversation.
    pub conversation_id: Option<String>,
    /// The rule's id.
    pub rule_id: i64,
    /// The rule's name.
    pub rule: String,
    /// When it is due.
    pub due: DateTime<Utc>,
    /// Whether it is due at the plan's time.
    pub due_now: bool,
    /// Whether a legal hold covered it when planned (it will not be
    /// disposed of while one does).
    pub held: bool,
    /// Its sha256 when planned (disposal only if unchanged).
    pub sha256: String,
    /// Its blob.
    pub storage_key: String,
}

/// What retention would do, as of `at`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    /// The plan's time (database clock).
    pub at: DateTime<Utc>,
    /// Every stored recording with a disposal date, soonest first.
    pub disposals: Vec<PlannedDisposal>,
}

/// Plans disposals at the catalog's "now".
pub async fn plan(catalog: &Catalog) -> anyhow::Result<Plan> {
    let at = catalog.now().await.context("reading the database clock")?;
    let policy = Policy::load(catalog).await?;
    let mut disposals = Vec::new();
    for_each_stored(catalog, |facts| {
        if let Some((rule, due)) = policy.disposal_due(facts)
            && let (Some(sha), Some(key)) = (&facts.sha256, &facts.storage_key)
        {
            disposals.push(PlannedDisposal {
                recording_id: facts.id.as_str().to_owned(),
                conversation_id: facts
                    .conversation_id
                    .as_ref()
                    .map(|c| c.as_str().to_owned()),
                rule_id: rule.id,
                rule: rule.name.clone(),
                due,
                due_now: due <= at,
                held: facts.held,
                sha256: sha.to_hex(),
                storage_key: key.as_str().to_owned(),
            });
        }
    })
    .await?;
    disposals.sort_by(|a, b| a.due.cmp(&b.due).then(a.recording_id.cmp(&b.recording_id)));
    Ok(Plan { at, disposals })
}

/// Calls `f` with every stored recording's facts, page by page.
pub(crate) async fn for_each_stored(
    catalog: &Catalog,
    mut f: impl FnMut(&RetentionFacts),
) -> anyhow::Result<()> {
    let mut after: Option<RecordingId> = None;
    loop {
        let page = catalog
            .retention_facts(after.as_ref(), 500)
            .await
            .context("reading stored recordings")?;
        let Some(last) = page.last() else {
            return Ok(());
        };
        after = Some(last.id.clone());
        page.iter().for_each(&mut f);
    }
}

/// What an apply run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyReport {
    /// Recordings disposed of (tombstone written, blob deleted).
    pub disposed: Vec<String>,
    /// Due, but on hold at disposal time.
    pub held: Vec<String>,
    /// Due in the plan, but no longer stored with that hash or not due by
    /// the database clock.
    pub skipped: u64,
    /// Disposed of, but deleting the blob failed (retried next run).
    pub blob_failures: Vec<String>,
    /// Conversations whose stitched file went with their legs.
    pub stitched_disposed: Vec<String>,
    /// Conversations whose legs are gone but whose stitched file a hold keeps.
    pub stitched_held: Vec<String>,
    /// Stitched files kept because some of their legs are kept.
    pub stitched_kept: u64,
    /// Stitched files disposed of whose blob deletion failed (retried).
    pub stitched_blob_failures: Vec<String>,
    /// S3 legal holds set or lifted to match the catalog's holds (WORM).
    pub s3_legal_holds: holds::MirrorReport,
}

/// `callvault retention apply`: sweeps filter holds (future matches),
/// mirrors the holds onto the bucket's S3 legal holds (WORM mode), plans at
/// "now" and disposes of what is due.
pub async fn apply(catalog: &Catalog, blobs: &BlobStore) -> anyhow::Result<ApplyReport> {
    catalog
        .sweep_filter_holds()
        .await
        .context("sweeping filter holds")?;
    let mirrored = holds::mirror_to_worm(catalog, blobs).await?;
    let plan = plan(catalog).await?;
    let mut report = apply_plan(catalog, blobs, &plan).await?;
    report.s3_legal_holds = mirrored;
    Ok(report)
}

/// Disposes of the due entries of `plan`. Holds are NOT taken from the
/// plan: each disposal re-checks them in its own statement, so a hold
/// placed since the plan was made still wins. Blobs whose earlier deletion
/// failed are deleted again first.
pub async fn apply_plan(
    catalog: &Catalog,
    blobs: &BlobStore,
    plan: &Plan,
) -> anyhow::Result<ApplyReport> {
    let mut report = ApplyReport::default();
    for pending in catalog
        .disposals(None, true)
        .await
        .context("reading disposals")?
    {
        if let Some(key) = pending.storage_key.as_deref() {
            delete_blob(catalog, blobs, &pending.recording_id, key, &mut report).await?;
        }
    }
    for d in plan.disposals.iter().filter(|d| d.due_now) {
        let id = RecordingId::parse(&d.recording_id).context("a planned recording id")?;
        let sha = Sha256Digest::parse_hex(&d.sha256).context("a planned sha256")?;
        let outcome = catalog
            .dispose_recording(&id, &sha, d.due, Some(d.rule_id), &d.rule)
            .await
            .with_context(|| format!("disposing of recording {id}"))?;
        match outcome {
            DisposeOutcome::Disposed => {
                audit::record(
                    catalog,
                    audit::SYSTEM,
                    audit::Action::Disposed,
                    audit::Subject::Recording,
                    id.as_str(),
                    serde_json::json!({
                        "rule": d.rule, "ruleId": d.rule_id, "due": d.due,
                        "sha256": d.sha256, "conversation": d.conversation_id,
                    }),
                )
                .await?;
                if delete_blob(catalog, blobs, &id, &d.storage_key, &mut report).await? {
                    report.disposed.push(d.recording_id.clone());
                }
            }
            DisposeOutcome::Held => report.held.push(d.recording_id.clone()),
            DisposeOutcome::NotEligible => report.skipped += 1,
        }
    }
    stitched::dispose_with_legs(catalog, blobs, &mut report).await?;
    Ok(report)
}

/// Deletes a disposed recording's blob and its sidecar; a failure is
/// reported and left for the next run (the tombstone says it is pending).
async fn delete_blob(
    catalog: &Catalog,
    blobs: &BlobStore,
    id: &RecordingId,
    key: &str,
    report: &mut ApplyReport,
) -> anyhow::Result<bool> {
    let key = StorageKey::from_stored(key).context("a stored storage key")?;
    let deleted = async {
        blobs.delete(&key).await?;
        blobs.delete(&StorageKey::sidecar_of(&key)).await
    }
    .await;
    match deleted {
        Ok(()) => {
            catalog
                .mark_disposal_blob_deleted(id)
                .await
                .context("recording the blob's deletion")?;
            Ok(true)
        }
        Err(e) => {
            tracing::error!(recording = %id, error = %format!("{:#}", anyhow::Error::new(e)),
                "deleting a disposed recording's blob failed; retried next run");
            report.blob_failures.push(id.as_str().to_owned());
            Ok(false)
        }
    }
}
