//! Organizations and accounts.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use crate::admin::error::{AdminError, ErrorBody};
use crate::admin::extract::{Body, Path, Query};
use crate::admin::types::{
    AccountFilter, AccountList, AccountView, CreateAccount, CreateOrganization, OrganizationList,
    OrganizationView, PatchAccount, PatchOrganization, check_name, parse_account, parse_org,
};
use crate::admin::{ACTOR, AdminState, written};
use crate::model::{AccountId, OrganizationId};

async fn organization(
    state: &AdminState,
    id: &OrganizationId,
) -> Result<OrganizationView, AdminError> {
    state
        .store
        .get_organization(id)
        .await?
        .map(OrganizationView::from)
        .ok_or_else(|| AdminError::missing("organization", id.as_str()))
}

async fn account(state: &AdminState, id: &AccountId) -> Result<AccountView, AdminError> {
    state
        .store
        .get_account(id)
        .await?
        .map(AccountView::from)
        .ok_or_else(|| AdminError::missing("account", id.as_str()))
}

/// Every organization, by id.
#[utoipa::path(get, path = "/organizations", tag = "organizations",
    responses((status = 200, body = OrganizationList), (status = 401, body = ErrorBody)))]
pub async fn list_organizations(
    State(state): State<AdminState>,
) -> Result<Json<OrganizationList>, AdminError> {
    let organizations = state.store.list_organizations().await?;
    Ok(Json(OrganizationList {
        organizations: organizations.into_iter().map(Into::into).collect(),
    }))
}

/// Creates an organization.
#[utoipa::path(post, path = "/organizations", tag = "organizations",
    request_body = CreateOrganization,
    responses(
        (status = 201, body = OrganizationView, headers(("Rolecall-Revision" = u64, description = "The revision of the write"))),
        (status = 400, body = ErrorBody), (status = 409, body = ErrorBody, description = "The id is taken")))]
pub async fn create_organization(
    State(state): State<AdminState>,
    Body(body): Body<CreateOrganization>,
) -> Result<Response, AdminError> {
    let id = parse_org("id", &body.id)?;
    let name = check_name("name", &body.name)?;
    let revision = state.store.create_organization(ACTOR, &id, &name).await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::CREATED,
        &organization(&state, &id).await?,
        revision,
    ))
}

/// One organization, with its accounts and directory.
#[utoipa::path(get, path = "/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    responses((status = 200, body = OrganizationView), (status = 404, body = ErrorBody)))]
pub async fn get_organization(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<OrganizationView>, AdminError> {
    Ok(Json(
        organization(&state, &OrganizationId::new_unchecked(id)).await?,
    ))
}

/// Renames an organization.
#[utoipa::path(patch, path = "/organizations/{id}", tag = "organizations",
    params(("id" = String, Path, description = "Organization id")),
    request_body = PatchOrganization,
    responses(
        (status = 200, body = OrganizationView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_organization(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Body(body): Body<PatchOrganization>,
) -> Result<Response, AdminError> {
    let id = OrganizationId::new_unchecked(id);
    let name = check_name("name", &body.name)?;
    let revision = state.store.rename_organization(ACTOR, &id, &name).await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::OK,
        &organization(&state, &id).await?,
        revision,
    ))
}

/// Every account (of one organization with `?organization=`), by id.
#[utoipa::path(get, path = "/accounts", tag = "accounts",
    params(AccountFilter),
    responses((status = 200, body = AccountList), (status = 404, body = ErrorBody)))]
pub async fn list_accounts(
    State(state): State<AdminState>,
    Query(filter): Query<AccountFilter>,
) -> Result<Json<AccountList>, AdminError> {
    let org = filter.organization.map(OrganizationId::new_unchecked);
    if let Some(o) = &org
        && state.store.get_organization(o).await?.is_none()
    {
        return Err(AdminError::missing("organization", o.as_str()));
    }
    let accounts = state.store.list_accounts(org.as_ref()).await?;
    Ok(Json(AccountList {
        accounts: accounts.into_iter().map(Into::into).collect(),
    }))
}

/// Creates an account, standalone or in an organization (whose org-wide
/// role assignments cover it at once).
#[utoipa::path(post, path = "/accounts", tag = "accounts",
    request_body = CreateAccount,
    responses(
        (status = 201, body = AccountView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn create_account(
    State(state): State<AdminState>,
    Body(body): Body<CreateAccount>,
) -> Result<Response, AdminError> {
    let id = parse_account("id", &body.id)?;
    let name = check_name("name", &body.name)?;
    let org = body
        .organization
        .as_deref()
        .map(|o| parse_org("organization", o))
        .transpose()?;
    let revision = state
        .store
        .create_account(ACTOR, &id, &name, org.as_ref())
        .await?;
    state.publish(revision).await;
    Ok(written(
        StatusCode::CREATED,
        &account(&state, &id).await?,
        revision,
    ))
}

/// One account.
#[utoipa::path(get, path = "/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    responses((status = 200, body = AccountView), (status = 404, body = ErrorBody)))]
pub async fn get_account(
    State(state): State<AdminState>,
    Path(id): Path<String>,
) -> Result<Json<AccountView>, AdminError> {
    Ok(Json(account(&state, &AccountId::new_unchecked(id)).await?))
}

/// Renames an account and/or moves it into an organization (`null`: out of
/// any). Moving in extends the organization's org-wide assignments to it at once.
///
/// A move and a rename are two store writes: the move goes first (it is the
/// one that can be refused), and the name is validated before either.
#[utoipa::path(patch, path = "/accounts/{id}", tag = "accounts",
    params(("id" = String, Path, description = "Account id")),
    request_body = PatchAccount,
    responses(
        (status = 200, body = AccountView, headers(("Rolecall-Revision" = u64))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn patch_account(
    State(state): State<AdminState>,
    Path(id): Path<String>,
    Body(body): Body<PatchAccount>,
) -> Result<Response, AdminError> {
    let id = AccountId::new_unchecked(id);
    if body.name.is_none() && body.organization.is_none() {
        return Err(AdminError::bad_request(
            "nothing to change: give `name` and/or `organization` (an id, or null to leave the organization)",
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let mut revision = None;
    if let Some(org) = &body.organization {
        let org = org
            .as_deref()
            .map(|o| parse_org("organization", o))
            .transpose()?;
        revision = Some(state.store.move_account(ACTOR, &id, org.as_ref()).await?);
    }
    if let Some(name) = &name {
        revision = Some(state.store.rename_account(ACTOR, &id, name).await?);
    }
    let revision = revision.unwrap_or_default();
    state.publish(revision).await;
    Ok(written(
        StatusCode::OK,
        &account(&state, &id).await?,
        revision,
    ))
}
