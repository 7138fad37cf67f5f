//! Persistence: the [`Store`] trait and its SQLite implementation
//! ([`sqlite`]). The store is the only writer; every write is one durable
//! transaction that bumps the revision and appends to the change log.

mod import;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::datafile::DataFile;
use crate::model::{Revision, State};

/// An entry of a data file that cannot be imported, named by section and
/// index (`users[3]`) and field (`userName`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry}{}: {message}", field.as_ref().map(|f| format!(".{f}")).unwrap_or_default())]
pub struct ImportError {
    /// `section[index]`, for example `users[3]`.
    pub entry: String,
    pub field: Option<String>,
    pub message: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be opened or is not a rolecall database.
    #[error("cannot open database `{url}`: {message}; {hint}")]
    Open {
        url: String,
        message: String,
        hint: String,
    },
    #[error(transparent)]
    Import(#[from] ImportError),
    #[error("database error: {0}")]
    Database(String),
}

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The revision after the import (unchanged when nothing changed).
    pub revision: Revision,
    /// False when the file matched the store already: nothing was written.
    pub changed: bool,
}

/// One entry of the change log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub revision: Revision,
    /// Unix time in milliseconds.
    pub at_ms: i64,
    /// `import`, later `scim.user.create`, `admin.group.role_assignments`, ...
    pub kind: String,
    /// A JSON summary of the change.
    pub detail: String,
}

/// The store's operations. Implementations: SQLite now, PostgreSQL later;
/// `tests/store.rs` runs one suite against each.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The current revision: 0 for a new, empty store.
    async fn revision(&self) -> Result<Revision, StoreError>;

    /// Everything the decision depends on, read in one transaction.
    async fn load_state(&self) -> Result<State, StoreError>;

    /// Applies a data file in one transaction, all or nothing. Entries match
    /// existing ones (by id; users by userName, groups by displayName, roles
    /// by name) and replace them. An import that changes nothing writes nothing.
    async fn import(&self, file: &DataFile) -> Result<ImportOutcome, StoreError>;

    /// Change log entries after `after`, oldest first, at most `limit`.
    async fn changes_since(&self, after: Revision, limit: u32) -> Result<Vec<Change>, StoreError>;
}

/// Opens the store named by `url` (`sqlite://PATH`, `sqlite::memory:`),
/// creating and migrating it when needed, and loads the default role catalog.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        Err(StoreError::Open {
            url: url.to_owned(),
            message: "unsupported database URL".to_owned(),
            hint: "use `sqlite://PATH` (for example `sqlite://rolecall.db`)".to_owned(),
        })
    }
}

/// The default role catalog shipped with rolecall (`data/roles.yaml`).
pub const DEFAULT_ROLES: &str = include_str!("../../data/roles.yaml");

/// The demo data set (`data/demo.yaml`).
pub const DEMO_DATA: &str = include_str!("../../data/demo.yaml");
