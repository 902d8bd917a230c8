//! The one door through which retention, legal holds and deletions at the
//! source write the audit trail.
//!
//! Today's `audit_log` only admits `play` and `download` by a web user (a
//! CHECK constraint), so it cannot hold these entries. Until the
//! hash-chained trail (`Catalog::append_audit_event`, issue 17 item 5)
//! lands, [`record`] writes each entry as a structured `tracing` event on
//! the `callvault::audit` target; every fact is also kept in the catalog
//! tables these features own (tombstones, holds with who and when,
//! RingCentral's answer per deletion). Switching to the chain is a change
//! to [`record`]'s body alone.

use vault::Catalog;

/// The actor of entries made by a scheduled run rather than a person.
pub const SYSTEM: &str = "system:retention";

/// Appends one audit entry: `actor` did `action` to (`subject_kind`,
/// `subject_id`), with `details`.
pub async fn record(
    catalog: &Catalog,
    actor: &str,
    action: &str,
    subject_kind: &str,
    subject_id: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    let _ = catalog;
    tracing::info!(
        target: "callvault::audit",
        actor,
        action,
        subject_kind,
        subject_id,
        details = %details,
        "audit"
    );
    Ok(())
}
