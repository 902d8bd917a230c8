//! The catalog unit tests run against.

/// A fresh, migrated SQLite catalog in a temporary folder (kept while the
/// returned `TempDir` lives).
pub(crate) async fn sqlite_catalog() -> (vault::Catalog, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("c.sqlite").display());
    let catalog = vault::Catalog::open(&url).await.unwrap();
    catalog.migrate().await.unwrap();
    (catalog, dir)
}
