//! The catalog's record of WORM locks: per blob, the S3 version id that is
//! locked, its mode and retain-until date, and whether a legal hold is on.
//! Written after each locked write ([`crate::BlobStore::lock_info`] read
//! back from the store, so the record is what the store says, not what we
//! asked for).

use chrono::{DateTime, Utc};

use crate::db::Catalog;
use crate::error::CatalogError;
use crate::key::StorageKey;
use crate::time::{from_ms, to_ms};

/// One blob's lock as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobLock {
    /// The S3 version id that is locked.
    pub version_id: String,
    /// `GOVERNANCE` or `COMPLIANCE`.
    pub mode: String,
    /// Until when.
    pub retain_until: DateTime<Utc>,
    /// Whether a legal hold is on.
    pub legal_hold: bool,
}

impl Catalog {
    /// Records (or updates) the lock of the blob at `key`.
    pub async fn record_blob_lock(
        &self,
        key: &StorageKey,
        lock: &BlobLock,
    ) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "INSERT INTO blob_locks (storage_key, version_id, mode, retain_until, legal_hold, recorded_at)
             VALUES ($1, $2, $3, $4, $5, {now})
             ON CONFLICT (storage_key) DO UPDATE SET version_id = excluded.version_id,
                mode = excluded.mode, retain_until = excluded.retain_until,
                legal_hold = excluded.legal_hold, recorded_at = excluded.recorded_at"))
            .bind(key.as_str())
            .bind(&lock.version_id)
            .bind(&lock.mode)
            .bind(to_ms(lock.retain_until))
            .bind(i64::from(lock.legal_hold))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The recorded lock of the blob at `key`, if any.
    pub async fn blob_lock(&self, key: &StorageKey) -> Result<Option<BlobLock>, CatalogError> {
        let row: Option<(String, String, i64, i64)> = sqlx::query_as(
                "SELECT version_id, mode, retain_until, legal_hold FROM blob_locks WHERE storage_key = $1")
                .bind(key.as_str())
                .fetch_optional(&self.pool)
                .await?;
        row.map(|(version_id, mode, until, hold)| {
            Ok(BlobLock {
                version_id,
                mode,
                retain_until: from_ms("blob_locks", until)?,
                legal_hold: hold != 0,
            })
        })
        .transpose()
    }
}
