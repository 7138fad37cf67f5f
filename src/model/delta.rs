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

// === applying and computing deltas over a plain `State` ===

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use super::{Member, Membership, State, Subject};

/// Replaces, appends or removes the edited entries of `items`, keeping the
/// order of the others.
fn edit_list<K: Hash + Eq + Clone, V: Clone>(
    items: &mut Vec<V>,
    edits: &[Edit<K, V>],
    key: impl Fn(&V) -> &K,
) {
    if edits.is_empty() {
        return;
    }
    // The last edit of a key wins.
    let mut last: HashMap<&K, Option<&V>> = HashMap::new();
    let mut order = Vec::new();
    for e in edits {
        let (k, v) = match e {
            Edit::Put(v) => (key(v), Some(v)),
            Edit::Delete(k) => (k, None),
        };
        if last.insert(k, v).is_none() {
            order.push(k);
        }
    }
    let mut found: HashSet<K> = HashSet::new();
    items.retain_mut(|item| match last.get(key(item)) {
        None => true,
        Some(None) => false,
        Some(Some(v)) => {
            *item = (*v).clone();
            found.insert(key(v).clone());
            true
        }
    });
    for k in order {
        if let Some(Some(v)) = last.get(k)
            && !found.contains(k)
        {
            items.push((*v).clone());
        }
    }
}

impl State {
    /// Applies `delta`: each edited entity takes its value at the delta's
    /// revision and the edges it owns are replaced (or removed with it).
    /// Nothing is validated; the state takes the delta's revision.
    pub fn apply(&mut self, delta: &Delta) {
        edit_list(&mut self.organizations, &delta.organizations, |o| &o.id);
        edit_list(&mut self.accounts, &delta.accounts, |a| &a.id);
        edit_list(&mut self.directories, &delta.directories, |d| &d.id);
        edit_list(&mut self.roles, &delta.roles, |r| &r.name);

        let users: HashSet<&UserId> = delta
            .users
            .iter()
            .map(|e| match e {
                Edit::Put(u) => &u.user.id,
                Edit::Delete(id) => id,
            })
            .collect();
        let groups: HashSet<&GroupId> = delta
            .groups
            .iter()
            .map(|e| match e {
                Edit::Put(g) => &g.group.id,
                Edit::Delete(id) => id,
            })
            .collect();
        if users.is_empty() && groups.is_empty() {
            self.revision = delta.revision;
            return;
        }
        // Drop the edges the edited entities own…
        self.memberships.retain(|m| match &m.member {
            Member::User(u) => !users.contains(u),
            Member::Group(g) => !groups.contains(g),
        });
        self.role_assignments.retain(|ra| match &ra.subject {
            Subject::User(u) => !users.contains(u),
            Subject::Group(g) => !groups.contains(g),
        });
        // …replace the entities…
        let user_edits: Vec<Edit<UserId, User>> = delta
            .users
            .iter()
            .map(|e| match e {
                Edit::Put(u) => Edit::Put(u.user.clone()),
                Edit::Delete(id) => Edit::Delete(id.clone()),
            })
            .collect();
        edit_list(&mut self.users, &user_edits, |u| &u.id);
        let group_edits: Vec<Edit<GroupId, Group>> = delta
            .groups
            .iter()
            .map(|e| match e {
                Edit::Put(g) => Edit::Put(g.group.clone()),
                Edit::Delete(id) => Edit::Delete(id.clone()),
            })
            .collect();
        edit_list(&mut self.groups, &group_edits, |g| &g.id);
        // …and add the edges of the last value of each.
        let mut last_user: HashMap<&UserId, Option<&UserEdges>> = HashMap::new();
        let mut user_order = Vec::new();
        for e in &delta.users {
            let (k, v) = match e {
                Edit::Put(u) => (&u.user.id, Some(u)),
                Edit::Delete(id) => (id, None),
            };
            if last_user.insert(k, v).is_none() {
                user_order.push(k);
            }
        }
        for k in user_order {
            if let Some(Some(u)) = last_user.get(k) {
                self.memberships.extend(u.groups.iter().map(|g| Membership {
                    group: g.clone(),
                    member: Member::User(u.user.id.clone()),
                }));
                self.role_assignments
                    .extend(u.role_assignments.iter().cloned());
            }
        }
        let mut last_group: HashMap<&GroupId, Option<&GroupEdges>> = HashMap::new();
        let mut group_order = Vec::new();
        for e in &delta.groups {
            let (k, v) = match e {
                Edit::Put(g) => (&g.group.id, Some(g)),
                Edit::Delete(id) => (id, None),
            };
            if last_group.insert(k, v).is_none() {
                group_order.push(k);
            }
        }
        for k in group_order {
            if let Some(Some(g)) = last_group.get(k) {
                self.memberships
                    .extend(g.parents.iter().map(|p| Membership {
                        group: p.clone(),
                        member: Member::Group(g.group.id.clone()),
                    }));
                self.role_assignments
                    .extend(g.role_assignments.iter().cloned());
            }
        }
        self.revision = delta.revision;
    }
}

/// Each user of `state` with the edges it owns, in state order.
pub fn user_edges(state: &State) -> Vec<UserEdges> {
    let mut out: Vec<UserEdges> = state
        .users
        .iter()
        .map(|u| UserEdges {
            user: u.clone(),
            groups: Vec::new(),
            role_assignments: Vec::new(),
        })
        .collect();
    let pos: HashMap<&UserId, usize> = state
        .users
        .iter()
        .enumerate()
        .map(|(i, u)| (&u.id, i))
        .collect();
    for m in &state.memberships {
        if let Member::User(u) = &m.member
            && let Some(&i) = pos.get(u)
        {
            out[i].groups.push(m.group.clone());
        }
    }
    for ra in &state.role_assignments {
        if let Subject::User(u) = &ra.subject
            && let Some(&i) = pos.get(u)
        {
            out[i].role_assignments.push(ra.clone());
        }
    }
    out
}

/// Each group of `state` with the edges it owns, in state order.
pub fn group_edges(state: &State) -> Vec<GroupEdges> {
    let mut out: Vec<GroupEdges> = state
        .groups
        .iter()
        .map(|g| GroupEdges {
            group: g.clone(),
            parents: Vec::new(),
            role_assignments: Vec::new(),
        })
        .collect();
    let pos: HashMap<&GroupId, usize> = state
        .groups
        .iter()
        .enumerate()
        .map(|(i, g)| (&g.id, i))
        .collect();
    for m in &state.memberships {
        if let Member::Group(c) = &m.member
            && let Some(&i) = pos.get(c)
        {
            out[i].parents.push(m.group.clone());
        }
    }
    for ra in &state.role_assignments {
        if let Subject::Group(g) = &ra.subject
            && let Some(&i) = pos.get(g)
        {
            out[i].role_assignments.push(ra.clone());
        }
    }
    out
}

fn diff_list<K: Hash + Eq + Clone, V: Clone + PartialEq>(
    a: &[V],
    b: &[V],
    key: impl Fn(&V) -> &K,
) -> Vec<Edit<K, V>> {
    let before: HashMap<&K, &V> = a.iter().map(|v| (key(v), v)).collect();
    let after: HashSet<&K> = b.iter().map(&key).collect();
    let mut out: Vec<Edit<K, V>> = b
        .iter()
        .filter(|v| before.get(key(v)) != Some(v))
        .map(|v| Edit::Put(v.clone()))
        .collect();
    out.extend(
        a.iter()
            .filter(|v| !after.contains(key(v)))
            .map(|v| Edit::Delete(key(v).clone())),
    );
    out
}

/// The delta that turns `a` into `b`: every entity whose value or owned
/// edges (in order) differ, from `a.revision` to `b.revision`.
pub fn diff(a: &State, b: &State) -> Delta {
    Delta {
        from: a.revision,
        revision: b.revision,
        organizations: diff_list(&a.organizations, &b.organizations, |o| &o.id),
        accounts: diff_list(&a.accounts, &b.accounts, |x| &x.id),
        directories: diff_list(&a.directories, &b.directories, |d| &d.id),
        roles: diff_list(&a.roles, &b.roles, |r| &r.name),
        users: diff_list(&user_edges(a), &user_edges(b), |u| &u.user.id),
        groups: diff_list(&group_edges(a), &group_edges(b), |g| &g.group.id),
    }
}
