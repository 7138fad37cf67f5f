//! SCIM bearer tokens: minted at random, stored as a SHA-256 hash (never the
//! secret), found by that hash and then compared in constant time.
//!
//! A token is not part of the decision: creating, revoking and using one
//! bumps no revision and writes no change-log row. Creating and revoking are
//! still durable writes (committed before they return); using one records
//! `last_used_ms` at most once a minute, in one small UPDATE.

use sqlx::SqliteConnection;
use subtle::ConstantTimeEq;

use super::db_error;
use super::read::col;
use crate::model::DirectoryId;
use crate::store::StoreError;
use crate::store::scim::ScimToken;
use crate::store::shared::{PREFIX_LEN, SECRET_PREFIX, hash, new_secret, new_token_id};

fn token(r: &sqlx::sqlite::SqliteRow) -> Result<ScimToken, StoreError> {
    Ok(ScimToken {
        id: col(r, "id")?,
        directory: DirectoryId::new_unchecked(col::<String>(r, "directory_id")?),
        prefix: col::<Option<String>>(r, "prefix")?.unwrap_or_default(),
        created_ms: col(r, "created_ms")?,
        last_used_ms: col(r, "last_used_ms")?,
        revoked_ms: col(r, "revoked_ms")?,
    })
}

pub(super) async fn create(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    now: i64,
) -> Result<(ScimToken, String), StoreError> {
    let exists: Option<i64> = sqlx::query_scalar("SELECT 1 FROM directories WHERE id = ?")
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db_error("cannot read the directory"))?;
    if exists.is_none() {
        return Err(StoreError::NotFound {
            what: "directory",
            id: dir.as_str().to_owned(),
        });
    }
    let secret = new_secret()?;
    let prefix: String = secret[SECRET_PREFIX.len()..]
        .chars()
        .take(PREFIX_LEN)
        .collect();
    let id = new_token_id()?;
    sqlx::query(
        "INSERT INTO scim_tokens (id, directory_id, token_hash, prefix, created_ms) \
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(id.clone())
    .bind(dir.as_str().to_owned())
    .bind(hash(&secret))
    .bind(prefix.clone())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(db_error("cannot store the SCIM token"))?;
    let token = ScimToken {
        id,
        directory: dir.clone(),
        prefix,
        created_ms: now,
        last_used_ms: None,
        revoked_ms: None,
    };
    Ok((token, secret))
}

/// A live token with the secret's hash: (directory, token id, last use).
pub(super) async fn find(
    conn: &mut SqliteConnection,
    secret: &str,
) -> Result<Option<(DirectoryId, String, Option<i64>)>, StoreError> {
    let wanted = hash(secret);
    let row = sqlx::query(
        "SELECT id, directory_id, token_hash, last_used_ms FROM scim_tokens \
         WHERE token_hash = ? AND revoked_ms IS NULL",
    )
    .bind(wanted.clone())
    .fetch_optional(&mut *conn)
    .await
    .map_err(db_error("cannot read the SCIM tokens"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let stored: Vec<u8> = col(&row, "token_hash")?;
    if !bool::from(stored.as_slice().ct_eq(wanted.as_slice())) {
        return Ok(None);
    }
    Ok(Some((
        DirectoryId::new_unchecked(col::<String>(&row, "directory_id")?),
        col(&row, "id")?,
        col(&row, "last_used_ms")?,
    )))
}

pub(super) async fn list(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<Vec<ScimToken>, StoreError> {
    sqlx::query(
        "SELECT id, directory_id, prefix, created_ms, last_used_ms, revoked_ms FROM scim_tokens \
         WHERE directory_id = ? ORDER BY created_ms, rowid",
    )
    .bind(dir.as_str().to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("cannot read the SCIM tokens"))?
    .iter()
    .map(token)
    .collect()
}

/// Revokes a token of `dir` (revoking it again keeps the first time).
pub(super) async fn revoke(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    token_id: &str,
    now: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(
        "UPDATE scim_tokens SET revoked_ms = ifnull(revoked_ms, ?) \
         WHERE id = ? AND directory_id = ?",
    )
    .bind(now)
    .bind(token_id.to_owned())
    .bind(dir.as_str().to_owned())
    .execute(&mut *conn)
    .await
    .map_err(db_error("cannot revoke the SCIM token"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound {
            what: "SCIM token",
            id: token_id.to_owned(),
        });
    }
    Ok(())
}
