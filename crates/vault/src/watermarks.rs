//! Sync watermarks: how far each sync stream has read the call log.

use chrono::{DateTime, Utc};

use crate::db::Catalog;
use crate::error::CatalogError;
use crate::time::{from_ms, to_ms};

impl Catalog {
    /// The watermark called `name`, if it was ever set.
    pub async fn watermark(&self, name: &str) -> Result<Option<DateTime<Utc>>, CatalogError> {
        let value: Option<i64> =
            sqlx::query_scalar("SELECT value FROM sync_watermarks WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        value.map(|v| from_ms("sync_watermarks", v)).transpose()
    }

    /// Sets the watermark `name` to `at`, forwards or backwards.
    pub async fn set_watermark(&self, name: &str, at: DateTime<Utc>) -> Result<(), CatalogError> {
        sqlx::query(self.sql(
            "INSERT INTO sync_watermarks (name, value, updated_at) VALUES ($1, $2, {now})
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at"))
            .bind(name)
            .bind(to_ms(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Moves the watermark `name` forward to `at`; an older `at` is ignored,
    /// so concurrent syncs can never move it back. Returns whether it moved.
    pub async fn advance_watermark(
        &self,
        name: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, CatalogError> {
        let n = sqlx::query(self.sql(
                "INSERT INTO sync_watermarks (name, value, updated_at) VALUES ($1, $2, {now})
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                 WHERE excluded.value > sync_watermarks.value"))
                .bind(name)
                .bind(to_ms(at))
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(n == 1)
    }
}
