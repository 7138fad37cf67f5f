//! Directories: settings, SCIM tokens, the groups view, group and user role
//! assignments (and their preview), and the SCIM sync log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::limit;
use crate::admin::error::{AdminError, ErrorBody};
use crate::admin::extract::{Body, Path, Query};
use crate::admin::preview;
use crate::admin::types::{
    AssignmentView, AssignmentsBody, AssignmentsView, CreateDirectory, DirectoryList,
    DirectoryView, GroupList, MembersPage, PageParams, PatchDirectory, PreviewView, SyncLogPage,
    SyncLogParams, TokenCreated, TokenList, rfc3339,
};
use crate::admin::{ACTOR, AdminState, written, written_empty};
use crate::model::{DirectoryId, Mode, validate_id};
use crate::snapshot;
use crate::store::admin::{DirectoryChange, SubjectId};

async fn directory(state: &AdminState, id: &DirectoryId) -> Result<DirectoryView, AdminError> {
    state
        .store
        .get_directory(id)
        .await?
        .map(DirectoryView::from)
        .ok_or_else(|| AdminError::missing("directory", id.as_str()))
}

/// 404 unless the directory exists; its mode otherwise.
async fn directory_mode(state: &AdminState, id: &DirectoryId) -> Result<Mode, AdminError> {
    state
        .store
        .get_directory(id)
        .await?
        .map(|d| d.mode)
        .ok_or_else(|| AdminError::missing("directory", id.as_str()))
}

fn domains(list: &[String]) -> Result<Vec<String>, AdminError> {
    let mut out = Vec::with_capacity(list.len());
    for (i, d) in list.iter().enumerate() {
        let d = d.trim().trim_start_matches('@').to_ascii_lowercase();
        if d.is_empty() || !d.contains('.') || validate_id(&d).is_err() || d.contains('@') {
            let field = format!("domains[{i}]");
            return Err(AdminError::invalid(
                field.clone(),
                format!(
                    "`{field}`: `{}` is not a domain name (like `acme.example`)",
                    list[i]
                ),
            ));
        }
        if !out.contains(&d) {
            out.push(d);
        }
    }
    Ok(out)
}

/// Every directory, with its SCIM status.
#[utoipa::path(get, path = "/directories", tag = "directories",
    responses((status = 200, body = DirectoryList)))]
pub async fn list_directories(
    State(state): State<AdminState>,
) -> Result<Json<DirectoryList>, AdminError> {
    let dirs = state.store.list_directories().await?;
    Ok(Json(DirectoryList {
        directories: dirs.into_iter().map(Into::into).collect(),
    }))
}

/// Creates a directory for an organization or a standalone account.
#[utoipa::path(post, path = "/directories", tag = "directories",
    request_body = CreateDirectory,
    responses(
        (status = 201, body = DirectoryView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The id is taken, or the owner has a directory")))]
pub async fn create_directory(
    State(state): State<AdminState>,
    Body(body): Body<CreateDirectory>,
) -> Result<Response, AdminError> {
    let id = DirectoryId::parse(&body.id).map_err(|e| {
        AdminError::invalid(
            "id",
            format!("`id`: `{}` is not a valid directory id: it {e}", body.id),
        )
    })?;
    let owner = body.owner.parse()?;
    let domains = domains(&body.domains)?;
    let mode = body.mode.map_or(Mode::Dashboard, Into::into);
    let revision = state
        .store
        .create_directory(ACTOR, &id, &owner, &domains, mode)
        .await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::CREATED,
        &directory(&state, &id).await?,
        revision,
    ))
}

/// One directory: owner, domains, mode, and whether an IdP has connected.
#[utoipa::path(get, path = "/directories/{dir}", tag = "directories",
    params(("dir" = String, Path, description = "Directory id")),
    responses((status = 200, body = DirectoryView), (status = 404, body = ErrorBody)))]
pub async fn get_directory(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
) -> Result<Json<DirectoryView>, AdminError> {
    Ok(Json(
        directory(&state, &DirectoryId::new_unchecked(dir)).await?,
    ))
}

/// Changes domains, mode or domain enforcement. Switching to `saml` keeps
/// group role assignments but they stop counting; back to `dashboard`
/// restores them.
#[utoipa::path(patch, path = "/directories/{dir}", tag = "directories",
    params(("dir" = String, Path, description = "Directory id")),
    request_body = PatchDirectory,
    responses(
        (status = 200, body = DirectoryView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_directory(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
    Body(body): Body<PatchDirectory>,
) -> Result<Response, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    let change = DirectoryChange {
        domains: body.domains.as_deref().map(domains).transpose()?,
        mode: body.mode.map(Into::into),
        enforce_domains: body.enforce_domains,
    };
    if change == DirectoryChange::default() {
        return Err(AdminError::bad_request(
            "nothing to change: give `domains`, `mode` and/or `enforce_domains`",
        ));
    }
    let revision = state.store.update_directory(ACTOR, &id, &change).await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::OK,
        &directory(&state, &id).await?,
        revision,
    ))
}

/// The directory's SCIM tokens (never their secrets), revoked ones included.
#[utoipa::path(get, path = "/directories/{dir}/scim-tokens", tag = "directories",
    params(("dir" = String, Path, description = "Directory id")),
    responses((status = 200, body = TokenList), (status = 404, body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
) -> Result<Json<TokenList>, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &id).await?;
    let tokens = state.store.list_scim_tokens(&id).await?;
    Ok(Json(TokenList {
        tokens: tokens.into_iter().map(Into::into).collect(),
    }))
}

/// Mints a SCIM token. The secret (`token`) is in this response only; several
/// tokens may be live at once, for rotation.
#[utoipa::path(post, path = "/directories/{dir}/scim-tokens", tag = "directories",
    params(("dir" = String, Path, description = "Directory id")),
    responses(
        (status = 201, body = TokenCreated, headers(("Rolecall-Revision" = u64))),
        (status = 404, body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
) -> Result<Response, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &id).await?;
    let (token, secret) = state.store.create_scim_token(&id).await?;
    let revision = state.store.revision().await?;
    state.publish(revision).await;
    let body = TokenCreated {
        id: token.id,
        token: secret,
        prefix: token.prefix,
        created: rfc3339(token.created_ms),
    };
    Ok(written(StatusCode::CREATED, &body, revision))
}

/// Revokes a SCIM token: it stops authenticating at once.
#[utoipa::path(delete, path = "/directories/{dir}/scim-tokens/{id}", tag = "directories",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "Token id")),
    responses((status = 204, headers(("Rolecall-Revision" = u64))), (status = 404, body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AdminState>,
    Path((dir, token)): Path<(String, String)>,
) -> Result<Response, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &id).await?;
    state.store.revoke_scim_token(&id, &token).await?;
    let revision = state.store.revision().await?;
    state.publish(revision).await;
    Ok(written_empty(revision))
}

/// The groups view: every group with member counts (direct, and users
/// through nested groups) and role assignments, by displayName.
#[utoipa::path(get, path = "/directories/{dir}/groups", tag = "groups",
    params(("dir" = String, Path, description = "Directory id")),
    responses((status = 200, body = GroupList), (status = 404, body = ErrorBody)))]
pub async fn list_groups(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
) -> Result<Json<GroupList>, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &id).await?;
    let groups = state.store.group_summaries(&id).await?;
    Ok(Json(GroupList {
        groups: groups.into_iter().map(Into::into).collect(),
    }))
}

/// A group's direct members (users and nested groups), by name, paged.
#[utoipa::path(get, path = "/directories/{dir}/groups/{id}/members", tag = "groups",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "Group SCIM id"), PageParams),
    responses((status = 200, body = MembersPage), (status = 404, body = ErrorBody)))]
pub async fn group_members(
    State(state): State<AdminState>,
    Path((dir, group)): Path<(String, String)>,
    Query(page): Query<PageParams>,
) -> Result<Json<MembersPage>, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    let offset = page.offset.unwrap_or(0);
    let limit = limit(page.limit)?;
    let (members, total) = state
        .store
        .group_members(&id, &group, offset, limit)
        .await?;
    Ok(Json(MembersPage {
        members: members.into_iter().map(Into::into).collect(),
        total,
        offset,
        limit,
    }))
}

async fn assignments(
    state: &AdminState,
    dir: &DirectoryId,
    who: &SubjectId,
) -> Result<AssignmentsView, AdminError> {
    let list = state.store.role_assignments_of(dir, who).await?;
    Ok(AssignmentsView {
        role_assignments: list.iter().map(AssignmentView::from).collect(),
    })
}

async fn put_assignments(
    state: &AdminState,
    dir: &DirectoryId,
    who: &SubjectId,
    body: &AssignmentsBody,
) -> Result<Response, AdminError> {
    let specs = body.specs()?;
    let mode = directory_mode(state, dir).await?;
    // Clearing a group's assignments is allowed in `saml` mode too.
    if matches!(who, SubjectId::Group(_)) && mode == Mode::Saml && !specs.is_empty() {
        return Err(preview::saml_refusal(dir));
    }
    let revision = state
        .store
        .set_role_assignments(ACTOR, dir, who, &specs)
        .await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::OK,
        &assignments(state, dir, who).await?,
        revision,
    ))
}

async fn preview_assignments(
    state: &AdminState,
    dir: &DirectoryId,
    who: SubjectId,
    body: &AssignmentsBody,
) -> Result<Json<PreviewView>, AdminError> {
    let specs = body.specs()?;
    let current = state.store.load_state().await?;
    preview::validate(&current, dir, &who, &specs)?;
    // The published snapshot is the "before" when it is at the state's revision.
    let published = state
        .refresher
        .holder()
        .load_full()
        .filter(|s| s.revision() == current.revision);
    let dir = dir.clone();
    let view = tokio::task::spawn_blocking(move || {
        let before = match published {
            Some(s) => s,
            None => std::sync::Arc::new(snapshot::build(&current)?),
        };
        let next = preview::apply(&current, &dir, &who, &specs);
        let after = snapshot::build(&next)?;
        let users = preview::affected_users(&current, &dir, &who);
        let accounts = preview::governed_accounts(&current, &dir);
        let changes = preview::diff(&current, &before, &after, &users, &accounts);
        Ok::<_, snapshot::BuildError>(PreviewView {
            revision: current.revision,
            changes,
        })
    })
    .await
    .map_err(AdminError::internal)?
    .map_err(AdminError::internal)?;
    Ok(Json(view))
}

/// A group's role assignments.
#[utoipa::path(get, path = "/directories/{dir}/groups/{id}/role-assignments", tag = "groups",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "Group SCIM id")),
    responses((status = 200, body = AssignmentsView), (status = 404, body = ErrorBody)))]
pub async fn get_group_assignments(
    State(state): State<AdminState>,
    Path((dir, group)): Path<(String, String)>,
) -> Result<Json<AssignmentsView>, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &dir).await?;
    Ok(Json(
        assignments(&state, &dir, &SubjectId::Group(group)).await?,
    ))
}

/// Sets a group's whole list of role assignments (several roles: the union).
/// Scopes: an account, an organization (all its accounts, present and
/// future), or chosen accounts of an organization. Refused in a `saml`
/// directory (409 `failed_precondition`, saying how to switch).
#[utoipa::path(put, path = "/directories/{dir}/groups/{id}/role-assignments", tag = "groups",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "Group SCIM id")),
    request_body = AssignmentsBody,
    responses(
        (status = 200, body = AssignmentsView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody, description = "An unknown role, a scope outside the directory, an account outside the organization"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The directory is in `saml` mode")))]
pub async fn put_group_assignments(
    State(state): State<AdminState>,
    Path((dir, group)): Path<(String, String)>,
    Body(body): Body<AssignmentsBody>,
) -> Result<Response, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    put_assignments(&state, &dir, &SubjectId::Group(group), &body).await
}

/// What setting a group's role assignments to this list would change, without
/// writing: which users gain and lose which permissions on which accounts.
#[utoipa::path(post, path = "/directories/{dir}/groups/{id}/role-assignments:preview", tag = "groups",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "Group SCIM id")),
    request_body = AssignmentsBody,
    responses((status = 200, body = PreviewView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn preview_group_assignments(
    State(state): State<AdminState>,
    Path((dir, group)): Path<(String, String)>,
    Body(body): Body<AssignmentsBody>,
) -> Result<Json<PreviewView>, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    preview_assignments(&state, &dir, SubjectId::Group(group), &body).await
}

/// A user's own role assignments.
#[utoipa::path(get, path = "/directories/{dir}/users/{id}/role-assignments", tag = "users",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "User SCIM id")),
    responses((status = 200, body = AssignmentsView), (status = 404, body = ErrorBody)))]
pub async fn get_user_assignments(
    State(state): State<AdminState>,
    Path((dir, user)): Path<(String, String)>,
) -> Result<Json<AssignmentsView>, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &dir).await?;
    Ok(Json(
        assignments(&state, &dir, &SubjectId::User(user)).await?,
    ))
}

/// Sets a user's whole list of role assignments; they count in both modes.
#[utoipa::path(put, path = "/directories/{dir}/users/{id}/role-assignments", tag = "users",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "User SCIM id")),
    request_body = AssignmentsBody,
    responses(
        (status = 200, body = AssignmentsView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn put_user_assignments(
    State(state): State<AdminState>,
    Path((dir, user)): Path<(String, String)>,
    Body(body): Body<AssignmentsBody>,
) -> Result<Response, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    put_assignments(&state, &dir, &SubjectId::User(user), &body).await
}

/// What setting a user's role assignments to this list would change, without writing.
#[utoipa::path(post, path = "/directories/{dir}/users/{id}/role-assignments:preview", tag = "users",
    params(("dir" = String, Path, description = "Directory id"), ("id" = String, Path, description = "User SCIM id")),
    request_body = AssignmentsBody,
    responses((status = 200, body = PreviewView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn preview_user_assignments(
    State(state): State<AdminState>,
    Path((dir, user)): Path<(String, String)>,
    Body(body): Body<AssignmentsBody>,
) -> Result<Json<PreviewView>, AdminError> {
    let dir = DirectoryId::new_unchecked(dir);
    preview_assignments(&state, &dir, SubjectId::User(user), &body).await
}

/// Recent SCIM requests of the directory with their outcome, newest first.
#[utoipa::path(get, path = "/directories/{dir}/sync-log", tag = "directories",
    params(("dir" = String, Path, description = "Directory id"), SyncLogParams),
    responses((status = 200, body = SyncLogPage), (status = 404, body = ErrorBody)))]
pub async fn sync_log(
    State(state): State<AdminState>,
    Path(dir): Path<String>,
    Query(params): Query<SyncLogParams>,
) -> Result<Json<SyncLogPage>, AdminError> {
    let id = DirectoryId::new_unchecked(dir);
    directory_mode(&state, &id).await?;
    let limit = limit(params.limit)?;
    let entries = state
        .store
        .sync_log(Some(&id), limit, params.before)
        .await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(SyncLogPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
