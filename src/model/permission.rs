//! Permissions (`resource.action`) and the patterns roles grant
//! (`resource.action`, `resource.*`, `*`).

use std::fmt;

/// Longest permission accepted (bytes).
pub const MAX_PERMISSION_LEN: usize = 128;

/// Why a string is not a permission or permission pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PermissionError {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than {MAX_PERMISSION_LEN} bytes")]
    TooLong,
    #[error(
        "must have the form `resource.action` (two lowercase segments of a-z, 0-9 and `_` joined by one `.`)"
    )]
    Shape,
    #[error("a wildcard is not a permission: ask for a concrete `resource.action`")]
    Wildcard,
}

fn is_segment(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_')
}

/// Splits a concrete permission into `(resource, action)` or says why it is not one.
/// Allocates nothing: this runs on every check.
pub fn split_permission(s: &str) -> Result<(&str, &str), PermissionError> {
    if s.is_empty() {
        return Err(PermissionError::Empty);
    }
    if s.len() > MAX_PERMISSION_LEN {
        return Err(PermissionError::TooLong);
    }
    if s == "*" || s.ends_with(".*") {
        return Err(PermissionError::Wildcard);
    }
    match s.split_once('.') {
        Some((r, a)) if is_segment(r) && is_segment(a) => Ok((r, a)),
        _ => Err(PermissionError::Shape),
    }
}

/// What a role grants: one permission, every action on a resource, or everything.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PermissionPattern {
    /// `*`
    All,
    /// `resource.*`
    Resource(String),
    /// `resource.action`
    Exact(String),
}

impl PermissionPattern {
    pub fn parse(s: &str) -> Result<Self, PermissionError> {
        if s.is_empty() {
            return Err(PermissionError::Empty);
        }
        if s.len() > MAX_PERMISSION_LEN {
            return Err(PermissionError::TooLong);
        }
        if s == "*" {
            return Ok(Self::All);
        }
        if let Some(resource) = s.strip_suffix(".*") {
            return if is_segment(resource) {
                Ok(Self::Resource(resource.to_owned()))
            } else {
                Err(PermissionError::Shape)
            };
        }
        split_permission(s).map(|_| Self::Exact(s.to_owned()))
    }

    /// Does this pattern grant the concrete permission `resource.action`?
    pub fn grants(&self, permission: &str) -> bool {
        match self {
            Self::All => true,
            Self::Resource(r) => permission
                .strip_prefix(r.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
            Self::Exact(p) => p == permission,
        }
    }
}

impl fmt::Display for PermissionPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::All => f.write_str("*"),
            Self::Resource(r) => write!(f, "{r}.*"),
            Self::Exact(p) => f.write_str(p),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_have_two_lowercase_segments() {
        assert_eq!(split_permission("charges.read"), Ok(("charges", "read")));
        assert_eq!(
            split_permission("api_keys.create"),
            Ok(("api_keys", "create"))
        );
        assert_eq!(split_permission(""), Err(PermissionError::Empty));
        assert_eq!(
            split_permission("Charges.read"),
            Err(PermissionError::Shape)
        );
        assert_eq!(split_permission("charges"), Err(PermissionError::Shape));
        assert_eq!(
            split_permission("charges.read.all"),
            Err(PermissionError::Shape)
        );
        assert_eq!(split_permission("charges."), Err(PermissionError::Shape));
        assert_eq!(
            split_permission("charges.*"),
            Err(PermissionError::Wildcard)
        );
        assert_eq!(split_permission("*"), Err(PermissionError::Wildcard));
    }

    #[test]
    fn patterns_grant_what_they_cover() {
        let all = PermissionPattern::parse("*").unwrap();
        let charges = PermissionPattern::parse("charges.*").unwrap();
        let read = PermissionPattern::parse("charges.read").unwrap();
        assert!(all.grants("payouts.create"));
        assert!(charges.grants("charges.refund"));
        assert!(!charges.grants("chargesx.read"));
        assert!(read.grants("charges.read"));
        assert!(!read.grants("charges.write"));
        assert_eq!(charges.to_string(), "charges.*");
        assert!(PermissionPattern::parse("*.read").is_err());
        assert!(PermissionPattern::parse("charges.**").is_err());
    }
}
