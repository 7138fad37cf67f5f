//! Opening a SQLite database: connection options, the checks that tell a
//! rolecall database from anything else, migrations, and errors that say
//! what to do.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{SqlSafeStr, SqliteConnection, SqlitePool};

use crate::store::StoreError;

/// The schema, in order. A released migration never changes: add a file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/sqlite/0001_init.sql"),
    ),
    (
        2,
        "scim",
        include_str!("../../../migrations/sqlite/0002_scim.sql"),
    ),
    (
        3,
        "admin",
        include_str!("../../../migrations/sqlite/0003_admin.sql"),
    ),
    (
        4,
        "change_keys",
        include_str!("../../../migrations/sqlite/0004_change_keys.sql"),
    ),
];

/// How long a connection waits for a lock held by another process.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Read connections of a file database.
const READERS: u32 = 4;

fn migrator() -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|&(version, name, sql)| {
            Migration::new(
                version,
                Cow::Borrowed(name),
                MigrationType::Simple,
                sql.into_sql_str(),
                false,
            )
        })
        .collect();
    Migrator::with_migrations(migrations)
}

/// Runs the migrations on `conn`, inside the caller's transaction (the
/// migrator's own transactions nest as savepoints). `run_direct` rather than
/// `run`: the future of `run` over a `&mut` connection is not `Send` for every
/// lifetime, which would make `open` unusable in a spawned task.
async fn migrate(conn: &mut SqliteConnection) -> Result<(), MigrateError> {
    migrator().run_direct(None, conn, false).await
}

fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

/// What `url` names.
enum Target {
    Memory,
    File(PathBuf),
}

/// Opens the database at `url` and brings its schema up to date. Returns the
/// write pool (one connection) and the read pool (the same pool in memory).
pub(super) async fn connect(url: &str) -> Result<(SqlitePool, SqlitePool), StoreError> {
    let fail = |message: String, hint: String| StoreError::Open {
        url: url.to_owned(),
        message,
        hint,
    };
    let options = SqliteConnectOptions::from_str(url).map_err(|e| {
        fail(
            format!("not a SQLite URL ({e})"),
            "use `sqlite://PATH` (for example `sqlite://rolecall.db`) or `sqlite::memory:`"
                .to_owned(),
        )
    })?;
    let target = if is_memory(url) {
        Target::Memory
    } else {
        Target::File(options.get_filename().to_path_buf())
    };
    let mut options = options
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(BUSY_TIMEOUT)
        .synchronous(SqliteSynchronous::Full);
    if matches!(target, Target::File(_)) {
        options = options.journal_mode(SqliteJournalMode::Wal);
    }

    // One connection for writes, kept open for the life of the store (an
    // in-memory database lives as long as its connection).
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .idle_timeout(None)
        .max_lifetime(None)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(options.clone())
        .await
        .map_err(|e| classify(url, &target, &e))?;

    // Check and migrate under the write lock, so that processes opening a
    // new file at once take turns (the migrator nests its transactions).
    let mut tx = writer
        .begin_with("BEGIN IMMEDIATE")
        .await
        .map_err(|e| classify(url, &target, &e))?;
    let before = check_schema(url, &target, &mut tx).await?;
    migrate(&mut tx).await.map_err(|e| match e {
        MigrateError::VersionMissing(v) => newer(url, v),
        MigrateError::VersionMismatch(v) => fail(
            format!(
                "schema migration {v} in the database differs from the one this rolecall ships"
            ),
            "the database was written by a different build of rolecall or by another program: \
             restore it from a backup, or point --database-url at a new file"
                .to_owned(),
        ),
        MigrateError::Dirty(v) => fail(
            format!("schema migration {v} did not finish"),
            "restore the database from a backup, or point --database-url at a new file".to_owned(),
        ),
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
            classify(url, &target, &e)
        }
        e => fail(
            format!("cannot migrate the schema: {e}"),
            "point --database-url at a new file, or restore the database from a backup".to_owned(),
        ),
    })?;
    // Schema version 2 adds the email index; rolecall fills it for the users
    // already there (it folds like rolecall does, which SQL's `lower()`,
    // ASCII only, could not), in the same transaction as the migration.
    if before.is_some_and(|v| v < 2) {
        super::scim::index_all_emails(&mut tx).await?;
    }
    tx.commit().await.map_err(|e| classify(url, &target, &e))?;

    let reader = match target {
        Target::Memory => writer.clone(),
        Target::File(_) => SqlitePoolOptions::new()
            .max_connections(READERS)
            .min_connections(0)
            .idle_timeout(Duration::from_secs(600))
            .connect_lazy_with(options),
    };
    Ok((writer, reader))
}

fn is_memory(url: &str) -> bool {
    let rest = url.strip_prefix("sqlite:").unwrap_or(url);
    let rest = rest.strip_prefix("//").unwrap_or(rest);
    rest.starts_with(":memory:") || rest.contains("mode=memory")
}

/// Refuses a SQLite database that rolecall did not create, and one made by a
/// newer rolecall, before the migrator touches it. Returns the schema version
/// found (`None` for a new database).
async fn check_schema(
    url: &str,
    target: &Target,
    conn: &mut SqliteConnection,
) -> Result<Option<i64>, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| classify(url, target, &e))?;
    if tables.is_empty() {
        return Ok(None);
    }
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(StoreError::Open {
            url: url.to_owned(),
            message:
                "the file is a SQLite database, but not a rolecall one (it has tables of its own \
                      and no rolecall schema)"
                    .to_owned(),
            hint: format!(
                "{}point --database-url at a new file, or at a rolecall database",
                path_of(target)
            ),
        });
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| classify(url, target, &e))?;
    match version {
        Some(v) if v > latest_version() => Err(newer(url, v)),
        v => Ok(v),
    }
}

fn newer(url: &str, version: i64) -> StoreError {
    StoreError::Open {
        url: url.to_owned(),
        message: format!(
            "the database was created by a newer rolecall (schema version {version}; this rolecall knows \
             versions up to {})",
            latest_version()
        ),
        hint:
            "run the rolecall release that wrote it (or a later one), or point --database-url at \
               another file"
                .to_owned(),
    }
}

fn path_of(target: &Target) -> String {
    match target {
        Target::File(p) => format!("`{}`: ", p.display()),
        Target::Memory => String::new(),
    }
}

/// Turns an error met while opening into a message and a hint that says what
/// to do about it.
fn classify(url: &str, target: &Target, e: &sqlx::Error) -> StoreError {
    let fail = |message: String, hint: String| StoreError::Open {
        url: url.to_owned(),
        message,
        hint,
    };
    let path = match target {
        Target::File(p) => p.as_path(),
        Target::Memory => {
            return fail(e.to_string(), "check the URL: `sqlite::memory:`".to_owned());
        }
    };
    let shown = path.display();
    match e {
        sqlx::Error::Database(d) => {
            let code = d.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0);
            let message = d.message().to_owned();
            match code & 0xff {
                // SQLITE_CORRUPT, SQLITE_NOTADB
                11 | 26 => fail(
                    message,
                    format!(
                        "`{shown}` is not a rolecall SQLite database or is corrupt: restore it from a backup, \
                         or point --database-url at a new file"
                    ),
                ),
                // SQLITE_PERM, SQLITE_READONLY, SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_AUTH
                3 | 8 | 10 | 14 | 23 => fail(message, path_hint(path)),
                // SQLITE_BUSY, SQLITE_LOCKED
                5 | 6 => fail(
                    message,
                    format!(
                        "another process holds a lock on `{shown}`: stop it, or wait and retry (rolecall \
                         waits {} s for a lock)",
                        BUSY_TIMEOUT.as_secs()
                    ),
                ),
                // SQLITE_FULL
                13 => fail(
                    message,
                    format!("the disk holding `{shown}` is full: free some space"),
                ),
                _ => fail(
                    message,
                    format!("check `{shown}`, or point --database-url at a new file"),
                ),
            }
        }
        sqlx::Error::Io(io) => fail(io.to_string(), path_hint(path)),
        e => fail(
            e.to_string(),
            format!("check `{shown}`, or point --database-url at a new file"),
        ),
    }
}

/// What to check when `path` cannot be opened.
fn path_hint(path: &Path) -> String {
    let shown = path.display();
    if path.is_dir() {
        return format!(
            "`{shown}` is a directory: point --database-url at a file, for example `sqlite://{}`",
            path.join("rolecall.db").display()
        );
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.is_dir()
    {
        return format!(
            "directory `{}` does not exist: create it, or point --database-url at a file elsewhere",
            parent.display()
        );
    }
    format!(
        "check that rolecall may read and write `{shown}`, the directory it is in, and the `-wal` and \
         `-shm` files next to it"
    )
}
