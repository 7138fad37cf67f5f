//! The data file (`rolecall import FILE`, JSON or YAML): the serde shapes of
//! DESIGN.md's data file, and their parsing. The store validates references
//! and writes it in one transaction (see `store`).

use std::path::Path;

use serde::{Deserialize, Serialize};

/// A whole data file. Every section is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DataFile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub organizations: Vec<OrganizationEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub accounts: Vec<AccountEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directories: Vec<DirectoryEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub role_assignments: Vec<RoleAssignmentEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OrganizationEntry {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `{organization: ID}` or `{account: ID}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OwnerEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DirectoryEntry {
    pub id: String,
    pub owner: OwnerEntry,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub domains: Vec<String>,
    /// `dashboard` (default) or `saml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub permissions: Vec<String>,
}

/// An email: a bare address, or a SCIM-style `{value, type?, primary?}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum EmailEntry {
    Address(String),
    Object {
        value: String,
        #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        primary: Option<bool>,
    },
}

impl EmailEntry {
    pub fn value(&self) -> &str {
        match self {
            EmailEntry::Address(v) | EmailEntry::Object { value: v, .. } => v,
        }
    }

    pub fn primary(&self) -> bool {
        matches!(
            self,
            EmailEntry::Object {
                primary: Some(true),
                ..
            }
        )
    }
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub directory: String,
    #[serde(rename = "userName")]
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        rename = "externalId",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emails: Vec<EmailEntry>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub directory: String,
    #[serde(rename = "displayName")]
    pub display_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        default,
        rename = "externalId",
        skip_serializing_if = "Option::is_none"
    )]
    pub external_id: Option<String>,
    /// userNames, and `group:DISPLAYNAME` for nested groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<String>,
}

/// `{account}`, `{organization}` or `{organization, accounts: [..]}`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ScopeEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RoleAssignmentEntry {
    pub directory: String,
    /// The group's displayName (exactly one of `group` and `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// The user's userName.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    pub role: String,
    pub scope: ScopeEntry,
}

/// A data file that cannot be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    Syntax { file: String, message: String },
}

/// The format of a data file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Json,
    Yaml,
}

impl DataFile {
    /// Parses `text`; `file` names it in errors.
    pub fn parse(text: &str, format: Format, file: &str) -> Result<Self, ParseError> {
        let syntax = |message: String| ParseError::Syntax {
            file: file.to_owned(),
            message,
        };
        match format {
            Format::Json => serde_json::from_str(text).map_err(|e| syntax(e.to_string())),
            Format::Yaml => yaml_serde::from_str(text).map_err(|e| syntax(e.to_string())),
        }
    }

    /// Reads and parses a file; `.json` is JSON, anything else YAML (a superset of JSON).
    pub fn read(path: &Path) -> Result<Self, ParseError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ParseError::Read {
            file: file.clone(),
            source,
        })?;
        let format = match path.extension().and_then(|e| e.to_str()) {
            Some("json") => Format::Json,
            _ => Format::Yaml,
        };
        Self::parse(&text, format, &file)
    }
}
