//! The admin API's axum handlers, by area. Each carries its
//! `#[utoipa::path]`, which is what registers it in the router.

pub(super) mod decisions;
pub(super) mod directories;
pub(super) mod roles;
pub(super) mod tenancy;

use super::error::AdminError;

/// Page size bounds shared by the paged lists.
pub(super) const DEFAULT_LIMIT: u32 = 100;
pub(super) const MAX_LIMIT: u32 = 1000;

/// `limit` within `1..=MAX_LIMIT`, `DEFAULT_LIMIT` when absent.
pub(super) fn limit(limit: Option<u32>) -> Result<u32, AdminError> {
    match limit {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(AdminError::invalid(
            "limit",
            format!("`limit` must be between 1 and {MAX_LIMIT}, not {n}"),
        )),
    }
}
