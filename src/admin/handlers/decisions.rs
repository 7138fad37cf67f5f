//! Decisions (`check`, access review) and the audit log.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::limit;
use crate::admin::AdminState;
use crate::admin::error::{AdminError, ErrorBody, ErrorCode};
use crate::admin::extract::{Path, Query};
use crate::admin::types::{
    AccessParams, AccessView, AuditPage, AuditParams, CheckParams, CheckView, ExplanationView,
    GrantView, HolderView, UserRef,
};
use crate::engine::{self, InputError, Outcome};
use crate::model::AccountId;
use crate::snapshot::Snapshot;
use crate::store::admin::AuditQuery;

fn input(e: InputError) -> AdminError {
    AdminError::invalid(e.field, format!("`{}`: {}", e.field, e.message))
}

fn snapshot(state: &AdminState) -> Result<std::sync::Arc<Snapshot>, AdminError> {
    state.refresher.holder().load_full().ok_or_else(|| {
        AdminError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::FailedPrecondition,
            "no snapshot loaded yet; retry shortly",
        )
    })
}

/// One decision with its explanation, from the same engine and snapshot as
/// the gRPC `Authorizer.Check`.
#[utoipa::path(get, path = "/check", tag = "decisions",
    params(CheckParams),
    responses((status = 200, body = CheckView), (status = 400, body = ErrorBody)))]
pub async fn check(
    State(state): State<AdminState>,
    Query(q): Query<CheckParams>,
) -> Result<Json<CheckView>, AdminError> {
    engine::validate_check(&q.user, &q.permission, &q.account).map_err(input)?;
    let snap = snapshot(&state)?;
    let d = engine::explain(&snap, &q.user, &q.permission, &q.account);
    let (grant, deny_reason) = match &d.outcome {
        Outcome::Allowed(g) => (Some(GrantView::from(g)), None),
        Outcome::Denied(r) => (None, Some(r.as_str().to_owned())),
    };
    Ok(Json(CheckView {
        allowed: d.allowed(),
        revision: snap.revision(),
        explanation: ExplanationView {
            message: d.message(&q.user, &q.permission, &q.account),
            deny_reason,
            directory: d.directory.map(str::to_owned),
            grant,
        },
    }))
}

/// Access review: every user who holds `permission` on the account, with
/// every group → role → scope path that grants it.
#[utoipa::path(get, path = "/accounts/{id}/access", tag = "decisions",
    params(("id" = String, Path, description = "Account id"), AccessParams),
    responses((status = 200, body = AccessView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn account_access(
    State(state): State<AdminState>,
    Path(account): Path<String>,
    Query(q): Query<AccessParams>,
) -> Result<Json<AccessView>, AdminError> {
    engine::validate_permission(&q.permission).map_err(input)?;
    if state
        .store
        .get_account(&AccountId::new_unchecked(account.clone()))
        .await?
        .is_none()
    {
        return Err(AdminError::missing("account", &account));
    }
    let snap = snapshot(&state)?;
    let users = engine::lookup_users(&snap, &q.permission, &account)
        .iter()
        .map(|u| HolderView {
            user: UserRef {
                id: u.user_id.to_owned(),
                user_name: u.user_name.to_owned(),
            },
            grants: u.grants.iter().map(GrantView::from).collect(),
        })
        .collect();
    Ok(Json(AccessView {
        account,
        permission: q.permission,
        revision: snap.revision(),
        users,
    }))
}

/// Admin writes, newest first: who, what, before/after, revision, time.
#[utoipa::path(get, path = "/audit-log", tag = "logs",
    params(AuditParams),
    responses((status = 200, body = AuditPage), (status = 400, body = ErrorBody)))]
pub async fn audit_log(
    State(state): State<AdminState>,
    Query(q): Query<AuditParams>,
) -> Result<Json<AuditPage>, AdminError> {
    let limit = limit(q.limit)?;
    let entries = state
        .store
        .audit_log(&AuditQuery {
            action_prefix: q.action,
            target_prefix: q.target,
            limit,
            before: q.before,
        })
        .await?;
    let next_before = (entries.len() == limit as usize)
        .then(|| entries.last().map(|e| e.id))
        .flatten();
    Ok(Json(AuditPage {
        entries: entries.into_iter().map(Into::into).collect(),
        next_before,
    }))
}
