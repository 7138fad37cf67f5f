//! The SQLite store: one file (`sqlite://PATH`) or memory (`sqlite::memory:`).
//!
//! Writes go through one connection, one at a time, each in a
//! `BEGIN IMMEDIATE` transaction, in WAL mode with `synchronous=FULL`: a write
//! is on disk before it is acknowledged. Reads use a small pool of their own
//! (in memory, the one connection), each in a read transaction, so they see
//! one revision and do not wait for writers.
//!
//! The schema is in `migrations/sqlite/`, embedded in the binary.

mod open;
mod read;
mod write;

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sqlx::{Row, SqliteConnection, SqlitePool};
use tokio::sync::Mutex;

use super::import::{self, Source};
use super::{Change, DEFAULT_ROLES, ImportOutcome, Store, StoreError};
use crate::datafile::{DataFile, Format};
use crate::model::{Revision, State};

/// A rolecall store in SQLite.
///
/// A new store holds the default role catalog ([`DEFAULT_ROLES`]), loaded by
/// [`SqliteStore::open`] in one write: a new store is at revision 1 (0 when
/// the catalog is empty), and reopening it with the same catalog writes
/// nothing, so the revision is stable across restarts. A newer catalog updates
/// the roles nobody changed (those still `builtin`) in one more revision; a
/// role an operator changed is theirs and is left alone.
pub struct SqliteStore {
    /// The one write connection.
    writer: SqlitePool,
    /// Read connections (the writer itself for `sqlite::memory:`).
    reader: SqlitePool,
    /// Queues writers without a deadline of the pool's.
    write_lock: Mutex<()>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

impl SqliteStore {
    /// Opens (creating it if missing) and migrates the database at `url`,
    /// `sqlite://PATH` or `sqlite::memory:`, and loads the default role
    /// catalog. Errors say what is wrong with the file and what to do.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (writer, reader) = open::connect(url).await?;
        let store = Self {
            writer,
            reader,
            write_lock: Mutex::new(()),
        };
        let catalog =
            DataFile::parse(DEFAULT_ROLES, Format::Yaml, "data/roles.yaml").map_err(|e| {
                StoreError::Database(format!("the built-in role catalog does not parse: {e}"))
            })?;
        store
            .apply(&catalog, Source::Catalog, "catalog")
            .await
            .map_err(|e| match e {
                StoreError::Import(e) => StoreError::Database(format!(
                    "the built-in role catalog (data/roles.yaml) does not import: {e}"
                )),
                e => e,
            })?;
        Ok(store)
    }

    /// Closes the connections, waiting for the ones in use.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }

    /// One write transaction: load what the file can touch, apply it, write
    /// what changed, bump the revision and log the change. Nothing is written
    /// when nothing changed.
    async fn apply(
        &self,
        file: &DataFile,
        source: Source,
        kind: &str,
    ) -> Result<ImportOutcome, StoreError> {
        let _queue = self.write_lock.lock().await;
        let mut tx = self
            .writer
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(db_error("cannot start a write"))?;
        let revision = current_revision(&mut tx).await?;
        let mut world = write::load_world(&mut tx, file).await?;
        let summary = import::apply(file, &mut world, source, &mut new_scim_id)?;
        if summary.is_empty() {
            tx.rollback().await.map_err(db_error("cannot end a read"))?;
            return Ok(ImportOutcome {
                revision,
                changed: false,
            });
        }
        let now = now_ms();
        write::write_world(&mut tx, &world, now).await?;
        let revision = bump_revision(&mut tx, now, kind, &summary.to_json()).await?;
        tx.commit().await.map_err(db_error("cannot commit"))?;
        tracing::debug!(revision, kind, detail = %summary.to_json(), "store write");
        Ok(ImportOutcome {
            revision,
            changed: true,
        })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn revision(&self) -> Result<Revision, StoreError> {
        let mut conn = self
            .reader
            .acquire()
            .await
            .map_err(db_error("cannot read the revision"))?;
        current_revision(&mut conn).await
    }

    async fn load_state(&self) -> Result<State, StoreError> {
        let mut tx = self
            .reader
            .begin()
            .await
            .map_err(db_error("cannot start a read"))?;
        let state = read::load_state(&mut tx).await?;
        tx.rollback().await.map_err(db_error("cannot end a read"))?;
        Ok(state)
    }

    async fn import(&self, file: &DataFile) -> Result<ImportOutcome, StoreError> {
        self.apply(file, Source::File, "import").await
    }

    async fn changes_since(&self, after: Revision, limit: u32) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT revision, at_ms, kind, detail FROM change_log WHERE revision > ? ORDER BY revision LIMIT ?",
        )
        .bind(to_i64(after))
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await
        .map_err(db_error("cannot read the change log"))?;
        rows.iter()
            .map(|r| {
                Ok(Change {
                    revision: from_i64(r.try_get("revision").map_err(db_error("change log"))?),
                    at_ms: r.try_get("at_ms").map_err(db_error("change log"))?,
                    kind: r.try_get("kind").map_err(db_error("change log"))?,
                    detail: r.try_get("detail").map_err(db_error("change log"))?,
                })
            })
            .collect()
    }
}

async fn current_revision(conn: &mut SqliteConnection) -> Result<Revision, StoreError> {
    let value: i64 = sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
        .fetch_one(conn)
        .await
        .map_err(db_error("cannot read the revision"))?;
    Ok(from_i64(value))
}

/// Bumps the revision by one and logs the change under it.
async fn bump_revision(
    conn: &mut SqliteConnection,
    at_ms: i64,
    kind: &str,
    detail: &str,
) -> Result<Revision, StoreError> {
    let value: i64 =
        sqlx::query_scalar("UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error("cannot bump the revision"))?;
    sqlx::query("INSERT INTO change_log (revision, at_ms, kind, detail) VALUES (?, ?, ?, ?)")
        .bind(value)
        .bind(at_ms)
        .bind(kind.to_owned())
        .bind(detail.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(db_error("cannot append to the change log"))?;
    Ok(from_i64(value))
}

/// Maps a database error to [`StoreError::Database`], saying what was being
/// done; a busy database gets a message of its own.
fn db_error(doing: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| {
        if let sqlx::Error::Database(d) = &e
            && let Some(code) = d.code().and_then(|c| c.parse::<i32>().ok())
            && matches!(code & 0xff, 5 | 6)
        {
            return StoreError::Database(format!(
                "{doing}: the database is locked by another process (still busy after 5 s); \
                 retry, or stop the other process"
            ));
        }
        StoreError::Database(format!("{doing}: {e}"))
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn to_i64(r: Revision) -> i64 {
    i64::try_from(r).unwrap_or(i64::MAX)
}

fn from_i64(v: i64) -> Revision {
    Revision::try_from(v).unwrap_or(0)
}

/// A new SCIM id: a random (version 4) UUID.
fn new_scim_id() -> Result<String, String> {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).map_err(|e| format!("the system's random source failed: {e}"))?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex =
        |r: std::ops::Range<usize>| b[r].iter().map(|x| format!("{x:02x}")).collect::<String>();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex(0..4),
        hex(4..6),
        hex(6..8),
        hex(8..10),
        hex(10..16)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scim_ids_are_v4_uuids() {
        let id = new_scim_id().unwrap();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_scim_id().unwrap());
    }

    #[tokio::test]
    async fn memory_stores_keep_their_data_on_one_connection() {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let file =
            DataFile::parse("organizations: [{id: o, name: O}]", Format::Yaml, "t.yaml").unwrap();
        let before = store.revision().await.unwrap();
        let out = store.import(&file).await.unwrap();
        assert_eq!(out.revision, before + 1);
        let state = store.load_state().await.unwrap();
        assert_eq!(state.organizations.len(), 1);
        assert_eq!(state.revision, before + 1);
        // Another in-memory store is another database.
        let other = SqliteStore::open("sqlite::memory:").await.unwrap();
        assert!(other.load_state().await.unwrap().organizations.is_empty());
    }
}
