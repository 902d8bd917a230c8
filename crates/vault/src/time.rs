//! One representation of time in the database: `i64` milliseconds since the
//! Unix epoch, UTC, on both backends. "Now" is always taken from the database
//! clock inside SQL (the `{now}` marker of [`crate::db`]), never from a host.

use chrono::{DateTime, Utc};

use crate::error::CatalogError;

/// Milliseconds since the epoch for `t`.
pub(crate) fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The instant `ms` stands for; a value chrono cannot represent is a corrupt row.
pub(crate) fn from_ms(table: &'static str, ms: i64) -> Result<DateTime<Utc>, CatalogError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| CatalogError::CorruptRow {
        table,
        what: format!("timestamp {ms} out of range"),
    })
}

/// [`from_ms`] for nullable columns.
pub(crate) fn from_opt_ms(
    table: &'static str,
    ms: Option<i64>,
) -> Result<Option<DateTime<Utc>>, CatalogError> {
    ms.map(|ms| from_ms(table, ms)).transpose()
}

/// A duration as whole milliseconds, saturating at `i64::MAX`.
pub(crate) fn duration_ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
