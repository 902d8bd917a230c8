//! The one door through which retention, legal holds and deletions at the
//! source write the audit trail.
//!
//! Today's `audit_log` only admits `play` and `download` by a web user (a
//! CHECK constraint), so it cannot hold these entries. Until the
//! hash-chained trail (`Catalog::append_audit_event`, issue 17 item 5)
//! lands, [`record`] writes each entry as a structured `tracing` event on
//! the `callvault::audit` target; every fact is also kept in the catalog
//! tables these features own (tombstones, holds with who and when,
//! RingCentral's answer per deletion). [`Action`] and [`Subject`] use the
//! chain's names (`disposed`, `hold_placed`, …), so switching is a change
//! to [`record`]'s body alone.

use vault::Catalog;

/// The actor of entries made by a scheduled run rather than a person.
pub const SYSTEM: &str = "system:retention";

/// What was done.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// A recording disposed of under a retention rule.
    Disposed,
    /// A recording deleted at RingCentral.
    DeletedAtSource,
    /// A legal hold placed.
    HoldPlaced,
    /// A legal hold released.
    HoldReleased,
    /// A retention rule or extension group added, changed or removed.
    RuleChanged,
}

impl Action {
    /// The chain's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Disposed => "disposed",
            Action::DeletedAtSource => "deleted_at_source",
            Action::HoldPlaced => "hold_placed",
            Action::HoldReleased => "hold_released",
            Action::RuleChanged => "rule_changed",
        }
    }
}

/// What it was done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subject {
    /// A recording (its RingCentral id).
    Recording,
    /// A legal hold (its id).
    Hold,
    /// A retention rule or extension group (its name).
    RetentionRule,
}

impl Subject {
    /// The chain's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::Recording => "recording",
            Subject::Hold => "hold",
            Subject::RetentionRule => "retention_rule",
        }
    }
}

/// Appends one audit entry: `actor` did `action` to (`subject`,
/// `subject_id`), with `details`.
pub async fn record(
    catalog: &Catalog,
    actor: &str,
    action: Action,
    subject: Subject,
    subject_id: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let _ = catalog;
    tracing::info!(
        target: "callvault::audit",
        actor,
        action = action.as_str(),
        subject_kind = subject.as_str(),
        subject_id,
        details = %details,
        "audit"
    );
    Ok(())
}
