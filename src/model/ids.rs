//! Typed identifiers. Each is parsed once at the edge; the engine interns them.

use std::fmt;

/// Longest identifier accepted anywhere (bytes).
pub const MAX_ID_LEN: usize = 255;

/// Why a string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("must not be empty")]
    Empty,
    #[error("is longer than {MAX_ID_LEN} bytes")]
    TooLong,
    #[error("must not contain whitespace or control characters")]
    BadChar,
}

/// Checks the shape every identifier shares: non-empty, at most
/// [`MAX_ID_LEN`] bytes, no whitespace or control characters.
pub fn validate_id(s: &str) -> Result<(), IdError> {
    if s.is_empty() {
        return Err(IdError::Empty);
    }
    if s.len() > MAX_ID_LEN {
        return Err(IdError::TooLong);
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadChar);
    }
    Ok(())
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// Parses an identifier, refusing empty or malformed strings.
            pub fn parse(s: impl Into<String>) -> Result<Self, IdError> {
                let s = s.into();
                validate_id(&s)?;
                Ok(Self(s))
            }

            /// Wraps a string already known to be valid (read back from the store).
            pub fn new_unchecked(s: impl Into<String>) -> Self {
                Self(s.into())
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// An organization: a group of accounts.
    OrganizationId
);
string_id!(
    /// An account (`acct_...`), standalone or in one organization.
    AccountId
);
string_id!(
    /// A directory: where one IdP provisions users and groups.
    DirectoryId
);
string_id!(
    /// A user's SCIM id.
    UserId
);
string_id!(
    /// A group's SCIM id.
    GroupId
);
string_id!(
    /// A role's name (its SSO id, such as `admin` or `refund_analyst`).
    RoleName
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_refuse_empty_long_and_spaced() {
        assert_eq!(AccountId::parse(""), Err(IdError::Empty));
        assert_eq!(AccountId::parse("a".repeat(256)), Err(IdError::TooLong));
        assert_eq!(AccountId::parse("acct 1"), Err(IdError::BadChar));
        assert_eq!(AccountId::parse("acct\n"), Err(IdError::BadChar));
        assert_eq!(AccountId::parse("acct_1").unwrap().as_str(), "acct_1");
    }
}
