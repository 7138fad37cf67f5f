//! The SCIM sync log: recent requests and their outcome, newest first.
//!
//! Not part of the decision (no revision, no change-log row). Bounded per
//! directory (entries without a directory count as one more): after every
//! [`prune_every`] appends for a directory, its entries beyond the newest
//! `capacity` are deleted, so a directory never holds more than
//! `capacity + prune_every - 1` of them.

use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::db_error;
use super::read::col;
use crate::model::DirectoryId;
use crate::store::StoreError;
use crate::store::scim::SyncLogEntry;

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(super) async fn append(
    conn: &mut SqliteConnection,
    entry: &SyncLogEntry,
) -> Result<i64, StoreError> {
    sqlx::query_scalar(
        "INSERT INTO sync_log (at_ms, directory_id, token_id, method, path, status, scim_type, \
                               detail, latency_us, user_agent, changes, revision) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(entry.at_ms)
    .bind(entry.directory.as_ref().map(|d| d.as_str().to_owned()))
    .bind(entry.token_id.clone())
    .bind(entry.method.clone())
    .bind(entry.path.clone())
    .bind(i64::from(entry.status))
    .bind(entry.scim_type.clone())
    .bind(entry.detail.clone())
    .bind(to_i64(entry.latency_us))
    .bind(entry.user_agent.clone())
    .bind(entry.changes.as_ref().map(Value::to_string))
    .bind(entry.revision.map(to_i64))
    .fetch_one(&mut *conn)
    .await
    .map_err(db_error("cannot append to the sync log"))
}

/// Deletes the entries of `dir` beyond the newest `capacity`.
pub(super) async fn prune(
    conn: &mut SqliteConnection,
    dir: Option<&DirectoryId>,
    capacity: u32,
) -> Result<u64, StoreError> {
    let done = sqlx::query(
        "DELETE FROM sync_log WHERE directory_id IS ?1 AND id <= \
             (SELECT id FROM sync_log WHERE directory_id IS ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)",
    )
    .bind(dir.map(|d| d.as_str().to_owned()))
    .bind(i64::from(capacity))
    .execute(&mut *conn)
    .await
    .map_err(db_error("cannot trim the sync log"))?;
    Ok(done.rows_affected())
}

fn entry(r: &SqliteRow) -> Result<SyncLogEntry, StoreError> {
    let changes = col::<Option<String>>(r, "changes")?
        .map(|c| serde_json::from_str(&c))
        .transpose()
        .map_err(|_| StoreError::Database("the sync log holds invalid JSON".to_owned()))?;
    Ok(SyncLogEntry {
        id: col(r, "id")?,
        at_ms: col(r, "at_ms")?,
        directory: col::<Option<String>>(r, "directory_id")?.map(DirectoryId::new_unchecked),
        token_id: col(r, "token_id")?,
        method: col(r, "method")?,
        path: col(r, "path")?,
        status: u16::try_from(col::<i64>(r, "status")?).unwrap_or(0),
        scim_type: col(r, "scim_type")?,
        detail: col(r, "detail")?,
        latency_us: u64::try_from(col::<i64>(r, "latency_us")?).unwrap_or(0),
        user_agent: col(r, "user_agent")?,
        changes,
        revision: col::<Option<i64>>(r, "revision")?.and_then(|v| u64::try_from(v).ok()),
    })
}

/// Newest first: the entries of `dir` (of every directory when `None`) with
/// an id below `before`, at most `limit`.
pub(super) async fn list(
    conn: &mut SqliteConnection,
    dir: Option<&DirectoryId>,
    limit: u32,
    before: Option<i64>,
) -> Result<Vec<SyncLogEntry>, StoreError> {
    let condition = match (dir.is_some(), before.is_some()) {
        (true, true) => "WHERE directory_id = ?1 AND id < ?2",
        (true, false) => "WHERE directory_id = ?1",
        (false, true) => "WHERE id < ?2",
        (false, false) => "",
    };
    let sql = format!(
        "SELECT id, at_ms, directory_id, token_id, method, path, status, scim_type, detail, \
                latency_us, user_agent, changes, revision \
         FROM sync_log {condition} ORDER BY id DESC LIMIT ?3"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(dir.map(|d| d.as_str().to_owned()))
        .bind(before)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("cannot read the sync log"))?
        .iter()
        .map(entry)
        .collect()
}
