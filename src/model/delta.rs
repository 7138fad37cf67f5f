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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Member, Mode, Owner, PermissionPattern, Scope};

    fn state() -> State {
        let dir = DirectoryId::new_unchecked("dir");
        let user = |id: &str, name: &str| User {
            id: UserId::new_unchecked(id),
            directory: dir.clone(),
            user_name: name.to_owned(),
            active: true,
        };
        let group = |id: &str| Group {
            id: GroupId::new_unchecked(id),
            directory: dir.clone(),
            display_name: id.to_uppercase(),
        };
        let member = |g: &str, m: Member| Membership {
            group: GroupId::new_unchecked(g),
            member: m,
        };
        let u = |id: &str| Member::User(UserId::new_unchecked(id));
        let g = |id: &str| Member::Group(GroupId::new_unchecked(id));
        let assign = |subject: Subject, role: &str| RoleAssignment {
            directory: dir.clone(),
            subject,
            role: RoleName::new_unchecked(role),
            scope: Scope::Organization(OrganizationId::new_unchecked("org")),
        };
        State {
            revision: 3,
            organizations: vec![Organization {
                id: OrganizationId::new_unchecked("org"),
                name: "Org".into(),
            }],
            accounts: vec![Account {
                id: AccountId::new_unchecked("acct"),
                name: "Acct".into(),
                organization: Some(OrganizationId::new_unchecked("org")),
            }],
            directories: vec![Directory {
                id: dir.clone(),
                owner: Owner::Organization(OrganizationId::new_unchecked("org")),
                domains: vec![],
                mode: Mode::Dashboard,
            }],
            roles: vec![Role {
                name: RoleName::new_unchecked("viewer"),
                description: String::new(),
                permissions: vec![PermissionPattern::parse("charges.read").unwrap()],
            }],
            users: vec![user("u1", "ann"), user("u2", "bob")],
            groups: vec![group("g1"), group("g2")],
            // g1 ⇄ g2 is a cycle.
            memberships: vec![
                member("g1", u("u1")),
                member("g2", g("g1")),
                member("g1", g("g2")),
                member("g2", u("u2")),
            ],
            role_assignments: vec![
                assign(Subject::Group(GroupId::new_unchecked("g1")), "viewer"),
                assign(Subject::User(UserId::new_unchecked("u2")), "viewer"),
            ],
        }
    }

    fn sorted(st: &State) -> State {
        fn sort<T: std::fmt::Debug>(v: &mut [T]) {
            v.sort_by_cached_key(|x| format!("{x:?}"));
        }
        let mut st = st.clone();
        sort(&mut st.organizations);
        sort(&mut st.accounts);
        sort(&mut st.directories);
        sort(&mut st.roles);
        sort(&mut st.users);
        sort(&mut st.groups);
        sort(&mut st.memberships);
        sort(&mut st.role_assignments);
        st
    }

    fn round_trip(a: &State, b: &State) {
        let d = diff(a, b);
        assert_eq!((d.from, d.revision), (a.revision, b.revision));
        let mut got = a.clone();
        got.apply(&d);
        assert_eq!(sorted(&got), sorted(b), "delta: {d:#?}");
    }

    #[test]
    fn the_diff_of_a_state_with_itself_is_empty() {
        let a = state();
        let d = diff(&a, &a);
        assert!(d.is_empty());
        assert_eq!(d.len(), 0);
    }

    #[test]
    fn applying_the_diff_gives_the_second_state() {
        let a = state();

        // A user added to a group, one renamed, one added with a role.
        let mut b = a.clone();
        b.revision = 4;
        b.memberships.push(Membership {
            group: GroupId::new_unchecked("g2"),
            member: Member::User(UserId::new_unchecked("u1")),
        });
        b.users[1].user_name = "robert".into();
        b.users.push(User {
            id: UserId::new_unchecked("u3"),
            directory: DirectoryId::new_unchecked("dir"),
            user_name: "cy".into(),
            active: false,
        });
        b.role_assignments.push(RoleAssignment {
            subject: Subject::User(UserId::new_unchecked("u3")),
            ..b.role_assignments[0].clone()
        });
        let d = diff(&a, &b);
        assert_eq!(d.users.len(), 3, "{d:#?}");
        assert!(d.groups.is_empty());
        round_trip(&a, &b);
        round_trip(&b, &a);

        // A group and its edges gone, the cycle broken, a mode and a role changed.
        let mut c = a.clone();
        c.revision = 9;
        c.groups.retain(|g| g.id.as_str() != "g2");
        c.memberships.retain(|m| {
            m.group.as_str() != "g2" && m.member != Member::Group(GroupId::new_unchecked("g2"))
        });
        c.directories[0].mode = Mode::Saml;
        c.roles[0].permissions.push(PermissionPattern::All);
        let d = diff(&a, &c);
        assert!(
            d.groups
                .contains(&Edit::Delete(GroupId::new_unchecked("g2")))
        );
        round_trip(&a, &c);
        round_trip(&c, &a);
        round_trip(&b, &c);

        // Everything gone, and back.
        let empty = State {
            revision: 12,
            ..State::default()
        };
        round_trip(&a, &empty);
        round_trip(&empty, &a);
    }

    #[test]
    fn the_last_edit_of_an_entity_wins() {
        let a = state();
        let mut renamed = a.users[0].clone();
        renamed.user_name = "anna".into();
        let d = Delta {
            from: 3,
            revision: 5,
            users: vec![
                Edit::Delete(UserId::new_unchecked("u1")),
                Edit::Put(UserEdges {
                    user: renamed.clone(),
                    groups: vec![GroupId::new_unchecked("g2")],
                    role_assignments: vec![],
                }),
            ],
            ..Delta::default()
        };
        let mut got = a.clone();
        got.apply(&d);
        assert_eq!(got.revision, 5);
        assert_eq!(got.users.iter().filter(|u| u.id == renamed.id).count(), 1);
        let u1 = user_edges(&got)
            .into_iter()
            .find(|u| u.user.id == renamed.id)
            .unwrap();
        assert_eq!(u1.user.user_name, "anna");
        assert_eq!(u1.groups, vec![GroupId::new_unchecked("g2")]);
    }
}
