//! Roles: the default catalog (read-only) and custom roles.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use crate::admin::error::{AdminError, ErrorBody};
use crate::admin::extract::{Body, Path, Query};
use crate::admin::types::{
    DeleteRoleParams, RoleBody, RoleList, RoleView, SubjectAssignmentView, parse_role_name,
};
use crate::admin::{ACTOR, AdminState, written, written_empty};
use crate::engine::describe_scope;
use crate::model::{PermissionPattern, RoleName};

fn permissions(list: &[String]) -> Result<Vec<PermissionPattern>, AdminError> {
    if list.is_empty() {
        return Err(AdminError::invalid(
            "permissions",
            "`permissions` is empty: a role grants at least one permission (`resource.action`, `resource.*` or `*`)",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, p)| {
            PermissionPattern::parse(p).map_err(|e| {
                let field = format!("permissions[{i}]");
                AdminError::invalid(
                    field.clone(),
                    format!("`{field}`: `{p}` is not a permission: {e}"),
                )
            })
        })
        .collect()
}

fn read_only(name: &RoleName) -> AdminError {
    AdminError::invalid(
        "name",
        format!(
            "role `{name}` is part of the default catalog and read-only: create a custom role under another name (POST /admin/v1/roles) with the permissions you want"
        ),
    )
}

async fn role(state: &AdminState, name: &RoleName) -> Result<RoleView, AdminError> {
    state
        .store
        .get_role(name)
        .await?
        .map(RoleView::from)
        .ok_or_else(|| AdminError::missing("role", name.as_str()))
}

/// Every role, the default catalog included, by name.
#[utoipa::path(get, path = "/roles", tag = "roles",
    responses((status = 200, body = RoleList)))]
pub async fn list_roles(State(state): State<AdminState>) -> Result<Json<RoleList>, AdminError> {
    let roles = state.store.list_roles().await?;
    Ok(Json(RoleList {
        roles: roles.into_iter().map(Into::into).collect(),
    }))
}

/// Creates a custom role (409 if the name is taken).
#[utoipa::path(post, path = "/roles", tag = "roles",
    request_body = RoleBody,
    responses(
        (status = 201, body = RoleView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody, description = "A field is invalid: `permissions[i]` names a bad permission"),
        (status = 409, body = ErrorBody)))]
pub async fn create_role(
    State(state): State<AdminState>,
    Body(body): Body<RoleBody>,
) -> Result<Response, AdminError> {
    let Some(name) = &body.name else {
        return Err(AdminError::invalid("name", "`name` is required"));
    };
    let name = parse_role_name("name", name)?;
    let perms = permissions(&body.permissions)?;
    if let Some(existing) = state.store.get_role(&name).await? {
        let what = if existing.builtin {
            "a role of the default catalog"
        } else {
            "a custom role"
        };
        return Err(AdminError::conflict(format!(
            "role `{name}` exists already ({what}); PUT /admin/v1/roles/{name} replaces a custom role"
        ))
        .with_field("name"));
    }
    let description = body.description.unwrap_or_default();
    let revision = state
        .store
        .put_role(ACTOR, &name, &description, &perms)
        .await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::CREATED,
        &role(&state, &name).await?,
        revision,
    ))
}

/// One role.
#[utoipa::path(get, path = "/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "Role name")),
    responses((status = 200, body = RoleView), (status = 404, body = ErrorBody)))]
pub async fn get_role(
    State(state): State<AdminState>,
    Path(name): Path<String>,
) -> Result<Json<RoleView>, AdminError> {
    Ok(Json(role(&state, &RoleName::new_unchecked(name)).await?))
}

/// Creates or replaces a custom role (a role of the default catalog is read-only: 400).
#[utoipa::path(put, path = "/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "Role name")),
    request_body = RoleBody,
    responses(
        (status = 200, body = RoleView, description = "Replaced", headers(("Rolecall-Revision" = u64))),
        (status = 201, body = RoleView, description = "Created", headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody)))]
pub async fn put_role(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Body(body): Body<RoleBody>,
) -> Result<Response, AdminError> {
    let name = parse_role_name("name", &name)?;
    if let Some(given) = &body.name
        && given != name.as_str()
    {
        return Err(AdminError::invalid(
            "name",
            format!(
                "`name` is `{given}` but the path names role `{name}`: roles cannot be renamed; create the new one and delete the old"
            ),
        ));
    }
    let perms = permissions(&body.permissions)?;
    let existing = state.store.get_role(&name).await?;
    if existing.as_ref().is_some_and(|r| r.builtin) {
        return Err(read_only(&name));
    }
    let description = body.description.unwrap_or_default();
    let revision = state
        .store
        .put_role(ACTOR, &name, &description, &perms)
        .await?;
    state.publish(revision).await;
    let status = if existing.is_some() {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok(written(status, &role(&state, &name).await?, revision))
}

/// Deletes a custom role. While it is assigned the delete is refused (409,
/// listing the assignments) unless `?cascade=true`, which deletes them too.
#[utoipa::path(delete, path = "/roles/{name}", tag = "roles",
    params(("name" = String, Path, description = "Role name"), DeleteRoleParams),
    responses(
        (status = 204, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody, description = "A role of the default catalog"),
        (status = 404, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "The role is assigned; `details.assignments` lists where")))]
pub async fn delete_role(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    Query(params): Query<DeleteRoleParams>,
) -> Result<Response, AdminError> {
    let name = RoleName::new_unchecked(name);
    let Some(existing) = state.store.get_role(&name).await? else {
        return Err(AdminError::missing("role", name.as_str()));
    };
    if existing.builtin {
        return Err(read_only(&name));
    }
    let cascade = params.cascade.unwrap_or(false);
    if !cascade {
        let assigned = state.store.role_assignments_of_role(&name).await?;
        if !assigned.is_empty() {
            let list: Vec<String> = assigned
                .iter()
                .map(|a| {
                    let kind = match a.subject {
                        crate::store::admin::SubjectId::Group(_) => "group",
                        crate::store::admin::SubjectId::User(_) => "user",
                    };
                    format!(
                        "{kind} `{}` of directory `{}` at {}",
                        a.subject_name,
                        a.directory,
                        describe_scope(&a.scope)
                    )
                })
                .collect();
            let views: Vec<SubjectAssignmentView> =
                assigned.iter().map(SubjectAssignmentView::from).collect();
            return Err(AdminError::precondition(format!(
                "role `{name}` is assigned ({}): change those role assignments first, or delete with `?cascade=true` to remove them too",
                list.join("; ")
            ))
            .with_details(json!({ "assignments": views })));
        }
    }
    let revision = state.store.delete_role(ACTOR, &name, cascade).await?;
    state.publish(revision).await;
    Ok(written_empty(revision))
}
