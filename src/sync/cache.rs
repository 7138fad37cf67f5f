//! The sidecar's cache file: the last state it held, so that a restart while
//! the store is away still serves.
//!
//! Layout (little-endian):
//!
//! ```text
//! magic "RCSNAP\r\n" (8) | format u32 | revision u64 | length u64 | crc32c u32 | payload
//! ```
//!
//! The payload is the state as a full `rolecall.v1.StateDelta`, zstd
//! compressed; `length` and `crc32c` are of the payload. The file is written
//! beside its final name, synced, and renamed over it, so a crash leaves the
//! old file or the new one, never half of one.

use std::io::Write;
use std::path::{Path, PathBuf};

use prost::Message;

use crate::model::{Revision, State};
use crate::pb::v1 as pb;

use super::convert::{self, DecodeError};

const MAGIC: &[u8; 8] = b"RCSNAP\r\n";
/// Bumped when the layout or the payload's meaning changes.
const FORMAT: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 8 + 4;
/// zstd level: fast, and still a several-fold reduction for this data.
const LEVEL: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot read the cache file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot write the cache file {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the cache file {path} is not usable: {reason}; it will be replaced from the store")]
    Invalid { path: PathBuf, reason: String },
}

fn invalid(path: &Path, reason: impl Into<String>) -> CacheError {
    CacheError::Invalid {
        path: path.to_owned(),
        reason: reason.into(),
    }
}

/// Encodes `state` in the cache file's layout.
pub fn encode(state: &State) -> Result<Vec<u8>, std::io::Error> {
    let body = convert::encode(&convert::full_delta(state)).encode_to_vec();
    let payload = zstd::bulk::compress(&body, LEVEL)?;
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&FORMAT.to_le_bytes());
    out.extend_from_slice(&state.revision.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Decodes a cache file's bytes; `path` only names it in errors.
pub fn decode(path: &Path, bytes: &[u8]) -> Result<State, CacheError> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err(invalid(path, "not a rolecall cache file"));
    }
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap_or_default());
    let u64_at = |i: usize| u64::from_le_bytes(bytes[i..i + 8].try_into().unwrap_or_default());
    let format = u32_at(8);
    if format != FORMAT {
        return Err(invalid(
            path,
            format!("format {format}, this rolecall reads format {FORMAT}"),
        ));
    }
    let revision: Revision = u64_at(12);
    let length = u64_at(20);
    let crc = u32_at(28);
    let payload = &bytes[HEADER..];
    if payload.len() as u64 != length {
        return Err(invalid(
            path,
            format!("truncated ({} of {length} bytes)", payload.len()),
        ));
    }
    if crc32c::crc32c(payload) != crc {
        return Err(invalid(path, "checksum mismatch"));
    }
    let body = zstd::stream::decode_all(payload).map_err(|e| invalid(path, e.to_string()))?;
    let msg = pb::StateDelta::decode(body.as_slice()).map_err(|e| invalid(path, e.to_string()))?;
    let delta = convert::decode(msg).map_err(|e: DecodeError| invalid(path, e.to_string()))?;
    if delta.revision != revision || delta.from != 0 {
        return Err(invalid(path, "header and payload disagree"));
    }
    Ok(convert::state_of_full(&delta))
}

/// Reads the cache file; `Ok(None)` when there is none.
pub fn read(path: &Path) -> Result<Option<State>, CacheError> {
    match std::fs::read(path) {
        Ok(bytes) => decode(path, &bytes).map(Some),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CacheError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// Writes `state` to `path` atomically: a temporary file beside it, synced,
/// renamed over it, and the directory synced.
pub fn write(path: &Path, state: &State) -> Result<(), CacheError> {
    let err = |source| CacheError::Write {
        path: path.to_owned(),
        source,
    };
    let bytes = encode(state).map_err(err)?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "cache".to_owned());
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        std::fs::File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map_err(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::datafile::{DataFile, Format};
    use crate::store::{DEMO_DATA, Store, sqlite::SqliteStore};

    async fn demo_state() -> State {
        let store = SqliteStore::open("sqlite::memory:").await.unwrap();
        let demo = DataFile::parse(DEMO_DATA, Format::Yaml, "demo.yaml").unwrap();
        store.import(&demo).await.unwrap();
        store.load_state().await.unwrap()
    }

    #[tokio::test]
    async fn round_trips_and_refuses_damage() {
        let state = demo_state().await;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snapshot.cache");
        assert!(read(&path).unwrap().is_none());
        write(&path, &state).unwrap();
        let back = read(&path).unwrap().unwrap();
        assert_eq!(back.revision, state.revision);
        assert_eq!(convert::full_delta(&back), convert::full_delta(&state));
        // No temporary file is left behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);

        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        let e = decode(&path, &flipped).unwrap_err().to_string();
        assert!(e.contains("checksum"), "{e}");
        let e = decode(&path, &good[..good.len() - 10])
            .unwrap_err()
            .to_string();
        assert!(e.contains("truncated"), "{e}");
        let mut other = good.clone();
        other[8] = 9;
        let e = decode(&path, &other).unwrap_err().to_string();
        assert!(e.contains("format 9"), "{e}");
        let e = decode(&path, b"hello").unwrap_err().to_string();
        assert!(e.contains("not a rolecall cache file"), "{e}");
    }
}
