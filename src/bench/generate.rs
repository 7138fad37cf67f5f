//! Generated data sets for benchmarks and load tests: a fixed-seed PRNG, a
//! role catalog, and a state shaped like a multi-tenant product.
//!
//! The shape at `users = N` (defaults of [`Shape::for_users`]):
//!
//! - `N / 100` accounts in `N / 1000` organizations (10k accounts in 1k
//!   organizations at 1M users), each organization with its own `dashboard`
//!   directory. One large tenant (`org_main`, `dir_main`) holds half the
//!   users and a tenth of the accounts; the other tenants share the rest
//!   evenly.
//! - `N / 10` groups, nested four levels deep in each tenant; a group below
//!   the top sits in one parent (2%: two).
//! - Each user joins on average 5 groups of the two lower levels (uniform in
//!   1..=9), so 5M memberships at 1M users.
//! - Role assignments at every scope kind: organization-wide on the top
//!   groups, chosen accounts on level 1, one account on levels 2 and 3, and a
//!   role of their own for 1% of users.
//! - A small `saml` tenant (`org_side`, `dir_side`) whose group roles do not
//!   count, and accounts no directory governs.
//!
//! Names: the main tenant's users are `u{i}` with userName
//! `user{i}@example.com` (10% mixed-case, 1% non-ASCII), groups `g{i}`,
//! accounts `acct_{i:05}`; tenant `k` uses `t{k}_u{i}`,
//! `user{i}@t{k}.example.net`, `t{k}_g{i}` and `acct_t{k}_{i}`.

use std::collections::HashMap;

use crate::datafile::{
    AccountEntry, DataFile, DirectoryEntry, GroupEntry, OrganizationEntry, OwnerEntry,
    RoleAssignmentEntry, RoleEntry, ScopeEntry, UserEntry,
};
use crate::engine;
use crate::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserId,
};
use crate::snapshot::Snapshot;

// === a small deterministic PRNG (splitmix64) ===

/// splitmix64: fast, seedable, good enough for shaping data.
#[derive(Debug, Clone)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is negligible here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `pct`%.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.next_u64() % 100 < pct
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

/// The seed benchmarks and `rolecall bench generate` use unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x5EED_C0FF_EE00_0001;

// === the role catalog ===

/// The generated roles and their permissions.
pub const ROLES: [(&str, &[&str]); 9] = [
    ("administrator", &["*"]),
    (
        "developer",
        &[
            "charges.*",
            "api_keys.*",
            "webhooks.*",
            "logs.read",
            "balance.read",
        ],
    ),
    (
        "analyst",
        &[
            "charges.read",
            "refunds.read",
            "payouts.read",
            "disputes.read",
            "balance.read",
            "reports.*",
        ],
    ),
    (
        "support_specialist",
        &[
            "charges.read",
            "refunds.read",
            "refunds.create",
            "customers.read",
            "customers.update",
            "disputes.read",
        ],
    ),
    (
        "view_only",
        &[
            "charges.read",
            "refunds.read",
            "payouts.read",
            "customers.read",
            "disputes.read",
            "balance.read",
            "reports.read",
        ],
    ),
    ("refund_analyst", &["refunds.*", "charges.read"]),
    ("dispute_analyst", &["disputes.*", "charges.read"]),
    ("tax_analyst", &["tax.*", "reports.read"]),
    ("iam_admin", &["team.*"]),
];

/// Permissions queries ask about: what the roles name, actions only a
/// wildcard grants, and a resource nobody holds.
pub const PERMISSIONS: [&str; 22] = [
    "charges.read",
    "charges.create",
    "charges.update",
    "refunds.read",
    "refunds.create",
    "payouts.read",
    "payouts.create",
    "disputes.read",
    "disputes.update",
    "customers.read",
    "customers.update",
    "balance.read",
    "reports.read",
    "reports.create",
    "api_keys.read",
    "api_keys.create",
    "webhooks.read",
    "logs.read",
    "tax.read",
    "team.read",
    "team.manage",
    "issuing.read",
];

// === the shape ===

/// How big the generated state is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub users: usize,
    pub groups: usize,
    pub accounts: usize,
    pub organizations: usize,
    /// Mean direct groups per user.
    pub groups_per_user: usize,
}

impl Shape {
    /// The default proportions for `users` users (at least 100).
    pub fn for_users(users: usize) -> Self {
        let users = users.max(100);
        let accounts = (users / 100).max(4);
        Shape {
            users,
            groups: (users / 10).max(8),
            accounts,
            organizations: (accounts / 10).max(1),
            groups_per_user: 5,
        }
    }
}

/// The names of one tenant's entities.
struct Tenant {
    prefix: String,
    org: OrganizationId,
    dir: DirectoryId,
    domain: String,
    /// Accounts are `acct_{i:05}` in the main tenant, else `acct_{prefix}{i}`.
    main: bool,
}

impl Tenant {
    fn user_id(&self, i: usize) -> UserId {
        UserId::new_unchecked(format!("{}u{i}", self.prefix))
    }

    fn group_id(&self, i: usize) -> GroupId {
        GroupId::new_unchecked(format!("{}g{i}", self.prefix))
    }

    fn account_id(&self, i: usize) -> AccountId {
        if self.main {
            AccountId::new_unchecked(format!("acct_{i:05}"))
        } else {
            AccountId::new_unchecked(format!("acct_{}{i}", self.prefix))
        }
    }
}

/// Generates the state for `shape` from `rng` (same seed, same state).
pub fn generate(shape: &Shape, rng: &mut Rng) -> State {
    let mut st = State {
        revision: 1,
        ..State::default()
    };
    for (name, perms) in ROLES {
        st.roles.push(Role {
            name: RoleName::new_unchecked(name),
            description: String::new(),
            permissions: perms
                .iter()
                .map(|p| PermissionPattern::parse(p).expect("the catalog's patterns parse"))
                .collect(),
        });
    }
    let roles: Vec<RoleName> = st.roles.iter().map(|r| r.name.clone()).collect();

    // Tenants: the main one takes half the users and a tenth of the
    // accounts (all of both when it is alone); the others share the rest.
    let others = shape.organizations.saturating_sub(1);
    let (main_users, main_accounts) = if others == 0 {
        (shape.users, shape.accounts)
    } else {
        (
            shape.users / 2,
            (shape.accounts / 10).max(4).min(shape.accounts),
        )
    };
    let main_groups = if others == 0 {
        shape.groups
    } else {
        shape.groups / 2
    };
    let main = Tenant {
        prefix: String::new(),
        org: OrganizationId::new_unchecked("org_main"),
        dir: DirectoryId::new_unchecked("dir_main"),
        domain: "example.com".into(),
        main: true,
    };
    tenant(
        &mut st,
        &main,
        main_users,
        main_groups,
        main_accounts,
        shape.groups_per_user,
        &roles,
        rng,
    );
    for k in 0..others {
        let share = |total: usize, main: usize| {
            let rest = total.saturating_sub(main);
            rest / others + usize::from(k < rest % others)
        };
        let t = Tenant {
            prefix: format!("t{k}_"),
            org: OrganizationId::new_unchecked(format!("org_t{k}")),
            dir: DirectoryId::new_unchecked(format!("dir_t{k}")),
            domain: format!("t{k}.example.net"),
            main: false,
        };
        tenant(
            &mut st,
            &t,
            share(shape.users, main_users).max(1),
            share(shape.groups, main_groups).max(4),
            share(shape.accounts, main_accounts).max(1),
            shape.groups_per_user,
            &roles,
            rng,
        );
    }
    side_tenant(&mut st, (shape.users / 100).max(10), &roles);
    for i in 0..10 {
        st.accounts.push(Account {
            id: AccountId::new_unchecked(format!("acct_nodir_{i}")),
            name: format!("No directory {i}"),
            organization: None,
        });
    }
    st
}

#[allow(clippy::too_many_arguments)]
fn tenant(
    st: &mut State,
    t: &Tenant,
    users: usize,
    groups: usize,
    accounts: usize,
    groups_per_user: usize,
    roles: &[RoleName],
    rng: &mut Rng,
) {
    st.organizations.push(Organization {
        id: t.org.clone(),
        name: t.org.to_string(),
    });
    let account_ids: Vec<AccountId> = (0..accounts).map(|i| t.account_id(i)).collect();
    for a in &account_ids {
        st.accounts.push(Account {
            id: a.clone(),
            name: a.to_string(),
            organization: Some(t.org.clone()),
        });
    }
    st.directories.push(Directory {
        id: t.dir.clone(),
        owner: Owner::Organization(t.org.clone()),
        domains: vec![t.domain.clone()],
        mode: Mode::Dashboard,
    });
    // Roles handed out below the top: not the administrator.
    let common = &roles[1..];

    for i in 0..users {
        let user_name = if rng.pct(1) {
            format!("élodie{i}@{}", t.domain)
        } else if rng.pct(10) {
            format!("User{i}@{}", t.domain.to_uppercase())
        } else {
            format!("user{i}@{}", t.domain)
        };
        st.users.push(User {
            id: t.user_id(i),
            directory: t.dir.clone(),
            user_name,
            active: !rng.pct(2),
        });
    }

    // Groups, four levels; each below the top is in one (2%: two) parents.
    let n = groups.max(4);
    let l0 = (n / 1000).clamp(1, 10);
    let l1 = (n / 100).max(1);
    let l2 = (n / 10).max(1);
    let bounds = [0, l0, l0 + l1, l0 + l1 + l2, n];
    for i in 0..n {
        st.groups.push(Group {
            id: t.group_id(i),
            directory: t.dir.clone(),
            display_name: format!("Group {i}"),
        });
    }
    for level in 1..4 {
        let parents = bounds[level - 1]..bounds[level];
        for g in bounds[level]..bounds[level + 1] {
            let first = parents.start + rng.below(parents.len());
            st.memberships.push(Membership {
                group: t.group_id(first),
                member: Member::Group(t.group_id(g)),
            });
            if rng.pct(2) && parents.len() > 1 {
                let second = parents.start + rng.below(parents.len());
                if second != first {
                    st.memberships.push(Membership {
                        group: t.group_id(second),
                        member: Member::Group(t.group_id(g)),
                    });
                }
            }
        }
    }
    // Users join groups of the two lower levels: 1..=2m-1, mean m, distinct.
    let leaves = bounds[2]..n;
    let mut picked = Vec::new();
    for i in 0..users {
        let want = (1 + rng.below(2 * groups_per_user.max(1) - 1)).min(leaves.len());
        picked.clear();
        while picked.len() < want {
            let g = leaves.start + rng.below(leaves.len());
            if !picked.contains(&g) {
                picked.push(g);
            }
        }
        for &g in &picked {
            st.memberships.push(Membership {
                group: t.group_id(g),
                member: Member::User(t.user_id(i)),
            });
        }
    }

    let mut assign = |subject: Subject, role: &RoleName, scope: Scope| {
        st.role_assignments.push(RoleAssignment {
            directory: t.dir.clone(),
            subject,
            role: role.clone(),
            scope,
        })
    };
    // Top: organization-wide roles (view_only, analyst, then the rest).
    for g in 0..l0 {
        let role = &roles[[4, 2, 3, 1][g % 4]];
        assign(
            Subject::Group(t.group_id(g)),
            role,
            Scope::Organization(t.org.clone()),
        );
    }
    // Level 1: a role on a chosen list of accounts.
    for g in bounds[1]..bounds[2] {
        let mut chosen: Vec<AccountId> = (0..(5 + rng.below(16)).min(accounts))
            .map(|_| rng.pick(&account_ids).clone())
            .collect();
        chosen.sort();
        chosen.dedup();
        let role = rng.pick(common).clone();
        assign(
            Subject::Group(t.group_id(g)),
            &role,
            Scope::OrganizationAccounts {
                organization: t.org.clone(),
                accounts: chosen,
            },
        );
    }
    // Levels 2 and 3: a role on one account (all of level 2, half of level 3).
    for g in bounds[2]..n {
        if g >= bounds[3] && rng.pct(50) {
            continue;
        }
        let role = rng.pick(common).clone();
        let acct = rng.pick(&account_ids).clone();
        assign(Subject::Group(t.group_id(g)), &role, Scope::Account(acct));
    }
    // 1% of users: a role of their own on one account; a tenth of them administrators.
    for i in 0..users {
        if rng.pct(1) {
            let role = if rng.pct(10) {
                roles[0].clone()
            } else {
                rng.pick(common).clone()
            };
            let acct = rng.pick(&account_ids).clone();
            assign(Subject::User(t.user_id(i)), &role, Scope::Account(acct));
        }
    }
}

/// A `saml` tenant: group roles that do not count, and a `view_only` role of
/// their own for every tenth person.
fn side_tenant(st: &mut State, users: usize, roles: &[RoleName]) {
    let org = OrganizationId::new_unchecked("org_side");
    let dir = DirectoryId::new_unchecked("dir_side");
    st.organizations.push(Organization {
        id: org.clone(),
        name: org.to_string(),
    });
    for i in 0..10 {
        st.accounts.push(Account {
            id: AccountId::new_unchecked(format!("acct_side_{i}")),
            name: format!("Side {i}"),
            organization: Some(org.clone()),
        });
    }
    st.directories.push(Directory {
        id: dir.clone(),
        owner: Owner::Organization(org.clone()),
        domains: vec!["side.example".into()],
        mode: Mode::Saml,
    });
    let uid = |i: usize| UserId::new_unchecked(format!("s{i}"));
    for i in 0..users {
        st.users.push(User {
            id: uid(i),
            directory: dir.clone(),
            user_name: format!("person{i}@side.example"),
            active: true,
        });
    }
    for (k, role) in roles.iter().take(4).enumerate() {
        let g = GroupId::new_unchecked(format!("side_g{k}"));
        st.groups.push(Group {
            id: g.clone(),
            directory: dir.clone(),
            display_name: format!("Side {k}"),
        });
        for i in (k..users).step_by(4) {
            st.memberships.push(Membership {
                group: g.clone(),
                member: Member::User(uid(i)),
            });
        }
        st.role_assignments.push(RoleAssignment {
            directory: dir.clone(),
            subject: Subject::Group(g),
            role: role.clone(),
            scope: Scope::Organization(org.clone()),
        });
    }
    for i in (0..users).step_by(10) {
        st.role_assignments.push(RoleAssignment {
            directory: dir.clone(),
            subject: Subject::User(uid(i)),
            role: roles[4].clone(),
            scope: Scope::Organization(org.clone()),
        });
    }
}

// === queries ===

/// One check to ask, with the answer the snapshot gives.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Query {
    pub user: String,
    pub permission: String,
    pub account: String,
}

/// How a query names a user: the stored userName (70%), an upper-case
/// variant of it (15%), or the SCIM id (15%).
fn user_ref(rng: &mut Rng, u: &User) -> String {
    match rng.below(20) {
        0..=13 => u.user_name.clone(),
        14..=16 => u.user_name.to_uppercase(),
        _ => u.id.to_string(),
    }
}

/// Checks to ask, `hit_pct`% of them allowed by `snap`. Allowed ones pair a
/// user with an account of their own organization; denied ones are mostly
/// known users without the grant, plus unknown users and accounts, accounts
/// of another tenant or of none, inactive users, and `saml`-suppressed roles.
pub fn queries(
    st: &State,
    snap: &Snapshot,
    count: usize,
    hit_pct: u64,
    rng: &mut Rng,
) -> Vec<Query> {
    let org_of: HashMap<&str, &str> = st
        .directories
        .iter()
        .filter_map(|d| match &d.owner {
            Owner::Organization(o) => Some((d.id.as_str(), o.as_str())),
            Owner::Account(_) => None,
        })
        .collect();
    let mut accounts_of: HashMap<&str, Vec<&Account>> = HashMap::new();
    for a in &st.accounts {
        if let Some(o) = &a.organization {
            accounts_of.entry(o.as_str()).or_default().push(a);
        }
    }
    let users: Vec<&User> = st
        .users
        .iter()
        .filter(|u| u.directory.as_str() != "dir_side")
        .collect();
    let side: Vec<&User> = st
        .users
        .iter()
        .filter(|u| u.directory.as_str() == "dir_side")
        .collect();
    let inactive: Vec<&User> = users.iter().copied().filter(|u| !u.active).collect();
    let nodir: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| a.organization.is_none())
        .collect();
    let all_accounts: Vec<&Account> = st.accounts.iter().collect();
    let own_account = |rng: &mut Rng, u: &User| -> String {
        let org = org_of[u.directory.as_str()];
        rng.pick(&accounts_of[org]).id.to_string()
    };

    let mut out = Vec::with_capacity(count);
    let mut tries = 0u64;
    // Each slot decides allowed or denied once, then draws until it fits.
    let mut want_hit = rng.pct(hit_pct);
    while out.len() < count {
        tries += 1;
        assert!(
            tries < 1000 * count as u64 + 1_000_000,
            "cannot find enough checks of the asked mix"
        );
        let perm = *rng.pick(&PERMISSIONS);
        let u = *rng.pick(&users);
        let q = if want_hit {
            Query {
                user: user_ref(rng, u),
                permission: perm.into(),
                account: own_account(rng, u),
            }
        } else {
            let (user, account) = match rng.below(20) {
                0..=2 => (
                    format!("nobody{}@example.com", rng.below(1 << 20)),
                    own_account(rng, u),
                ),
                3 => (user_ref(rng, u), "acct_missing".to_owned()),
                4 => (user_ref(rng, u), rng.pick(&nodir).id.to_string()),
                5 if !inactive.is_empty() => {
                    let x = *rng.pick(&inactive);
                    (user_ref(rng, x), own_account(rng, x))
                }
                6 => (user_ref(rng, u), rng.pick(&all_accounts).id.to_string()),
                7 if !side.is_empty() => {
                    let s = *rng.pick(&side);
                    (user_ref(rng, s), own_account(rng, s))
                }
                _ => (user_ref(rng, u), own_account(rng, u)),
            };
            Query {
                user,
                permission: perm.into(),
                account,
            }
        };
        if engine::check(snap, &q.user, &q.permission, &q.account) == want_hit {
            out.push(q);
            want_hit = rng.pct(hit_pct);
        }
    }
    out
}

// === the data file ===

/// The state as a data file `rolecall import` reads: ids kept, memberships as
/// member lists, subjects by userName and displayName. Group role
/// assignments of a `saml` directory are left out: an import refuses them
/// (they can only be kept from before a switch to `saml`).
pub fn data_file(st: &State) -> DataFile {
    let saml: std::collections::HashSet<&str> = st
        .directories
        .iter()
        .filter(|d| d.mode == Mode::Saml)
        .map(|d| d.id.as_str())
        .collect();
    let user_names: HashMap<&str, &str> = st
        .users
        .iter()
        .map(|u| (u.id.as_str(), u.user_name.as_str()))
        .collect();
    let group_names: HashMap<&str, &str> = st
        .groups
        .iter()
        .map(|g| (g.id.as_str(), g.display_name.as_str()))
        .collect();
    let mut members: HashMap<&str, Vec<String>> = HashMap::new();
    for m in &st.memberships {
        let entry = match &m.member {
            Member::User(u) => user_names[u.as_str()].to_owned(),
            Member::Group(g) => format!("group:{}", group_names[g.as_str()]),
        };
        members.entry(m.group.as_str()).or_default().push(entry);
    }
    DataFile {
        organizations: st
            .organizations
            .iter()
            .map(|o| OrganizationEntry {
                id: o.id.to_string(),
                name: o.name.clone(),
            })
            .collect(),
        accounts: st
            .accounts
            .iter()
            .map(|a| AccountEntry {
                id: a.id.to_string(),
                name: a.name.clone(),
                organization: a.organization.as_ref().map(|o| o.to_string()),
            })
            .collect(),
        directories: st
            .directories
            .iter()
            .map(|d| DirectoryEntry {
                id: d.id.to_string(),
                owner: match &d.owner {
                    Owner::Organization(o) => OwnerEntry {
                        organization: Some(o.to_string()),
                        account: None,
                    },
                    Owner::Account(a) => OwnerEntry {
                        organization: None,
                        account: Some(a.to_string()),
                    },
                },
                domains: d.domains.clone(),
                mode: Some(
                    match d.mode {
                        Mode::Dashboard => "dashboard",
                        Mode::Saml => "saml",
                    }
                    .to_owned(),
                ),
            })
            .collect(),
        roles: st
            .roles
            .iter()
            .map(|r| RoleEntry {
                name: r.name.to_string(),
                description: (!r.description.is_empty()).then(|| r.description.clone()),
                permissions: r.permissions.iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
        users: st
            .users
            .iter()
            .map(|u| UserEntry {
                directory: u.directory.to_string(),
                user_name: u.user_name.clone(),
                id: Some(u.id.to_string()),
                external_id: None,
                active: Some(u.active),
                emails: Vec::new(),
            })
            .collect(),
        groups: st
            .groups
            .iter()
            .map(|g| GroupEntry {
                directory: g.directory.to_string(),
                display_name: g.display_name.clone(),
                id: Some(g.id.to_string()),
                external_id: None,
                members: members.remove(g.id.as_str()).unwrap_or_default(),
            })
            .collect(),
        role_assignments: st
            .role_assignments
            .iter()
            .filter(|a| {
                !(matches!(a.subject, Subject::Group(_)) && saml.contains(a.directory.as_str()))
            })
            .map(|a| {
                let (group, user) = match &a.subject {
                    Subject::Group(g) => (Some(group_names[g.as_str()].to_owned()), None),
                    Subject::User(u) => (None, Some(user_names[u.as_str()].to_owned())),
                };
                RoleAssignmentEntry {
                    directory: a.directory.to_string(),
                    group,
                    user,
                    role: a.role.to_string(),
                    scope: match &a.scope {
                        Scope::Account(acct) => ScopeEntry {
                            account: Some(acct.to_string()),
                            organization: None,
                            accounts: None,
                        },
                        Scope::Organization(o) => ScopeEntry {
                            account: None,
                            organization: Some(o.to_string()),
                            accounts: None,
                        },
                        Scope::OrganizationAccounts {
                            organization,
                            accounts,
                        } => ScopeEntry {
                            account: None,
                            organization: Some(organization.to_string()),
                            accounts: Some(accounts.iter().map(|a| a.to_string()).collect()),
                        },
                    },
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot;

    #[test]
    fn the_shape_follows_the_sizes_and_builds() {
        let shape = Shape::for_users(20_000);
        let st = generate(&shape, &mut Rng(DEFAULT_SEED));
        let tenants = shape.organizations;
        assert_eq!(tenants, 20);
        // Tenants plus the saml side tenant.
        assert_eq!(st.organizations.len(), tenants + 1);
        assert_eq!(st.directories.len(), tenants + 1);
        let main = st
            .users
            .iter()
            .filter(|u| u.directory.as_str() == "dir_main");
        assert_eq!(main.count(), 10_000);
        let users = st
            .users
            .iter()
            .filter(|u| u.directory.as_str() != "dir_side");
        assert_eq!(users.count(), 20_000);
        let user_memberships = st
            .memberships
            .iter()
            .filter(|m| matches!(m.member, Member::User(_)))
            .count() as f64;
        // Mean 5 per user (the side tenant adds one each for 200 people).
        let mean = user_memberships / 20_200.0;
        assert!((4.5..5.5).contains(&mean), "mean groups per user {mean}");
        let snap = snapshot::build(&st).expect("the generated state builds");
        assert_eq!(snap.stats().users, st.users.len());
    }

    #[test]
    fn the_same_seed_gives_the_same_state() {
        let shape = Shape::for_users(1_000);
        assert_eq!(generate(&shape, &mut Rng(7)), generate(&shape, &mut Rng(7)));
    }

    #[test]
    fn queries_have_the_asked_mix() {
        let st = generate(&Shape::for_users(2_000), &mut Rng(DEFAULT_SEED));
        let snap = snapshot::build(&st).expect("builds");
        let qs = queries(&st, &snap, 1_000, 50, &mut Rng(1));
        let hits = qs
            .iter()
            .filter(|q| engine::check(&snap, &q.user, &q.permission, &q.account))
            .count();
        assert!((400..600).contains(&hits), "{hits} of 1000 allowed");
    }

    #[test]
    fn the_data_file_round_trips_through_import_shapes() {
        let st = generate(&Shape::for_users(500), &mut Rng(3));
        let file = data_file(&st);
        let json = serde_json::to_string(&file).expect("serializes");
        let back = DataFile::parse(&json, crate::datafile::Format::Json, "generated")
            .expect("parses as a data file");
        assert_eq!(back, file);
        assert_eq!(back.users.len(), st.users.len());
        let members: usize = back.groups.iter().map(|g| g.members.len()).sum();
        assert_eq!(members, st.memberships.len());
    }
}
