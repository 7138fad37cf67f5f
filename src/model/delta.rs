//! What changed between two revisions, entity by entity.
//!
//! A delta names every entity a range of writes touched and carries each one
//! as it is at the delta's `revision` (`Edit::Put`), or says it is gone
//! (`Edit::Delete`). Edges belong to one side so that a delta never needs the
//! other: a user carries the groups it is a direct member of and the role
//! assignments on it; a group carries the groups it is a direct member of
//! (its parents) and the role assignments on it. Replacing an entity replaces
//! the edges it owns; deleting it deletes them.
//!
//! Deltas are idempotent: applying one to any state between `from` and
//! `revision` gives the state at `revision`.

use super::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Organization, OrganizationId,
    Revision, Role, RoleAssignment, RoleName, User, UserId,
};

/// One entity in a delta: its value at the delta's revision, or gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit<K, V> {
    Put(V),
    Delete(K),
}

/// A user with the edges it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEdges {
    pub user: User,
    /// Groups the user is a direct member of.
    pub groups: Vec<GroupId>,
    /// Role assignments whose subject is the user.
    pub role_assignments: Vec<RoleAssignment>,
}

/// A group with the edges it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupEdges {
    pub group: Group,
    /// Groups this group is a direct member of.
    pub parents: Vec<GroupId>,
    /// Role assignments whose subject is the group.
    pub role_assignments: Vec<RoleAssignment>,
}

/// The entities touched by the writes after `from` up to and including
/// `revision`, as they are at `revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub from: Revision,
    pub revision: Revision,
    pub organizations: Vec<Edit<OrganizationId, Organization>>,
    pub accounts: Vec<Edit<AccountId, Account>>,
    pub directories: Vec<Edit<DirectoryId, Directory>>,
    pub roles: Vec<Edit<RoleName, Role>>,
    pub users: Vec<Edit<UserId, UserEdges>>,
    pub groups: Vec<Edit<GroupId, GroupEdges>>,
}

impl Delta {
    /// How many entities the delta touches.
    pub fn len(&self) -> usize {
        self.organizations.len()
            + self.accounts.len()
            + self.directories.len()
            + self.roles.len()
            + self.users.len()
            + self.groups.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
