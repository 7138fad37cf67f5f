//! The import's bulk writes, many rows a statement: users, their email index
//! rows and new memberships. A row a statement would make a round trip to
//! the database each (SQLite's own thread, PostgreSQL's socket), millions for
//! a large directory. The SQL is the same on both databases (placeholders
//! come from `QueryBuilder`), so it is written once, generic over the
//! database.

use sqlx::{Database, Encode, Executor, IntoArguments, QueryBuilder, Type};

use super::StoreError;
use super::import::{MemberRef, UserRow, World};
use super::shared::email_rows;

/// Rows one statement carries: 9 parameters a row at most keeps a statement
/// within SQLite's 32,766 and PostgreSQL's 65,535.
const ROWS_PER_STATEMENT: usize = 1000;

/// Upserts the users the import created or changed and replaces their email
/// index rows.
pub(crate) async fn write_users<DB: Database>(
    conn: &mut DB::Connection,
    w: &World,
    now: i64,
    err: impl Fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
    for<'a> String: Encode<'a, DB> + Type<DB>,
    for<'a> bool: Encode<'a, DB> + Type<DB>,
    for<'a> i64: Encode<'a, DB> + Type<DB>,
{
    let users: Vec<(&str, &UserRow)> = w.changed_users();
    for rows in users.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = QueryBuilder::<DB>::new(
            "INSERT INTO users (id, directory_id, user_name, user_name_folded, external_id, active, emails, \
                                created_ms, updated_ms) ",
        );
        upsert.push_values(rows, |mut row, (id, u)| {
            row.push_bind(*id)
                .push_bind(u.directory.as_str())
                .push_bind(u.user_name.as_str())
                .push_bind(crate::model::fold_user_name(&u.user_name))
                .push_bind(u.external_id.as_deref())
                .push_bind(u.active)
                .push_bind(u.emails.as_str())
                .push_bind(now)
                .push_bind(now);
        });
        upsert.push(
            " ON CONFLICT (id) DO UPDATE SET user_name = excluded.user_name, \
                 user_name_folded = excluded.user_name_folded, external_id = excluded.external_id, \
                 active = excluded.active, emails = excluded.emails, scim_document = NULL, \
                 version = users.version + 1, updated_ms = excluded.updated_ms",
        );
        upsert.build().execute(&mut *conn).await.map_err(&err)?;

        let mut delete = QueryBuilder::<DB>::new("DELETE FROM user_emails WHERE user_id IN (");
        let mut ids = delete.separated(", ");
        for (id, _) in rows {
            ids.push_bind(*id);
        }
        delete.push(")");
        delete.build().execute(&mut *conn).await.map_err(&err)?;

        for index in email_rows(rows)?.chunks(ROWS_PER_STATEMENT) {
            let mut insert = QueryBuilder::<DB>::new(
                "INSERT INTO user_emails (user_id, directory_id, value_folded) ",
            );
            insert.push_values(index, |mut row, (id, dir, email)| {
                row.push_bind(*id).push_bind(*dir).push_bind(email.as_str());
            });
            insert.push(" ON CONFLICT DO NOTHING");
            insert.build().execute(&mut *conn).await.map_err(&err)?;
        }
    }
    Ok(())
}

/// Inserts the memberships the import added.
pub(crate) async fn add_memberships<DB: Database>(
    conn: &mut DB::Connection,
    w: &World,
    err: impl Fn(sqlx::Error) -> StoreError,
) -> Result<(), StoreError>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
    DB::Arguments: IntoArguments<DB>,
    for<'a> &'a str: Encode<'a, DB> + Type<DB>,
    for<'a> Option<&'a str>: Encode<'a, DB> + Type<DB>,
{
    for rows in w.added_memberships().chunks(ROWS_PER_STATEMENT) {
        let mut insert = QueryBuilder::<DB>::new(
            "INSERT INTO group_members (group_id, member_user_id, member_group_id) ",
        );
        insert.push_values(rows, |mut row, (group, member)| {
            let (user, child) = match member {
                MemberRef::User(u) => (Some(u.as_str()), None),
                MemberRef::Group(c) => (None, Some(c.as_str())),
            };
            row.push_bind(*group).push_bind(user).push_bind(child);
        });
        insert.build().execute(&mut *conn).await.map_err(&err)?;
    }
    Ok(())
}
