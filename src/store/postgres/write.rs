//! Loading the rows an import can touch into a [`World`], and writing back
//! the rows [`import::apply`](crate::store::import::apply) marked.

use std::collections::{BTreeSet, HashMap};

use sqlx::PgConnection;
use sqlx::postgres::PgRow;

use super::db_error;
use super::read::col;
use crate::datafile::DataFile;
use crate::model::{AccountId, Mode, OrganizationId, Owner};
use crate::store::StoreError;
use crate::store::import::{
    self, AccountRow, AssignmentKey, DirectoryRow, GroupRow, Mark, MemberRef, OrganizationRow,
    RoleRow, ScopeRef, SubjectRef, UserRow, World,
};
use crate::store::shared::corrupt;

async fn fetch(
    conn: &mut PgConnection,
    sql: &'static str,
    directory: Option<&str>,
) -> Result<Vec<PgRow>, StoreError> {
    let mut q = sqlx::query(sql);
    if let Some(d) = directory {
        q = q.bind(d.to_owned());
    }
    q.fetch_all(conn)
        .await
        .map_err(db_error("cannot read the store"))
}

/// Loads what an import of `file` can touch, inside its write transaction.
pub(super) async fn load_world(
    conn: &mut PgConnection,
    file: &DataFile,
) -> Result<World, StoreError> {
    let mut w = World::default();

    for r in fetch(conn, "SELECT id, name FROM organizations", None).await? {
        let row = OrganizationRow {
            name: col(&r, "name")?,
            mark: Mark::Unchanged,
        };
        w.organizations.insert(col(&r, "id")?, row);
    }
    for r in fetch(conn, "SELECT id, name, organization_id FROM accounts", None).await? {
        let row = AccountRow {
            name: col(&r, "name")?,
            organization: col(&r, "organization_id")?,
            mark: Mark::Unchanged,
        };
        w.accounts.insert(col(&r, "id")?, row);
    }
    let mut domains: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in fetch(
        conn,
        "SELECT directory_id, domain FROM directory_domains",
        None,
    )
    .await?
    {
        domains
            .entry(col(&r, "directory_id")?)
            .or_default()
            .insert(col(&r, "domain")?);
    }
    for r in fetch(
        conn,
        "SELECT id, owner_organization_id, owner_account_id, mode FROM directories",
        None,
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        let owner = match (
            col::<Option<String>>(&r, "owner_organization_id")?,
            col::<Option<String>>(&r, "owner_account_id")?,
        ) {
            (Some(o), None) => Owner::Organization(OrganizationId::new_unchecked(o)),
            (None, Some(a)) => Owner::Account(AccountId::new_unchecked(a)),
            _ => return Err(corrupt(format!("owner of directory `{id}`"))),
        };
        let mode: String = col(&r, "mode")?;
        let row = DirectoryRow {
            owner,
            domains: domains.remove(&id).unwrap_or_default(),
            mode: Mode::parse(&mode).ok_or_else(|| corrupt(format!("mode of directory `{id}`")))?,
            mark: Mark::Unchanged,
        };
        w.directories.insert(id, row);
    }
    let mut permissions: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in fetch(
        conn,
        "SELECT role_name, permission FROM role_permissions",
        None,
    )
    .await?
    {
        permissions
            .entry(col(&r, "role_name")?)
            .or_default()
            .insert(col(&r, "permission")?);
    }
    for r in fetch(conn, "SELECT name, description, builtin FROM roles", None).await? {
        let name: String = col(&r, "name")?;
        let row = RoleRow {
            description: col(&r, "description")?,
            permissions: permissions.remove(&name).unwrap_or_default(),
            builtin: col(&r, "builtin")?,
            mark: Mark::Unchanged,
        };
        w.roles.insert(name, row);
    }

    let named = import::directories_named(file);
    for dir in named {
        if w.directories.contains_key(dir) {
            load_directory(conn, &mut w, dir).await?;
        }
    }

    let (user_ids, group_ids) = import::ids_named(file);
    let user_ids: Vec<&str> = user_ids
        .into_iter()
        .filter(|id| !w.users.contains_key(*id))
        .collect();
    for id in user_ids {
        let dir: Option<String> =
            sqlx::query_scalar("SELECT directory_id FROM users WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error("cannot read the store"))?;
        if let Some(dir) = dir {
            w.other_user_ids.insert(id.to_owned(), dir);
        }
    }
    let group_ids: Vec<&str> = group_ids
        .into_iter()
        .filter(|id| !w.groups.contains_key(*id))
        .collect();
    for id in group_ids {
        let dir: Option<String> =
            sqlx::query_scalar("SELECT directory_id FROM groups WHERE id = $1")
                .bind(id.to_owned())
                .fetch_optional(&mut *conn)
                .await
                .map_err(db_error("cannot read the store"))?;
        if let Some(dir) = dir {
            w.other_group_ids.insert(id.to_owned(), dir);
        }
    }
    Ok(w)
}

/// Loads the users, groups (with members) and role assignments of `dir`.
async fn load_directory(
    conn: &mut PgConnection,
    w: &mut World,
    dir: &str,
) -> Result<(), StoreError> {
    for r in fetch(
        conn,
        "SELECT id, user_name, external_id, active, emails FROM users WHERE directory_id = $1",
        Some(dir),
    )
    .await?
    {
        let row = UserRow {
            directory: dir.to_owned(),
            user_name: col(&r, "user_name")?,
            external_id: col(&r, "external_id")?,
            active: col(&r, "active")?,
            emails: col(&r, "emails")?,
            mark: Mark::Unchanged,
            renamed: false,
        };
        w.users.insert(col(&r, "id")?, row);
    }
    let mut members: HashMap<String, BTreeSet<MemberRef>> = HashMap::new();
    for r in fetch(
        conn,
        "SELECT m.group_id, m.member_user_id, m.member_group_id \
         FROM group_members m JOIN groups g ON g.id = m.group_id WHERE g.directory_id = $1",
        Some(dir),
    )
    .await?
    {
        let group: String = col(&r, "group_id")?;
        let member = match (
            col::<Option<String>>(&r, "member_user_id")?,
            col::<Option<String>>(&r, "member_group_id")?,
        ) {
            (Some(u), None) => MemberRef::User(u),
            (None, Some(g)) => MemberRef::Group(g),
            _ => return Err(corrupt(format!("member of group `{group}`"))),
        };
        members.entry(group).or_default().insert(member);
    }
    for r in fetch(
        conn,
        "SELECT id, display_name, external_id FROM groups WHERE directory_id = $1",
        Some(dir),
    )
    .await?
    {
        let id: String = col(&r, "id")?;
        let m = members.remove(&id).unwrap_or_default();
        let row = GroupRow {
            directory: dir.to_owned(),
            display_name: col(&r, "display_name")?,
            external_id: col(&r, "external_id")?,
            members: m.clone(),
            members_before: m,
            mark: Mark::Unchanged,
            renamed: false,
        };
        w.groups.insert(id, row);
    }
    for r in fetch(
        conn,
        "SELECT subject_group_id, subject_user_id, role_name, scope_kind, scope_account_id, \
                scope_organization_id, scope_key \
         FROM role_assignments WHERE directory_id = $1",
        Some(dir),
    )
    .await?
    {
        let bad = || corrupt(format!("role assignment in directory `{dir}`"));
        let subject = match (
            col::<Option<String>>(&r, "subject_group_id")?,
            col::<Option<String>>(&r, "subject_user_id")?,
        ) {
            (Some(g), None) => SubjectRef::Group(g),
            (None, Some(u)) => SubjectRef::User(u),
            _ => return Err(bad()),
        };
        let kind: String = col(&r, "scope_kind")?;
        let scope = match (
            kind.as_str(),
            col::<Option<String>>(&r, "scope_account_id")?,
            col::<Option<String>>(&r, "scope_organization_id")?,
        ) {
            ("account", Some(a), None) => ScopeRef::Account(a),
            ("organization", None, Some(o)) => ScopeRef::Organization(o),
            ("organization_accounts", None, Some(o)) => {
                let key: String = col(&r, "scope_key")?;
                ScopeRef::OrganizationAccounts(o, serde_json::from_str(&key).map_err(|_| bad())?)
            }
            _ => return Err(bad()),
        };
        let key = AssignmentKey {
            directory: dir.to_owned(),
            subject,
            role: col(&r, "role_name")?,
            scope,
        };
        w.assignments.insert(key, Mark::Unchanged);
    }
    Ok(())
}

fn changed(mark: Mark) -> bool {
    mark != Mark::Unchanged
}

/// Writes the rows of `w` that the import created or changed.
pub(super) async fn write_world(
    conn: &mut PgConnection,
    w: &World,
    now: i64,
) -> Result<(), StoreError> {
    let err = db_error("cannot write the import");

    for (id, o) in w
        .organizations
        .iter()
        .filter(|(_, o)| changed(o.mark))
        .collect::<Vec<_>>()
    {
        sqlx::query(
            "INSERT INTO organizations (id, name, created_ms, updated_ms) VALUES ($1, $2, $3, $3) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, updated_ms = excluded.updated_ms",
        )
        .bind(id.clone())
        .bind(o.name.clone())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(&err)?;
    }

    for (id, a) in w
        .accounts
        .iter()
        .filter(|(_, a)| changed(a.mark))
        .collect::<Vec<_>>()
    {
        sqlx::query(
            "INSERT INTO accounts (id, name, organization_id, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (id) DO UPDATE SET name = excluded.name, organization_id = excluded.organization_id, \
             updated_ms = excluded.updated_ms",
        )
        .bind(id.clone())
        .bind(a.name.clone())
        .bind(a.organization.clone())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(&err)?;
    }

    for (id, d) in w
        .directories
        .iter()
        .filter(|(_, d)| changed(d.mark))
        .collect::<Vec<_>>()
    {
        let (org, acct) = match &d.owner {
            Owner::Organization(o) => (Some(o.as_str().to_owned()), None),
            Owner::Account(a) => (None, Some(a.as_str().to_owned())),
        };
        sqlx::query(
            "INSERT INTO directories (id, owner_organization_id, owner_account_id, mode, created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (id) DO UPDATE SET mode = excluded.mode, updated_ms = excluded.updated_ms",
        )
        .bind(id.clone())
        .bind(org)
        .bind(acct)
        .bind(d.mode.as_str())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(&err)?;
        sqlx::query("DELETE FROM directory_domains WHERE directory_id = $1")
            .bind(id.clone())
            .execute(&mut *conn)
            .await
            .map_err(&err)?;
        for domain in &d.domains {
            sqlx::query("INSERT INTO directory_domains (directory_id, domain) VALUES ($1, $2)")
                .bind(id.clone())
                .bind(domain.clone())
                .execute(&mut *conn)
                .await
                .map_err(&err)?;
        }
    }

    for (name, r) in w
        .roles
        .iter()
        .filter(|(_, r)| changed(r.mark))
        .collect::<Vec<_>>()
    {
        sqlx::query(
            "INSERT INTO roles (name, description, builtin, created_ms, updated_ms) VALUES ($1, $2, $3, $4, $4) \
             ON CONFLICT (name) DO UPDATE SET description = excluded.description, builtin = excluded.builtin, \
             updated_ms = excluded.updated_ms",
        )
        .bind(name.clone())
        .bind(r.description.clone())
        .bind(r.builtin)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(&err)?;
        sqlx::query("DELETE FROM role_permissions WHERE role_name = $1")
            .bind(name.clone())
            .execute(&mut *conn)
            .await
            .map_err(&err)?;
        for p in &r.permissions {
            sqlx::query("INSERT INTO role_permissions (role_name, permission) VALUES ($1, $2)")
                .bind(name.clone())
                .bind(p.clone())
                .execute(&mut *conn)
                .await
                .map_err(&err)?;
        }
    }

    // A renamed user or group first takes a placeholder folded name that no
    // real name can have (a control character), so that names may pass from
    // one row to another within the import without tripping the UNIQUE key.
    for (id, _) in w
        .users
        .iter()
        .filter(|(_, u)| u.renamed)
        .collect::<Vec<_>>()
    {
        sqlx::query("UPDATE users SET user_name_folded = chr(1) || id WHERE id = $1")
            .bind(id.clone())
            .execute(&mut *conn)
            .await
            .map_err(&err)?;
    }
    crate::store::bulk::write_users::<sqlx::Postgres>(conn, w, now, &err).await?;

    for (id, _) in w
        .groups
        .iter()
        .filter(|(_, g)| g.renamed)
        .collect::<Vec<_>>()
    {
        sqlx::query("UPDATE groups SET display_name_folded = chr(1) || id WHERE id = $1")
            .bind(id.clone())
            .execute(&mut *conn)
            .await
            .map_err(&err)?;
    }
    for (id, g) in w
        .groups
        .iter()
        .filter(|(_, g)| changed(g.mark))
        .collect::<Vec<_>>()
    {
        sqlx::query(
            "INSERT INTO groups (id, directory_id, display_name, display_name_folded, external_id, \
                                 created_ms, updated_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) \
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, \
                 display_name_folded = excluded.display_name_folded, external_id = excluded.external_id, \
                 scim_document = NULL, version = groups.version + 1, updated_ms = excluded.updated_ms",
        )
        .bind(id.clone())
        .bind(g.directory.clone())
        .bind(g.display_name.clone())
        .bind(crate::model::fold_user_name(&g.display_name))
        .bind(g.external_id.clone())
        .bind(now)
        .execute(&mut *conn)
        .await
        .map_err(&err)?;
    }

    for (id, g) in w
        .groups
        .iter()
        .filter(|(_, g)| g.members_changed())
        .collect::<Vec<_>>()
    {
        for m in g.members_before.difference(&g.members) {
            let (sql, member) = match m {
                MemberRef::User(u) => (
                    "DELETE FROM group_members WHERE group_id = $1 AND member_user_id = $2",
                    u,
                ),
                MemberRef::Group(c) => (
                    "DELETE FROM group_members WHERE group_id = $1 AND member_group_id = $2",
                    c,
                ),
            };
            sqlx::query(sql)
                .bind(id.clone())
                .bind(member.clone())
                .execute(&mut *conn)
                .await
                .map_err(&err)?;
        }
    }
    crate::store::bulk::add_memberships::<sqlx::Postgres>(conn, w, &err).await?;

    for (key, _) in w
        .assignments
        .iter()
        .filter(|(_, m)| changed(**m))
        .collect::<Vec<_>>()
    {
        let (group, user) = match &key.subject {
            SubjectRef::Group(g) => (Some(g.clone()), None),
            SubjectRef::User(u) => (None, Some(u.clone())),
        };
        let (account, organization) = match &key.scope {
            ScopeRef::Account(a) => (Some(a.clone()), None),
            ScopeRef::Organization(o) | ScopeRef::OrganizationAccounts(o, _) => {
                (None, Some(o.clone()))
            }
        };
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO role_assignments (directory_id, subject_group_id, subject_user_id, role_name, scope_kind, \
                                           scope_account_id, scope_organization_id, scope_key, created_ms) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(key.directory.clone())
        .bind(group)
        .bind(user)
        .bind(key.role.clone())
        .bind(key.scope.kind())
        .bind(account)
        .bind(organization)
        .bind(key.scope.key())
        .bind(now)
        .fetch_one(&mut *conn)
        .await
        .map_err(&err)?;
        if let ScopeRef::OrganizationAccounts(_, accounts) = &key.scope {
            for a in accounts {
                sqlx::query("INSERT INTO role_assignment_accounts (assignment_id, account_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(a.clone())
                    .execute(&mut *conn)
                    .await
                    .map_err(&err)?;
            }
        }
    }
    Ok(())
}
