//! The admin bearer token. There is one admin credential per server (from
//! `ROLECALL_ADMIN_TOKEN` or `--admin-token-file`); every request that
//! presents it acts as the audit actor [`ACTOR`]. Without one configured the
//! admin API answers 503 `admin_api_disabled`.
//!
//! The secret is kept only as its SHA-256 digest; a presented token is hashed
//! too and the digests are compared in constant time, so neither the content
//! nor the length of the secret leaks through timing. It is never logged.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::AdminError;

/// The audit log's `actor` for every admin write: there is a single admin
/// credential, so it has a single name.
pub const ACTOR: &str = "admin";

/// The configured admin token, as its digest.
#[derive(Clone)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl std::fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

fn digest(s: &[u8]) -> [u8; 32] {
    Sha256::digest(s).into()
}

impl AdminToken {
    /// A token from its secret; surrounding whitespace (a file's trailing
    /// newline) is not part of it. `None` for an empty secret.
    pub fn new(secret: &str) -> Option<Self> {
        let secret = secret.trim();
        (!secret.is_empty()).then(|| Self {
            digest: digest(secret.as_bytes()),
        })
    }

    /// Whether `presented` is the secret (constant time).
    pub fn matches(&self, presented: &str) -> bool {
        self.digest.ct_eq(&digest(presented.as_bytes())).into()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_the_secret() {
        let t = AdminToken::new("s3cret\n").unwrap();
        assert!(t.matches("s3cret"));
        assert!(!t.matches("s3cre"));
        assert!(!t.matches("s3cret2"));
        assert!(AdminToken::new("  ").is_none());
        assert_eq!(format!("{t:?}"), "AdminToken(<redacted>)");
    }
}
