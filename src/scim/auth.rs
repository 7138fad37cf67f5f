//! Bearer-token authentication: the token selects the directory. The store
//! keeps only hashes and compares them in constant time; the secret is never
//! logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ScimError;
use super::sync_log::Outcome;
use crate::store::Store;
use crate::store::scim::DirectoryInfo;

/// The directory (and token) a request acts for; a request extension.
#[derive(Debug, Clone)]
pub struct ScimContext {
    pub directory: DirectoryInfo,
    pub token_id: String,
}

fn bearer(req: &Request) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Resolves the bearer token to its directory, or answers 401.
pub async fn authenticate(
    State(store): State<Arc<dyn Store>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(secret) = bearer(&req) else {
        return ScimError::unauthorized(
            "missing bearer token: send `Authorization: Bearer <SCIM token of the directory>`",
        )
        .into_response();
    };
    let found = match store.authenticate_scim(secret).await {
        Ok(found) => found,
        Err(e) => return ScimError::from(e).into_response(),
    };
    let Some((directory_id, token_id)) = found else {
        return ScimError::unauthorized(
            "the bearer token is not a live SCIM token of any directory: it may have been revoked; create a new one for the directory",
        )
        .into_response();
    };
    let directory = match store.directory(&directory_id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            return ScimError::unauthorized("the token's directory no longer exists")
                .into_response();
        }
        Err(e) => return ScimError::from(e).into_response(),
    };
    let ctx = ScimContext {
        directory,
        token_id: token_id.clone(),
    };
    req.extensions_mut().insert(ctx);
    let mut resp = next.run(req).await;
    let outcome = resp.extensions_mut().get_mut::<Outcome>();
    match outcome {
        Some(o) => {
            o.directory = Some(directory_id);
            o.token_id = Some(token_id);
        }
        None => {
            resp.extensions_mut().insert(Outcome {
                directory: Some(directory_id),
                token_id: Some(token_id),
                ..Outcome::default()
            });
        }
    }
    resp
}
