//! The PostgreSQL store (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`).
//!
//! Several rolecall processes may share one database. Every write is one
//! READ COMMITTED transaction that first locks the single `revision` row
//! (`SELECT ... FOR UPDATE`): writers take turns exactly as SQLite's
//! `BEGIN IMMEDIATE` makes them, every statement of a write sees what the
//! writers before it committed, and revisions are handed out in commit order
//! with no gaps. A write is acknowledged after its COMMIT returns (durable
//! with the server's default `synchronous_commit`).
//!
//! `load_state` and the other multi-statement reads run in a REPEATABLE
//! READ, READ ONLY transaction: one snapshot, consistent with the revision it
//! reports. Reads never wait for writers.
//!
//! The schema is in `migrations/postgres/`, embedded in the binary; the SQL
//! follows the SQLite store statement for statement (same rules, same errors),
//! and the backend-free parts live in `store::shared` and `store::import`.
//! Connections are checked before use, so the store rides out a server
//! restart: operations fail while the server is down and succeed again once
//! it is back, without reopening the store.

mod admin;
mod delta;
mod open;
mod read;
mod scim;
mod sync_log;
mod tokens;
mod write;

use std::collections::HashMap;

use async_trait::async_trait;
use sqlx::{PgConnection, PgPool, Postgres, Row, Transaction};
use tokio::sync::{Mutex, MutexGuard};

use super::admin::{
    AccountRecord, AssignmentRecord, AssignmentSpec, AuditEntry, AuditQuery, DirectoryChange,
    DirectoryRecord, GroupSummary, MemberSummary, OrganizationRecord, RoleRecord, SubjectId,
};
use super::import::{self, Source};
use super::scim::{
    DirectoryInfo, GroupLookup, GroupRecord, GroupWrite, MembersChange, ScimToken, SyncLogEntry,
    UserLookup, UserRecord, UserWrite, Written,
};
use super::shared::{from_i64, new_scim_id, to_i64};
use super::{Change, DEFAULT_ROLES, ImportOutcome, Store, StoreError};
use crate::datafile::{DataFile, Format};
use crate::model::{
    AccountId, Delta, DirectoryId, Mode, OrganizationId, Owner, PermissionPattern, Revision,
    RoleName, State,
};

pub use super::shared::DEFAULT_CAPACITY as DEFAULT_SYNC_LOG_CAPACITY;
pub use open::redact as redact_url;

/// A rolecall store in PostgreSQL.
///
/// Like [`SqliteStore`](super::sqlite::SqliteStore), a new store holds the
/// default role catalog ([`DEFAULT_ROLES`]), loaded by
/// [`PostgresStore::open`] in one write; reopening it with the same catalog
/// writes nothing.
pub struct PostgresStore {
    /// Connections for reads and writes.
    pool: PgPool,
    /// Queues this process's writers, so that they wait here rather than
    /// each holding a connection while it waits for the revision lock.
    write_lock: Mutex<()>,
    /// Sync log entries kept per directory.
    sync_log_capacity: u32,
    /// Appends per directory since its last prune (`None`: no directory).
    sync_log_appends: std::sync::Mutex<HashMap<Option<DirectoryId>, u32>>,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to the database at `url`, creates or migrates the schema,
    /// and loads the default role catalog. Errors say what to fix (the URL,
    /// the server, the credentials, the database), never showing the
    /// password.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let pool = open::connect(url).await?;
        let store = Self {
            pool,
            write_lock: Mutex::new(()),
            sync_log_capacity: DEFAULT_SYNC_LOG_CAPACITY,
            sync_log_appends: std::sync::Mutex::new(HashMap::new()),
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

    /// Keeps at most about `capacity` sync log entries per directory
    /// (default [`DEFAULT_SYNC_LOG_CAPACITY`]; at least 1); see
    /// [`Store::append_sync_log`].
    #[must_use]
    pub fn with_sync_log_capacity(mut self, capacity: u32) -> Self {
        self.sync_log_capacity = capacity.max(1);
        self
    }

    /// Closes the connections, waiting for the ones in use.
    pub async fn close(&self) {
        self.pool.close().await;
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
        let (_queue, mut tx) = self.begin_write().await?;
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

    /// Takes this process's writer turn, starts a READ COMMITTED transaction
    /// and locks the revision row: from here on no other writer, in any
    /// process, runs until this transaction ends.
    async fn begin_write(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Postgres>), StoreError> {
        let queue = self.write_lock.lock().await;
        let mut tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL READ COMMITTED")
            .await
            .map_err(db_error("cannot start a write"))?;
        sqlx::query("SELECT value FROM revision WHERE id = 1 FOR UPDATE")
            .execute(&mut *tx)
            .await
            .map_err(db_error("cannot lock the revision"))?;
        Ok((queue, tx))
    }

    /// Starts a read transaction: one snapshot, one revision throughout.
    async fn begin_read(&self) -> Result<Transaction<'static, Postgres>, StoreError> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(db_error("cannot start a read"))
    }

    /// Records that a token was used, unless it was within the last minute.
    /// A failure is logged, not returned: the request goes on. One UPDATE
    /// of the token's row: it bumps no revision and takes no writer turn.
    async fn record_token_use(&self, token_id: &str, last_used_ms: Option<i64>) {
        let now = now_ms();
        if last_used_ms
            .is_some_and(|t| now - t < super::shared::LAST_USED_RESOLUTION_MS && t <= now)
        {
            return;
        }
        let done = sqlx::query("UPDATE scim_tokens SET last_used_ms = $1 WHERE id = $2")
            .bind(now)
            .bind(token_id.to_owned())
            .execute(&self.pool)
            .await;
        if let Err(e) = done {
            tracing::warn!(token = token_id, error = %e, "cannot record the use of a SCIM token");
        }
    }
}

/// Commits `tx` when `wrote`, else rolls it back.
async fn finish(tx: Transaction<'static, Postgres>, wrote: bool) -> Result<(), StoreError> {
    if wrote {
        tx.commit().await.map_err(db_error("cannot commit"))
    } else {
        tx.rollback().await.map_err(db_error("cannot end a read"))
    }
}

async fn commit(tx: Transaction<'static, Postgres>) -> Result<(), StoreError> {
    finish(tx, true).await
}

#[async_trait]
impl Store for PostgresStore {
    async fn revision(&self) -> Result<Revision, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("cannot read the revision"))?;
        current_revision(&mut conn).await
    }

    async fn load_state(&self) -> Result<State, StoreError> {
        let mut tx = self.begin_read().await?;
        let state = read::load_state(&mut tx).await?;
        tx.rollback().await.map_err(db_error("cannot end a read"))?;
        Ok(state)
    }

    async fn delta(
        &self,
        after: Revision,
        max_entities: usize,
    ) -> Result<Option<Delta>, StoreError> {
        let mut tx = self.begin_read().await?;
        let delta = delta::delta(&mut tx, after, max_entities).await?;
        tx.rollback().await.map_err(db_error("cannot end a read"))?;
        Ok(delta)
    }

    async fn import(&self, file: &DataFile) -> Result<ImportOutcome, StoreError> {
        self.apply(file, Source::File, "import").await
    }

    async fn changes_since(&self, after: Revision, limit: u32) -> Result<Vec<Change>, StoreError> {
        let rows = sqlx::query(
            "SELECT revision, at_ms, kind, detail FROM change_log WHERE revision > $1 ORDER BY revision LIMIT $2",
        )
        .bind(to_i64(after))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
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

    async fn directory(&self, dir: &DirectoryId) -> Result<Option<DirectoryInfo>, StoreError> {
        let mut tx = self.begin_read().await?;
        let info = scim::directory(&mut tx, dir).await?;
        finish(tx, false).await?;
        Ok(info)
    }

    /// Bumps the revision (and logs `admin.directory.enforce_domains`) when
    /// the setting changes: it decides nothing, but it is an admin change that
    /// sidecars and operators see in the change log. Setting it to what it is
    /// writes nothing.
    async fn set_domain_enforcement(
        &self,
        dir: &DirectoryId,
        enforce: bool,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let (revision, wrote) =
            scim::set_domain_enforcement(&mut tx, dir, enforce, now_ms()).await?;
        finish(tx, wrote).await?;
        Ok(revision)
    }

    /// Tokens are not part of the decision: minting one bumps no revision and
    /// writes no change-log row; it is committed before it is returned.
    async fn create_scim_token(
        &self,
        dir: &DirectoryId,
    ) -> Result<(ScimToken, String), StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let created = tokens::create(&mut tx, dir, now_ms()).await?;
        commit(tx).await?;
        Ok(created)
    }

    /// Finds the live token by the secret's SHA-256 (a UNIQUE key), compares
    /// the hashes in constant time, and records the use (at most once a
    /// minute, one UPDATE, no revision).
    async fn authenticate_scim(
        &self,
        secret: &str,
    ) -> Result<Option<(DirectoryId, String)>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("cannot read the SCIM tokens"))?;
        let found = tokens::find(&mut conn, secret).await?;
        drop(conn);
        let Some((dir, id, last_used_ms)) = found else {
            return Ok(None);
        };
        self.record_token_use(&id, last_used_ms).await;
        Ok(Some((dir, id)))
    }

    /// Every token of the directory, revoked ones too, oldest first;
    /// `NotFound` for a directory that does not exist.
    async fn list_scim_tokens(&self, dir: &DirectoryId) -> Result<Vec<ScimToken>, StoreError> {
        let mut tx = self.begin_read().await?;
        let exists = scim::directory(&mut tx, dir).await?.is_some();
        let list = tokens::list(&mut tx, dir).await?;
        finish(tx, false).await?;
        if !exists {
            return Err(StoreError::NotFound {
                what: "directory",
                id: dir.as_str().to_owned(),
            });
        }
        Ok(list)
    }

    /// Durable, but no revision (see [`Store::create_scim_token`]).
    /// Revoking a revoked token again is no error and keeps the first time.
    async fn revoke_scim_token(&self, dir: &DirectoryId, token_id: &str) -> Result<(), StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        tokens::revoke(&mut tx, dir, token_id, now_ms()).await?;
        commit(tx).await
    }

    async fn create_user(
        &self,
        dir: &DirectoryId,
        user: UserWrite,
    ) -> Result<Written<UserRecord>, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let written = scim::create_user(&mut tx, dir, user, now_ms()).await?;
        commit(tx).await?;
        Ok(written)
    }

    async fn get_user(
        &self,
        dir: &DirectoryId,
        id: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let user = scim::get_user(&mut tx, dir, id).await?;
        finish(tx, false).await?;
        Ok(user)
    }

    async fn find_users(
        &self,
        dir: &DirectoryId,
        lookup: &UserLookup,
    ) -> Result<Vec<UserRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let users = scim::find_users(&mut tx, dir, lookup).await?;
        finish(tx, false).await?;
        Ok(users)
    }

    async fn count_users(&self, dir: &DirectoryId) -> Result<u64, StoreError> {
        let mut tx = self.begin_read().await?;
        let n = scim::count_users(&mut tx, dir).await?;
        finish(tx, false).await?;
        Ok(n)
    }

    /// A replace that would change nothing writes nothing: it returns the
    /// user as it is, at its version, and the current revision.
    async fn replace_user(
        &self,
        dir: &DirectoryId,
        id: &str,
        user: UserWrite,
        if_version: Option<u64>,
    ) -> Result<Written<UserRecord>, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let (written, wrote) =
            scim::replace_user(&mut tx, dir, id, user, if_version, now_ms()).await?;
        finish(tx, wrote).await?;
        Ok(written)
    }

    async fn delete_user(
        &self,
        dir: &DirectoryId,
        id: &str,
        if_version: Option<u64>,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let revision = scim::delete_user(&mut tx, dir, id, if_version, now_ms()).await?;
        commit(tx).await?;
        Ok(revision)
    }

    /// Ordered by displayName (case-insensitive), then id; empty for a user
    /// that is not in `dir`.
    async fn user_groups(
        &self,
        dir: &DirectoryId,
        id: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let mut tx = self.begin_read().await?;
        let groups = scim::user_groups(&mut tx, dir, id).await?;
        finish(tx, false).await?;
        Ok(groups)
    }

    /// The returned record has its members (users first, then groups, each
    /// by id). A member id that is no user or group of `dir` is skipped and
    /// reported.
    async fn create_group(
        &self,
        dir: &DirectoryId,
        group: GroupWrite,
        members: Vec<String>,
    ) -> Result<Written<GroupRecord>, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let written = scim::create_group(&mut tx, dir, group, members, now_ms()).await?;
        commit(tx).await?;
        Ok(written)
    }

    async fn get_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        members: bool,
    ) -> Result<Option<GroupRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let group = scim::get_group(&mut tx, dir, id, members).await?;
        finish(tx, false).await?;
        Ok(group)
    }

    async fn find_groups(
        &self,
        dir: &DirectoryId,
        lookup: &GroupLookup,
        members: bool,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let groups = scim::find_groups(&mut tx, dir, lookup, members).await?;
        finish(tx, false).await?;
        Ok(groups)
    }

    /// Applies `members.replace`, then `add`, then `remove`, in SQL, without
    /// reading the member list. The group's version and the revision go up
    /// by one when anything changed; an update that changes nothing (adding
    /// members already there, say) writes nothing and returns the group as it
    /// is and the current revision. Ids that are no user or group of `dir`
    /// (or the group itself) are skipped and reported, in every list.
    async fn update_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        group: Option<GroupWrite>,
        members: MembersChange,
        if_version: Option<u64>,
    ) -> Result<Written<GroupRecord>, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let (written, wrote) =
            scim::update_group(&mut tx, dir, id, group, members, if_version, now_ms()).await?;
        finish(tx, wrote).await?;
        Ok(written)
    }

    async fn delete_group(
        &self,
        dir: &DirectoryId,
        id: &str,
        if_version: Option<u64>,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let revision = scim::delete_group(&mut tx, dir, id, if_version, now_ms()).await?;
        commit(tx).await?;
        Ok(revision)
    }

    /// Bounded per directory (entries without one count as one more
    /// directory): every hundredth of the capacity appends for a directory
    /// (between 1 and 100 appends), its entries beyond the newest `capacity`
    /// ([`PostgresStore::with_sync_log_capacity`], 10,000 by default) are
    /// deleted. No revision: the log decides nothing.
    async fn append_sync_log(&self, entry: SyncLogEntry) -> Result<(), StoreError> {
        let prune = {
            let mut appends = self
                .sync_log_appends
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let n = appends.entry(entry.directory.clone()).or_insert(0);
            *n += 1;
            let due = *n >= super::shared::prune_every(self.sync_log_capacity);
            if due {
                *n = 0;
            }
            due
        };
        let (_queue, mut tx) = self.begin_write().await?;
        sync_log::append(&mut tx, &entry).await?;
        if prune {
            sync_log::prune(&mut tx, entry.directory.as_ref(), self.sync_log_capacity).await?;
        }
        commit(tx).await
    }

    async fn sync_log(
        &self,
        dir: Option<&DirectoryId>,
        limit: u32,
        before: Option<i64>,
    ) -> Result<Vec<SyncLogEntry>, StoreError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(db_error("cannot read the sync log"))?;
        sync_log::list(&mut conn, dir, limit, before).await
    }

    // === admin ===

    async fn list_organizations(&self) -> Result<Vec<OrganizationRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::organizations(&mut tx, None).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn get_organization(
        &self,
        id: &OrganizationId,
    ) -> Result<Option<OrganizationRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::organizations(&mut tx, Some(id)).await?;
        finish(tx, false).await?;
        Ok(list.into_iter().next())
    }

    async fn create_organization(
        &self,
        actor: &str,
        id: &OrganizationId,
        name: &str,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::create_organization(&mut tx, actor, id, name, now_ms()).await?;
        settle(tx, done).await
    }

    async fn rename_organization(
        &self,
        actor: &str,
        id: &OrganizationId,
        name: &str,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::rename_organization(&mut tx, actor, id, name, now_ms()).await?;
        settle(tx, done).await
    }

    /// `NotFound` for an organization that does not exist.
    async fn list_accounts(
        &self,
        organization: Option<&OrganizationId>,
    ) -> Result<Vec<AccountRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::accounts(&mut tx, organization, None).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn get_account(&self, id: &AccountId) -> Result<Option<AccountRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::accounts(&mut tx, None, Some(id)).await?;
        finish(tx, false).await?;
        Ok(list.into_iter().next())
    }

    async fn create_account(
        &self,
        actor: &str,
        id: &AccountId,
        name: &str,
        organization: Option<&OrganizationId>,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::create_account(&mut tx, actor, id, name, organization, now_ms()).await?;
        settle(tx, done).await
    }

    async fn rename_account(
        &self,
        actor: &str,
        id: &AccountId,
        name: &str,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::rename_account(&mut tx, actor, id, name, now_ms()).await?;
        settle(tx, done).await
    }

    async fn move_account(
        &self,
        actor: &str,
        id: &AccountId,
        organization: Option<&OrganizationId>,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::move_account(&mut tx, actor, id, organization, now_ms()).await?;
        settle(tx, done).await
    }

    async fn list_directories(&self) -> Result<Vec<DirectoryRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::directories(&mut tx, None).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn get_directory(&self, id: &DirectoryId) -> Result<Option<DirectoryRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::directories(&mut tx, Some(id)).await?;
        finish(tx, false).await?;
        Ok(list.into_iter().next())
    }

    async fn create_directory(
        &self,
        actor: &str,
        id: &DirectoryId,
        owner: &Owner,
        domains: &[String],
        mode: Mode,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done =
            admin::create_directory(&mut tx, actor, id, owner, domains, mode, now_ms()).await?;
        settle(tx, done).await
    }

    async fn update_directory(
        &self,
        actor: &str,
        id: &DirectoryId,
        change: &DirectoryChange,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::update_directory(&mut tx, actor, id, change, now_ms()).await?;
        settle(tx, done).await
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::roles(&mut tx, None).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn get_role(&self, name: &RoleName) -> Result<Option<RoleRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::roles(&mut tx, Some(name)).await?;
        finish(tx, false).await?;
        Ok(list.into_iter().next())
    }

    async fn put_role(
        &self,
        actor: &str,
        name: &RoleName,
        description: &str,
        permissions: &[PermissionPattern],
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done =
            admin::put_role(&mut tx, actor, name, description, permissions, now_ms()).await?;
        settle(tx, done).await
    }

    async fn delete_role(
        &self,
        actor: &str,
        name: &RoleName,
        cascade: bool,
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done = admin::delete_role(&mut tx, actor, name, cascade, now_ms()).await?;
        settle(tx, done).await
    }

    async fn role_assignments_of_role(
        &self,
        name: &RoleName,
    ) -> Result<Vec<AssignmentRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::assignments(&mut tx, admin::Filter::Role(name)).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn group_summaries(&self, dir: &DirectoryId) -> Result<Vec<GroupSummary>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::group_summaries(&mut tx, dir).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn group_members(
        &self,
        dir: &DirectoryId,
        group: &str,
        offset: u64,
        limit: u32,
    ) -> Result<(Vec<MemberSummary>, u64), StoreError> {
        let mut tx = self.begin_read().await?;
        let page = admin::group_members(&mut tx, dir, group, offset, limit).await?;
        finish(tx, false).await?;
        Ok(page)
    }

    async fn role_assignments_of(
        &self,
        dir: &DirectoryId,
        subject: &SubjectId,
    ) -> Result<Vec<AssignmentRecord>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::assignments_of(&mut tx, dir, subject).await?;
        finish(tx, false).await?;
        Ok(list)
    }

    async fn set_role_assignments(
        &self,
        actor: &str,
        dir: &DirectoryId,
        subject: &SubjectId,
        assignments: &[AssignmentSpec],
    ) -> Result<Revision, StoreError> {
        let (_queue, mut tx) = self.begin_write().await?;
        let done =
            admin::set_assignments(&mut tx, actor, dir, subject, assignments, now_ms()).await?;
        settle(tx, done).await
    }

    async fn audit_log(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>, StoreError> {
        let mut tx = self.begin_read().await?;
        let list = admin::audit_log(&mut tx, query).await?;
        finish(tx, false).await?;
        Ok(list)
    }
}

/// Ends an admin write: commits when it wrote, else rolls back; returns its
/// revision.
async fn settle(
    tx: Transaction<'static, Postgres>,
    (revision, wrote): admin::Outcome,
) -> Result<Revision, StoreError> {
    finish(tx, wrote).await?;
    if wrote {
        tracing::debug!(revision, "admin write");
    }
    Ok(revision)
}

async fn current_revision(conn: &mut PgConnection) -> Result<Revision, StoreError> {
    let value: i64 = sqlx::query_scalar("SELECT value FROM revision WHERE id = 1")
        .fetch_one(conn)
        .await
        .map_err(db_error("cannot read the revision"))?;
    Ok(from_i64(value))
}

/// Bumps the revision by one and logs the change under it.
async fn bump_revision(
    conn: &mut PgConnection,
    at_ms: i64,
    kind: &str,
    detail: &str,
) -> Result<Revision, StoreError> {
    let value: i64 =
        sqlx::query_scalar("UPDATE revision SET value = value + 1 WHERE id = 1 RETURNING value")
            .fetch_one(&mut *conn)
            .await
            .map_err(db_error("cannot bump the revision"))?;
    sqlx::query("INSERT INTO change_log (revision, at_ms, kind, detail) VALUES ($1, $2, $3, $4)")
        .bind(value)
        .bind(at_ms)
        .bind(kind.to_owned())
        .bind(detail.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(db_error("cannot append to the change log"))?;
    delta::prune(conn, value).await?;
    Ok(from_i64(value))
}

/// Maps a database error to [`StoreError::Database`], saying what was being
/// done; a server that cannot be reached gets a message of its own.
fn db_error(doing: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::Protocol(_) => {
            StoreError::Database(format!(
                "{doing}: cannot reach the PostgreSQL server ({e}); nothing was written: retry \
                 once it is back"
            ))
        }
        _ => StoreError::Database(format!("{doing}: {e}")),
    }
}

use crate::time::now_ms;
