//! SCIM users and groups, and the directory settings the SCIM edge reads.
//!
//! The writes run inside the caller's `BEGIN IMMEDIATE` transaction and end by
//! bumping the revision (one change-log row each); they return whether they
//! wrote anything, so that the caller commits or rolls back. Every statement
//! names the directory: another directory's ids are simply not found.
//!
//! Member lists travel as one JSON array bound to one parameter and unpacked
//! by `json_each`, so adding 10,000 members is three statements, not 10,000.

use serde_json::{Value, json};
use sqlx::sqlite::SqliteRow;
use sqlx::{AssertSqlSafe, SqliteConnection};

use super::read::col;
use super::{bump_revision, current_revision, db_error, fold_email, new_scim_id};
use crate::model::{DirectoryId, Mode, Revision, fold_user_name};
use crate::store::StoreError;
use crate::store::scim::{
    DirectoryInfo, GroupLookup, GroupRecord, GroupWrite, MemberKind, MemberRecord, MembersChange,
    UserLookup, UserRecord, UserWrite, Written,
};
use crate::store::shared::{
    check_version, corrupt, detail, document_of, document_text, email_values, emails_column,
    id_list, not_found, version_of,
};

const USER_COLUMNS: &str = "users.id, users.directory_id, users.user_name, users.external_id, \
                            users.display_name, users.active, users.emails, users.scim_document, \
                            users.version, users.created_ms, users.updated_ms";

const GROUP_COLUMNS: &str = "groups.id, groups.directory_id, groups.display_name, \
                             groups.external_id, groups.scim_document, groups.version, \
                             groups.created_ms, groups.updated_ms, \
                             (SELECT count(*) FROM group_members m WHERE m.group_id = groups.id) \
                             AS member_count";

fn read_error() -> impl Fn(sqlx::Error) -> StoreError {
    db_error("cannot read the directory")
}

fn write_error() -> impl Fn(sqlx::Error) -> StoreError {
    db_error("cannot write the directory")
}

/// Makes `user_emails` hold exactly the (folded) `emails` of a user.
pub(super) async fn index_emails(
    conn: &mut SqliteConnection,
    user_id: &str,
    dir: &str,
    emails: &[String],
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM user_emails WHERE user_id = ?")
        .bind(user_id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(db_error("cannot index emails"))?;
    if emails.is_empty() {
        return Ok(());
    }
    let folded: Vec<String> = emails.iter().map(|e| fold_email(e)).collect();
    sqlx::query(
        "INSERT OR IGNORE INTO user_emails (user_id, directory_id, value_folded) \
         SELECT ?1, ?2, value FROM json_each(?3)",
    )
    .bind(user_id.to_owned())
    .bind(dir.to_owned())
    .bind(Value::from(folded).to_string())
    .execute(&mut *conn)
    .await
    .map_err(db_error("cannot index emails"))?;
    Ok(())
}

/// Fills `user_emails` for every user: once, for a database made before
/// schema version 2.
pub(super) async fn index_all_emails(conn: &mut SqliteConnection) -> Result<(), StoreError> {
    let rows = sqlx::query("SELECT id, directory_id, emails FROM users WHERE emails <> '[]'")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("cannot index emails"))?;
    for r in rows {
        let id: String = col(&r, "id")?;
        let dir: String = col(&r, "directory_id")?;
        let emails = email_values(&col::<String>(&r, "emails")?)?;
        index_emails(conn, &id, &dir, &emails).await?;
    }
    Ok(())
}

async fn require_directory(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<(), StoreError> {
    let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM directories WHERE id = ?")
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    found
        .map(|_| ())
        .ok_or_else(|| not_found("directory", dir.as_str()))
}

// --- directories ---------------------------------------------------------

pub(super) async fn directory(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<Option<DirectoryInfo>, StoreError> {
    let Some(row) = sqlx::query("SELECT mode, enforce_domains FROM directories WHERE id = ?")
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?
    else {
        return Ok(None);
    };
    let mode: String = col(&row, "mode")?;
    let mode = Mode::parse(&mode)
        .ok_or_else(|| corrupt(format!("mode of directory `{}`", dir.as_str())))?;
    let domains: Vec<String> = sqlx::query_scalar(
        "SELECT domain FROM directory_domains WHERE directory_id = ? ORDER BY domain",
    )
    .bind(dir.as_str().to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    Ok(Some(DirectoryInfo {
        id: dir.clone(),
        domains,
        mode,
        enforce_domains: col(&row, "enforce_domains")?,
    }))
}

/// Sets a directory's domain enforcement; writes nothing when it is set
/// already.
pub(super) async fn set_domain_enforcement(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    enforce: bool,
    now: i64,
) -> Result<(Revision, bool), StoreError> {
    let current: Option<bool> =
        sqlx::query_scalar("SELECT enforce_domains FROM directories WHERE id = ?")
            .bind(dir.as_str().to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(read_error())?;
    match current {
        None => return Err(not_found("directory", dir.as_str())),
        Some(c) if c == enforce => return Ok((current_revision(conn).await?, false)),
        Some(_) => {}
    }
    sqlx::query("UPDATE directories SET enforce_domains = ?, updated_ms = ? WHERE id = ?")
        .bind(enforce)
        .bind(now)
        .bind(dir.as_str().to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let detail = json!({"directory": dir.as_str(), "enforce_domains": enforce});
    let revision = bump_revision(
        conn,
        now,
        "admin.directory.enforce_domains",
        &detail.to_string(),
    )
    .await?;
    Ok((revision, true))
}

// --- users ---------------------------------------------------------------

fn user_record(r: &SqliteRow) -> Result<UserRecord, StoreError> {
    let id: String = col(r, "id")?;
    let emails = email_values(&col::<String>(r, "emails")?)?;
    let document = document_of(col(r, "scim_document")?, &format!("user `{id}`"))?;
    Ok(UserRecord {
        directory: DirectoryId::new_unchecked(col::<String>(r, "directory_id")?),
        user_name: col(r, "user_name")?,
        external_id: col(r, "external_id")?,
        display_name: col(r, "display_name")?,
        active: col(r, "active")?,
        emails,
        document,
        version: version_of(col(r, "version")?),
        created_ms: col(r, "created_ms")?,
        updated_ms: col(r, "updated_ms")?,
        id,
    })
}

async fn fetch_user(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
) -> Result<Option<(UserRecord, String)>, StoreError> {
    let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = ? AND directory_id = ?");
    let row = sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_owned())
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?;
    row.map(|r| Ok((user_record(&r)?, col(&r, "emails")?)))
        .transpose()
}

pub(super) async fn get_user(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
) -> Result<Option<UserRecord>, StoreError> {
    Ok(fetch_user(conn, dir, id).await?.map(|(u, _)| u))
}

pub(super) async fn find_users(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    lookup: &UserLookup,
) -> Result<Vec<UserRecord>, StoreError> {
    // The email lookup starts from `user_emails` (CROSS JOIN keeps SQLite
    // from walking every user of the directory in creation order instead).
    let (from, condition, value) = match lookup {
        UserLookup::All | UserLookup::Page { .. } => ("users", "", None),
        UserLookup::Id(id) => ("users", "AND id = ?2", Some(id.clone())),
        UserLookup::UserName(n) => (
            "users",
            "AND user_name_folded = ?2",
            Some(fold_user_name(n)),
        ),
        UserLookup::ExternalId(e) => ("users", "AND external_id = ?2", Some(e.clone())),
        UserLookup::Email(e) => (
            "user_emails e CROSS JOIN users",
            "AND e.directory_id = ?1 AND e.value_folded = ?2 AND users.id = e.user_id",
            Some(fold_email(e)),
        ),
    };
    let page = match lookup {
        UserLookup::Page { offset, limit } => format!(" LIMIT {limit} OFFSET {offset}"),
        _ => String::new(),
    };
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM {from} WHERE users.directory_id = ?1 {condition} \
         ORDER BY users.created_ms, users.id{page}"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(dir.as_str().to_owned());
    if let Some(v) = value {
        q = q.bind(v);
    }
    q.fetch_all(&mut *conn)
        .await
        .map_err(read_error())?
        .iter()
        .map(user_record)
        .collect()
}

/// How many users `dir` has.
pub(super) async fn count_users(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
) -> Result<u64, StoreError> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE directory_id = ?")
        .bind(dir.as_str())
        .fetch_one(&mut *conn)
        .await
        .map_err(read_error())?;
    Ok(n.max(0) as u64)
}

/// `Conflict` when another user of `dir` has this userName (folded).
async fn user_name_free(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    user_name: &str,
    except: Option<&str>,
) -> Result<String, StoreError> {
    let folded = fold_user_name(user_name);
    let holder: Option<String> =
        sqlx::query_scalar("SELECT id FROM users WHERE directory_id = ? AND user_name_folded = ?")
            .bind(dir.as_str().to_owned())
            .bind(folded.clone())
            .fetch_optional(&mut *conn)
            .await
            .map_err(read_error())?;
    match holder {
        Some(h) if Some(h.as_str()) != except => Err(StoreError::Conflict {
            attribute: "userName".to_owned(),
            message: format!("a user with userName `{user_name}` already exists in this directory"),
        }),
        _ => Ok(folded),
    }
}

pub(super) async fn create_user(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    user: UserWrite,
    now: i64,
) -> Result<Written<UserRecord>, StoreError> {
    require_directory(conn, dir).await?;
    let folded = user_name_free(conn, dir, &user.user_name, None).await?;
    let id = new_scim_id().map_err(StoreError::Database)?;
    sqlx::query(
        "INSERT INTO users (id, directory_id, user_name, user_name_folded, external_id, display_name, \
                            active, emails, scim_document, version, created_ms, updated_ms) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
    )
    .bind(id.clone())
    .bind(dir.as_str().to_owned())
    .bind(user.user_name.clone())
    .bind(folded)
    .bind(user.external_id.clone())
    .bind(user.display_name.clone())
    .bind(user.active)
    .bind(emails_column(&user.emails, &user.document))
    .bind(document_text(&user.document))
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    index_emails(conn, &id, dir.as_str(), &user.emails).await?;
    let revision =
        bump_revision(conn, now, "scim.user.create", &detail(dir, &id).to_string()).await?;
    Ok(Written {
        record: UserRecord {
            id,
            directory: dir.clone(),
            user_name: user.user_name,
            external_id: user.external_id,
            display_name: user.display_name,
            active: user.active,
            emails: user.emails,
            document: user.document,
            version: 1,
            created_ms: now,
            updated_ms: now,
        },
        revision,
        skipped_members: Vec::new(),
    })
}

/// Replaces a user; writes nothing (and returns the user as it is) when the
/// write would change nothing.
pub(super) async fn replace_user(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
    user: UserWrite,
    if_version: Option<u64>,
    now: i64,
) -> Result<(Written<UserRecord>, bool), StoreError> {
    let (current, current_emails) = fetch_user(conn, dir, id)
        .await?
        .ok_or_else(|| not_found("user", id))?;
    check_version(if_version, current.version)?;
    let folded = user_name_free(conn, dir, &user.user_name, Some(id)).await?;
    let emails = emails_column(&user.emails, &user.document);
    if current.user_name == user.user_name
        && current.external_id == user.external_id
        && current.display_name == user.display_name
        && current.active == user.active
        && current_emails == emails
        && current.document == user.document
    {
        let revision = current_revision(conn).await?;
        return Ok((
            Written {
                record: current,
                revision,
                skipped_members: Vec::new(),
            },
            false,
        ));
    }
    sqlx::query(
        "UPDATE users SET user_name = ?, user_name_folded = ?, external_id = ?, display_name = ?, \
                          active = ?, emails = ?, scim_document = ?, version = version + 1, \
                          updated_ms = ? \
         WHERE id = ?",
    )
    .bind(user.user_name.clone())
    .bind(folded)
    .bind(user.external_id.clone())
    .bind(user.display_name.clone())
    .bind(user.active)
    .bind(emails.clone())
    .bind(document_text(&user.document))
    .bind(now)
    .bind(id.to_owned())
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    if emails != current_emails {
        index_emails(conn, id, dir.as_str(), &user.emails).await?;
    }
    let revision =
        bump_revision(conn, now, "scim.user.replace", &detail(dir, id).to_string()).await?;
    Ok((
        Written {
            record: UserRecord {
                id: current.id,
                directory: current.directory,
                user_name: user.user_name,
                external_id: user.external_id,
                display_name: user.display_name,
                active: user.active,
                emails: user.emails,
                document: user.document,
                version: current.version + 1,
                created_ms: current.created_ms,
                updated_ms: now,
            },
            revision,
            skipped_members: Vec::new(),
        },
        true,
    ))
}

/// Deletes a user; the foreign keys take its memberships, role assignments
/// and indexed emails with it.
pub(super) async fn delete_user(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
    if_version: Option<u64>,
    now: i64,
) -> Result<Revision, StoreError> {
    let version: i64 =
        sqlx::query_scalar("SELECT version FROM users WHERE id = ? AND directory_id = ?")
            .bind(id.to_owned())
            .bind(dir.as_str().to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(read_error())?
            .ok_or_else(|| not_found("user", id))?;
    check_version(if_version, version_of(version))?;
    sqlx::query("DELETE FROM users WHERE id = ?")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    bump_revision(conn, now, "scim.user.delete", &detail(dir, id).to_string()).await
}

pub(super) async fn user_groups(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows = sqlx::query(
        "SELECT g.id, g.display_name FROM group_members m CROSS JOIN groups g \
         WHERE m.member_user_id = ? AND g.id = m.group_id AND g.directory_id = ? \
         ORDER BY g.display_name_folded, g.id",
    )
    .bind(id.to_owned())
    .bind(dir.as_str().to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    rows.iter()
        .map(|r| Ok((col(r, "id")?, col(r, "display_name")?)))
        .collect()
}

// --- groups --------------------------------------------------------------

fn group_record(r: &SqliteRow) -> Result<GroupRecord, StoreError> {
    let id: String = col(r, "id")?;
    let document = document_of(col(r, "scim_document")?, &format!("group `{id}`"))?;
    Ok(GroupRecord {
        directory: DirectoryId::new_unchecked(col::<String>(r, "directory_id")?),
        display_name: col(r, "display_name")?,
        external_id: col(r, "external_id")?,
        document,
        version: version_of(col(r, "version")?),
        created_ms: col(r, "created_ms")?,
        updated_ms: col(r, "updated_ms")?,
        members: None,
        member_count: version_of(col(r, "member_count")?),
        id,
    })
}

async fn members_of(
    conn: &mut SqliteConnection,
    group_id: &str,
) -> Result<Vec<MemberRecord>, StoreError> {
    let rows = sqlx::query(
        "SELECT 0 AS kind, u.id, coalesce(u.display_name, u.user_name) AS display \
         FROM group_members m JOIN users u ON u.id = m.member_user_id \
         WHERE m.group_id = ?1 AND m.member_user_id IS NOT NULL \
         UNION ALL \
         SELECT 1 AS kind, g.id, g.display_name AS display \
         FROM group_members m JOIN groups g ON g.id = m.member_group_id \
         WHERE m.group_id = ?1 AND m.member_group_id IS NOT NULL \
         ORDER BY kind, id",
    )
    .bind(group_id.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    rows.iter()
        .map(|r| {
            Ok(MemberRecord {
                kind: if col::<i64>(r, "kind")? == 0 {
                    MemberKind::User
                } else {
                    MemberKind::Group
                },
                id: col(r, "id")?,
                display: col(r, "display")?,
            })
        })
        .collect()
}

async fn with_members(
    conn: &mut SqliteConnection,
    mut group: GroupRecord,
    members: bool,
) -> Result<GroupRecord, StoreError> {
    if members {
        group.members = Some(members_of(conn, &group.id).await?);
    }
    Ok(group)
}

async fn fetch_group(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
) -> Result<Option<GroupRecord>, StoreError> {
    let sql = format!("SELECT {GROUP_COLUMNS} FROM groups WHERE id = ? AND directory_id = ?");
    sqlx::query(AssertSqlSafe(sql))
        .bind(id.to_owned())
        .bind(dir.as_str().to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(read_error())?
        .map(|r| group_record(&r))
        .transpose()
}

pub(super) async fn get_group(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
    members: bool,
) -> Result<Option<GroupRecord>, StoreError> {
    match fetch_group(conn, dir, id).await? {
        Some(g) => Ok(Some(with_members(conn, g, members).await?)),
        None => Ok(None),
    }
}

pub(super) async fn find_groups(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    lookup: &GroupLookup,
    members: bool,
) -> Result<Vec<GroupRecord>, StoreError> {
    // The member lookup starts from `group_members` (see `find_users`).
    let (from, condition, value) = match lookup {
        GroupLookup::All => ("groups", "", None),
        GroupLookup::Id(id) => ("groups", "AND id = ?2", Some(id.clone())),
        GroupLookup::DisplayName(n) => (
            "groups",
            "AND display_name_folded = ?2",
            Some(fold_user_name(n)),
        ),
        GroupLookup::ExternalId(e) => ("groups", "AND external_id = ?2", Some(e.clone())),
        GroupLookup::Member(m) => (
            "group_members gm CROSS JOIN groups",
            "AND (gm.member_user_id = ?2 OR gm.member_group_id = ?2) AND groups.id = gm.group_id",
            Some(m.clone()),
        ),
    };
    let sql = format!(
        "SELECT {GROUP_COLUMNS} FROM {from} WHERE groups.directory_id = ?1 {condition} \
         ORDER BY groups.created_ms, groups.id"
    );
    let mut q = sqlx::query(AssertSqlSafe(sql)).bind(dir.as_str().to_owned());
    if let Some(v) = value {
        q = q.bind(v);
    }
    let groups = q
        .fetch_all(&mut *conn)
        .await
        .map_err(read_error())?
        .iter()
        .map(group_record)
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        out.push(with_members(conn, g, members).await?);
    }
    Ok(out)
}

/// `Conflict` when another group of `dir` has this displayName (folded).
async fn display_name_free(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    display_name: &str,
    except: Option<&str>,
) -> Result<String, StoreError> {
    let folded = fold_user_name(display_name);
    let holder: Option<String> = sqlx::query_scalar(
        "SELECT id FROM groups WHERE directory_id = ? AND display_name_folded = ?",
    )
    .bind(dir.as_str().to_owned())
    .bind(folded.clone())
    .fetch_optional(&mut *conn)
    .await
    .map_err(read_error())?;
    match holder {
        Some(h) if Some(h.as_str()) != except => Err(StoreError::Conflict {
            attribute: "displayName".to_owned(),
            message: format!(
                "a group with displayName `{display_name}` already exists in this directory"
            ),
        }),
        _ => Ok(folded),
    }
}

/// The ids of `ids` (a JSON array) that are neither a user nor a group of
/// `dir` other than `group_id` itself, in the order given, without repeats.
async fn unknown_members(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    group_id: &str,
    ids: &str,
) -> Result<Vec<String>, StoreError> {
    let unknown: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(j.value AS TEXT) FROM json_each(?1) j \
         WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = j.value AND u.directory_id = ?2) \
           AND NOT EXISTS (SELECT 1 FROM groups g \
                           WHERE g.id = j.value AND g.directory_id = ?2 AND g.id <> ?3) \
         ORDER BY j.key",
    )
    .bind(ids.to_owned())
    .bind(dir.as_str().to_owned())
    .bind(group_id.to_owned())
    .fetch_all(&mut *conn)
    .await
    .map_err(read_error())?;
    let mut seen = std::collections::HashSet::new();
    Ok(unknown
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect())
}

/// Adds the users and groups of `dir` named in `ids` (a JSON array) to the
/// group, except the group itself; returns how many were not members yet. An
/// id that is both a user's and a group's is taken as the user's.
async fn add_members(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    group_id: &str,
    ids: &str,
) -> Result<u64, StoreError> {
    let users = sqlx::query(
        "INSERT OR IGNORE INTO group_members (group_id, member_user_id) \
         SELECT ?1, u.id FROM json_each(?2) j CROSS JOIN users u \
         WHERE u.id = j.value AND u.directory_id = ?3",
    )
    .bind(group_id.to_owned())
    .bind(ids.to_owned())
    .bind(dir.as_str().to_owned())
    .execute(&mut *conn)
    .await
    .map_err(write_error())?
    .rows_affected();
    let groups = sqlx::query(
        "INSERT OR IGNORE INTO group_members (group_id, member_group_id) \
         SELECT ?1, g.id FROM json_each(?2) j CROSS JOIN groups g \
         WHERE g.id = j.value AND g.directory_id = ?3 AND g.id <> ?1 \
           AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = g.id AND u.directory_id = ?3)",
    )
    .bind(group_id.to_owned())
    .bind(ids.to_owned())
    .bind(dir.as_str().to_owned())
    .execute(&mut *conn)
    .await
    .map_err(write_error())?
    .rows_affected();
    Ok(users + groups)
}

/// Removes the members named in `ids` (a JSON array); returns how many were.
async fn remove_members(
    conn: &mut SqliteConnection,
    group_id: &str,
    ids: &str,
) -> Result<u64, StoreError> {
    let mut removed = 0;
    for sql in [
        "DELETE FROM group_members WHERE group_id = ?1 \
         AND member_user_id IN (SELECT value FROM json_each(?2))",
        "DELETE FROM group_members WHERE group_id = ?1 \
         AND member_group_id IN (SELECT value FROM json_each(?2))",
    ] {
        removed += sqlx::query(sql)
            .bind(group_id.to_owned())
            .bind(ids.to_owned())
            .execute(&mut *conn)
            .await
            .map_err(write_error())?
            .rows_affected();
    }
    Ok(removed)
}

/// Removes the members not named in `ids` (a JSON array); returns how many.
async fn remove_members_except(
    conn: &mut SqliteConnection,
    group_id: &str,
    ids: &str,
) -> Result<u64, StoreError> {
    Ok(sqlx::query(
        "DELETE FROM group_members WHERE group_id = ?1 \
         AND ifnull(member_user_id, member_group_id) NOT IN (SELECT value FROM json_each(?2))",
    )
    .bind(group_id.to_owned())
    .bind(ids.to_owned())
    .execute(&mut *conn)
    .await
    .map_err(write_error())?
    .rows_affected())
}

pub(super) async fn create_group(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    group: GroupWrite,
    members: Vec<String>,
    now: i64,
) -> Result<Written<GroupRecord>, StoreError> {
    require_directory(conn, dir).await?;
    let folded = display_name_free(conn, dir, &group.display_name, None).await?;
    let id = new_scim_id().map_err(StoreError::Database)?;
    sqlx::query(
        "INSERT INTO groups (id, directory_id, display_name, display_name_folded, external_id, \
                             scim_document, version, created_ms, updated_ms) \
         VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
    )
    .bind(id.clone())
    .bind(dir.as_str().to_owned())
    .bind(group.display_name.clone())
    .bind(folded)
    .bind(group.external_id.clone())
    .bind(document_text(&group.document))
    .bind(now)
    .bind(now)
    .execute(&mut *conn)
    .await
    .map_err(write_error())?;
    let mut skipped = Vec::new();
    if !members.is_empty() {
        let ids = id_list(&members);
        skipped = unknown_members(conn, dir, &id, &ids).await?;
        add_members(conn, dir, &id, &ids).await?;
    }
    let mut d = detail(dir, &id);
    d["members_skipped"] = skipped.len().into();
    let revision = bump_revision(conn, now, "scim.group.create", &d.to_string()).await?;
    let record = fetch_group(conn, dir, &id)
        .await?
        .ok_or_else(|| not_found("group", &id))?;
    Ok(Written {
        record: with_members(conn, record, true).await?,
        revision,
        skipped_members: skipped,
    })
}

/// Updates a group's attributes and members; writes nothing (and returns
/// the group as it is) when the update would change nothing.
pub(super) async fn update_group(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
    group: Option<GroupWrite>,
    members: MembersChange,
    if_version: Option<u64>,
    now: i64,
) -> Result<(Written<GroupRecord>, bool), StoreError> {
    let current = fetch_group(conn, dir, id)
        .await?
        .ok_or_else(|| not_found("group", id))?;
    check_version(if_version, current.version)?;

    let mut attributes = false;
    if let Some(g) = group {
        let folded = display_name_free(conn, dir, &g.display_name, Some(id)).await?;
        if g.display_name != current.display_name
            || g.external_id != current.external_id
            || g.document != current.document
        {
            sqlx::query(
                "UPDATE groups SET display_name = ?, display_name_folded = ?, external_id = ?, \
                                   scim_document = ? \
                 WHERE id = ?",
            )
            .bind(g.display_name)
            .bind(folded)
            .bind(g.external_id)
            .bind(document_text(&g.document))
            .bind(id.to_owned())
            .execute(&mut *conn)
            .await
            .map_err(write_error())?;
            attributes = true;
        }
    }

    let mut skipped = Vec::new();
    let (mut added, mut removed) = (0, 0);
    if let Some(list) = &members.replace {
        let ids = id_list(list);
        skipped.extend(unknown_members(conn, dir, id, &ids).await?);
        removed += remove_members_except(conn, id, &ids).await?;
        added += add_members(conn, dir, id, &ids).await?;
    }
    if !members.add.is_empty() {
        let ids = id_list(&members.add);
        skipped.extend(unknown_members(conn, dir, id, &ids).await?);
        added += add_members(conn, dir, id, &ids).await?;
    }
    if !members.remove.is_empty() {
        let ids = id_list(&members.remove);
        skipped.extend(unknown_members(conn, dir, id, &ids).await?);
        removed += remove_members(conn, id, &ids).await?;
    }
    let mut seen = std::collections::HashSet::new();
    skipped.retain(|s| seen.insert(s.clone()));

    if !attributes && added == 0 && removed == 0 {
        let revision = current_revision(conn).await?;
        return Ok((
            Written {
                record: current,
                revision,
                skipped_members: skipped,
            },
            false,
        ));
    }
    sqlx::query("UPDATE groups SET version = version + 1, updated_ms = ? WHERE id = ?")
        .bind(now)
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    let mut d = detail(dir, id);
    d["members_added"] = added.into();
    d["members_removed"] = removed.into();
    d["members_skipped"] = skipped.len().into();
    let revision = bump_revision(conn, now, "scim.group.update", &d.to_string()).await?;
    let record = fetch_group(conn, dir, id)
        .await?
        .ok_or_else(|| not_found("group", id))?;
    Ok((
        Written {
            record,
            revision,
            skipped_members: skipped,
        },
        true,
    ))
}

/// Deletes a group; the foreign keys take its memberships (as a group and as
/// a member) and its role assignments with it.
pub(super) async fn delete_group(
    conn: &mut SqliteConnection,
    dir: &DirectoryId,
    id: &str,
    if_version: Option<u64>,
    now: i64,
) -> Result<Revision, StoreError> {
    let version: i64 =
        sqlx::query_scalar("SELECT version FROM groups WHERE id = ? AND directory_id = ?")
            .bind(id.to_owned())
            .bind(dir.as_str().to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(read_error())?
            .ok_or_else(|| not_found("group", id))?;
    check_version(if_version, version_of(version))?;
    sqlx::query("DELETE FROM groups WHERE id = ?")
        .bind(id.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(write_error())?;
    bump_revision(conn, now, "scim.group.delete", &detail(dir, id).to_string()).await
}
