//! A setting every process sharing the catalog must agree on, created by
//! whichever process asks first (e.g. the key that signs login forms, so a
//! form served by one `serve` process is accepted by another).

use crate::db::Catalog;
use crate::error::CatalogError;

impl Catalog {
    /// The setting `name`; when absent, stores `candidate` first. Two
    /// processes racing both get the value that won (insert-if-absent, then
    /// read back), never each their own.
    pub async fn setting_or_insert(
        &self,
        name: &str,
        candidate: &str,
    ) -> Result<String, CatalogError> {
        let value: String = {
            sqlx::query(self.sql(
                "INSERT INTO settings (name, value, updated_at) VALUES ($1, $2, {now})
                 ON CONFLICT (name) DO NOTHING",
            ))
            .bind(name)
            .bind(candidate)
            .execute(&self.pool)
            .await?;
            sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?
        };
        Ok(value)
    }
}
