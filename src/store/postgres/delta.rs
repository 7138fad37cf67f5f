//! Reading a [`Delta`]: the entities that revisions after a given one
//! touched (`change_keys`, filled by the triggers of migration 2), each read
//! as it is now, in one read transaction.

use std::collections::HashMap;

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection};

use super::read::{assignment, col, directory, permission};
use super::{current_revision, db_error, from_i64, to_i64};
use crate::model::{
    Account, AccountId, Delta, DirectoryId, Edit, Group, GroupEdges, GroupId, Organization,
    OrganizationId, Revision, Role, RoleAssignment, RoleName, User, UserEdges, UserId,
};
use crate::store::StoreError;

/// Revisions whose change keys are kept; a reader further behind reads the
/// whole state.
pub(super) const KEEP_REVISIONS: i64 = 10_000;

/// Prunes change keys every this many revisions.
pub(super) const PRUNE_EVERY: i64 = 1_000;

const ASSIGNMENT_COLUMNS: &str = "directory_id, subject_group_id, subject_user_id, role_name, \
     scope_kind, scope_account_id, scope_organization_id, scope_key";

const ASSIGNMENT_ORDER: &str =
    "role_name, scope_kind, coalesce(scope_account_id, scope_organization_id), scope_key";

/// Drops the change keys of revisions more than [`KEEP_REVISIONS`] behind
/// `revision`, when `revision` is a multiple of [`PRUNE_EVERY`].
pub(super) async fn prune(conn: &mut PgConnection, revision: i64) -> Result<(), StoreError> {
    if revision % PRUNE_EVERY != 0 || revision <= KEEP_REVISIONS {
        return Ok(());
    }
    let horizon = revision - KEEP_REVISIONS;
    sqlx::query("DELETE FROM change_keys WHERE revision > 0 AND revision <= $1")
        .bind(horizon)
        .execute(&mut *conn)
        .await
        .map_err(db_error("cannot prune the change keys"))?;
    sqlx::query("UPDATE change_keys_horizon SET value = greatest(value, $1) WHERE id = 1")
        .bind(horizon)
        .execute(&mut *conn)
        .await
        .map_err(db_error("cannot prune the change keys"))?;
    Ok(())
}

pub(super) async fn delta(
    conn: &mut PgConnection,
    after: Revision,
    max_entities: usize,
) -> Result<Option<Delta>, StoreError> {
    let revision = current_revision(conn).await?;
    let horizon: i64 = sqlx::query_scalar("SELECT value FROM change_keys_horizon WHERE id = 1")
        .fetch_one(&mut *conn)
        .await
        .map_err(db_error("cannot read the change keys"))?;
    if after > revision || after < from_i64(horizon) {
        return Ok(None);
    }
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT kind, key FROM change_keys WHERE revision > $1 AND revision <= $2 LIMIT $3",
    )
    .bind(to_i64(after))
    .bind(to_i64(revision))
    .bind(i64::try_from(max_entities.saturating_add(1)).unwrap_or(i64::MAX))
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("cannot read the change keys"))?;
    if rows.len() > max_entities {
        return Ok(None);
    }
    let mut keys: HashMap<String, Vec<String>> = HashMap::new();
    for (kind, key) in rows {
        keys.entry(kind).or_default().push(key);
    }
    let mut take = |kind: &str| {
        let mut list = keys.remove(kind).unwrap_or_default();
        list.sort_unstable();
        list
    };
    let organizations = take("organization");
    let accounts = take("account");
    let directories = take("directory");
    let roles = take("role");
    let users = take("user");
    let groups = take("group");

    Ok(Some(Delta {
        from: after,
        revision,
        organizations: read_organizations(conn, organizations).await?,
        accounts: read_accounts(conn, accounts).await?,
        directories: read_directories(conn, directories).await?,
        roles: read_roles(conn, roles).await?,
        users: read_users(conn, users).await?,
        groups: read_groups(conn, groups).await?,
    }))
}

/// Binds a list of keys as one JSON array, for
/// `IN (SELECT value FROM jsonb_array_elements_text($1::jsonb))`.
fn json_keys(keys: &[String]) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "[]".to_owned())
}

async fn rows(
    conn: &mut PgConnection,
    sql: &str,
    keys: &[String],
) -> Result<Vec<PgRow>, StoreError> {
    // `sql` is built from constants of this module, never from input.
    sqlx::query(AssertSqlSafe(sql.to_owned()))
        .bind(json_keys(keys))
        .fetch_all(conn)
        .await
        .map_err(db_error("cannot read a delta"))
}

/// Puts for the keys found in `found`, deletes for the others, in key order.
fn edits<K, V>(
    keys: Vec<String>,
    mut found: HashMap<String, V>,
    id: impl Fn(String) -> K,
) -> Vec<Edit<K, V>> {
    keys.into_iter()
        .map(|k| match found.remove(&k) {
            Some(v) => Edit::Put(v),
            None => Edit::Delete(id(k)),
        })
        .collect()
}

async fn read_organizations(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<OrganizationId, Organization>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT id, name FROM organizations WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        found.insert(
            id.clone(),
            Organization {
                id: OrganizationId::new_unchecked(id),
                name: col(&r, "name")?,
            },
        );
    }
    Ok(edits(keys, found, OrganizationId::new_unchecked))
}

async fn read_accounts(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<AccountId, Account>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT id, name, organization_id FROM accounts \
         WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        found.insert(
            id.clone(),
            Account {
                id: AccountId::new_unchecked(id),
                name: col(&r, "name")?,
                organization: col::<Option<String>>(&r, "organization_id")?
                    .map(OrganizationId::new_unchecked),
            },
        );
    }
    Ok(edits(keys, found, AccountId::new_unchecked))
}

async fn read_directories(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<DirectoryId, crate::model::Directory>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut domains: HashMap<String, Vec<String>> = HashMap::new();
    for r in rows(
        conn,
        "SELECT directory_id, domain FROM directory_domains \
         WHERE directory_id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value)) ORDER BY directory_id, domain",
        &keys,
    )
    .await?
    {
        domains
            .entry(col(&r, "directory_id")?)
            .or_default()
            .push(col(&r, "domain")?);
    }
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT id, owner_organization_id, owner_account_id, mode FROM directories \
         WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let d = directory(&r, &mut domains)?;
        found.insert(d.id.as_str().to_owned(), d);
    }
    Ok(edits(keys, found, DirectoryId::new_unchecked))
}

async fn read_roles(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<RoleName, Role>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut permissions: HashMap<String, Vec<_>> = HashMap::new();
    for r in rows(
        conn,
        "SELECT role_name, permission FROM role_permissions \
         WHERE role_name IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value)) ORDER BY role_name, permission",
        &keys,
    )
    .await?
    {
        let role: String = col(&r, "role_name")?;
        let p = permission(&role, &col::<String>(&r, "permission")?)?;
        permissions.entry(role).or_default().push(p);
    }
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT name, description FROM roles WHERE name IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let name: String = col(&r, "name")?;
        found.insert(
            name.clone(),
            Role {
                permissions: permissions.remove(&name).unwrap_or_default(),
                name: RoleName::new_unchecked(name),
                description: col(&r, "description")?,
            },
        );
    }
    Ok(edits(keys, found, RoleName::new_unchecked))
}

/// The direct groups of each member in `keys` (`member_column`:
/// `member_user_id` or `member_group_id`), sorted.
async fn direct_groups(
    conn: &mut PgConnection,
    member_column: &str,
    keys: &[String],
) -> Result<HashMap<String, Vec<GroupId>>, StoreError> {
    let sql = format!(
        "SELECT {member_column} AS member, group_id FROM group_members \
         WHERE {member_column} IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value)) ORDER BY group_id"
    );
    let mut out: HashMap<String, Vec<GroupId>> = HashMap::new();
    for r in rows(conn, &sql, keys).await? {
        out.entry(col(&r, "member")?)
            .or_default()
            .push(GroupId::new_unchecked(col::<String>(&r, "group_id")?));
    }
    Ok(out)
}

/// The role assignments of each subject in `keys` (`subject_column`:
/// `subject_user_id` or `subject_group_id`).
async fn assignments(
    conn: &mut PgConnection,
    subject_column: &str,
    keys: &[String],
) -> Result<HashMap<String, Vec<RoleAssignment>>, StoreError> {
    let sql = format!(
        "SELECT {ASSIGNMENT_COLUMNS}, {subject_column} AS subject FROM role_assignments \
         WHERE {subject_column} IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value)) ORDER BY {ASSIGNMENT_ORDER}"
    );
    let mut out: HashMap<String, Vec<RoleAssignment>> = HashMap::new();
    for r in rows(conn, &sql, keys).await? {
        out.entry(col(&r, "subject")?)
            .or_default()
            .push(assignment(&r)?);
    }
    Ok(out)
}

async fn read_users(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<UserId, UserEdges>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut groups = direct_groups(conn, "member_user_id", &keys).await?;
    let mut assigned = assignments(conn, "subject_user_id", &keys).await?;
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT id, directory_id, user_name, active FROM users \
         WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        let edges = UserEdges {
            groups: groups.remove(&id).unwrap_or_default(),
            role_assignments: assigned.remove(&id).unwrap_or_default(),
            user: User {
                id: UserId::new_unchecked(id.clone()),
                directory: DirectoryId::new_unchecked(col::<String>(&r, "directory_id")?),
                user_name: col(&r, "user_name")?,
                active: col(&r, "active")?,
            },
        };
        found.insert(id, edges);
    }
    Ok(edits(keys, found, UserId::new_unchecked))
}

async fn read_groups(
    conn: &mut PgConnection,
    keys: Vec<String>,
) -> Result<Vec<Edit<GroupId, GroupEdges>>, StoreError> {
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let mut parents = direct_groups(conn, "member_group_id", &keys).await?;
    let mut assigned = assignments(conn, "subject_group_id", &keys).await?;
    let mut found = HashMap::new();
    for r in rows(
        conn,
        "SELECT id, directory_id, display_name FROM groups \
         WHERE id IN (SELECT value FROM jsonb_array_elements_text($1::jsonb) AS j(value))",
        &keys,
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        let edges = GroupEdges {
            parents: parents.remove(&id).unwrap_or_default(),
            role_assignments: assigned.remove(&id).unwrap_or_default(),
            group: Group {
                id: GroupId::new_unchecked(id.clone()),
                directory: DirectoryId::new_unchecked(col::<String>(&r, "directory_id")?),
                display_name: col(&r, "display_name")?,
            },
        };
        found.insert(id, edges);
    }
    Ok(edits(keys, found, GroupId::new_unchecked))
}
