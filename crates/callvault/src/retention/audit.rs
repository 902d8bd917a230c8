//! The one door through which retention, legal holds and deletions at the
//! source write the audit trail.
//!
//! Every entry goes onto the hash-chained trail
//! (`Catalog::append_audit_event`); the facts are also kept in the tables
//! these features own (tombstones, holds with who and when, RingCentral's
//! answer per deletion).

use vault::Catalog;

/// The actor of entries made by a scheduled run rather than a person.
pub const SYSTEM: &str = "system:retention";

/// What was done, and to what: the chain's own types.
pub use vault::audit::{AuditAction as Action, SubjectKind as Subject};

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
    catalog
        .append_audit_event(&vault::audit::AuditEvent {
            actor: actor.to_owned(),
            action,
            subject_kind: subject,
            subject_id: subject_id.to_owned(),
            details,
        })
        .await?;
    Ok(())
}
