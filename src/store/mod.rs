//! Persistence: the [`Store`] trait and its SQLite ([`sqlite`]) and
//! PostgreSQL ([`postgres`]) implementations. The store is the only writer;
//! every write is one durable transaction that bumps the revision and
//! appends to the change log.

pub mod admin;
mod bulk;
mod import;
pub mod postgres;
pub mod scim;
mod shared;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::datafile::DataFile;
use crate::model::{
    AccountId, Delta, DirectoryId, OrganizationId, Owner, Revision, RoleName, State,
};
use admin::{
    AccountRecord, AssignmentRecord, AssignmentSpec, AuditEntry, AuditQuery, DirectoryChange,
    DirectoryRecord, GroupSummary, MemberSummary, OrganizationRecord, RoleRecord, SubjectId,
};
use scim::{
    DirectoryInfo, GroupLookup, GroupRecord, GroupWrite, MembersChange, ScimToken, SyncLogEntry,
    UserLookup, UserRecord, UserWrite, Written,
};

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
    /// A resource that does not exist (or not in this directory).
    #[error("{what} `{id}` not found")]
    NotFound { what: &'static str, id: String },
    /// A uniqueness constraint: `attribute` already has this value.
    #[error("{message}")]
    Conflict { attribute: String, message: String },
    /// A request the store refuses, with a message that says why and what to do
    /// (`field` names the offending input when there is one).
    #[error("{message}")]
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// `If-Match` named a version that is no longer current.
    #[error("the resource is at version {current}, not the version given")]
    VersionMismatch { current: u64 },
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

/// The store's operations. Implementations: SQLite and PostgreSQL;
/// `tests/store*.rs` run one suite against each.
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

    /// The entities the writes after `after` touched, as they are now, read
    /// in one transaction (`delta.revision` is the revision they are at).
    /// `None` when the store cannot tell: `after` is older than the change
    /// keys it keeps, or newer than its revision (another database), or more
    /// than `max_entities` entities changed; the caller then reads the whole
    /// state.
    async fn delta(
        &self,
        after: Revision,
        max_entities: usize,
    ) -> Result<Option<Delta>, StoreError>;

    // === SCIM ===
    // Every write below is one durable transaction that bumps the revision and
    // appends to the change log; `if_version` (from `If-Match`) makes it fail
    // with `VersionMismatch`, writing nothing, when the resource moved on.
    // Every call is confined to `dir`: another directory's ids are `NotFound`.

    async fn directory(&self, dir: &DirectoryId) -> Result<Option<DirectoryInfo>, StoreError>;
    /// Turns verified-domain enforcement on or off for a directory.
    async fn set_domain_enforcement(
        &self,
        dir: &DirectoryId,
        enforce: bool,
    ) -> Result<Revision, StoreError>;

    /// Mints a token; returns it with its secret, which is never stored (only its hash).
    async fn create_scim_token(&self, dir: &DirectoryId)
    -> Result<(ScimToken, String), StoreError>;
    /// The directory and token id a live secret belongs to (compared in constant
    /// time); records the use.
    async fn authenticate_scim(
        &self,
        secret: &str,
    ) -> Result<Option<(DirectoryId, String)>, StoreError>;
    async fn list_scim_tokens(&self, dir: &DirectoryId) -> Result<Vec<ScimToken>, StoreError>;
    async fn revoke_scim_token(&self, dir: &DirectoryId, token_id: &str) -> Result<(), StoreError>;

    /// `Conflict` when the userName (case-insensitive) is taken in `dir`.
    async fn create_user(
        &self,
        dir: &DirectoryId,
        user: UserWrite,
    ) -> Result<Written<UserRecord>, StoreError>;
    async fn get_user(&self, dir: &DirectoryId, id: &str)
    -> Result<Option<UserRecord>, StoreError>;
    /// How many users `dir` has.
    async fn count_users(&self, dir: &DirectoryId) -> Result<u64, StoreError>;
    /// Users matching the lookup, in a stable order (creation, then id).
    async fn find_users(
        &self,
        dir: &DirectoryId,
        lookup: &UserLookup,
    ) -> Result<Vec<UserRecord>, StoreError>;
    async fn replace_user(
        &self,
        dir: &DirectoryId,
        id: &str,
        user: UserWrite,
        if_version: Option<u64>,
    ) -> Result<Written<UserRecord>, StoreError>;
    /// Deletes the user, its memberships and its role assignments.
    async fn delete_user(
        &self,
        dir: &DirectoryId,
        id: &str,
        if_version: Option<u64>,
    ) -> Result<Revision, StoreError>;
    /// Groups the user is a direct member of: (id, displayName).
    async fn user_groups(
        &self,
        dir: &DirectoryId,
        id: &str,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// `Conflict` when the displayName (case-insensitive) is taken in `dir`.
    async fn create_group(
        &self,
        dir: &DirectoryId,
        group: GroupWrite,
        members: Vec<String>,
    ) -> Result<Written<GroupRecord>, StoreError>;
    async fn get_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        members: bool,
    ) -> Result<Option<GroupRecord>, StoreError>;
    async fn find_groups(
        &self,
        dir: &DirectoryId,
        lookup: &GroupLookup,
        members: bool,
    ) -> Result<Vec<GroupRecord>, StoreError>;
    /// Changes a group's own attributes (when `group` is given) and its members,
    /// without loading the member list. The returned record has no `members`.
    async fn update_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        group: Option<GroupWrite>,
        members: MembersChange,
        if_version: Option<u64>,
    ) -> Result<Written<GroupRecord>, StoreError>;
    /// Deletes the group, its memberships (both ways) and its role assignments.
    async fn delete_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        if_version: Option<u64>,
    ) -> Result<Revision, StoreError>;

    /// Appends to the sync log (bounded: the oldest entries go first).
    async fn append_sync_log(&self, entry: SyncLogEntry) -> Result<(), StoreError>;
    /// Newest first; `before` pages by entry id.
    async fn sync_log(
        &self,
        dir: Option<&DirectoryId>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SyncLogEntry>, StoreError>;

    // === admin ===
    // Writes are one durable transaction each, bump the revision, append to
    // the change log AND to the audit log (`actor` names the credential), and
    // return the new revision. Reference errors are `NotFound` (naming what),
    // rule violations `Invalid` (naming the field), duplicates `Conflict`.

    async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError>;
    async fn get_organization(
        &self,
        id: &OrganizationId,
    ) -> Result<Option<OrganizationRecord>, StoreError>;
    /// Creates (`Conflict` if the id exists).
    async fn create_organization(
        &self,
        actor: &str,
        id: &OrganizationId,
        name: &str,
    ) -> Result<Revision, StoreError>;
    async fn rename_organization(
        &self,
        actor: &str,
        id: &OrganizationId,
        name: &str,
    ) -> Result<Revision, StoreError>;

    async fn list_accounts(
        &self,
        organization: Option<&OrganizationId>,
    ) -> Result<Vec<AccountRecord>, StoreError>;
    async fn get_account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError>;
    async fn create_account(
        &self,
        actor: &str,
        id: &AccountId,
        name: &str,
        organization: Option<&OrganizationId>,
    ) -> Result<Revision, StoreError>;
    async fn rename_account(
        &self,
        actor: &str,
        id: &AccountId,
        name: &str,
    ) -> Result<Revision, StoreError>;
    /// Moves an account into an organization (or out, with `None`). Org-wide
    /// assignments of the new organization cover it at once; assignments that
    /// named the account through its old organization stop covering it.
    async fn move_account(
        &self,
        actor: &str,
        id: &AccountId,
        organization: Option<&OrganizationId>,
    ) -> Result<Revision, StoreError>;

    async fn list_directories(&self) -> Result<Vec<DirectoryRecord>, StoreError>;
    async fn get_directory(&self, id: &DirectoryId) -> Result<Option<DirectoryRecord>, StoreError>;
    /// `Conflict` if the id exists or the owner already has a directory.
    async fn create_directory(
        &self,
        actor: &str,
        id: &DirectoryId,
        owner: &Owner,
        domains: &[String],
        mode: crate::model::Mode,
    ) -> Result<Revision, StoreError>;
    /// Switching to `saml` keeps group role assignments (they stop counting).
    async fn update_directory(
        &self,
        actor: &str,
        id: &DirectoryId,
        change: &DirectoryChange,
    ) -> Result<Revision, StoreError>;

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError>;
    async fn get_role(&self, name: &RoleName) -> Result<Option<RoleRecord>, StoreError>;
    /// Creates or replaces a custom role; a builtin role is `Invalid` (read-only).
    async fn put_role(
        &self,
        actor: &str,
        name: &RoleName,
        description: &str,
        permissions: &[crate::model::PermissionPattern],
    ) -> Result<Revision, StoreError>;
    /// Deletes a custom role. Assigned: `Invalid` listing the assignments,
    /// unless `cascade`, which deletes them too.
    async fn delete_role(
        &self,
        actor: &str,
        name: &RoleName,
        cascade: bool,
    ) -> Result<Revision, StoreError>;
    /// Every assignment of a role.
    async fn role_assignments_of_role(
        &self,
        name: &RoleName,
    ) -> Result<Vec<AssignmentRecord>, StoreError>;

    /// The groups view: every group of a directory with member counts and assignments, by displayName.
    async fn group_summaries(&self, dir: &DirectoryId) -> Result<Vec<GroupSummary>, StoreError>;
    /// Direct members of a group, by name, `offset`/`limit` paged; and the total.
    async fn group_members(
        &self,
        dir: &DirectoryId,
        group: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<MemberSummary>, u64), StoreError>;
    /// A subject's assignments.
    async fn role_assignments_of(
        &self,
        dir: &DirectoryId,
        subject: &SubjectId,
    ) -> Result<Vec<AssignmentRecord>, StoreError>;
    /// Sets a subject's whole list of assignments (several roles: the union).
    /// Refuses, naming them, unknown roles and scopes the directory does not
    /// govern or accounts outside the organization; refuses a group subject in
    /// a `saml` directory with a message that says how to switch.
    async fn set_role_assignments(
        &self,
        actor: &str,
        dir: &DirectoryId,
        subject: &SubjectId,
        assignments: &[AssignmentSpec],
    ) -> Result<Revision, StoreError>;

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError>;
}

/// Opens the store named by `url` (`sqlite://PATH`, `sqlite::memory:`,
/// `postgres://…` or `postgresql://…`), creating and migrating it when
/// needed, and loads the default role catalog.
pub async fn open(url: &str) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(postgres::PostgresStore::open(url).await?))
    } else {
        Err(StoreError::Open {
            url: postgres::redact_url(url),
            message: "unsupported database URL".to_owned(),
            hint: "use `sqlite://PATH` (for example `sqlite://rolecall.db`) or \
                   `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`"
                .to_owned(),
        })
    }
}

/// The default role catalog shipped with rolecall (`data/roles.yaml`).
pub const DEFAULT_ROLES: &str = include_str!("../../data/roles.yaml");

/// The demo data set (`data/demo.yaml`).
pub const DEMO_DATA: &str = include_str!("../../data/demo.yaml");
