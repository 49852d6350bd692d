//! The one error type every store operation returns.

/// Why a store operation failed.
///
/// The first variants are outcomes callers act on (map to 409, 404, 422, ...); the last ones are
/// infrastructure failures.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The id (passport id, event id, event hash, record id) is already stored.
    #[error("already stored")]
    Duplicate,
    /// The passport's latest version is not the one the caller based its change on.
    #[error("version conflict: latest version is {current}")]
    VersionConflict {
        /// The latest stored version.
        current: i64,
    },
    /// The passport to add a version to does not exist.
    #[error("not found")]
    NotFound,
    /// A trace event names a previous-event hash that is not stored.
    #[error("unknown predecessor event hash {0}")]
    UnknownPredecessor(String),
    /// The caller passed something the store cannot accept (wrong version number, NaN share, ...).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The resource's state forbids the change (e.g. retrying a delivered exchange).
    #[error("state conflict: {0}")]
    StateConflict(String),
    /// A paging cursor that this store did not hand out.
    #[error("invalid cursor {0:?}")]
    InvalidCursor(String),
    /// The database URL names no supported backend.
    #[error("unsupported database url {0:?}: expected sqlite:// or postgres://")]
    UnsupportedUrl(String),
    /// A stored value cannot be turned back into its Rust type.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// Creating the data directory failed.
    #[error("cannot create data directory: {0}")]
    Io(#[from] std::io::Error),
    /// The database driver failed.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Applying the embedded schema migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}
