//! Domain records of rolecall: organizations, accounts, directories, users,
//! groups, roles and role assignments. Plain data: no I/O, no wire formats.

mod delta;
mod ids;
mod permission;

pub use delta::{Delta, Edit, GroupEdges, UserEdges, diff, group_edges, user_edges};

pub use ids::{
    AccountId, DirectoryId, GroupId, IdError, MAX_ID_LEN, OrganizationId, RoleName, UserId,
    validate_id,
};
pub use permission::{MAX_PERMISSION_LEN, PermissionError, PermissionPattern, split_permission};

/// The global change counter. Every acknowledged write bumps it by one.
pub type Revision = u64;

/// How a directory's users get their roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Group role assignments made in rolecall count.
    Dashboard,
    /// Roles come from SSO: group role assignments are kept but do not count.
    Saml,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Dashboard => "dashboard",
            Mode::Saml => "saml",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "dashboard" => Some(Mode::Dashboard),
            "saml" => Some(Mode::Saml),
            _ => None,
        }
    }
}

/// Who a directory belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Organization(OrganizationId),
    Account(AccountId),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: OrganizationId,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    pub organization: Option<OrganizationId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directory {
    pub id: DirectoryId,
    pub owner: Owner,
    /// Verified email domains, lowercase.
    pub domains: Vec<String>,
    pub mode: Mode,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub directory: DirectoryId,
    /// Unique per directory, compared case-insensitively.
    pub user_name: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub directory: DirectoryId,
    pub display_name: String,
}

/// A member of a group: a user, or a nested group whose members all belong.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Member {
    User(UserId),
    Group(GroupId),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Membership {
    pub group: GroupId,
    pub member: Member,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub name: RoleName,
    pub description: String,
    pub permissions: Vec<PermissionPattern>,
}

/// Who a role assignment gives the role to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Subject {
    Group(GroupId),
    User(UserId),
}

/// Where a role assignment applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// One account.
    Account(AccountId),
    /// Every account of the organization, present and future.
    Organization(OrganizationId),
    /// The chosen accounts of an organization.
    OrganizationAccounts {
        organization: OrganizationId,
        accounts: Vec<AccountId>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub directory: DirectoryId,
    pub subject: Subject,
    pub role: RoleName,
    pub scope: Scope,
}

/// Everything the decision depends on, as read from the store at one revision.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub revision: Revision,
    pub organizations: Vec<Organization>,
    pub accounts: Vec<Account>,
    pub directories: Vec<Directory>,
    pub roles: Vec<Role>,
    pub users: Vec<User>,
    pub groups: Vec<Group>,
    pub memberships: Vec<Membership>,
    pub role_assignments: Vec<RoleAssignment>,
}

/// Folds a userName for case-insensitive comparison.
pub fn fold_user_name(s: &str) -> String {
    s.to_lowercase()
}

/// Whether `s` is its own folded form, known without folding it: ASCII with
/// no upper-case letter. (A non-ASCII name may be folded already too; this
/// says no for it, and the caller folds.)
#[inline]
pub fn is_folded(s: &str) -> bool {
    s.is_ascii() && !s.bytes().any(|b| b.is_ascii_uppercase())
}
