//! `snapshot::Incremental` against a full build: random states A and B (B a
//! random rewrite of A, or A with a few random edits — users, groups,
//! memberships, role assignments, roles, accounts, organizations and
//! directory modes added, changed and removed, nesting cycles included), and
//! every engine answer (check with its explanation, list_permissions,
//! lookup_accounts, lookup_users, for all users × permissions × accounts) of
//! the snapshot `Incremental::new(A)` reaches by applying `diff(A, B)` — whole,
//! through an intermediate state, or cut in random pieces — must equal those
//! of `snapshot::build(B)`. Plus the refusals: gaps, dangling references.

use std::collections::HashSet;
use std::sync::Arc;

use proptest::prelude::*;
use rolecall::engine;
use rolecall::model::{
    Account, AccountId, Delta, Directory, DirectoryId, Edit, Group, GroupId, Member, Membership,
    Mode, Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName,
    Scope, State, Subject, User, UserEdges, UserId, diff,
};
use rolecall::snapshot::{self, ApplyError, Incremental, Snapshot};

// === the generated input (as in tests/engine_reference.rs) ===

const RESOURCES: [&str; 3] = ["charges", "refunds", "payouts"];
const ACTIONS: [&str; 2] = ["read", "create"];

/// Permissions asked about: the vocabulary, an action no exact pattern names
/// (only `charges.*` and `*` grant it), a resource no role mentions, and a
/// resource whose name has `charges` as a prefix.
const EXTRA_PERMISSIONS: [&str; 3] = ["charges.refund", "disputes.read", "chargesx.read"];

fn permissions() -> Vec<String> {
    let mut out = Vec::new();
    for r in RESOURCES {
        for a in ACTIONS {
            out.push(format!("{r}.{a}"));
        }
    }
    out.extend(EXTRA_PERMISSIONS.iter().map(|p| p.to_string()));
    out
}

/// userNames; the same one may live in several directories. Some fold in
/// interesting ways: `É`, `Ø`, the Kelvin sign (folds to ASCII `k`), `ß`
/// (upper-cases to `SS`), and a final sigma.
const NAMES: [&str; 9] = [
    "alice@acme.io",
    "bob@acme.io",
    "carol@acme.io",
    "élodie@acme.io",
    "øyvind@acme.io",
    "kelvin@acme.io",
    "\u{212A}elvin@acme.io",
    "straße@acme.io",
    "ΟΔΥΣΣΕΑΣ@acme.io",
];

#[derive(Debug, Clone)]
struct UserSpec {
    dir: usize,
    name: usize,
    case: u64,
    active: bool,
}

#[derive(Debug, Clone)]
enum ScopeSpec {
    Account(usize),
    Organization(usize),
    OrganizationAccounts(usize, Vec<usize>),
}

#[derive(Debug, Clone)]
struct AssignSpec {
    /// `true`: a group subject.
    group: bool,
    subject: usize,
    role: usize,
    scope: ScopeSpec,
}

#[derive(Debug, Clone)]
struct Spec {
    orgs: usize,
    /// Each account's organization choice (`None`: standalone).
    accounts: Vec<Option<usize>>,
    /// (owned by an organization?, owner choice, dashboard mode?).
    directories: Vec<(bool, usize, bool)>,
    users: Vec<UserSpec>,
    /// Each group's directory choice.
    groups: Vec<usize>,
    /// (group, member is a group?, member choice).
    memberships: Vec<(usize, bool, usize)>,
    /// Each role's patterns (indices into `pattern_pool()`).
    roles: Vec<Vec<usize>>,
    assignments: Vec<AssignSpec>,
}

fn pattern_pool() -> Vec<PermissionPattern> {
    let mut out = vec![PermissionPattern::All];
    for r in RESOURCES {
        out.push(PermissionPattern::Resource(r.to_owned()));
        for a in ACTIONS {
            out.push(PermissionPattern::Exact(format!("{r}.{a}")));
        }
    }
    out
}

/// Upper- or lower-cases each character of `s` by the bits of `mask`.
fn case_variant(s: &str, mask: u64) -> String {
    s.chars()
        .enumerate()
        .flat_map(|(i, c)| {
            let v: Vec<char> = if mask >> (i % 64) & 1 == 1 {
                c.to_uppercase().collect()
            } else {
                c.to_lowercase().collect()
            };
            v
        })
        .collect()
}

fn scope_spec() -> impl Strategy<Value = ScopeSpec> {
    prop_oneof![
        any::<usize>().prop_map(ScopeSpec::Account),
        any::<usize>().prop_map(ScopeSpec::Organization),
        (any::<usize>(), prop::collection::vec(any::<usize>(), 0..4))
            .prop_map(|(o, l)| ScopeSpec::OrganizationAccounts(o, l)),
    ]
}

fn spec() -> impl Strategy<Value = Spec> {
    let accounts = prop::collection::vec(prop::option::weighted(0.7, 0usize..3), 1..=8);
    let directories = prop::collection::vec(
        (
            prop::bool::weighted(0.6),
            any::<usize>(),
            prop::bool::weighted(0.7),
        ),
        1..=4,
    );
    let users = prop::collection::vec(
        (
            any::<usize>(),
            0..NAMES.len(),
            any::<u64>(),
            prop::bool::weighted(0.85),
        )
            .prop_map(|(dir, name, case, active)| UserSpec {
                dir,
                name,
                case,
                active,
            }),
        2..=14,
    );
    let groups = prop::collection::vec(any::<usize>(), 0..=6);
    let memberships =
        prop::collection::vec((any::<usize>(), any::<bool>(), any::<usize>()), 0..=20);
    let roles = prop::collection::vec(prop::collection::vec(0usize..16, 0..=4), 1..=5);
    let assignments = prop::collection::vec(
        (any::<bool>(), any::<usize>(), any::<usize>(), scope_spec()).prop_map(
            |(group, subject, role, scope)| AssignSpec {
                group,
                subject,
                role,
                scope,
            },
        ),
        0..=24,
    );
    (
        1usize..=3,
        accounts,
        directories,
        users,
        groups,
        memberships,
        roles,
        assignments,
    )
        .prop_map(
            |(orgs, accounts, directories, users, groups, memberships, roles, assignments)| Spec {
                orgs,
                accounts,
                directories,
                users,
                groups,
                memberships,
                roles,
                assignments,
            },
        )
}

/// Builds a valid `State` from a spec: indices are taken modulo what exists,
/// and entries that would break an invariant the store keeps (two directories
/// for one owner, two users with one folded userName in a directory) are
/// dropped.
fn materialize(spec: &Spec) -> State {
    let orgs: Vec<Organization> = (0..spec.orgs)
        .map(|i| Organization {
            id: OrganizationId::new_unchecked(format!("org_{i}")),
            name: format!("Org {i}"),
        })
        .collect();
    let accounts: Vec<Account> = spec
        .accounts
        .iter()
        .enumerate()
        .map(|(i, o)| Account {
            id: AccountId::new_unchecked(format!("acct_{i}")),
            name: format!("Account {i}"),
            organization: o.map(|o| orgs[o % orgs.len()].id.clone()),
        })
        .collect();

    let mut owners = HashSet::new();
    let mut directories = Vec::new();
    for &(to_org, owner, dashboard) in &spec.directories {
        let owner = if to_org {
            Owner::Organization(orgs[owner % orgs.len()].id.clone())
        } else {
            Owner::Account(accounts[owner % accounts.len()].id.clone())
        };
        if !owners.insert(owner.clone()) {
            continue;
        }
        directories.push(Directory {
            id: DirectoryId::new_unchecked(format!("dir_{}", directories.len())),
            owner,
            domains: vec!["acme.io".to_owned()],
            mode: if dashboard {
                Mode::Dashboard
            } else {
                Mode::Saml
            },
        });
    }

    let mut users: Vec<User> = Vec::new();
    let mut groups: Vec<Group> = Vec::new();
    let mut memberships = Vec::new();
    let mut role_assignments = Vec::new();
    if !directories.is_empty() {
        let mut names = HashSet::new();
        for u in &spec.users {
            let dir = &directories[u.dir % directories.len()].id;
            let user_name = case_variant(NAMES[u.name], u.case);
            if !names.insert((dir.clone(), user_name.to_lowercase())) {
                continue;
            }
            users.push(User {
                id: UserId::new_unchecked(format!("u{}", users.len())),
                directory: dir.clone(),
                user_name,
                active: u.active,
            });
        }
        for (i, &d) in spec.groups.iter().enumerate() {
            groups.push(Group {
                id: GroupId::new_unchecked(format!("g{i}")),
                directory: directories[d % directories.len()].id.clone(),
                display_name: format!("Group {i}"),
            });
        }
        if !groups.is_empty() {
            for &(g, nested, m) in &spec.memberships {
                let group = &groups[g % groups.len()];
                // Members come from the group's own directory.
                let member = if nested {
                    let cands: Vec<_> = groups
                        .iter()
                        .filter(|c| c.directory == group.directory)
                        .collect();
                    Member::Group(cands[m % cands.len()].id.clone())
                } else {
                    let cands: Vec<_> = users
                        .iter()
                        .filter(|u| u.directory == group.directory)
                        .collect();
                    if cands.is_empty() {
                        continue;
                    }
                    Member::User(cands[m % cands.len()].id.clone())
                };
                memberships.push(Membership {
                    group: group.id.clone(),
                    member,
                });
            }
        }
    }

    let pool = pattern_pool();
    let roles: Vec<Role> = spec
        .roles
        .iter()
        .enumerate()
        .map(|(i, ps)| Role {
            name: RoleName::new_unchecked(format!("role_{i}")),
            description: String::new(),
            permissions: ps.iter().map(|&p| pool[p % pool.len()].clone()).collect(),
        })
        .collect();

    if !roles.is_empty() {
        for a in &spec.assignments {
            let (subject, directory) = if a.group && !groups.is_empty() {
                let g = &groups[a.subject % groups.len()];
                (Subject::Group(g.id.clone()), g.directory.clone())
            } else if !users.is_empty() {
                let u = &users[a.subject % users.len()];
                (Subject::User(u.id.clone()), u.directory.clone())
            } else {
                continue;
            };
            let scope = match &a.scope {
                ScopeSpec::Account(i) => Scope::Account(accounts[i % accounts.len()].id.clone()),
                ScopeSpec::Organization(o) => Scope::Organization(orgs[o % orgs.len()].id.clone()),
                ScopeSpec::OrganizationAccounts(o, list) => Scope::OrganizationAccounts {
                    organization: orgs[o % orgs.len()].id.clone(),
                    accounts: list
                        .iter()
                        .map(|i| accounts[i % accounts.len()].id.clone())
                        .collect(),
                },
            };
            role_assignments.push(RoleAssignment {
                directory,
                subject,
                role: roles[a.role % roles.len()].name.clone(),
                scope,
            });
        }
    }

    State {
        revision: 7,
        organizations: orgs,
        accounts,
        directories,
        roles,
        users,
        groups,
        memberships,
        role_assignments,
    }
}

// === edits of a spec ===

#[derive(Debug, Clone)]
enum Mutation {
    UserDir(usize, usize),
    UserName(usize, usize, u64),
    UserActive(usize),
    RemoveUser(usize),
    AddUser(usize, usize, u64),
    AddGroup(usize),
    RemoveGroup(usize),
    GroupDir(usize, usize),
    AddMembership(usize, bool, usize),
    RemoveMembership(usize),
    AddAssignment(bool, usize, usize, ScopeSpec),
    RemoveAssignment(usize),
    AssignmentRole(usize, usize),
    FlipMode(usize),
    DirOwner(usize, bool, usize),
    AddDirectory(bool, usize),
    RemoveDirectory(usize),
    RolePattern(usize, usize),
    RemoveRole(usize),
    AddRole(Vec<usize>),
    AccountOrg(usize, Option<usize>),
    AddAccount(Option<usize>),
    RemoveAccount(usize),
    AddOrg,
    RemoveOrg,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let u = any::<usize>;
    prop_oneof![
        1 => (u(), u()).prop_map(|(a, b)| Mutation::UserDir(a, b)),
        1 => (u(), 0..NAMES.len(), any::<u64>()).prop_map(|(a, b, c)| Mutation::UserName(a, b, c)),
        1 => u().prop_map(Mutation::UserActive),
        1 => u().prop_map(Mutation::RemoveUser),
        1 => (u(), 0..NAMES.len(), any::<u64>()).prop_map(|(a, b, c)| Mutation::AddUser(a, b, c)),
        1 => u().prop_map(Mutation::AddGroup),
        1 => u().prop_map(Mutation::RemoveGroup),
        1 => (u(), u()).prop_map(|(a, b)| Mutation::GroupDir(a, b)),
        3 => (u(), any::<bool>(), u()).prop_map(|(a, b, c)| Mutation::AddMembership(a, b, c)),
        2 => u().prop_map(Mutation::RemoveMembership),
        2 => (any::<bool>(), u(), u(), scope_spec())
            .prop_map(|(a, b, c, d)| Mutation::AddAssignment(a, b, c, d)),
        1 => u().prop_map(Mutation::RemoveAssignment),
        1 => (u(), u()).prop_map(|(a, b)| Mutation::AssignmentRole(a, b)),
        2 => u().prop_map(Mutation::FlipMode),
        1 => (u(), any::<bool>(), u()).prop_map(|(a, b, c)| Mutation::DirOwner(a, b, c)),
        1 => (any::<bool>(), u()).prop_map(|(a, b)| Mutation::AddDirectory(a, b)),
        1 => u().prop_map(Mutation::RemoveDirectory),
        1 => (u(), 0usize..16).prop_map(|(a, b)| Mutation::RolePattern(a, b)),
        1 => u().prop_map(Mutation::RemoveRole),
        1 => prop::collection::vec(0usize..16, 0..=3).prop_map(Mutation::AddRole),
        1 => (u(), prop::option::of(0usize..3)).prop_map(|(a, b)| Mutation::AccountOrg(a, b)),
        1 => prop::option::of(0usize..3).prop_map(Mutation::AddAccount),
        1 => u().prop_map(Mutation::RemoveAccount),
        1 => Just(Mutation::AddOrg),
        1 => Just(Mutation::RemoveOrg),
    ]
}

/// Removes entry `i % len` of `v` unless that would leave fewer than `keep`.
fn remove_at<T>(v: &mut Vec<T>, i: usize, keep: usize) {
    if v.len() > keep {
        let n = v.len();
        v.remove(i % n);
    }
}

fn mutate(spec: &Spec, edits: &[Mutation]) -> Spec {
    let mut s = spec.clone();
    for m in edits {
        match m.clone() {
            Mutation::UserDir(i, d) if !s.users.is_empty() => {
                let n = s.users.len();
                s.users[i % n].dir = d;
            }
            Mutation::UserName(i, name, case) if !s.users.is_empty() => {
                let n = s.users.len();
                s.users[i % n].name = name;
                s.users[i % n].case = case;
            }
            Mutation::UserActive(i) if !s.users.is_empty() => {
                let n = s.users.len();
                s.users[i % n].active ^= true;
            }
            Mutation::RemoveUser(i) => remove_at(&mut s.users, i, 0),
            Mutation::AddUser(dir, name, case) => s.users.push(UserSpec {
                dir,
                name,
                case,
                active: true,
            }),
            Mutation::AddGroup(d) => s.groups.push(d),
            Mutation::RemoveGroup(i) => remove_at(&mut s.groups, i, 0),
            Mutation::GroupDir(i, d) if !s.groups.is_empty() => {
                let n = s.groups.len();
                s.groups[i % n] = d;
            }
            Mutation::AddMembership(g, nested, m) => s.memberships.push((g, nested, m)),
            Mutation::RemoveMembership(i) => remove_at(&mut s.memberships, i, 0),
            Mutation::AddAssignment(group, subject, role, scope) => {
                s.assignments.push(AssignSpec {
                    group,
                    subject,
                    role,
                    scope,
                })
            }
            Mutation::RemoveAssignment(i) => remove_at(&mut s.assignments, i, 0),
            Mutation::AssignmentRole(i, r) if !s.assignments.is_empty() => {
                let n = s.assignments.len();
                s.assignments[i % n].role = r;
            }
            Mutation::FlipMode(i) => {
                let n = s.directories.len();
                s.directories[i % n].2 ^= true;
            }
            Mutation::DirOwner(i, to_org, owner) => {
                let n = s.directories.len();
                s.directories[i % n].0 = to_org;
                s.directories[i % n].1 = owner;
            }
            Mutation::AddDirectory(to_org, owner) => s.directories.push((to_org, owner, true)),
            Mutation::RemoveDirectory(i) => remove_at(&mut s.directories, i, 1),
            Mutation::RolePattern(i, p) => {
                let n = s.roles.len();
                let r = &mut s.roles[i % n];
                if let Some(at) = r.iter().position(|&q| q == p) {
                    r.remove(at);
                } else {
                    r.push(p);
                }
            }
            Mutation::RemoveRole(i) => remove_at(&mut s.roles, i, 1),
            Mutation::AddRole(ps) => s.roles.push(ps),
            Mutation::AccountOrg(i, o) => {
                let n = s.accounts.len();
                s.accounts[i % n] = o;
            }
            Mutation::AddAccount(o) => s.accounts.push(o),
            Mutation::RemoveAccount(i) => remove_at(&mut s.accounts, i, 1),
            Mutation::AddOrg => s.orgs += 1,
            Mutation::RemoveOrg => s.orgs = (s.orgs - 1).max(1),
            _ => {}
        }
    }
    s
}

/// A and B: B a few edits away from A, or (one case in four) unrelated.
fn pair() -> impl Strategy<Value = (State, State)> {
    (
        spec(),
        prop::option::weighted(0.75, prop::collection::vec(mutation(), 1..=6)),
        spec(),
    )
        .prop_map(|(a, edits, other)| {
            let b = match edits {
                Some(edits) => mutate(&a, &edits),
                None => other,
            };
            let a = materialize(&a);
            let mut b = materialize(&b);
            b.revision = a.revision + 20;
            (a, b)
        })
}

// === comparing every answer ===

/// Every answer of `snap` about the users, accounts and permissions of
/// `states`, as text.
fn answers(snap: &Snapshot, states: &[&State]) -> Vec<String> {
    let mut users = Vec::new();
    let mut accounts = vec!["acct_nope".to_owned()];
    for st in states {
        for u in &st.users {
            users.push(u.user_name.clone());
            users.push(u.user_name.to_uppercase());
            users.push(u.id.to_string());
        }
        accounts.extend(st.accounts.iter().map(|a| a.id.to_string()));
    }
    users.sort();
    users.dedup();
    accounts.sort();
    accounts.dedup();
    let perms = permissions();
    let mut out = Vec::new();
    for u in &users {
        for a in &accounts {
            for p in &perms {
                let d = engine::explain(snap, u, p, a);
                let c = engine::check(snap, u, p, a);
                out.push(format!("check {u} {p} {a}: {c} {d:?}"));
            }
            let l = engine::list_permissions(snap, u, a);
            out.push(format!("list {u} {a}: {l:?}"));
        }
        for p in &perms {
            let l = engine::lookup_accounts(snap, u, p);
            out.push(format!("accounts {u} {p}: {l:?}"));
        }
    }
    for p in &perms {
        for a in &accounts {
            let l = engine::lookup_users(snap, p, a);
            out.push(format!("users {p} {a}: {l:?}"));
        }
    }
    out
}

fn same_answers(got: &Snapshot, want: &Snapshot, states: &[&State]) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.revision(), want.revision());
    prop_assert_eq!(got.stats(), want.stats());
    let (got, want) = (answers(got, states), answers(want, states));
    prop_assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        prop_assert_eq!(g, w);
    }
    Ok(())
}

/// Each list sorted, so that states equal up to order compare equal.
fn normalized(st: &State) -> State {
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

/// Do two users of a directory share a folded userName (which the store rules out)?
fn shared_user_names(st: &State) -> bool {
    let mut seen = HashSet::new();
    !st.users
        .iter()
        .all(|u| seen.insert((u.directory.clone(), u.user_name.to_lowercase())))
}

fn built(st: &State) -> Result<Snapshot, TestCaseError> {
    snapshot::build(st).map_err(|e| TestCaseError::fail(format!("build: {e}")))
}

fn incremental(st: &State) -> Result<Incremental, TestCaseError> {
    Incremental::new(st.clone()).map_err(|e| TestCaseError::fail(format!("new: {e}")))
}

/// The edits of `d`, one delta each (all from `d.from`).
fn edits(d: &Delta) -> Vec<Delta> {
    let one = || Delta {
        from: d.from,
        ..Delta::default()
    };
    let mut out = Vec::new();
    out.extend(d.organizations.iter().map(|e| Delta {
        organizations: vec![e.clone()],
        ..one()
    }));
    out.extend(d.accounts.iter().map(|e| Delta {
        accounts: vec![e.clone()],
        ..one()
    }));
    out.extend(d.directories.iter().map(|e| Delta {
        directories: vec![e.clone()],
        ..one()
    }));
    out.extend(d.roles.iter().map(|e| Delta {
        roles: vec![e.clone()],
        ..one()
    }));
    out.extend(d.users.iter().map(|e| Delta {
        users: vec![e.clone()],
        ..one()
    }));
    out.extend(d.groups.iter().map(|e| Delta {
        groups: vec![e.clone()],
        ..one()
    }));
    out
}

fn merge(into: &mut Delta, d: Delta) {
    into.organizations.extend(d.organizations);
    into.accounts.extend(d.accounts);
    into.directories.extend(d.directories);
    into.roles.extend(d.roles);
    into.users.extend(d.users);
    into.groups.extend(d.groups);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// `diff(A, B)` applied whole, then again (a no-op), and A → M → B.
    #[test]
    fn applying_the_diff_answers_like_a_full_build(
        (a, b) in pair(),
        m in spec(),
    ) {
        let want = built(&b)?;
        let mut inc = incremental(&a)?;
        let got = inc.apply(&diff(&a, &b)).map_err(|e| TestCaseError::fail(format!("apply: {e}")))?;
        same_answers(&got, &want, &[&a, &b])?;
        prop_assert_eq!(normalized(&inc.state()), normalized(&b));
        // The same delta again is at the current revision: nothing changes.
        let again = inc.apply(&diff(&a, &b)).map_err(|e| TestCaseError::fail(format!("again: {e}")))?;
        prop_assert!(Arc::ptr_eq(&again, &got));

        // Through an unrelated intermediate state.
        let mut m = materialize(&m);
        m.revision = a.revision + 10;
        let mut inc = incremental(&a)?;
        inc.apply(&diff(&a, &m)).map_err(|e| TestCaseError::fail(format!("to m: {e}")))?;
        let got = inc.apply(&diff(&m, &b)).map_err(|e| TestCaseError::fail(format!("to b: {e}")))?;
        same_answers(&got, &want, &[&a, &m, &b])?;
    }

    /// `diff(A, B)` cut into random pieces applied in turn. A piece that would
    /// leave a dangling reference is refused (and the snapshot stays); it is
    /// then sent again with the next piece. After each accepted piece the
    /// snapshot answers like a full build of the state so far.
    #[test]
    fn the_diff_in_pieces_answers_like_full_builds(
        (a, b) in pair(),
        cuts in prop::collection::vec(any::<bool>(), 0..64),
        order in any::<u64>(),
    ) {
        let whole = diff(&a, &b);
        let mut pieces = edits(&whole);
        // A deterministic shuffle by `order`.
        let mut k = order | 1;
        for i in (1..pieces.len()).rev() {
            k ^= k << 13;
            k ^= k >> 7;
            k ^= k << 17;
            pieces.swap(i, (k % (i as u64 + 1)) as usize);
        }
        let mut inc = incremental(&a)?;
        let mut state = a.clone();
        let mut pending = Delta { from: a.revision, ..Delta::default() };
        let n = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            merge(&mut pending, piece);
            let last = i + 1 == n;
            if !last && !cuts.get(i).copied().unwrap_or(true) {
                continue;
            }
            pending.revision = if last { b.revision } else { inc.revision() + 1 };
            let before = Arc::clone(inc.snapshot());
            let mut next = state.clone();
            next.apply(&pending);
            match inc.apply(&pending) {
                Ok(got) => {
                    let want = built(&next)?;
                    same_answers(&got, &want, &[&a, &b])?;
                    state = next;
                    pending = Delta { from: a.revision, ..Delta::default() };
                }
                Err(e @ (ApplyError::Refused { .. } | ApplyError::Malformed { .. })) => {
                    prop_assert!(!last, "the last piece completes B and must apply: {}", e);
                    prop_assert!(
                        snapshot::build(&next).is_err() || shared_user_names(&next),
                        "refused a valid state: {}", e
                    );
                    prop_assert!(Arc::ptr_eq(&before, inc.snapshot()));
                }
                Err(e) => return Err(TestCaseError::fail(format!("apply: {e}"))),
            }
        }
        if n == 0 {
            prop_assert_eq!(normalized(&a), State { revision: a.revision, ..normalized(&b) });
        } else {
            prop_assert_eq!(normalized(&inc.state()), normalized(&b));
        }
    }
}

// === refusals ===

fn small() -> State {
    let spec = Spec {
        orgs: 1,
        accounts: vec![Some(0), Some(0), None],
        directories: vec![(true, 0, true), (false, 2, false)],
        users: (0..4)
            .map(|i| UserSpec {
                dir: i % 2,
                name: i,
                case: 0,
                active: true,
            })
            .collect(),
        groups: vec![0, 0, 1],
        memberships: vec![(0, false, 0), (0, true, 1), (1, false, 1), (2, false, 0)],
        roles: vec![vec![0], vec![1, 2]],
        assignments: vec![AssignSpec {
            group: true,
            subject: 1,
            role: 1,
            scope: ScopeSpec::Organization(0),
        }],
    };
    materialize(&spec)
}

fn delta(from: u64, revision: u64) -> Delta {
    Delta {
        from,
        revision,
        ..Delta::default()
    }
}

#[test]
fn a_gap_is_refused_and_an_old_delta_changes_nothing() {
    let st = small();
    let rev = st.revision;
    let mut inc = Incremental::new(st).unwrap();
    let before = Arc::clone(inc.snapshot());
    let err = inc.apply(&delta(rev + 1, rev + 2)).unwrap_err();
    assert_eq!(
        err,
        ApplyError::Gap {
            current: rev,
            from: rev + 1
        }
    );
    assert!(err.to_string().contains("full state"), "{err}");
    let same = inc.apply(&delta(rev - 3, rev)).unwrap();
    assert!(Arc::ptr_eq(&same, &before));
    let next = inc.apply(&delta(rev, rev + 1)).unwrap();
    assert_eq!(next.revision(), rev + 1);
    assert_eq!(inc.revision(), rev + 1);
}

#[test]
fn a_delta_leaving_a_dangling_reference_is_refused() {
    let st = small();
    let rev = st.revision;
    let mut inc = Incremental::new(st.clone()).unwrap();
    let before = Arc::clone(inc.snapshot());
    let refused = |inc: &mut Incremental, d: Delta, what: &str| {
        let err = inc.apply(&d).unwrap_err();
        assert!(
            matches!(
                err,
                ApplyError::Refused { .. } | ApplyError::Malformed { .. }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains(what),
            "{err} should mention {what}"
        );
        assert!(Arc::ptr_eq(&before, inc.snapshot()));
    };
    // A group that still has members.
    let mut d = delta(rev, rev + 1);
    d.groups.push(Edit::Delete(GroupId::new_unchecked("g0")));
    refused(&mut inc, d, "g0");
    // A membership of a group that does not exist.
    let u0 = st.users[0].clone();
    let mut d = delta(rev, rev + 1);
    d.users.push(Edit::Put(UserEdges {
        user: u0.clone(),
        groups: vec![GroupId::new_unchecked("g_missing")],
        role_assignments: Vec::new(),
    }));
    refused(&mut inc, d, "g_missing");
    // A role still assigned.
    let mut d = delta(rev, rev + 1);
    d.roles
        .push(Edit::Delete(RoleName::new_unchecked("role_1")));
    refused(&mut inc, d, "role_1");
    // A directory that still has users.
    let mut d = delta(rev, rev + 1);
    d.directories
        .push(Edit::Delete(st.directories[0].id.clone()));
    refused(&mut inc, d, st.directories[0].id.as_str());
    // An organization that still has accounts.
    let mut d = delta(rev, rev + 1);
    d.organizations
        .push(Edit::Delete(OrganizationId::new_unchecked("org_0")));
    refused(&mut inc, d, "org_0");
    // Two directories for one owner.
    let mut d = delta(rev, rev + 1);
    d.directories.push(Edit::Put(Directory {
        id: DirectoryId::new_unchecked("dir_new"),
        owner: st.directories[0].owner.clone(),
        domains: Vec::new(),
        mode: Mode::Dashboard,
    }));
    refused(&mut inc, d, "dir_new");
    // A role assignment a user carries for another subject.
    let mut d = delta(rev, rev + 1);
    d.users.push(Edit::Put(UserEdges {
        user: u0,
        groups: Vec::new(),
        role_assignments: vec![RoleAssignment {
            directory: st.users[0].directory.clone(),
            subject: Subject::Group(GroupId::new_unchecked("g0")),
            role: RoleName::new_unchecked("role_0"),
            scope: Scope::Account(AccountId::new_unchecked("acct_0")),
        }],
    }));
    refused(&mut inc, d, "another subject");

    // Deleting the group together with its members' memberships is fine.
    let a = st.clone();
    let mut b = st.clone();
    b.revision = rev + 1;
    b.memberships.retain(|m| {
        m.group.as_str() != "g0" && m.member != Member::Group(GroupId::new_unchecked("g0"))
    });
    b.role_assignments
        .retain(|ra| ra.subject != Subject::Group(GroupId::new_unchecked("g0")));
    b.groups.retain(|g| g.id.as_str() != "g0");
    let got = inc.apply(&diff(&a, &b)).unwrap();
    let want = snapshot::build(&b).unwrap();
    assert_eq!(answers(&got, &[&a, &b]), answers(&want, &[&a, &b]));
}

#[test]
fn the_state_round_trips() {
    let st = small();
    let inc = Incremental::new(st.clone()).unwrap();
    assert_eq!(normalized(&inc.state()), normalized(&st));
}
