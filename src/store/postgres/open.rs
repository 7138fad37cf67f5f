//! Opening a PostgreSQL database: connection options, the checks that tell a
//! rolecall database from anything else, migrations, and errors that say
//! what to fix (never showing the password).

use std::borrow::Cow;
use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::{MigrateError, Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, SqlSafeStr};

use crate::store::StoreError;

/// The schema, in order. A released migration never changes: add a file.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "init",
        include_str!("../../../migrations/postgres/0001_init.sql"),
    ),
    (
        2,
        "change_keys",
        include_str!("../../../migrations/postgres/0002_change_keys.sql"),
    ),
];

/// Connections of the pool, shared by reads and writes (writes take turns
/// on the revision row, so more would only wait).
const CONNECTIONS: u32 = 8;

/// How long an operation waits for a connection (or for the server to come
/// back) before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a new connection may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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

fn latest_version() -> i64 {
    MIGRATIONS.iter().map(|m| m.0).max().unwrap_or(0)
}

/// `url` with its password replaced by `***`, fit for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens the pool for `url` and brings the schema up to date.
pub(super) async fn connect(url: &str) -> Result<PgPool, StoreError> {
    let shown = redact(url);
    let fail = |message: String, hint: String| StoreError::Open {
        url: shown.clone(),
        message,
        hint,
    };
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        fail(
            format!("not a PostgreSQL URL ({})", redact(&e.to_string())),
            "use `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE` (for example \
             `postgres://rolecall@localhost/rolecall`)"
                .to_owned(),
        )
    })?;
    let options = options.application_name("rolecall");

    // Migrate over a connection of its own: the migrator holds an advisory
    // lock for its session, so processes opening a new database at once
    // take turns, and a failure drops the connection and the lock with it.
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options))
        .await
        .map_err(|_| {
            fail(
                format!(
                    "no answer from {}:{} within {} s",
                    options.get_host(),
                    options.get_port(),
                    CONNECT_TIMEOUT.as_secs()
                ),
                "check that PostgreSQL runs and that the host and port in the URL are right"
                    .to_owned(),
            )
        })?
        .map_err(|e| classify(&shown, &options, &e))?;
    let before = check_schema(&shown, &options, &mut conn).await?;
    migrator()
        .run_direct(None, &mut conn, false)
        .await
        .map_err(|e| match e {
            MigrateError::VersionMissing(v) => newer(&shown, v),
            MigrateError::VersionMismatch(v) => fail(
                format!(
                    "schema migration {v} in the database differs from the one this rolecall ships"
                ),
                "the database was written by a different build of rolecall or by another \
                 program: restore it from a backup, or point --database-url at a new database"
                    .to_owned(),
            ),
            MigrateError::Dirty(v) => fail(
                format!("schema migration {v} did not finish"),
                "restore the database from a backup, or point --database-url at a new database"
                    .to_owned(),
            ),
            MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) => {
                classify(&shown, &options, &e)
            }
            e => fail(
                format!("cannot migrate the schema: {e}"),
                "point --database-url at a new database, or restore this one from a backup"
                    .to_owned(),
            ),
        })?;
    if before.is_none() {
        tracing::info!(url = %shown, "created the rolecall schema");
    }
    conn.close()
        .await
        .map_err(|e| classify(&shown, &options, &e))?;

    // Connections are checked before use and replaced when the server went
    // away (a restart, a failover): the store recovers without a restart
    // of its own.
    let pool = PgPoolOptions::new()
        .max_connections(CONNECTIONS)
        .min_connections(0)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .idle_timeout(Duration::from_secs(600))
        .test_before_acquire(true)
        .connect_lazy_with(options);
    Ok(pool)
}

/// Refuses a database that holds tables of its own but no rolecall schema,
/// and one made by a newer rolecall, before the migrator touches it. Returns
/// the schema version found (`None` for a new database).
async fn check_schema(
    url: &str,
    options: &PgConnectOptions,
    conn: &mut PgConnection,
) -> Result<Option<i64>, StoreError> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = current_schema()",
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| classify(url, options, &e))?;
    if tables.is_empty() {
        return Ok(None);
    }
    if !tables.iter().any(|t| t == "_sqlx_migrations") {
        return Err(StoreError::Open {
            url: url.to_owned(),
            message: format!(
                "the database `{}` has tables of its own and no rolecall schema",
                options.get_database().unwrap_or(options.get_username())
            ),
            hint: "point --database-url at a new (empty) database, or at a rolecall database"
                .to_owned(),
        });
    }
    let version: Option<i64> = sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations")
        .fetch_one(&mut *conn)
        .await
        .map_err(|e| classify(url, options, &e))?;
    match version {
        Some(v) if v > latest_version() => Err(newer(url, v)),
        v => Ok(v),
    }
}

fn newer(url: &str, version: i64) -> StoreError {
    StoreError::Open {
        url: url.to_owned(),
        message: format!(
            "the database was created by a newer rolecall (schema version {version}; this rolecall \
             knows versions up to {})",
            latest_version()
        ),
        hint: "run the rolecall release that wrote it (or a later one), or point --database-url \
               at another database"
            .to_owned(),
    }
}

/// Turns an error met while opening into a message and a hint that says what
/// to fix.
fn classify(url: &str, options: &PgConnectOptions, e: &sqlx::Error) -> StoreError {
    let fail = |message: String, hint: String| StoreError::Open {
        url: url.to_owned(),
        message,
        hint,
    };
    let server = format!("{}:{}", options.get_host(), options.get_port());
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_owned();
    match e {
        sqlx::Error::Database(d) => {
            let message = d.message().to_owned();
            match d.code().as_deref() {
                // invalid_password, invalid_authorization_specification
                Some("28P01" | "28000") => fail(
                    message,
                    format!(
                        "check the user name and password in the URL (user `{}`), and that \
                         pg_hba.conf lets it connect",
                        options.get_username()
                    ),
                ),
                // invalid_catalog_name
                Some("3D000") => fail(
                    message,
                    format!(
                        "create the database (`createdb {database}`, or `CREATE DATABASE \
                         {database}`), or fix its name in the URL"
                    ),
                ),
                // insufficient_privilege
                Some("42501") => fail(
                    message,
                    format!(
                        "grant user `{}` the right to create tables in database `{database}`, \
                         or use its owner",
                        options.get_username()
                    ),
                ),
                // too_many_connections, cannot_connect_now
                Some("53300" | "57P03") => fail(
                    message,
                    format!("the server at {server} refuses connections for now: retry later"),
                ),
                _ => fail(message, format!("check database `{database}` on {server}")),
            }
        }
        sqlx::Error::Io(io) => fail(
            format!("cannot reach the PostgreSQL server at {server}: {io}"),
            "check that PostgreSQL runs and listens there, and the host and port in the URL"
                .to_owned(),
        ),
        sqlx::Error::Tls(t) => fail(
            format!("TLS with {server} failed: {t}"),
            "check `sslmode` in the URL and the server's certificate".to_owned(),
        ),
        e => fail(
            redact(&e.to_string()),
            format!("check the URL and the server at {server}"),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_never_shown() {
        assert_eq!(
            redact("postgres://u:secret@h:5432/db?sslmode=disable"),
            "postgres://u:***@h:5432/db?sslmode=disable"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("postgresql://h/db"), "postgresql://h/db");
        assert_eq!(redact("postgres://u:p@ss@h/db"), "postgres://u:***@h/db");
    }
}
