//! SCIM bearer tokens: minted at random, stored as a SHA-256 hash (never the
//! secret), found by that hash and then compared in constant time.
//!
//! A token is not part of the decision: creating, revoking and using one
//! bumps no revision and writes no change-log row. Creating and revoking are
//! still durable writes (committed before they return); using one records
//! `last_used_ms` at most once a minute, in one small UPDATE.

use sha2::{Digest, Sha256};
use sqlx::SqliteConnection;
use subtle::ConstantTimeEq;

use super::db_error;
use super::read::col;
use crate::model::DirectoryId;
use crate::store::StoreError;
use crate::store::scim::ScimToken;

/// What every secret starts with, so that leaked ones are easy to spot.
pub(super) const SECRET_PREFIX: &str = "rcs_";

/// How many characters of the secret (after `rcs_`) are kept to tell tokens
/// apart.
const PREFIX_LEN: usize = 8;

/// A use of a token is recorded again only when the recorded one is older
/// than this: `last_used_ms` is precise to the minute, and a busy IdP does not
/// turn every request into a write.
pub(super) const LAST_USED_RESOLUTION_MS: i64 = 60_000;

const BASE64URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
fn base64url(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(BASE64URL[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b)
        .map_err(|e| StoreError::Database(format!("the system's random source failed: {e}")))?;
    Ok(b)
}

/// A new secret: `rcs_` and 43 base64url characters (32 random bytes).
fn new_secret() -> Result<String, StoreError> {
    Ok(format!("{SECRET_PREFIX}{}", base64url(&random::<32>()?)))
}

/// A new token id: `tok_` and 16 hex digits.
fn new_token_id() -> Result<String, StoreError> {
    let hex: String = random::<8>()?.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("tok_{hex}"))
}

pub(super) fn hash(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_matches_the_rfc_vectors() {
        assert_eq!(base64url(b""), "");
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"fo"), "Zm8");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"foob"), "Zm9vYg");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
        assert_eq!(base64url(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64url(&[0xfb, 0xff]), "-_8");
    }

    #[test]
    fn secrets_have_the_documented_shape() {
        let s = new_secret().unwrap();
        assert!(s.starts_with("rcs_"));
        assert_eq!(s.len(), 4 + 43);
        assert!(
            s[4..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        assert_ne!(s, new_secret().unwrap());
        let id = new_token_id().unwrap();
        assert_eq!(id.len(), 4 + 16);
    }
}
