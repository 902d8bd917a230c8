//! Adding and removing retention rules, each change checked and put on the
//! audit trail: what `callvault retention rule` and the records page both do.

use anyhow::{Context, bail};
use vault::{Catalog, NewRetentionRule};

use super::audit;

/// Checks a rule's values the schema would refuse, with a clear message.
pub fn validate_rule(rule: &NewRetentionRule) -> anyhow::Result<()> {
    if rule.name.trim().is_empty() || rule.name.len() > 100 {
        bail!("a rule needs a name of 1–100 characters");
    }
    if let Some(max) = rule.max_keep_days
        && max < rule.min_keep_days
    {
        bail!(
            "the maximum keep ({max} days) is shorter than the minimum ({} days)",
            rule.min_keep_days
        );
    }
    if let Some(d) = rule.direction.as_deref()
        && d != "Inbound"
        && d != "Outbound"
    {
        bail!("direction must be Inbound or Outbound, not {d:?}");
    }
    Ok(())
}

/// Adds a rule and audits it.
pub async fn add_rule(catalog: &Catalog, rule: &NewRetentionRule) -> anyhow::Result<i64> {
    validate_rule(rule)?;
    let id = catalog
        .add_retention_rule(rule)
        .await
        .context("adding the rule")?
        .with_context(|| format!("a rule called {:?} exists already", rule.name))?;
    audit::record(
        catalog,
        &rule.created_by,
        audit::Action::RuleChanged,
        audit::Subject::RetentionRule,
        &rule.name,
        serde_json::json!({
            "change": "added", "id": id, "position": rule.position, "extension": rule.extension_id,
            "group": rule.extension_group, "direction": rule.direction,
            "kind": rule.recording_kind, "minKeepDays": rule.min_keep_days,
            "maxKeepDays": rule.max_keep_days,
            "deleteAtSourceAfterDays": rule.delete_at_source_after_days,
        }),
    )
    .await?;
    Ok(id)
}

/// Removes a rule and audits it.
pub async fn remove_rule(catalog: &Catalog, name: &str, by: &str) -> anyhow::Result<()> {
    if !catalog
        .remove_retention_rule(name)
        .await
        .context("removing the rule")?
    {
        bail!("no rule called {name:?}");
    }
    audit::record(
        catalog,
        by,
        audit::Action::RuleChanged,
        audit::Subject::RetentionRule,
        name,
        serde_json::json!({ "change": "removed" }),
    )
    .await
}
