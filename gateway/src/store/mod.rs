//! Durable state of the gateway: passport versions, trace events, collection records, partners,
//! the push outbox and the audit log, in SQLite (embedded default) or PostgreSQL (shared by
//! several replicas).
//!
//! Queries are written once against sqlx's `Any` driver with `$N` placeholders; the few places where
//! the dialects differ branch on [`Backend`]. See `docs/adr/0002-store-any-driver.md`.
//!
//! Every write a request makes happens in one transaction, together with its audit row: either all of
//! it is stored or nothing is. Stored passport versions and trace events are never updated.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dpp_gateway::store::StoreError> {
//! use dpp_gateway::store::Store;
//! let store = Store::open_in_dir(std::path::Path::new("/var/lib/dpp-gateway")).await?;
//! store.ping().await?;
//! # Ok(()) }
//! ```

mod audit;
mod collection;
mod conformance;
mod error;
mod outbox;
mod partner_tokens;
mod partners;
mod passports;
mod receipts;
mod trace;

use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::migrate::Migrator;
use sqlx::{AnyPool, Row, Transaction};

pub use audit::AuditEntry;
pub use collection::{
    CategoryTotals, CollectionEntryRow, CollectionRecordFilter, NewCollectionRecord,
    StoredCollectionRecord,
};
pub use conformance::{ConformanceRun, NewConformanceRun};
pub use error::StoreError;
pub use outbox::{AttemptFailure, MAX_OUTBOX_PAGE, OutboxFilter, OutboxItem, OutboxState};
pub use partner_tokens::{PartnerToken, TOKEN_PREFIX};
pub use partners::{
    AccessPolicy, FieldPolicy, InboundLimits, PartnerRecord, PartnerState, PassportSelector,
    PullSettings, Subscription, polymer_matches,
};
pub use passports::{
    MAX_PAGE_SIZE, NewPassportVersion, Page, PassportFilter, StoredPassport, VersionSummary,
    passport_cursor,
};
pub use receipts::{ReceiptClaim, Reservation};
pub use trace::{
    Lineage, LineageDirection, LineageEdge, LineageNode, MAX_EVENT_INPUTS, MAX_EVENT_OUTPUTS,
    MAX_LINEAGE_EDGES, MAX_LINEAGE_NODES, NewTraceEvent, StoredTraceEvent,
};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("migrations/postgres");

/// File name of the SQLite database inside the data directory.
pub const SQLITE_FILE_NAME: &str = "dpp-gateway.db";

/// How long a SQLite writer waits for the write lock before giving up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// The database behind a [`Store`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Embedded SQLite file (WAL mode).
    Sqlite,
    /// PostgreSQL server.
    Postgres,
}

impl Backend {
    /// The backend a database URL points at.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// Handle to the database; cheap to clone (a connection pool inside).
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Connects to `sqlite://path?mode=rwc` or `postgres://…` and applies the embedded migrations.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let pool = match backend {
            Backend::Sqlite => {
                AnyPoolOptions::new()
                    .max_connections(8)
                    .after_connect(|conn, _meta| {
                        Box::pin(async move {
                            // sqlx already defaults to foreign_keys=ON and a 5 s busy timeout;
                            // say so explicitly, and switch to WAL so readers never block the writer.
                            let pragmas = format!(
                                "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {}; \
                                 PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;",
                                SQLITE_BUSY_TIMEOUT.as_millis()
                            );
                            sqlx::raw_sql(sqlx::AssertSqlSafe(pragmas))
                                .execute(conn)
                                .await?;
                            Ok(())
                        })
                    })
                    .connect(url)
                    .await?
            }
            Backend::Postgres => {
                AnyPoolOptions::new()
                    .max_connections(10)
                    .connect(url)
                    .await?
            }
        };
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATIONS,
            Backend::Postgres => &POSTGRES_MIGRATIONS,
        };
        migrator.run(&pool).await?;
        tracing::debug!(backend = ?backend, "store ready");
        Ok(Store { pool, backend })
    }

    /// Opens (creating if needed) the SQLite database `<dir>/dpp-gateway.db`; the directory is
    /// made (or tightened to) 0700 and the database file 0600, which its journals inherit.
    pub async fn open_in_dir(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(SQLITE_FILE_NAME);
        let (dir_owned, path_owned) = (dir.to_owned(), path.clone());
        tokio::task::spawn_blocking(move || {
            crate::private_files::create_private_dir(&dir_owned)?;
            crate::private_files::create_private_file(&path_owned)?;
            for suffix in ["-wal", "-shm"] {
                let mut journal = path_owned.clone().into_os_string();
                journal.push(suffix);
                let journal = std::path::PathBuf::from(journal);
                if journal.exists() {
                    crate::private_files::create_private_file(&journal)?;
                }
            }
            std::io::Result::Ok(())
        })
        .await
        .map_err(std::io::Error::other)??;
        let url = format!(
            "sqlite://{}?mode=rwc",
            percent_encode_path(&path.to_string_lossy())
        );
        Store::connect(&url).await
    }

    /// Which database this store talks to.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes all connections; later calls fail. Waits for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`),
    /// so a transaction never has to upgrade a read snapshot — that upgrade fails at once with
    /// `SQLITE_BUSY` instead of waiting out the busy timeout.
    async fn begin_write(&self) -> Result<Transaction<'static, sqlx::Any>, StoreError> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(tx)
    }
}

/// Milliseconds since the Unix epoch: how the store keeps instants (sub-millisecond digits drop).
fn to_millis(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

fn from_millis(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Corrupt(format!("timestamp {ms} ms out of range")))
}

fn now_millis() -> i64 {
    to_millis(Utc::now())
}

/// Reads a float column. SQLite hands back an INTEGER when a REAL expression has no fraction in
/// some paths (e.g. constants), and the `Any` driver does not widen integers to floats.
fn get_f64(row: &AnyRow, column: &str) -> Result<f64, StoreError> {
    match row.try_get::<f64, _>(column) {
        Ok(v) => Ok(v),
        Err(float_err) => match row.try_get::<i64, _>(column) {
            #[allow(clippy::cast_precision_loss)] // kilograms and shares stay far below 2^53
            Ok(v) => Ok(v as f64),
            Err(_) => Err(StoreError::Database(float_err)),
        },
    }
}

/// Most ids one `IN (…)` list binds; keeps far below SQLite's and Postgres' parameter limits.
const IN_LIST_CHUNK: usize = 500;

/// `$from, $from+1, …` for an `IN (…)` list of `count` values.
fn placeholders(from: usize, count: usize) -> String {
    (from..from + count)
        .map(|n| format!("${n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ensure_finite(what: &str, value: f64) -> Result<(), StoreError> {
    if value.is_finite() {
        Ok(())
    } else {
        Err(StoreError::InvalidInput(format!(
            "{what} must be a finite number, got {value}"
        )))
    }
}

/// Encodes what SQLite's URL parser would misread (`?`, `#`, `%`, spaces, non-ASCII) in a file path.
fn percent_encode_path(path: &str) -> String {
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
    const PATH: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'/')
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    utf8_percent_encode(path, PATH).to_string()
}

/// A database URL with any password replaced, safe for error messages and logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_from_url() {
        assert_eq!(
            Backend::from_url("sqlite://x.db?mode=rwc").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert_eq!(
            Backend::from_url("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(matches!(
            Backend::from_url("mysql://u:secret@h/db"),
            Err(StoreError::UnsupportedUrl(u)) if u == "mysql://u:***@h/db"
        ));
    }

    #[test]
    fn path_encoding_keeps_plain_paths_and_escapes_url_syntax() {
        assert_eq!(
            percent_encode_path("/var/lib/dpp-gateway/dpp-gateway.db"),
            "/var/lib/dpp-gateway/dpp-gateway.db"
        );
        assert_eq!(percent_encode_path("/tmp/a b?#%"), "/tmp/a%20b%3F%23%25");
    }

    #[test]
    fn millis_round_trip() {
        let t = DateTime::parse_from_rfc3339("2025-03-01T12:34:56.789Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(from_millis(to_millis(t)).unwrap(), t);
        assert_eq!(placeholders(3, 3), "$3, $4, $5");
    }
}
