//! Reading the whole [`State`], in one read transaction, in a deterministic
//! order: everything by id (roles by name; permissions, domains and members
//! sorted; role assignments by directory, subject, role and scope).

use std::collections::HashMap;

use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqliteConnection};

use super::{current_revision, db_error};
use crate::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserId,
};
use crate::store::StoreError;
use crate::store::shared::corrupt;

/// Reads a column, mapping a decoding error to a [`StoreError`].
pub(super) fn col<'r, T>(row: &'r SqliteRow, name: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Database(format!("cannot read column `{name}`: {e}")))
}

async fn all(conn: &mut SqliteConnection, sql: &'static str) -> Result<Vec<SqliteRow>, StoreError> {
    sqlx::query(sql)
        .fetch_all(conn)
        .await
        .map_err(db_error("cannot read the state"))
}

/// Reads a whole table aggregated into one JSON array (`json_group_array`)
/// and parses it.
async fn json_table<T: serde::de::DeserializeOwned>(
    conn: &mut SqliteConnection,
    sql: &'static str,
    what: &str,
) -> Result<Vec<T>, StoreError> {
    let text: String = sqlx::query_scalar(sql)
        .fetch_one(conn)
        .await
        .map_err(db_error("cannot read the state"))?;
    serde_json::from_str(&text).map_err(|e| corrupt(format!("{what} table ({e})")))
}

pub(super) async fn load_state(conn: &mut SqliteConnection) -> Result<State, StoreError> {
    let revision = current_revision(conn).await?;

    let organizations = all(conn, "SELECT id, name FROM organizations ORDER BY id")
        .await?
        .iter()
        .map(|r| {
            Ok(Organization {
                id: OrganizationId::new_unchecked(col::<String>(r, "id")?),
                name: col(r, "name")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

    let accounts = all(
        conn,
        "SELECT id, name, organization_id FROM accounts ORDER BY id",
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Account {
            id: AccountId::new_unchecked(col::<String>(r, "id")?),
            name: col(r, "name")?,
            organization: col::<Option<String>>(r, "organization_id")?
                .map(OrganizationId::new_unchecked),
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let mut domains: HashMap<String, Vec<String>> = HashMap::new();
    for r in all(
        conn,
        "SELECT directory_id, domain FROM directory_domains ORDER BY directory_id, domain",
    )
    .await?
    {
        domains
            .entry(col(&r, "directory_id")?)
            .or_default()
            .push(col(&r, "domain")?);
    }
    let directories = all(
        conn,
        "SELECT id, owner_organization_id, owner_account_id, mode FROM directories ORDER BY id",
    )
    .await?
    .iter()
    .map(|r| directory(r, &mut domains))
    .collect::<Result<Vec<_>, StoreError>>()?;

    let mut permissions: HashMap<String, Vec<PermissionPattern>> = HashMap::new();
    for r in all(
        conn,
        "SELECT role_name, permission FROM role_permissions ORDER BY role_name, permission",
    )
    .await?
    {
        let role: String = col(&r, "role_name")?;
        let p: String = col(&r, "permission")?;
        let pattern = permission(&role, &p)?;
        permissions.entry(role).or_default().push(pattern);
    }
    let roles = all(conn, "SELECT name, description FROM roles ORDER BY name")
        .await?
        .iter()
        .map(|r| {
            let name: String = col(r, "name")?;
            Ok(Role {
                permissions: permissions.remove(&name).unwrap_or_default(),
                name: RoleName::new_unchecked(name),
                description: col(r, "description")?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;

    // The two big tables come back as one JSON document each: SQLite builds
    // it in C and serde parses it, which is several times faster than
    // decoding hundreds of thousands of rows one by one. Order is restored here.
    let mut users: Vec<User> = json_table::<(String, String, String, bool)>(
        conn,
        "SELECT json_group_array(json_array(id, directory_id, user_name, json(CASE active WHEN 1 THEN 'true' ELSE 'false' END))) \
         FROM users",
        "users",
    )
    .await?
    .into_iter()
    .map(|(id, directory, user_name, active)| User {
        id: UserId::new_unchecked(id),
        directory: DirectoryId::new_unchecked(directory),
        user_name,
        active,
    })
    .collect();
    users.sort_unstable_by(|a, b| a.id.cmp(&b.id));

    let groups = all(
        conn,
        "SELECT id, directory_id, display_name FROM groups ORDER BY id",
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Group {
            id: GroupId::new_unchecked(col::<String>(r, "id")?),
            directory: DirectoryId::new_unchecked(col::<String>(r, "directory_id")?),
            display_name: col(r, "display_name")?,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;

    let mut memberships = json_table::<(String, Option<String>, Option<String>)>(
        conn,
        "SELECT json_group_array(json_array(group_id, member_user_id, member_group_id)) \
         FROM group_members",
        "group members",
    )
    .await?
    .into_iter()
    .map(|(group, user, nested)| {
        let member = match (user, nested) {
            (Some(u), None) => Member::User(UserId::new_unchecked(u)),
            (None, Some(g)) => Member::Group(GroupId::new_unchecked(g)),
            _ => return Err(corrupt(format!("member of group `{group}`"))),
        };
        Ok(Membership {
            group: GroupId::new_unchecked(group),
            member,
        })
    })
    .collect::<Result<Vec<_>, StoreError>>()?;
    // Users before nested groups, each by id: the order `ORDER BY group_id,
    // member_user_id IS NULL, ifnull(member_user_id, member_group_id)` gives.
    fn member_key(m: &Membership) -> (bool, &str) {
        match &m.member {
            Member::User(u) => (false, u.as_str()),
            Member::Group(g) => (true, g.as_str()),
        }
    }
    memberships.sort_unstable_by(|a, b| {
        a.group
            .cmp(&b.group)
            .then_with(|| member_key(a).cmp(&member_key(b)))
    });

    let role_assignments = all(
        conn,
        "SELECT directory_id, subject_group_id, subject_user_id, role_name, scope_kind, \
                scope_account_id, scope_organization_id, scope_key \
         FROM role_assignments \
         ORDER BY directory_id, subject_group_id IS NULL, ifnull(subject_group_id, subject_user_id), \
                  role_name, scope_kind, ifnull(scope_account_id, scope_organization_id), scope_key",
    )
    .await?
    .iter()
    .map(assignment)
    .collect::<Result<Vec<_>, StoreError>>()?;

    Ok(State {
        revision,
        organizations,
        accounts,
        directories,
        roles,
        users,
        groups,
        memberships,
        role_assignments,
    })
}

/// A directory row (`id, owner_organization_id, owner_account_id, mode`),
/// taking its domains out of `domains`.
pub(super) fn directory(
    r: &SqliteRow,
    domains: &mut HashMap<String, Vec<String>>,
) -> Result<Directory, StoreError> {
    let id: String = col(r, "id")?;
    let owner = match (
        col::<Option<String>>(r, "owner_organization_id")?,
        col::<Option<String>>(r, "owner_account_id")?,
    ) {
        (Some(o), None) => Owner::Organization(OrganizationId::new_unchecked(o)),
        (None, Some(a)) => Owner::Account(AccountId::new_unchecked(a)),
        _ => return Err(corrupt(format!("owner of directory `{id}`"))),
    };
    let mode: String = col(r, "mode")?;
    let mode = Mode::parse(&mode).ok_or_else(|| corrupt(format!("mode of directory `{id}`")))?;
    Ok(Directory {
        domains: domains.remove(&id).unwrap_or_default(),
        id: DirectoryId::new_unchecked(id),
        owner,
        mode,
    })
}

pub(super) use crate::store::shared::permission;

pub(super) fn assignment(r: &SqliteRow) -> Result<RoleAssignment, StoreError> {
    let directory: String = col(r, "directory_id")?;
    let subject = match (
        col::<Option<String>>(r, "subject_group_id")?,
        col::<Option<String>>(r, "subject_user_id")?,
    ) {
        (Some(g), None) => Subject::Group(GroupId::new_unchecked(g)),
        (None, Some(u)) => Subject::User(UserId::new_unchecked(u)),
        _ => {
            return Err(corrupt(format!(
                "role assignment subject in directory `{directory}`"
            )));
        }
    };
    let kind: String = col(r, "scope_kind")?;
    let account: Option<String> = col(r, "scope_account_id")?;
    let organization: Option<String> = col(r, "scope_organization_id")?;
    let key: String = col(r, "scope_key")?;
    let scope = match (kind.as_str(), account, organization) {
        ("account", Some(a), None) => Scope::Account(AccountId::new_unchecked(a)),
        ("organization", None, Some(o)) => Scope::Organization(OrganizationId::new_unchecked(o)),
        ("organization_accounts", None, Some(o)) => {
            let accounts: Vec<String> = serde_json::from_str(&key).map_err(|_| {
                corrupt(format!("role assignment scope in directory `{directory}`"))
            })?;
            Scope::OrganizationAccounts {
                organization: OrganizationId::new_unchecked(o),
                accounts: accounts.into_iter().map(AccountId::new_unchecked).collect(),
            }
        }
        _ => {
            return Err(corrupt(format!(
                "role assignment scope in directory `{directory}`"
            )));
        }
    };
    Ok(RoleAssignment {
        directory: DirectoryId::new_unchecked(directory),
        subject,
        role: RoleName::new_unchecked(col::<String>(r, "role_name")?),
        scope,
    })
}
