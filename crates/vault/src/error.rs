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
    /// The folder of a SQLite file could not be created.
    #[error("cannot create the catalog folder {path}")]
    CreateDir {
        /// The folder.
        path: std::path::PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
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

impl CatalogError {
    /// A row of `table` holding a value this code cannot represent (see
    /// [`CatalogError::CorruptRow`]).
    pub(crate) fn corrupt(table: &'static str, what: impl std::fmt::Display) -> Self {
        CatalogError::CorruptRow {
            table,
            what: what.to_string(),
        }
    }
}

/// Turns a failed parse of a stored value into [`CatalogError::CorruptRow`]:
/// the one way every row-to-domain conversion reports a bad column.
pub(crate) trait OrCorrupt<T> {
    /// `Ok` unchanged; an error becomes a corrupt row of `table`.
    fn or_corrupt(self, table: &'static str) -> Result<T, CatalogError>;
}

impl<T, E: std::fmt::Display> OrCorrupt<T> for Result<T, E> {
    fn or_corrupt(self, table: &'static str) -> Result<T, CatalogError> {
        self.map_err(|e| CatalogError::corrupt(table, e))
    }
}
