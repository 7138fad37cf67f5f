//! The compiled engine against a reference evaluator written straight from
//! the rule in DESIGN.md ("The decision"): naive, string-based, no snapshot.
//!
//! Random states (organizations, accounts, directories in both modes, users
//! with userNames in random letter case, nested and cyclic groups, roles with
//! exact, `resource.*` and `*` patterns, role assignments at every scope kind)
//! and random queries; `check`, `explain`, `list_permissions`,
//! `lookup_accounts` and `lookup_users` must all agree with the reference.

use std::collections::HashSet;

use proptest::prelude::*;
use rolecall::engine::{self, DenyReason, Outcome, Via};
use rolecall::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserId,
};
use rolecall::snapshot;

// === vocabulary ===

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

const UNKNOWN_ACCOUNT: &str = "acct_nope";

// === the generated input ===

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

#[derive(Debug, Clone)]
enum UserRef {
    /// The userName of user `i` of the account's governing directory (of
    /// any directory when it has none), in a random case variant.
    Name(usize, u64),
    /// The userName of user `i` of any directory, in a random case variant.
    AnyName(usize, u64),
    /// The base userName `i` of the pool, in a random case variant.
    PoolName(usize, u64),
    /// The SCIM id of user `i` of the account's governing directory (of any
    /// directory when it has none).
    Id(usize),
    /// The SCIM id of user `i`, upper-cased (ids are case-sensitive).
    IdUpper(usize),
    Unknown,
}

#[derive(Debug, Clone)]
struct Query {
    user: UserRef,
    permission: usize,
    account: AccountRef,
}

#[derive(Debug, Clone)]
enum AccountRef {
    /// Account `i` of those a directory governs (of all when none is).
    Governed(usize),
    /// Account `i`.
    Any(usize),
    Unknown,
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

fn user_ref() -> impl Strategy<Value = UserRef> {
    prop_oneof![
        6 => (any::<usize>(), any::<u64>()).prop_map(|(i, c)| UserRef::Name(i, c)),
        1 => (any::<usize>(), any::<u64>()).prop_map(|(i, c)| UserRef::AnyName(i, c)),
        1 => (0..NAMES.len(), any::<u64>()).prop_map(|(i, c)| UserRef::PoolName(i, c)),
        2 => any::<usize>().prop_map(UserRef::Id),
        1 => any::<usize>().prop_map(UserRef::IdUpper),
        1 => Just(UserRef::Unknown),
    ]
}

fn queries() -> impl Strategy<Value = Vec<Query>> {
    prop::collection::vec(
        (
            user_ref(),
            any::<usize>(),
            prop_oneof![
                6 => any::<usize>().prop_map(AccountRef::Governed),
                3 => any::<usize>().prop_map(AccountRef::Any),
                1 => Just(AccountRef::Unknown),
            ],
        )
            .prop_map(|(user, permission, account)| Query {
                user,
                permission,
                account,
            }),
        1..=24,
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

fn query_user(state: &State, r: &UserRef, account: &str) -> String {
    // Users of the governing directory, or of any directory.
    let dir = ref_account(state, account).and_then(|a| ref_governing(state, a));
    let mut near: Vec<&User> = state
        .users
        .iter()
        .filter(|u| dir.is_some_and(|d| d.id == u.directory))
        .collect();
    if near.is_empty() {
        near = state.users.iter().collect();
    }
    match r {
        UserRef::Name(i, case) if !near.is_empty() => {
            case_variant(&near[i % near.len()].user_name, *case)
        }
        UserRef::AnyName(i, case) if !state.users.is_empty() => {
            case_variant(&state.users[i % state.users.len()].user_name, *case)
        }
        UserRef::PoolName(i, case) => case_variant(NAMES[*i], *case),
        UserRef::Id(i) if !near.is_empty() => near[i % near.len()].id.to_string(),
        UserRef::IdUpper(i) if !state.users.is_empty() => state.users[i % state.users.len()]
            .id
            .as_str()
            .to_uppercase(),
        _ => "nobody@acme.io".to_owned(),
    }
}

fn query_account(state: &State, r: &AccountRef) -> String {
    let mut governed: Vec<&Account> = state
        .accounts
        .iter()
        .filter(|a| ref_governing(state, a).is_some())
        .collect();
    if governed.is_empty() {
        governed = state.accounts.iter().collect();
    }
    match r {
        AccountRef::Governed(i) => governed[i % governed.len()].id.to_string(),
        AccountRef::Any(i) => state.accounts[i % state.accounts.len()].id.to_string(),
        AccountRef::Unknown => UNKNOWN_ACCOUNT.to_owned(),
    }
}

// === the reference evaluator: the rule of DESIGN.md, read literally ===

/// One way a role reaches a user: the group holding the role assignment
/// (`None`: the user's own role assignment), the role, the scope.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RefPath {
    via: Option<String>,
    role: String,
    scope: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum RefOutcome {
    Allowed(Vec<RefPath>),
    Denied(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RefDecision {
    directory: Option<String>,
    outcome: RefOutcome,
}

impl RefDecision {
    fn allowed(&self) -> bool {
        matches!(self.outcome, RefOutcome::Allowed(_))
    }
}

fn scope_key(s: &Scope) -> String {
    format!("{s:?}")
}

fn ref_account<'a>(state: &'a State, account: &str) -> Option<&'a Account> {
    state.accounts.iter().find(|a| a.id.as_str() == account)
}

/// The account's organization's directory, else the account's own.
fn ref_governing<'a>(state: &'a State, account: &Account) -> Option<&'a Directory> {
    let by_org = account.organization.as_ref().and_then(|o| {
        state
            .directories
            .iter()
            .find(|d| d.owner == Owner::Organization(o.clone()))
    });
    by_org.or_else(|| {
        state
            .directories
            .iter()
            .find(|d| d.owner == Owner::Account(account.id.clone()))
    })
}

/// A user of `dir` by userName (case-insensitive) or SCIM id.
fn ref_find_user<'a>(state: &'a State, dir: &Directory, user: &str) -> Option<&'a User> {
    let of_dir = || state.users.iter().filter(|u| u.directory == dir.id);
    of_dir()
        .find(|u| u.user_name.to_lowercase() == user.to_lowercase())
        .or_else(|| of_dir().find(|u| u.id.as_str() == user))
}

/// Every group the user belongs to, directly or through nested groups.
fn ref_groups_of(state: &State, user: &User) -> HashSet<GroupId> {
    let mut visited = HashSet::new();
    let mut stack: Vec<GroupId> = state
        .memberships
        .iter()
        .filter(|m| m.member == Member::User(user.id.clone()))
        .map(|m| m.group.clone())
        .collect();
    while let Some(g) = stack.pop() {
        if !visited.insert(g.clone()) {
            continue;
        }
        for m in &state.memberships {
            if m.member == Member::Group(g.clone()) {
                stack.push(m.group.clone());
            }
        }
    }
    visited
}

fn ref_covers(scope: &Scope, account: &Account) -> bool {
    match scope {
        Scope::Account(a) => *a == account.id,
        Scope::Organization(o) => account.organization.as_ref() == Some(o),
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => account.organization.as_ref() == Some(organization) && accounts.contains(&account.id),
    }
}

fn ref_role<'a>(state: &'a State, name: &RoleName) -> &'a Role {
    state.roles.iter().find(|r| r.name == *name).unwrap()
}

fn ref_role_grants(state: &State, name: &RoleName, permission: &str) -> bool {
    ref_role(state, name)
        .permissions
        .iter()
        .any(|p| p.grants(permission))
}

/// The role assignments reaching `user` whose scope covers `account`, split
/// into those that count and the group ones of a `saml` directory.
fn ref_assignments<'a>(
    state: &'a State,
    user: &User,
    account: &Account,
) -> (Vec<&'a RoleAssignment>, Vec<&'a RoleAssignment>) {
    let groups = ref_groups_of(state, user);
    let mut counted = Vec::new();
    let mut suppressed = Vec::new();
    for ra in &state.role_assignments {
        if !ref_covers(&ra.scope, account) {
            continue;
        }
        match &ra.subject {
            Subject::User(u) if *u == user.id => counted.push(ra),
            Subject::Group(g) if groups.contains(g) => {
                let group = state.groups.iter().find(|x| x.id == *g).unwrap();
                let dir = state
                    .directories
                    .iter()
                    .find(|d| d.id == group.directory)
                    .unwrap();
                if dir.mode == Mode::Dashboard {
                    counted.push(ra);
                } else {
                    suppressed.push(ra);
                }
            }
            _ => {}
        }
    }
    (counted, suppressed)
}

fn ref_path(ra: &RoleAssignment) -> RefPath {
    RefPath {
        via: match &ra.subject {
            Subject::Group(g) => Some(g.to_string()),
            Subject::User(_) => None,
        },
        role: ra.role.to_string(),
        scope: scope_key(&ra.scope),
    }
}

/// Resolves account, directory and active user, or says why not.
fn ref_resolve<'a>(
    state: &'a State,
    user: &str,
    account: &str,
) -> Result<(&'a Account, &'a Directory, &'a User), (Option<String>, &'static str)> {
    let Some(acct) = ref_account(state, account) else {
        return Err((None, "unknown_account"));
    };
    let Some(dir) = ref_governing(state, acct) else {
        return Err((None, "unknown_user"));
    };
    let Some(u) = ref_find_user(state, dir, user) else {
        return Err((Some(dir.id.to_string()), "unknown_user"));
    };
    if !u.active {
        return Err((Some(dir.id.to_string()), "inactive_user"));
    }
    Ok((acct, dir, u))
}

fn reference(state: &State, user: &str, permission: &str, account: &str) -> RefDecision {
    let (acct, dir, u) = match ref_resolve(state, user, account) {
        Ok(found) => found,
        Err((directory, reason)) => {
            return RefDecision {
                directory,
                outcome: RefOutcome::Denied(reason),
            };
        }
    };
    let (counted, suppressed) = ref_assignments(state, u, acct);
    let mut paths: Vec<RefPath> = counted
        .iter()
        .filter(|ra| ref_role_grants(state, &ra.role, permission))
        .map(|ra| ref_path(ra))
        .collect();
    paths.sort();
    let outcome = if !paths.is_empty() {
        RefOutcome::Allowed(paths)
    } else if suppressed
        .iter()
        .any(|ra| ref_role_grants(state, &ra.role, permission))
    {
        RefOutcome::Denied("saml_mode")
    } else {
        RefOutcome::Denied("no_grant")
    };
    RefDecision {
        directory: Some(dir.id.to_string()),
        outcome,
    }
}

/// The patterns the user holds on the account: those of every counted role
/// assignment covering it, sorted and deduplicated.
fn ref_list_permissions(state: &State, user: &str, account: &str) -> Vec<PermissionPattern> {
    let Ok((acct, _, u)) = ref_resolve(state, user, account) else {
        return Vec::new();
    };
    let (counted, _) = ref_assignments(state, u, acct);
    let mut out: Vec<PermissionPattern> = counted
        .iter()
        .flat_map(|ra| ref_role(state, &ra.role).permissions.iter().cloned())
        .collect();
    out.sort();
    out.dedup();
    out
}

fn ref_lookup_accounts(state: &State, user: &str, permission: &str) -> Vec<String> {
    let mut out: Vec<String> = state
        .accounts
        .iter()
        .filter(|a| reference(state, user, permission, a.id.as_str()).allowed())
        .map(|a| a.id.to_string())
        .collect();
    out.sort();
    out
}

/// (userName, SCIM id, sorted paths) of every user of the governing
/// directory the reference allows, sorted by userName then id.
fn ref_lookup_users(
    state: &State,
    permission: &str,
    account: &str,
) -> Vec<(String, String, Vec<RefPath>)> {
    let Some(acct) = ref_account(state, account) else {
        return Vec::new();
    };
    let Some(dir) = ref_governing(state, acct) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for u in state.users.iter().filter(|u| u.directory == dir.id) {
        if let RefOutcome::Allowed(paths) =
            reference(state, u.id.as_str(), permission, account).outcome
        {
            out.push((u.user_name.clone(), u.id.to_string(), paths));
        }
    }
    out.sort();
    out
}

// === the comparison ===

fn compare(state: &State, queries: &[Query]) -> Result<(), TestCaseError> {
    let snap = snapshot::build(state).map_err(|e| TestCaseError::fail(format!("build: {e}")))?;
    let perms = permissions();
    for q in queries {
        let account = query_account(state, &q.account);
        let user = query_user(state, &q.user, &account);
        let permission = &perms[q.permission % perms.len()];
        let ctx = format!("check({user:?}, {permission:?}, {account:?})");
        let want = reference(state, &user, permission, &account);

        prop_assert_eq!(
            engine::check(&snap, &user, permission, &account),
            want.allowed(),
            "{}: check disagrees with the reference {:?}",
            ctx,
            want
        );

        let got = engine::explain(&snap, &user, permission, &account);
        prop_assert_eq!(got.allowed(), want.allowed(), "{}: explain {:?}", ctx, got);
        prop_assert_eq!(
            got.directory.map(str::to_owned),
            want.directory.clone(),
            "{}: explain's directory",
            ctx
        );
        match (&got.outcome, &want.outcome) {
            (Outcome::Denied(reason), RefOutcome::Denied(expected)) => {
                prop_assert_eq!(reason.as_str(), *expected, "{}: deny reason", ctx);
            }
            (Outcome::Allowed(path), RefOutcome::Allowed(paths)) => {
                let via = match path.via {
                    Via::Direct => None,
                    Via::Group { id, display_name } => {
                        let g = state.groups.iter().find(|g| g.id.as_str() == id);
                        prop_assert_eq!(
                            g.map(|g| g.display_name.as_str()),
                            Some(display_name),
                            "{}: group of the path",
                            ctx
                        );
                        Some(id.to_owned())
                    }
                };
                let p = RefPath {
                    via,
                    role: path.role.to_owned(),
                    scope: scope_key(path.scope),
                };
                prop_assert!(
                    paths.contains(&p),
                    "{}: explained path {:?} is not one of the reference's {:?}",
                    ctx,
                    p,
                    paths
                );
                let role = ref_role(state, &RoleName::new_unchecked(path.role));
                prop_assert!(
                    role.permissions.contains(path.matched) && path.matched.grants(permission),
                    "{}: matched pattern `{}` of role `{}` does not grant it",
                    ctx,
                    path.matched,
                    path.role
                );
            }
            _ => unreachable!("allowed() agreed above"),
        }

        // list_permissions: the reference's patterns, each once (in the
        // engine's order), and consistent with check.
        let listed: Vec<PermissionPattern> = engine::list_permissions(&snap, &user, &account)
            .into_iter()
            .cloned()
            .collect();
        let mut as_set = listed.clone();
        as_set.sort();
        as_set.dedup();
        prop_assert_eq!(
            as_set.len(),
            listed.len(),
            "{}: list_permissions repeats",
            ctx
        );
        prop_assert_eq!(
            &as_set,
            &ref_list_permissions(state, &user, &account),
            "{}: list_permissions {:?}",
            ctx,
            &listed
        );
        for p in &perms {
            prop_assert_eq!(
                listed.iter().any(|pat| pat.grants(p)),
                reference(state, &user, p, &account).allowed(),
                "{}: list_permissions {:?} vs the reference on `{}`",
                ctx,
                listed,
                p
            );
        }

        // lookup_accounts: every account the reference allows.
        let accounts: Vec<String> = engine::lookup_accounts(&snap, &user, permission)
            .into_iter()
            .map(str::to_owned)
            .collect();
        prop_assert_eq!(
            accounts,
            ref_lookup_accounts(state, &user, permission),
            "lookup_accounts({:?}, {:?})",
            user,
            permission
        );

        // lookup_users: every user of the governing directory the reference
        // allows, with every granting path, sorted by userName.
        let mut users: Vec<(String, String, Vec<RefPath>)> =
            engine::lookup_users(&snap, permission, &account)
                .into_iter()
                .map(|ua| {
                    let mut paths: Vec<RefPath> = ua
                        .grants
                        .iter()
                        .map(|g| RefPath {
                            via: match g.via {
                                Via::Direct => None,
                                Via::Group { id, .. } => Some(id.to_owned()),
                            },
                            role: g.role.to_owned(),
                            scope: scope_key(g.scope),
                        })
                        .collect();
                    paths.sort();
                    (ua.user_name.to_owned(), ua.user_id.to_owned(), paths)
                })
                .collect();
        prop_assert!(
            users.windows(2).all(|w| w[0].0 <= w[1].0),
            "lookup_users({:?}, {:?}) is not sorted by userName: {:?}",
            permission,
            account,
            users
        );
        users.sort();
        prop_assert_eq!(
            users,
            ref_lookup_users(state, permission, &account),
            "lookup_users({:?}, {:?})",
            permission,
            account
        );
    }
    Ok(())
}

proptest! {
    // About a second in debug; `PROPTEST_CASES=100000` for a longer soak. A
    // failure prints the minimal input (nothing is persisted).
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(512)
    })]

    #[test]
    fn engine_agrees_with_the_reference(spec in spec(), queries in queries()) {
        let state = materialize(&spec);
        compare(&state, &queries)?;
    }
}

// === the generator covers what it claims to ===

/// Over many generated states and queries, every deny reason and both kinds
/// of grant (direct, via a group) occur often, and many states have a group
/// cycle: the property above does not pass on trivial inputs.
#[test]
fn generated_inputs_cover_every_outcome() {
    use std::collections::BTreeMap;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    let mut runner = TestRunner::deterministic();
    let strategy = (spec(), queries());
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    let mut cycles = 0;
    let perms = permissions();
    for _ in 0..400 {
        let (spec, queries) = strategy.new_tree(&mut runner).unwrap().current();
        let state = materialize(&spec);
        if state
            .memberships
            .iter()
            .any(|m| matches!(&m.member, Member::Group(c) if reaches(&state, &m.group, c)))
        {
            cycles += 1;
        }
        for q in &queries {
            let account = query_account(&state, &q.account);
            let user = query_user(&state, &q.user, &account);
            let permission = &perms[q.permission % perms.len()];
            match reference(&state, &user, permission, &account).outcome {
                RefOutcome::Denied(r) => *seen.entry(r).or_default() += 1,
                RefOutcome::Allowed(paths) => {
                    *seen.entry("allowed").or_default() += 1;
                    for p in paths {
                        let kind = if p.via.is_some() {
                            "via_group"
                        } else {
                            "direct"
                        };
                        *seen.entry(kind).or_default() += 1;
                    }
                }
            }
        }
    }
    let reasons = [
        DenyReason::UnknownAccount,
        DenyReason::UnknownUser,
        DenyReason::InactiveUser,
        DenyReason::NoGrant,
        DenyReason::SamlMode,
    ];
    for what in reasons
        .iter()
        .map(|r| r.as_str())
        .chain(["allowed", "via_group", "direct"])
    {
        let n = seen.get(what).copied().unwrap_or(0);
        assert!(
            n >= 20,
            "only {n} generated queries end in `{what}`: {seen:?}"
        );
    }
    assert!(
        cycles >= 20,
        "only {cycles} generated states have a group cycle"
    );
}

/// Does group `from` reach group `to` going up the nesting (`from` itself,
/// or a member of ... a member of `to`)? A membership `(g, Group(c))` closes a
/// cycle when `g` reaches `c`.
fn reaches(state: &State, from: &GroupId, to: &GroupId) -> bool {
    let mut visited = HashSet::new();
    let mut stack = vec![from.clone()];
    while let Some(g) = stack.pop() {
        if g == *to {
            return true;
        }
        if !visited.insert(g.clone()) {
            continue;
        }
        for m in &state.memberships {
            if m.member == Member::Group(g.clone()) {
                stack.push(m.group.clone());
            }
        }
    }
    false
}
