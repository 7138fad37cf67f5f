//! What the admin API reads and writes: organizations, accounts,
//! directories, roles, the groups view, role assignments and the audit log.
//!
//! Each write function runs inside the caller's `BEGIN IMMEDIATE`
//! transaction and returns the revision and whether it wrote: a write that
//! changes something bumps the revision by one and appends one change-log row
//! and one audit-log row; one that changes nothing writes nothing (the caller
//! rolls back) and returns the current revision. The validation rules are the
//! data file's ([`crate::store::import`]), so an admin write and an import
//! accept and refuse the same things.

use std::collections::{BTreeSet, HashMap};

use serde_json::{Value, json};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;

use super::read::{self, col};
use super::{bump_revision, current_revision, db_error};
use crate::model::{
    AccountId, DirectoryId, Mode, OrganizationId, Owner, PermissionPattern, RoleName, Scope,
    Subject,
};
use crate::store::StoreError;
use crate::store::admin::{
    AccountRecord, AssignmentRecord, AssignmentSpec, AuditEntry, AuditQuery, DirectoryChange,
    DirectoryRecord, GroupSummary, MemberSummary, OrganizationRecord, RoleRecord, ScimStatus,
    SubjectId,
};
use crate::store::import::{self, MAX_DESCRIPTION_LEN, NO_CHOSEN_ACCOUNTS, ScopeRef};
pub(super) use crate::store::shared::Outcome;
use crate::store::shared::{
    Audit, DEFAULT_AUDIT_LIMIT, LISTED_ASSIGNMENTS, account_json, assignment_json, check_id,
    check_name, conflict, corrupt, describe, domain_set, invalid, not_found, organization_json,
    owner_json, read_only, role_json, saml_refusal, settings_json, spec_json,
};

fn read_error() -> impl Fn(sqlx::Error) -> StoreError {
    db_error("cannot read the store")
}

fn write_error() -> impl Fn(sqlx::Error) -> StoreError {
    db_error("cannot write the store")
}

async fn unchanged(conn: &mut SqliteConnection) -> Result<Outcome, StoreError> {
    Ok((current_revision(conn).await?, false))
}

/// Bumps the revision, logs the change (`kind`, `detail`) and appends the
/// audit entry under the new revision.
async fn record(
    conn: &mut SqliteConnection,
    now: i64,
    kind: &str,
    detail: &Value,
    audit: Audit<'_>,
) -> Result<Outcome, StoreError> {
    let revision = bump_revision(conn, now, kind, &detail.to_string()).await?;
    sqlx::query(
        "INSERT INTO audit_log (at_ms, actor, action, target, before, after, revision) \
         VALUES (?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(now)
    .bind(audit.actor.to_owned())
    .bind(audit.action)
    .bind(audit.target)
    .bind(audit.before.map(|v| v.to_string()))
    .bind(audit.after.map(|v| v.to_string()))
    .bind(super::to_i64(revision))
    .execute(&mut *conn)
    .await
    .map_err(db_error("cannot append to the audit log"))?;
    Ok((revision, true))
}

async fn exists(
    conn: &mut SqliteConnection,
    sql: &'static str,
    id: &str,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(sql)
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    Ok(found.is_some())
}

async fn organization_exists(conn: &mut SqliteConnection, id: &str) -> Result<bool, StoreError> {
    exists(conn, "SELECT 1 FROM organizations WHERE id = ?", id).await
}

async fn account_exists(conn: &mut SqliteConnection, id: &str) -> Result<bool, StoreError> {
    exists(conn, "SELECT 1 FROM accounts WHERE id = ?", id).await
}

/// The account's organization: `None` for an account that does not exist,
/// `Some(None)` for a standalone one.
async fn organization_of(
    conn: &mut SqliteConnection,
    account: &str,
) -> Result<Option<Option<String>>, StoreError> {
    sqlx::query_scalar("SELECT organization_id FROM accounts WHERE id = ?")
        .bind(account.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())
}

// --- organizations ---------------------------------------------------------

/// Child rows grouped by parent: runs `sql` (bound to `only` as `?1`) whose
/// first column is the parent's id and second a child value, in the order
/// the query gives.
async fn grouped(
    conn: &mut SqliteConnection,
    sql: &'static str,
    only: Option<String>,
) -> Result<HashMap<String, Vec<String>>, StoreError> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    for r in sqlx::query(sql)
        .bind(only)
        .fetch_all(&mut *conn)
        .await
        .map_err(read_error())?
    {
        let parent: String = sqlx::Row::try_get(&r, 0).map_err(read_error())?;
        let child: String = sqlx::Row::try_get(&r, 1).map_err(read_error())?;
        out.entry(parent).or_default().push(child);
    }
    Ok(out)
}

/// Organizations by id (the one `only` names, when it does), with their
/// accounts and directory: one query for each.
pub(super) async fn organizations(
    conn: &mut SqliteConnection,
    only: Option<&OrganizationId>,
) -> Result<Vec<OrganizationRecord>, StoreError> {
    let only = only.map(|o| o.as_str().to_owned());
    let rows = sqlx::query(
        "SELECT o.id AS id, o.name AS name, o.created_ms AS created_ms, o.updated_ms AS updated_ms, \
                d.id AS directory_id \
         FROM organizations o LEFT JOIN directories d ON d.owner_organization_id = o.id \
         WHERE ?1 IS NULL OR o.id = ?1 ORDER BY o.id",
    )
    .bind(only.clone())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    let mut accounts = grouped(
        conn,
        "SELECT organization_id, id FROM accounts \
         WHERE organization_id IS NOT NULL AND (?1 IS NULL OR organization_id = ?1) ORDER BY id",
        only,
    )
    .await?;
    rows.iter()
        .map(|r| {
            let id: String = col(r, "id")?;
            Ok(OrganizationRecord {
                accounts: accounts
                    .remove(&id)
                    .unwrap_or_default()
                    .into_iter()
                    .map(AccountId::new_unchecked)
                    .collect(),
                id: OrganizationId::new_unchecked(id),
                name: col(r, "name")?,
                directory: col::<Option<String>>(r, "directory_id")?
                    .map(DirectoryId::new_unchecked),
                created_ms: col(r, "created_ms")?,
                updated_ms: col(r, "updated_ms")?,
            })
        })
        .collect()
}

pub(super) async fn create_organization(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &OrganizationId,
    name: &str,
    now: i64,
) -> Result<Outcome, StoreError> {
    check_id("id", "organization id", id.as_str())?;
    check_name(name)?;
    if organization_exists(conn, id.as_str()).await? {
        return Err(conflict(
            "id",
            format!("organization `{id}` exists already: choose another id, or rename that one"),
        ));
    }
    sqlx::query(
        "INSERT INTO organizations (id, name, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?3)",
    )
    .bind(id.as_str().to_owned())
    .bind(name.to_owned())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    let audit = Audit {
        actor,
        action: "organization.create",
        target: format!("organizations/{id}"),
        before: None,
        after: Some(organization_json(id.as_str(), name)),
    };
    let detail = json!({"organization": id.as_str()});
    record(conn, now, "admin.organization.create", &detail, audit).await
}

pub(super) async fn rename_organization(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &OrganizationId,
    name: &str,
    now: i64,
) -> Result<Outcome, StoreError> {
    let old: Option<String> = sqlx::query_scalar("SELECT name FROM organizations WHERE id = ?")
        .bind(id.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    let old = old.ok_or_else(|| not_found("organization", id.as_str()))?;
    check_name(name)?;
    if old == name {
        return unchanged(conn).await;
    }
    sqlx::query("UPDATE organizations SET name = ?, updated_ms = ? WHERE id = ?")
        .bind(name.to_owned())
        .bind(now)
        .bind(id.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let audit = Audit {
        actor,
        action: "organization.rename",
        target: format!("organizations/{id}"),
        before: Some(organization_json(id.as_str(), &old)),
        after: Some(organization_json(id.as_str(), name)),
    };
    let detail = json!({"organization": id.as_str()});
    record(conn, now, "admin.organization.rename", &detail, audit).await
}

// --- accounts --------------------------------------------------------------

/// Accounts by id: all, those of `organization`, or the one `only` names.
/// The governing directory is the organization's, else the account's own
/// (as the snapshot resolves it).
pub(super) async fn accounts(
    conn: &mut SqliteConnection,
    organization: Option<&OrganizationId>,
    only: Option<&AccountId>,
) -> Result<Vec<AccountRecord>, StoreError> {
    if let Some(org) = organization
        && !organization_exists(conn, org.as_str()).await?
    {
        return Err(not_found("organization", org.as_str()));
    }
    sqlx::query(
        "SELECT a.id AS id, a.name AS name, a.organization_id AS organization_id, \
                a.created_ms AS created_ms, a.updated_ms AS updated_ms, \
                coalesce((SELECT d.id FROM directories d WHERE d.owner_organization_id = a.organization_id), \
                         (SELECT d.id FROM directories d WHERE d.owner_account_id = a.id)) AS directory_id \
         FROM accounts a \
         WHERE (?1 IS NULL OR a.organization_id = ?1) AND (?2 IS NULL OR a.id = ?2) \
         ORDER BY a.id",
    )
    .bind(organization.map(|o| o.as_str().to_owned()))
    .bind(only.map(|a| a.as_str().to_owned()))
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(|r| {
        Ok(AccountRecord {
            id: AccountId::new_unchecked(col::<String>(r, "id")?),
            name: col(r, "name")?,
            organization: col::<Option<String>>(r, "organization_id")?
                .map(OrganizationId::new_unchecked),
            directory: col::<Option<String>>(r, "directory_id")?.map(DirectoryId::new_unchecked),
            created_ms: col(r, "created_ms")?,
            updated_ms: col(r, "updated_ms")?,
        })
    })
    .collect()
}

/// Present and future accounts of an organization are covered by its
/// org-wide assignments: the snapshot resolves that, nothing is copied.
pub(super) async fn create_account(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &AccountId,
    name: &str,
    organization: Option<&OrganizationId>,
    now: i64,
) -> Result<Outcome, StoreError> {
    check_id("id", "account id", id.as_str())?;
    check_name(name)?;
    if let Some(org) = organization
        && !organization_exists(conn, org.as_str()).await?
    {
        return Err(not_found("organization", org.as_str()));
    }
    if account_exists(conn, id.as_str()).await? {
        return Err(conflict(
            "id",
            format!("account `{id}` exists already: choose another id, or rename or move that one"),
        ));
    }
    let org = organization.map(|o| o.as_str().to_owned());
    sqlx::query(
        "INSERT INTO accounts (id, name, organization_id, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?4)",
    )
    .bind(id.as_str().to_owned())
    .bind(name.to_owned())
    .bind(org.clone())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    let audit = Audit {
        actor,
        action: "account.create",
        target: format!("accounts/{id}"),
        before: None,
        after: Some(account_json(id.as_str(), name, org.as_deref())),
    };
    let detail = json!({"account": id.as_str(), "organization": org});
    record(conn, now, "admin.account.create", &detail, audit).await
}

async fn account_row(
    conn: &mut SqliteConnection,
    id: &AccountId,
) -> Result<(String, Option<String>), StoreError> {
    let row = sqlx::query("SELECT name, organization_id FROM accounts WHERE id = ?")
        .bind(id.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?
        .ok_or_else(|| not_found("account", id.as_str()))?;
    Ok((col(&row, "name")?, col(&row, "organization_id")?))
}

pub(super) async fn rename_account(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &AccountId,
    name: &str,
    now: i64,
) -> Result<Outcome, StoreError> {
    let (old, org) = account_row(conn, id).await?;
    check_name(name)?;
    if old == name {
        return unchanged(conn).await;
    }
    sqlx::query("UPDATE accounts SET name = ?, updated_ms = ? WHERE id = ?")
        .bind(name.to_owned())
        .bind(now)
        .bind(id.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let audit = Audit {
        actor,
        action: "account.rename",
        target: format!("accounts/{id}"),
        before: Some(account_json(id.as_str(), &old, org.as_deref())),
        after: Some(account_json(id.as_str(), name, org.as_deref())),
    };
    let detail = json!({"account": id.as_str()});
    record(conn, now, "admin.account.rename", &detail, audit).await
}

/// Moves an account. Role assignments are left as they are: those of the new
/// organization's directory at organization scope cover the account at once
/// (the snapshot resolves scopes against the account's current
/// organization), and those that named it through its old organization or
/// directory stop counting, since that directory no longer governs it. An
/// account in an organization may keep a directory of its own, as in a data
/// file: the organization's directory governs it while it has one.
pub(super) async fn move_account(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &AccountId,
    organization: Option<&OrganizationId>,
    now: i64,
) -> Result<Outcome, StoreError> {
    let (name, old) = account_row(conn, id).await?;
    if let Some(org) = organization
        && !organization_exists(conn, org.as_str()).await?
    {
        return Err(not_found("organization", org.as_str()));
    }
    let new = organization.map(|o| o.as_str().to_owned());
    if old == new {
        return unchanged(conn).await;
    }
    sqlx::query("UPDATE accounts SET organization_id = ?, updated_ms = ? WHERE id = ?")
        .bind(new.clone())
        .bind(now)
        .bind(id.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let audit = Audit {
        actor,
        action: "account.move",
        target: format!("accounts/{id}"),
        before: Some(account_json(id.as_str(), &name, old.as_deref())),
        after: Some(account_json(id.as_str(), &name, new.as_deref())),
    };
    let detail = json!({"account": id.as_str(), "from": old, "to": new});
    record(conn, now, "admin.account.move", &detail, audit).await
}

// --- directories -----------------------------------------------------------

fn owner_of(r: &SqliteRow, id: &str) -> Result<Owner, StoreError> {
    match (
        col::<Option<String>>(r, "owner_organization_id")?,
        col::<Option<String>>(r, "owner_account_id")?,
    ) {
        (Some(o), None) => Ok(Owner::Organization(OrganizationId::new_unchecked(o))),
        (None, Some(a)) => Ok(Owner::Account(AccountId::new_unchecked(a))),
        _ => Err(corrupt(format!("owner of directory `{id}`"))),
    }
}

fn mode_of(r: &SqliteRow, id: &str) -> Result<Mode, StoreError> {
    let mode: String = col(r, "mode")?;
    Mode::parse(&mode).ok_or_else(|| corrupt(format!("mode of directory `{id}`")))
}

/// Directories by id (the one `only` names, when it does), with their
/// domains and SCIM status.
///
/// The last SCIM request is the later of the newest sync-log entry of the
/// directory (every request that authenticated for it is logged with it) and
/// the newest `last_used_ms` of its tokens (recorded at most once a minute,
/// but kept when the sync log has been pruned or its writer lags).
pub(super) async fn directories(
    conn: &mut SqliteConnection,
    only: Option<&DirectoryId>,
) -> Result<Vec<DirectoryRecord>, StoreError> {
    let only = only.map(|d| d.as_str().to_owned());
    let mut domains = grouped(
        conn,
        "SELECT directory_id, domain FROM directory_domains \
         WHERE ?1 IS NULL OR directory_id = ?1 ORDER BY directory_id, domain",
        only.clone(),
    )
    .await?;
    sqlx::query(
        "SELECT d.id AS id, d.owner_organization_id AS owner_organization_id, \
                d.owner_account_id AS owner_account_id, d.mode AS mode, \
                d.enforce_domains AS enforce_domains, d.created_ms AS created_ms, \
                d.updated_ms AS updated_ms, \
                (SELECT s.at_ms FROM sync_log s WHERE s.directory_id = d.id \
                 ORDER BY s.id DESC LIMIT 1) AS last_logged_ms, \
                (SELECT max(t.last_used_ms) FROM scim_tokens t WHERE t.directory_id = d.id) \
                    AS last_used_ms, \
                (SELECT count(*) FROM scim_tokens t \
                 WHERE t.directory_id = d.id AND t.revoked_ms IS NULL) AS live_tokens, \
                (SELECT count(*) FROM users u WHERE u.directory_id = d.id) AS users, \
                (SELECT count(*) FROM groups g WHERE g.directory_id = d.id) AS groups \
         FROM directories d WHERE ?1 IS NULL OR d.id = ?1 ORDER BY d.id",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(|r| {
        let id: String = col(r, "id")?;
        let logged: Option<i64> = col(r, "last_logged_ms")?;
        let used: Option<i64> = col(r, "last_used_ms")?;
        let count = |name: &str| -> Result<u64, StoreError> {
            Ok(u64::try_from(col::<i64>(r, name)?).unwrap_or(0))
        };
        Ok(DirectoryRecord {
            owner: owner_of(r, &id)?,
            mode: mode_of(r, &id)?,
            domains: domains.remove(&id).unwrap_or_default(),
            enforce_domains: col(r, "enforce_domains")?,
            scim: ScimStatus {
                last_request_ms: logged.max(used),
                live_tokens: u32::try_from(count("live_tokens")?).unwrap_or(u32::MAX),
                users: count("users")?,
                groups: count("groups")?,
            },
            created_ms: col(r, "created_ms")?,
            updated_ms: col(r, "updated_ms")?,
            id: DirectoryId::new_unchecked(id),
        })
    })
    .collect()
}

pub(super) async fn create_directory(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &DirectoryId,
    owner: &Owner,
    domains: &[String],
    mode: Mode,
    now: i64,
) -> Result<Outcome, StoreError> {
    check_id("id", "directory id", id.as_str())?;
    let domains = domain_set(domains)?;
    if exists(conn, "SELECT 1 FROM directories WHERE id = ?", id.as_str()).await? {
        return Err(conflict(
            "id",
            format!("directory `{id}` exists already: choose another id, or change that one"),
        ));
    }
    let (what, owner_id, column) = match owner {
        Owner::Organization(o) => ("organization", o.as_str(), "owner_organization_id"),
        Owner::Account(a) => ("account", a.as_str(), "owner_account_id"),
    };
    let owner_exists = match owner {
        Owner::Organization(o) => organization_exists(conn, o.as_str()).await?,
        Owner::Account(a) => account_exists(conn, a.as_str()).await?,
    };
    if !owner_exists {
        return Err(not_found(what, owner_id));
    }
    let sql = match column {
        "owner_organization_id" => "SELECT id FROM directories WHERE owner_organization_id = ?",
        _ => "SELECT id FROM directories WHERE owner_account_id = ?",
    };
    let other: Option<String> = sqlx::query_scalar(sql)
        .bind(owner_id.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    if let Some(other) = other {
        return Err(conflict(
            "owner",
            format!(
                "{what} `{owner_id}` already has directory `{other}`, and each {what} has one \
                 directory: use `{other}`, or choose another owner"
            ),
        ));
    }
    let (org, acct) = match owner {
        Owner::Organization(o) => (Some(o.as_str().to_owned()), None),
        Owner::Account(a) => (None, Some(a.as_str().to_owned())),
    };
    sqlx::query(
        "INSERT INTO directories (id, owner_organization_id, owner_account_id, mode, created_ms, updated_ms) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)",
    )
    .bind(id.as_str().to_owned())
    .bind(org)
    .bind(acct)
    .bind(mode.as_str())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    write_domains(conn, id, &domains).await?;
    let mut after = settings_json(&domains, mode, true);
    after["id"] = id.as_str().into();
    after["owner"] = owner_json(owner);
    let audit = Audit {
        actor,
        action: "directory.create",
        target: format!("directories/{id}"),
        before: None,
        after: Some(after),
    };
    let detail = json!({"directory": id.as_str()});
    record(conn, now, "admin.directory.create", &detail, audit).await
}

async fn write_domains(
    conn: &mut SqliteConnection,
    id: &DirectoryId,
    domains: &BTreeSet<String>,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM directory_domains WHERE directory_id = ?")
        .bind(id.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    for d in domains {
        sqlx::query("INSERT INTO directory_domains (directory_id, domain) VALUES (?, ?)")
            .bind(id.as_str().to_owned())
            .bind(d.clone())
            .execute(&mut *conn)
            .await
            .map_err(write_error())?;
    }
    Ok(())
}

/// Changes a directory's settings. Switching to `saml` keeps the group role
/// assignments (the snapshot stops counting them); switching back restores
/// them.
pub(super) async fn update_directory(
    conn: &mut SqliteConnection,
    actor: &str,
    id: &DirectoryId,
    change: &DirectoryChange,
    now: i64,
) -> Result<Outcome, StoreError> {
    let row = sqlx::query("SELECT mode, enforce_domains FROM directories WHERE id = ?")
        .bind(id.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?
        .ok_or_else(|| not_found("directory", id.as_str()))?;
    let mode = mode_of(&row, id.as_str())?;
    let enforce: bool = col(&row, "enforce_domains")?;
    let domains: BTreeSet<String> =
        sqlx::query_scalar("SELECT domain FROM directory_domains WHERE directory_id = ?")
            .bind(id.as_str().to_owned())
            .fetch_all(&mut *conn)
            .await
            .map_err(read_error())?
            .into_iter()
            .collect();
    let new_domains = match &change.domains {
        Some(d) => domain_set(d)?,
        None => domains.clone(),
    };
    let new_mode = change.mode.unwrap_or(mode);
    let new_enforce = change.enforce_domains.unwrap_or(enforce);
    let mut changed = Vec::new();
    if new_domains != domains {
        changed.push("domains");
    }
    if new_mode != mode {
        changed.push("mode");
    }
    if new_enforce != enforce {
        changed.push("enforce_domains");
    }
    if changed.is_empty() {
        return unchanged(conn).await;
    }
    sqlx::query(
        "UPDATE directories SET mode = ?, enforce_domains = ?, updated_ms = ? WHERE id = ?",
    )
    .bind(new_mode.as_str())
    .bind(new_enforce)
    .bind(now)
    .bind(id.as_str().to_owned())
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    if new_domains != domains {
        write_domains(conn, id, &new_domains).await?;
    }
    let audit = Audit {
        actor,
        action: "directory.update",
        target: format!("directories/{id}"),
        before: Some(settings_json(&domains, mode, enforce)),
        after: Some(settings_json(&new_domains, new_mode, new_enforce)),
    };
    let detail = json!({"directory": id.as_str(), "changed": changed});
    record(conn, now, "admin.directory.update", &detail, audit).await
}

// --- roles -----------------------------------------------------------------

/// Roles by name (the one `only` names, when it does), permissions sorted.
pub(super) async fn roles(
    conn: &mut SqliteConnection,
    only: Option<&RoleName>,
) -> Result<Vec<RoleRecord>, StoreError> {
    let only = only.map(|r| r.as_str().to_owned());
    let mut permissions = grouped(
        conn,
        "SELECT role_name, permission FROM role_permissions \
         WHERE ?1 IS NULL OR role_name = ?1 ORDER BY role_name, permission",
        only.clone(),
    )
    .await?;
    sqlx::query(
        "SELECT name, description, builtin FROM roles WHERE ?1 IS NULL OR name = ?1 ORDER BY name",
    )
    .bind(only)
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(|r| {
        let name: String = col(r, "name")?;
        Ok(RoleRecord {
            permissions: permissions.remove(&name).unwrap_or_default(),
            name: RoleName::new_unchecked(name),
            description: col(r, "description")?,
            builtin: col(r, "builtin")?,
        })
    })
    .collect()
}

async fn role(
    conn: &mut SqliteConnection,
    name: &RoleName,
) -> Result<Option<RoleRecord>, StoreError> {
    Ok(roles(conn, Some(name)).await?.into_iter().next())
}

pub(super) async fn put_role(
    conn: &mut SqliteConnection,
    actor: &str,
    name: &RoleName,
    description: &str,
    permissions: &[PermissionPattern],
    now: i64,
) -> Result<Outcome, StoreError> {
    check_id("name", "role name", name.as_str())?;
    if description.len() > MAX_DESCRIPTION_LEN {
        return Err(invalid(
            "description",
            format!("the description is longer than {MAX_DESCRIPTION_LEN} bytes"),
        ));
    }
    let permissions: BTreeSet<String> = permissions.iter().map(ToString::to_string).collect();
    let new = RoleRecord {
        name: name.clone(),
        description: description.to_owned(),
        permissions: permissions.iter().cloned().collect(),
        builtin: false,
    };
    let old = role(conn, name).await?;
    if let Some(old) = &old {
        if old.builtin {
            return Err(read_only(name));
        }
        if old.description == new.description && old.permissions == new.permissions {
            return unchanged(conn).await;
        }
    }
    sqlx::query(
        "INSERT INTO roles (name, description, builtin, created_ms, updated_ms) VALUES (?1, ?2, 0, ?3, ?3) \
         ON CONFLICT (name) DO UPDATE SET description = excluded.description, builtin = 0, \
         updated_ms = excluded.updated_ms",
    )
    .bind(name.as_str().to_owned())
    .bind(description.to_owned())
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    sqlx::query("DELETE FROM role_permissions WHERE role_name = ?")
        .bind(name.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    for p in &permissions {
        sqlx::query("INSERT INTO role_permissions (role_name, permission) VALUES (?, ?)")
            .bind(name.as_str().to_owned())
            .bind(p.clone())
            .execute(&mut *conn)
            .await
            .map_err(write_error())?;
    }
    let audit = Audit {
        actor,
        action: if old.is_some() {
            "role.update"
        } else {
            "role.create"
        },
        target: format!("roles/{name}"),
        before: old.as_ref().map(role_json),
        after: Some(role_json(&new)),
    };
    let detail = json!({"role": name.as_str(), "created": old.is_none()});
    record(conn, now, "admin.role.put", &detail, audit).await
}

pub(super) async fn delete_role(
    conn: &mut SqliteConnection,
    actor: &str,
    name: &RoleName,
    cascade: bool,
    now: i64,
) -> Result<Outcome, StoreError> {
    let old = role(conn, name)
        .await?
        .ok_or_else(|| not_found("role", name.as_str()))?;
    if old.builtin {
        return Err(invalid(
            "name",
            format!(
                "role `{name}` is part of the default catalog and read-only: it cannot be deleted"
            ),
        ));
    }
    let assigned = assignments(conn, Filter::Role(name)).await?;
    if !assigned.is_empty() && !cascade {
        let mut list = assigned
            .iter()
            .take(LISTED_ASSIGNMENTS)
            .map(describe)
            .collect::<Vec<_>>()
            .join("; ");
        if assigned.len() > LISTED_ASSIGNMENTS {
            list.push_str(&format!(
                "; and {} more",
                assigned.len() - LISTED_ASSIGNMENTS
            ));
        }
        let n = assigned.len();
        let times = if n == 1 { "once" } else { "times" };
        let count = if n == 1 {
            String::new()
        } else {
            format!("{n} ")
        };
        return Err(StoreError::Invalid {
            field: None,
            message: format!(
                "role `{name}` is assigned {count}{times}: {list}; remove those role assignments \
                 first, or delete with cascade to remove them too"
            ),
        });
    }
    sqlx::query("DELETE FROM role_assignments WHERE role_name = ?")
        .bind(name.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    sqlx::query("DELETE FROM roles WHERE name = ?")
        .bind(name.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let mut before = role_json(&old);
    before["role_assignments"] = assigned.iter().map(assignment_json).collect();
    let audit = Audit {
        actor,
        action: "role.delete",
        target: format!("roles/{name}"),
        before: Some(before),
        after: None,
    };
    let detail = json!({"role": name.as_str(), "role_assignments_deleted": assigned.len()});
    record(conn, now, "admin.role.delete", &detail, audit).await
}

// --- role assignments ------------------------------------------------------

/// Which assignments to read.
pub(super) enum Filter<'a> {
    Role(&'a RoleName),
    Subject(&'a DirectoryId, &'a SubjectId),
    /// The group assignments of a directory.
    Groups(&'a DirectoryId),
}

/// Assignments with their subject's name, by directory, subject (groups
/// first, by name), role and scope.
pub(super) async fn assignments(
    conn: &mut SqliteConnection,
    filter: Filter<'_>,
) -> Result<Vec<AssignmentRecord>, StoreError> {
    let (condition, first, second) = match filter {
        Filter::Role(r) => ("a.role_name = ?1", r.as_str(), None),
        Filter::Subject(d, SubjectId::Group(g)) => (
            "a.directory_id = ?1 AND a.subject_group_id = ?2",
            d.as_str(),
            Some(g.as_str()),
        ),
        Filter::Subject(d, SubjectId::User(u)) => (
            "a.directory_id = ?1 AND a.subject_user_id = ?2",
            d.as_str(),
            Some(u.as_str()),
        ),
        Filter::Groups(d) => (
            "a.directory_id = ?1 AND a.subject_group_id IS NOT NULL",
            d.as_str(),
            None,
        ),
    };
    let sql = format!(
        "SELECT a.directory_id AS directory_id, a.subject_group_id AS subject_group_id, \
                a.subject_user_id AS subject_user_id, a.role_name AS role_name, \
                a.scope_kind AS scope_kind, a.scope_account_id AS scope_account_id, \
                a.scope_organization_id AS scope_organization_id, a.scope_key AS scope_key, \
                a.created_ms AS created_ms, \
                coalesce(g.display_name, u.user_name) AS subject_name \
         FROM role_assignments a \
         LEFT JOIN groups g ON g.id = a.subject_group_id \
         LEFT JOIN users u ON u.id = a.subject_user_id \
         WHERE {condition} \
         ORDER BY a.directory_id, a.subject_group_id IS NULL, \
                  coalesce(g.display_name_folded, u.user_name_folded), \
                  ifnull(a.subject_group_id, a.subject_user_id), a.role_name, a.scope_kind, \
                  ifnull(a.scope_account_id, a.scope_organization_id), a.scope_key"
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(first.to_owned());
    if let Some(s) = second {
        q = q.bind(s.to_owned());
    }
    q.fetch_all(&mut *conn)
        .await
        .map_err(read_error())?
        .iter()
        .map(|r| {
            let a = read::assignment(r)?;
            Ok(AssignmentRecord {
                directory: a.directory,
                subject: match a.subject {
                    Subject::Group(g) => SubjectId::Group(g.as_str().to_owned()),
                    Subject::User(u) => SubjectId::User(u.as_str().to_owned()),
                },
                subject_name: col(r, "subject_name")?,
                role: a.role,
                scope: a.scope,
                created_ms: col(r, "created_ms")?,
            })
        })
        .collect()
}

/// The directory's owner and mode; `NotFound` when it does not exist.
async fn directory_owner(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<(Owner, Mode), StoreError> {
    let row = sqlx::query(
        "SELECT owner_organization_id, owner_account_id, mode FROM directories WHERE id = ?",
    )
    .bind(dir.as_str().to_owned())
    .fetch_optional(&mut *conn)
    .await
    .map_err(read_error())?
    .ok_or_else(|| not_found("directory", dir.as_str()))?;
    Ok((owner_of(&row, dir.as_str())?, mode_of(&row, dir.as_str())?))
}

/// The subject's name in `dir`; `NotFound` (naming it) when it is not there.
pub(super) async fn subject_name(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    subject: &SubjectId,
) -> Result<String, StoreError> {
    let (sql, what, id) = match subject {
        SubjectId::Group(g) => (
            "SELECT display_name FROM groups WHERE id = ? AND directory_id = ?",
            "group",
            g,
        ),
        SubjectId::User(u) => (
            "SELECT user_name FROM users WHERE id = ? AND directory_id = ?",
            "user",
            u,
        ),
    };
    let name: Option<String> = sqlx::query_scalar(sql)
        .bind(id.clone())
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    name.ok_or_else(|| not_found(what, id))
}

/// The subject's assignments; `NotFound` for an unknown directory or a
/// subject that is not in it.
pub(super) async fn assignments_of(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    subject: &SubjectId,
) -> Result<Vec<AssignmentRecord>, StoreError> {
    directory_owner(conn, dir).await?;
    subject_name(conn, dir, subject).await?;
    assignments(conn, Filter::Subject(dir, subject)).await
}

/// Checks one assignment of a list (`role_assignments[i]`) and returns its
/// scope in canonical form. `roles` and `orgs` cache lookups across the list.
async fn check_spec(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    owner: &Owner,
    i: usize,
    spec: &AssignmentSpec,
    roles: &mut HashMap<String, bool>,
    orgs: &mut HashMap<String, Option<Option<String>>>,
) -> Result<ScopeRef, StoreError> {
    let field = |f: &str| format!("role_assignments[{i}].{f}");
    let role = spec.role.as_str();
    let known = match roles.get(role) {
        Some(k) => *k,
        None => {
            let k = exists(conn, "SELECT 1 FROM roles WHERE name = ?", role).await?;
            roles.insert(role.to_owned(), k);
            k
        }
    };
    if !known {
        return Err(invalid(
            field("role"),
            format!(
                "role `{role}` does not exist: create it (PUT /admin/v1/roles/{role}), or fix the name"
            ),
        ));
    }
    let mut accounts: Vec<&str> = match &spec.scope {
        Scope::Account(a) => vec![a.as_str()],
        Scope::Organization(_) => Vec::new(),
        Scope::OrganizationAccounts { accounts, .. } => {
            accounts.iter().map(AccountId::as_str).collect()
        }
    };
    for a in &accounts {
        if !orgs.contains_key(*a) {
            let org = organization_of(conn, a).await?;
            orgs.insert((*a).to_owned(), org);
        }
    }
    let missing = |a: &str| format!("account `{a}` does not exist: create it, or fix the id");
    let scope = match &spec.scope {
        Scope::Account(a) => {
            if orgs.get(a.as_str()).is_none_or(Option::is_none) {
                return Err(invalid(field("scope.account"), missing(a.as_str())));
            }
            ScopeRef::Account(a.as_str().to_owned())
        }
        Scope::Organization(o)
        | Scope::OrganizationAccounts {
            organization: o, ..
        } => {
            if !organization_exists(conn, o.as_str()).await? {
                return Err(invalid(
                    field("scope.organization"),
                    format!("organization `{o}` does not exist: create it, or fix the id"),
                ));
            }
            if matches!(spec.scope, Scope::Organization(_)) {
                ScopeRef::Organization(o.as_str().to_owned())
            } else {
                if accounts.is_empty() {
                    return Err(invalid(field("scope.accounts"), NO_CHOSEN_ACCOUNTS));
                }
                let mut outside = Vec::new();
                for (k, a) in accounts.iter().enumerate() {
                    match orgs.get(*a) {
                        Some(Some(org)) => {
                            let quoted = format!("`{a}`");
                            if org.as_deref() != Some(o.as_str()) && !outside.contains(&quoted) {
                                outside.push(quoted);
                            }
                        }
                        _ => {
                            return Err(invalid(
                                field(&format!("scope.accounts[{k}]")),
                                missing(a),
                            ));
                        }
                    }
                }
                if !outside.is_empty() {
                    return Err(invalid(
                        field("scope.accounts"),
                        import::accounts_outside(o.as_str(), &outside),
                    ));
                }
                accounts.sort_unstable();
                accounts.dedup();
                ScopeRef::OrganizationAccounts(
                    o.as_str().to_owned(),
                    accounts.iter().map(|a| (*a).to_owned()).collect(),
                )
            }
        }
    };
    let organization_of = |a: &str| orgs.get(a).cloned().flatten().flatten();
    import::check_governed(dir.as_str(), owner, &scope, &organization_of)
        .map_err(|(f, m)| invalid(field(f), m))?;
    Ok(scope)
}

fn scope_ref(r: &SqliteRow) -> Result<ScopeRef, StoreError> {
    let bad = || corrupt("role assignment scope".to_owned());
    let kind: String = col(r, "scope_kind")?;
    match (
        kind.as_str(),
        col::<Option<String>>(r, "scope_account_id")?,
        col::<Option<String>>(r, "scope_organization_id")?,
    ) {
        ("account", Some(a), None) => Ok(ScopeRef::Account(a)),
        ("organization", None, Some(o)) => Ok(ScopeRef::Organization(o)),
        ("organization_accounts", None, Some(o)) => {
            let key: String = col(r, "scope_key")?;
            Ok(ScopeRef::OrganizationAccounts(
                o,
                serde_json::from_str(&key).map_err(|_| bad())?,
            ))
        }
        _ => Err(bad()),
    }
}

/// Sets a subject's whole list: deletes the assignments not in `specs`,
/// inserts the new ones, keeps the rest (and their creation time).
pub(super) async fn set_assignments(
    conn: &mut SqliteConnection,
    actor: &str,
    dir: &DirectoryId,
    subject: &SubjectId,
    specs: &[AssignmentSpec],
    now: i64,
) -> Result<Outcome, StoreError> {
    let (owner, mode) = directory_owner(conn, dir).await?;
    subject_name(conn, dir, subject).await?;
    if matches!(subject, SubjectId::Group(_)) && mode == Mode::Saml && !specs.is_empty() {
        return Err(saml_refusal(dir));
    }
    let mut roles = HashMap::new();
    let mut orgs = HashMap::new();
    let mut wanted = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        let scope = check_spec(conn, dir, &owner, i, spec, &mut roles, &mut orgs).await?;
        wanted.insert((spec.role.as_str().to_owned(), scope));
    }

    let (column, kind, id) = match subject {
        SubjectId::Group(g) => ("subject_group_id", "group", g),
        SubjectId::User(u) => ("subject_user_id", "user", u),
    };
    let sql = format!(
        "SELECT id, role_name, scope_kind, scope_account_id, scope_organization_id, scope_key \
         FROM role_assignments WHERE directory_id = ? AND {column} = ?"
    );
    let mut existing = Vec::new();
    for r in sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(dir.as_str().to_owned())
        .bind(id.clone())
        .fetch_all(&mut *conn)
        .await
        .map_err(read_error())?
    {
        let key = (col::<String>(&r, "role_name")?, scope_ref(&r)?);
        existing.push((col::<i64>(&r, "id")?, key));
    }
    let had: BTreeSet<_> = existing.iter().map(|(_, k)| k.clone()).collect();
    let removed: Vec<i64> = existing
        .iter()
        .filter(|(_, k)| !wanted.contains(k))
        .map(|(id, _)| *id)
        .collect();
    let added: Vec<_> = wanted.difference(&had).collect();
    if removed.is_empty() && added.is_empty() {
        return unchanged(conn).await;
    }

    for a in &removed {
        sqlx::query("DELETE FROM role_assignments WHERE id = ?")
            .bind(*a)
            .execute(&mut *conn)
            .await
            .map_err(write_error())?;
    }
    let (group, user) = match subject {
        SubjectId::Group(g) => (Some(g.clone()), None),
        SubjectId::User(u) => (None, Some(u.clone())),
    };
    for (role, scope) in &added {
        let (account, organization) = match scope {
            ScopeRef::Account(a) => (Some(a.clone()), None),
            ScopeRef::Organization(o) | ScopeRef::OrganizationAccounts(o, _) => {
                (None, Some(o.clone()))
            }
        };
        let assignment: i64 = sqlx::query_scalar(
            "INSERT INTO role_assignments (directory_id, subject_group_id, subject_user_id, role_name, \
                                           scope_kind, scope_account_id, scope_organization_id, \
                                           scope_key, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(dir.as_str().to_owned())
        .bind(group.clone())
        .bind(user.clone())
        .bind(role.clone())
        .bind(scope.kind())
        .bind(account)
        .bind(organization)
        .bind(scope.key())
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(write_error())?;
        if let ScopeRef::OrganizationAccounts(_, accounts) = scope {
            for a in accounts {
                sqlx::query(
                    "INSERT INTO role_assignment_accounts (assignment_id, account_id) VALUES (?, ?)",
                )
                .bind(assignment)
                .bind(a.clone())
                .execute(&mut *conn)
                .await
                .map_err(write_error())?;
            }
        }
    }

    let list = |set: &BTreeSet<(String, ScopeRef)>| -> Value {
        json!({"role_assignments": set.iter().map(|(r, s)| spec_json(r, s)).collect::<Vec<_>>()})
    };
    let audit = Audit {
        actor,
        action: match subject {
            SubjectId::Group(_) => "group.role_assignments.set",
            SubjectId::User(_) => "user.role_assignments.set",
        },
        target: format!("directories/{dir}/{kind}s/{id}"),
        before: Some(list(&had)),
        after: Some(list(&wanted)),
    };
    let detail = json!({
        "directory": dir.as_str(),
        kind: id,
        "added": added.len(),
        "removed": removed.len(),
    });
    record(conn, now, "admin.role_assignments.set", &detail, audit).await
}

// --- the groups view -------------------------------------------------------

fn count_of(r: &SqliteRow) -> Result<(String, u64), StoreError> {
    Ok((
        col(r, "group_id")?,
        u64::try_from(col::<i64>(r, "n")?).unwrap_or(0),
    ))
}

/// Every group of the directory by displayName, with its direct members,
/// effective users and group role assignments: four queries, whatever the
/// number of groups.
///
/// Effective users come from one recursive query that pairs every group
/// with every group nested in it (`UNION` drops pairs already reached, so a
/// cycle ends) and counts the distinct users of each group's closure. It
/// costs the sum over groups of their nested groups and those groups'
/// members: fine for thousands of groups of ordinary depth; a directory of
/// deep, wide nesting would want the counts kept up to date on write.
pub(super) async fn group_summaries(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<Vec<GroupSummary>, StoreError> {
    directory_owner(conn, dir).await?;
    let d = dir.as_str().to_owned();
    let groups = sqlx::query(
        "SELECT id, display_name, external_id FROM groups WHERE directory_id = ? \
         ORDER BY display_name_folded, display_name, id",
    )
    .bind(d.clone())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    let direct = sqlx::query(
        "SELECT m.group_id AS group_id, count(*) AS n \
         FROM group_members m JOIN groups g ON g.id = m.group_id \
         WHERE g.directory_id = ? GROUP BY m.group_id",
    )
    .bind(d.clone())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(count_of)
    .collect::<Result<HashMap<_, _>, _>>()?;
    let effective = sqlx::query(
        "WITH RECURSIVE closure (root, grp) AS ( \
             SELECT id, id FROM groups WHERE directory_id = ?1 \
             UNION \
             SELECT c.root, m.member_group_id FROM closure c \
             JOIN group_members m ON m.group_id = c.grp \
             WHERE m.member_group_id IS NOT NULL \
         ) \
         SELECT c.root AS group_id, count(DISTINCT m.member_user_id) AS n \
         FROM closure c JOIN group_members m ON m.group_id = c.grp \
         WHERE m.member_user_id IS NOT NULL GROUP BY c.root",
    )
    .bind(d)
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(count_of)
    .collect::<Result<HashMap<_, _>, _>>()?;
    let mut assigned: HashMap<String, Vec<AssignmentSpec>> = HashMap::new();
    for a in assignments(conn, Filter::Groups(dir)).await? {
        if let SubjectId::Group(g) = a.subject {
            assigned.entry(g).or_default().push(AssignmentSpec {
                role: a.role,
                scope: a.scope,
            });
        }
    }
    groups
        .iter()
        .map(|r| {
            let id: String = col(r, "id")?;
            Ok(GroupSummary {
                display_name: col(r, "display_name")?,
                external_id: col(r, "external_id")?,
                direct_members: direct.get(&id).copied().unwrap_or(0),
                effective_users: effective.get(&id).copied().unwrap_or(0),
                role_assignments: assigned.remove(&id).unwrap_or_default(),
                id,
            })
        })
        .collect()
}

/// A page of a group's direct members, users and groups together, by name
/// (case-insensitively), and the number of members.
pub(super) async fn group_members(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    group: &str,
    offset: u64,
    limit: u32,
) -> Result<(Vec<MemberSummary>, u64), StoreError> {
    directory_owner(conn, dir).await?;
    subject_name(conn, dir, &SubjectId::Group(group.to_owned())).await?;
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM group_members WHERE group_id = ?")
        .bind(group.to_owned())
        .fetch_one(&mut *conn)
        .await
        .map_err(read_error())?;
    let page = sqlx::query(
        "SELECT 'user' AS kind, u.id AS id, u.user_name AS name, u.active AS active, \
                u.user_name_folded AS sort_key \
         FROM group_members m JOIN users u ON u.id = m.member_user_id WHERE m.group_id = ?1 \
         UNION ALL \
         SELECT 'group', g.id, g.display_name, NULL, g.display_name_folded \
         FROM group_members m JOIN groups g ON g.id = m.member_group_id WHERE m.group_id = ?1 \
         ORDER BY sort_key, kind DESC, id LIMIT ?2 OFFSET ?3",
    )
    .bind(group.to_owned())
    .bind(i64::from(limit))
    .bind(i64::try_from(offset).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?
    .iter()
    .map(|r| {
        let kind: String = col(r, "kind")?;
        Ok(MemberSummary {
            kind: if kind == "user" { "user" } else { "group" },
            id: col(r, "id")?,
            name: col(r, "name")?,
            active: col(r, "active")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    Ok((page, u64::try_from(total).unwrap_or(0)))
}

// --- the audit log ---------------------------------------------------------

/// Newest first; prefixes compare byte for byte; a `limit` of 0 means
/// [`DEFAULT_AUDIT_LIMIT`].
pub(super) async fn audit_log(
    conn: &mut SqliteConnection,
    query: &AuditQuery,
) -> Result<Vec<AuditEntry>, StoreError> {
    let limit = if query.limit == 0 {
        DEFAULT_AUDIT_LIMIT
    } else {
        query.limit
    };
    let json = |text: Option<String>| -> Result<Option<Value>, StoreError> {
        text.map(|t| serde_json::from_str(&t).map_err(|_| corrupt("audit log entry".to_owned())))
            .transpose()
    };
    sqlx::query(
        "SELECT id, at_ms, actor, action, target, before, after, revision FROM audit_log \
         WHERE (?1 IS NULL OR substr(action, 1, length(?1)) = ?1) \
           AND (?2 IS NULL OR substr(target, 1, length(?2)) = ?2) \
           AND (?3 IS NULL OR id < ?3) \
         ORDER BY id DESC LIMIT ?4",
    )
    .bind(query.action_prefix.clone())
    .bind(query.target_prefix.clone())
    .bind(query.before)
    .bind(i64::from(limit))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("cannot read the audit log"))?
    .iter()
    .map(|r| {
        Ok(AuditEntry {
            id: col(r, "id")?,
            at_ms: col(r, "at_ms")?,
            actor: col(r, "actor")?,
            action: col(r, "action")?,
            target: col(r, "target")?,
            before: json(col(r, "before")?)?,
            after: json(col(r, "after")?)?,
            revision: col::<Option<i64>>(r, "revision")?.map(super::from_i64),
        })
    })
    .collect()
}
