//! The store suites run against every backend: SQLite always (a file in a
//! temporary directory), PostgreSQL when `ROLECALL_TEST_POSTGRES_URL` names a
//! server (a database of its own per test, created here and dropped when the
//! test ends). When the variable is set, a server that cannot be reached
//! fails the test: it is never skipped.
//!
//! A suite writes each test once, as `async fn name(backend: Backend)`, and
//! declares it with `backend_tests!(name)`: that makes the tests
//! `name::sqlite` and `name::postgres`. The suites include this file with
//! `#[macro_use] #[path = "common/stores.rs"] mod stores;`.

// Included with `#[path]` by several test crates; each uses part of it.
#![allow(dead_code, unused_macros)]

use std::ops::Deref;
use std::time::Duration;

use rolecall::store::postgres::PostgresStore;
use rolecall::store::sqlite::SqliteStore;
use rolecall::store::{Store, StoreError};
use sqlx::{Connection, Executor, PgConnection};
use tempfile::TempDir;

/// The variable naming the PostgreSQL server the tests may use (a URL whose
/// user may create databases, for example
/// `postgres://postgres@127.0.0.1:5432/postgres`).
pub const POSTGRES_URL_VAR: &str = "ROLECALL_TEST_POSTGRES_URL";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server's URL, when the tests are to use one.
pub fn postgres_url() -> Option<String> {
    std::env::var(POSTGRES_URL_VAR)
        .ok()
        .filter(|u| !u.trim().is_empty())
}

/// Makes `name::sqlite` and `name::postgres` tests of each
/// `async fn name(backend: Backend)` listed; `multi_thread:` before the list
/// runs them on a multi-threaded runtime. The PostgreSQL test returns at once
/// when no server is configured.
macro_rules! backend_tests {
    (multi_thread: $($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn sqlite() {
                    super::$name(super::stores::Backend::Sqlite).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn postgres() {
                    if super::stores::postgres_url().is_some() {
                        super::$name(super::stores::Backend::Postgres).await;
                    }
                }
            }
        )+
    };
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::stores::Backend::Sqlite).await;
                }

                #[tokio::test]
                async fn postgres() {
                    if super::stores::postgres_url().is_some() {
                        super::$name(super::stores::Backend::Postgres).await;
                    }
                }
            }
        )+
    };
}

/// A new, empty database of one backend; removed when dropped.
pub struct TestDb {
    backend: Backend,
    url: String,
    /// SQLite: the directory holding the file.
    dir: Option<TempDir>,
    /// PostgreSQL: the server's URL and the database made for the test.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn new(backend: Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = TempDir::new().expect("a temporary directory");
                let url = format!("sqlite://{}", dir.path().join("rolecall.db").display());
                Self {
                    backend,
                    url,
                    dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres => {
                let server = postgres_url().unwrap_or_else(|| {
                    panic!("{POSTGRES_URL_VAR} is not set: no PostgreSQL server to test against")
                });
                let name = format!("rolecall_test_{}", random_suffix());
                let mut conn = admin_connection(&server).await;
                conn.execute(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .await
                    .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
                conn.close().await.ok();
                let url = with_database(&server, &name);
                Self {
                    backend,
                    url,
                    dir: None,
                    postgres: Some((server, name)),
                }
            }
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database's URL, for `rolecall::store::open` and the CLI.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The SQLite file's directory (`None` for PostgreSQL).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(TempDir::path)
    }

    pub async fn try_open(&self) -> Result<TestStore, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => TestStore::Sqlite(SqliteStore::open(&self.url).await?),
            Backend::Postgres => TestStore::Postgres(PostgresStore::open(&self.url).await?),
        })
    }

    pub async fn open(&self) -> TestStore {
        self.try_open().await.expect("store opens")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.postgres.take() else {
            return;
        };
        // Drop runs inside the test's runtime, which cannot block on a
        // future: drop the database from a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&server).await?;
                conn.execute(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                )))
                .await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = done {
            eprintln!("cannot drop a test database: {e}");
        }
    }
}

/// A connection to the server the tests were given; panics (failing the
/// test) when it cannot be reached.
pub async fn admin_connection(server: &str) -> PgConnection {
    let connect = PgConnection::connect(server);
    match tokio::time::timeout(Duration::from_secs(20), connect).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => panic!("{POSTGRES_URL_VAR} is set but the server cannot be reached: {e}"),
        Err(_) => panic!("{POSTGRES_URL_VAR} is set but the server does not answer"),
    }
}

/// `server` (a URL) with its database replaced by `name`.
pub fn with_database(server: &str, name: &str) -> String {
    let (scheme, rest) = server.split_once("://").expect("a postgres:// URL");
    let (base, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let authority = base.split('/').next().unwrap_or(base);
    match query {
        Some(q) => format!("{scheme}://{authority}/{name}?{q}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

fn random_suffix() -> String {
    use std::time::{SystemTime, UNIX_EPOCH};
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{}_{nanos:x}_{n}", std::process::id())
}

/// A store of either backend, used through [`Store`] (it derefs to it).
pub enum TestStore {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl TestStore {
    pub async fn close(&self) {
        match self {
            TestStore::Sqlite(s) => s.close().await,
            TestStore::Postgres(s) => s.close().await,
        }
    }

    #[must_use]
    pub fn with_sync_log_capacity(self, capacity: u32) -> Self {
        match self {
            TestStore::Sqlite(s) => TestStore::Sqlite(s.with_sync_log_capacity(capacity)),
            TestStore::Postgres(s) => TestStore::Postgres(s.with_sync_log_capacity(capacity)),
        }
    }
}

impl Deref for TestStore {
    type Target = dyn Store;

    fn deref(&self) -> &Self::Target {
        match self {
            TestStore::Sqlite(s) => s,
            TestStore::Postgres(s) => s,
        }
    }
}
