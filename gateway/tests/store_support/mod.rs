//! The dual-backend harness of the store suites (`tests/store.rs`, `tests/exchange_store.rs`): each
//! test body runs once on SQLite in a temp dir and once on PostgreSQL in a fresh database on the
//! server `DPP_TEST_POSTGRES_URL` points at (`scripts/with-postgres.sh` starts a throwaway one).
//! Without the variable the PostgreSQL half is skipped, or fails when `CI` is set.
#![allow(dead_code)]

use dpp_gateway::store::{Backend, Store};
use sqlx::Connection;

// ---------------------------------------------------------------------------------------------
// Backends

/// A store on a database of its own, and what it takes to clean up after it.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>, // (admin url, database name)
}

pub async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_in_dir(dir.path())
        .await
        .expect("open sqlite store");
    assert_eq!(store.backend(), Backend::Sqlite);
    let url = format!(
        "sqlite://{}?mode=rw",
        dir.path().join("dpp-gateway.db").display()
    );
    TestDb {
        store,
        url,
        _dir: Some(dir),
        postgres: None,
    }
}

pub async fn postgres_db() -> Option<TestDb> {
    let db = blank_postgres_db().await?.open().await;
    assert_eq!(db.store.backend(), Backend::Postgres);
    Some(db)
}

/// A database without tables, for tests of the migrations themselves; [`BlankDb::open`] then
/// opens the store on it (applying whatever migrations are missing).
pub struct BlankDb {
    pub url: String,
    dir: Option<tempfile::TempDir>,
    postgres: Option<(String, String)>,
}

impl BlankDb {
    pub async fn open(self) -> TestDb {
        let store = Store::connect(&self.url).await.expect("open store");
        TestDb {
            store,
            url: self.url,
            _dir: self.dir,
            postgres: self.postgres,
        }
    }
}

pub fn blank_sqlite_db() -> BlankDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("dpp-gateway.db").display()
    );
    BlankDb {
        url,
        dir: Some(dir),
        postgres: None,
    }
}

pub async fn blank_postgres_db() -> Option<BlankDb> {
    let Ok(admin_url) = std::env::var("DPP_TEST_POSTGRES_URL") else {
        let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0");
        assert!(
            !in_ci,
            "DPP_TEST_POSTGRES_URL not set but CI is: the PostgreSQL store tests must run in CI \
             (use .ci/run or scripts/with-postgres.sh)"
        );
        eprintln!("skipping: DPP_TEST_POSTGRES_URL not set");
        return None;
    };
    let name = format!("dpp_store_test_{}", uuid::Uuid::new_v4().simple());
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to DPP_TEST_POSTGRES_URL");
    // Concurrent CREATE DATABASE can trip over each other copying template1; retry a few times.
    let mut attempt = 0;
    loop {
        match sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
        {
            Ok(_) => break,
            Err(e) if attempt < 5 => {
                attempt += 1;
                eprintln!("create database {name} failed ({e}), retrying");
                tokio::time::sleep(std::time::Duration::from_millis(200 * attempt)).await;
            }
            Err(e) => panic!("create database {name}: {e}"),
        }
    }
    admin.close().await.ok();
    let url = with_database(&admin_url, &name);
    Some(BlankDb {
        url,
        dir: None,
        postgres: Some((admin_url, name)),
    })
}

impl TestDb {
    pub async fn finish(self) {
        self.store.close().await;
        if let Some((admin_url, name)) = self.postgres {
            let mut admin = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("reconnect to drop test database");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&mut admin)
            .await
            .expect("drop test database");
        }
    }
}

/// `url` with its database path replaced by `name`, keeping user, host, port and query.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let authority_end = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{name}", &base[..authority_end]);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    out
}

/// One `#[tokio::test]` per backend for each test body.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let db = super::sqlite_db().await;
                    super::$name(&db).await;
                    db.finish().await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let Some(db) = super::postgres_db().await else { return };
                    super::$name(&db).await;
                    db.finish().await;
                }
            )+
        }
    };
}
