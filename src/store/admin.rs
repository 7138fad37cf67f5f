//! What the admin API reads and writes: organizations, accounts, directories,
//! roles, the groups view, role assignments and the audit log.

use serde_json::Value;

use crate::model::{
    AccountId, DirectoryId, Mode, OrganizationId, Owner, Revision, RoleName, Scope,
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganizationRecord {
    pub id: OrganizationId,
    pub name: String,
    /// Accounts of the organization, sorted.
    pub accounts: Vec<AccountId>,
    /// The organization's directory, if it has one.
    pub directory: Option<DirectoryId>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountRecord {
    pub id: AccountId,
    pub name: String,
    pub organization: Option<OrganizationId>,
    /// The directory that governs the account (its organization's, else its own).
    pub directory: Option<DirectoryId>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// The SCIM side of a directory: has an IdP ever called?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimStatus {
    /// Unix ms of the last SCIM request that authenticated for this directory;
    /// `None`: never connected.
    pub last_request_ms: Option<i64>,
    pub live_tokens: u32,
    pub users: u64,
    pub groups: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryRecord {
    pub id: DirectoryId,
    pub owner: Owner,
    pub domains: Vec<String>,
    pub mode: Mode,
    pub enforce_domains: bool,
    pub scim: ScimStatus,
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// A change to a directory's settings; `None` leaves a setting alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirectoryChange {
    pub domains: Option<Vec<String>>,
    pub mode: Option<Mode>,
    pub enforce_domains: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    pub name: RoleName,
    pub description: String,
    /// As written: `resource.action`, `resource.*`, `*`; sorted.
    pub permissions: Vec<String>,
    /// Part of the default catalog: read-only through the admin API.
    pub builtin: bool,
}

/// Who a role assignment is for, by SCIM id.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SubjectId {
    Group(String),
    User(String),
}

/// One role assignment as the admin API shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentRecord {
    pub directory: DirectoryId,
    pub subject: SubjectId,
    /// The group's displayName or the user's userName.
    pub subject_name: String,
    pub role: RoleName,
    pub scope: Scope,
    pub created_ms: i64,
}

/// A role and scope, as `PUT …/role-assignments` takes them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AssignmentSpec {
    pub role: RoleName,
    pub scope: Scope,
}

/// A row of the groups view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSummary {
    pub id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    /// Direct members (users and groups).
    pub direct_members: u64,
    /// Distinct users through nested groups.
    pub effective_users: u64,
    pub role_assignments: Vec<AssignmentSpec>,
}

/// A member of a group, for the members page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberSummary {
    /// `user` or `group`.
    pub kind: &'static str,
    pub id: String,
    /// userName or displayName.
    pub name: String,
    pub active: Option<bool>,
}

/// One admin write, as the audit log keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Assigned by the store; 0 when appending.
    pub id: i64,
    pub at_ms: i64,
    /// Which admin credential acted (never the secret).
    pub actor: String,
    /// `organization.create`, `group.role_assignments.set`, …
    pub action: String,
    /// The resource acted on, e.g. `directories/dir_acme/groups/<id>`.
    pub target: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub revision: Option<Revision>,
}

/// Filters of the audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditQuery {
    pub action_prefix: Option<String>,
    pub target_prefix: Option<String>,
    pub limit: u32,
    /// Entries older than this id (paging).
    pub before: Option<i64>,
}
