//! Admin API errors: one JSON shape, `{"error":{"code","message","field"?}}`,
//! with the status that goes with the code. Built once here for every handler.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::store::StoreError;

/// What went wrong, for programs: the `code` of the error body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 404: the resource (or route) does not exist.
    NotFound,
    /// 400: malformed JSON, an unknown field, a value out of its domain.
    InvalidArgument,
    /// 409: the resource exists already.
    Conflict,
    /// 401: no admin bearer token, or the wrong one.
    Unauthorized,
    /// 409 or 412: the request is well formed but the state forbids it now.
    FailedPrecondition,
    /// 503: no admin token is configured.
    AdminApiDisabled,
    /// 500: details are in the server log only.
    Internal,
}

/// An admin API error response.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{status} {code:?}: {message}")]
pub struct AdminError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// The request field at fault (`role_assignments[1].scope.accounts[0]`).
    pub field: Option<String>,
    /// Extra structured detail (the assignments that block a role delete).
    pub details: Option<Box<Value>>,
}

/// The error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub code: ErrorCode,
    /// A sentence for people: what is wrong and what to do.
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl AdminError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
            details: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, ErrorCode::NotFound, message)
    }

    pub fn missing(what: &str, id: &str) -> Self {
        Self::not_found(format!("{what} `{id}` not found"))
    }

    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, message).with_field(field)
    }

    /// 400 without a field (a body that is not JSON at all).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, ErrorCode::InvalidArgument, message)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::Conflict, message)
    }

    /// 409 `failed_precondition`: the state forbids it (a role still assigned,
    /// a `saml` directory).
    pub fn precondition(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, ErrorCode::FailedPrecondition, message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
    }

    pub fn disabled() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::AdminApiDisabled,
            "the admin API is off: set ROLECALL_ADMIN_TOKEN or pass --admin-token-file to turn it on",
        )
    }

    /// 500; `detail` goes to the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!(error = %detail, "admin request failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "the request could not be completed; nothing was changed. The server log has the details",
        )
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail {
                code: self.code,
                message: self.message.clone(),
                field: self.field.clone(),
                details: self.details.as_deref().cloned(),
            },
        }
    }
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { what, id } => AdminError::missing(what, &id),
            StoreError::Conflict { attribute, message } => {
                AdminError::conflict(message).with_field(attribute)
            }
            StoreError::Invalid { field, message } => AdminError {
                field,
                ..AdminError::bad_request(message)
            },
            StoreError::Import(e) => AdminError {
                field: e.field.clone(),
                ..AdminError::bad_request(e.to_string())
            },
            StoreError::VersionMismatch { current } => AdminError::new(
                StatusCode::PRECONDITION_FAILED,
                ErrorCode::FailedPrecondition,
                format!(
                    "the resource changed meanwhile (it is at version {current}); read it again and retry"
                ),
            ),
            other @ (StoreError::Open { .. } | StoreError::Database(_)) => {
                AdminError::internal(other)
            }
        }
    }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, Json(self.body())).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"rolecall admin\""),
            );
        }
        resp
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_map_to_codes() {
        let e: AdminError = StoreError::NotFound {
            what: "account",
            id: "acct_x".into(),
        }
        .into();
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.message, "account `acct_x` not found");
        let e: AdminError = StoreError::Invalid {
            field: Some("permissions[0]".into()),
            message: "bad".into(),
        }
        .into();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.field.as_deref(), Some("permissions[0]"));
        let e: AdminError = StoreError::Database("disk on fire".into()).into();
        assert_eq!(e.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.message.contains("disk"));
        let body = serde_json::to_value(AdminError::conflict("dup").body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": {"code": "conflict", "message": "dup"}})
        );
    }
}
