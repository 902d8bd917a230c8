//! Error types of the catalog and the queue.

/// Why a catalog or queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CatalogError {
    /// The database URL is neither `sqlite:` nor `postgres://`/`postgresql://`.
    #[error("unsupported database URL scheme (expected sqlite: or postgres://)")]
    UnsupportedUrl,
    /// The URL could not be turned into connect options.
    #[error("invalid database URL")]
    BadUrl(#[source] sqlx::Error),
    /// Running the migrations failed.
    #[error("database migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The database refused or failed a statement.
    #[error("database error")]
    Database(#[from] sqlx::Error),
    /// A row held a value this code cannot represent (a bad id, state or
    /// timestamp): a sign of manual edits or a newer schema.
    #[error("corrupt row in {table}: {what}")]
    CorruptRow {
        /// The table the row came from.
        table: &'static str,
        /// What was wrong.
        what: String,
    },
    /// A JSON payload could not be encoded.
    #[error("JSON encoding failed")]
    Json(#[from] serde_json::Error),
    /// A value does not fit the column (e.g. a size above `i64::MAX`).
    #[error("value out of range for column {column}")]
    OutOfRange {
        /// The column.
        column: &'static str,
    },
}
