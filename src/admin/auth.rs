//! The admin bearer token. There is one admin credential per server (from
//! `ROLECALL_ADMIN_TOKEN` or `--admin-token-file`); every request that
//! presents it acts as the audit actor [`ACTOR`]. Without one configured the
//! admin API answers 503 `admin_api_disabled`.
//!
//! The token is a [`crate::secret::Secret`]: kept as its digest, compared in
//! constant time, never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::AdminError;

/// The audit log's `actor` for every admin write: there is a single admin
/// credential, so it has a single name.
pub const ACTOR: &str = "admin";

/// The configured admin token.
pub type AdminToken = crate::secret::Secret;

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Lets a request through when it carries the admin token; 401 otherwise,
/// 503 when the admin API is off.
pub async fn authenticate(
    State(token): State<Option<Arc<AdminToken>>>,
    req: Request,
    next: Next,
) -> Response {
    let Some(token) = token else {
        return AdminError::disabled().into_response();
    };
    match bearer(&req) {
        None => AdminError::unauthorized(
            "missing bearer token: send `Authorization: Bearer <admin token>`",
        )
        .into_response(),
        Some(presented) if token.matches(presented) => next.run(req).await,
        Some(_) => {
            AdminError::unauthorized("the bearer token is not the admin token").into_response()
        }
    }
}
