//! The generated directory the benchmarks share: a fixed-seed PRNG, the role
//! catalog, the permissions queries ask about, and the state generator.
#![allow(dead_code)]

use rolecall::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserId,
};

// === a small deterministic PRNG (splitmix64) ===

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is negligible here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`%.
    pub fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

// === the generated directory ===

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

pub struct Sizes {
    pub users: usize,
    pub groups: usize,
    pub accounts: usize,
}

impl Sizes {
    pub fn from_env(smoke: bool) -> Self {
        let users = std::env::var("ROLECALL_BENCH_USERS")
            .ok()
            .map(|v| {
                v.parse::<usize>()
                    .unwrap_or_else(|_| panic!("ROLECALL_BENCH_USERS={v:?} is not a number"))
            })
            .unwrap_or(if smoke { 5_000 } else { 100_000 })
            .max(100);
        Sizes {
            users,
            groups: (users / 10).max(8),
            accounts: (users / 100).max(4),
        }
    }
}

/// Generates the directory. Users of the main directory are `u{i}` with
/// userName `user{i}@example.com` (some mixed-case, some non-ASCII).
pub fn generate(sizes: &Sizes, rng: &mut Rng) -> State {
    let mut st = State {
        revision: 1,
        ..State::default()
    };
    let org_main = OrganizationId::new_unchecked("org_main");
    let org_side = OrganizationId::new_unchecked("org_side");
    for o in [&org_main, &org_side] {
        st.organizations.push(Organization {
            id: o.clone(),
            name: o.to_string(),
        });
    }
    let main_accounts: Vec<AccountId> = (0..sizes.accounts)
        .map(|i| AccountId::new_unchecked(format!("acct_{i:05}")))
        .collect();
    for a in &main_accounts {
        st.accounts.push(Account {
            id: a.clone(),
            name: a.to_string(),
            organization: Some(org_main.clone()),
        });
    }
    let side_accounts: Vec<AccountId> = (0..10)
        .map(|i| AccountId::new_unchecked(format!("acct_side_{i}")))
        .collect();
    for a in &side_accounts {
        st.accounts.push(Account {
            id: a.clone(),
            name: a.to_string(),
            organization: Some(org_side.clone()),
        });
    }
    for i in 0..10 {
        st.accounts.push(Account {
            id: AccountId::new_unchecked(format!("acct_nodir_{i}")),
            name: String::new(),
            organization: None,
        });
    }

    let dir_main = DirectoryId::new_unchecked("dir_main");
    let dir_side = DirectoryId::new_unchecked("dir_side");
    st.directories.push(Directory {
        id: dir_main.clone(),
        owner: Owner::Organization(org_main.clone()),
        domains: vec!["example.com".into()],
        mode: Mode::Dashboard,
    });
    st.directories.push(Directory {
        id: dir_side.clone(),
        owner: Owner::Organization(org_side.clone()),
        domains: vec!["side.example".into()],
        mode: Mode::Saml,
    });

    for (name, perms) in ROLES {
        st.roles.push(Role {
            name: RoleName::new_unchecked(name),
            description: String::new(),
            permissions: perms
                .iter()
                .map(|p| PermissionPattern::parse(p).unwrap())
                .collect(),
        });
    }
    let roles: Vec<RoleName> = st.roles.iter().map(|r| r.name.clone()).collect();
    // Roles handed out below the top: not the administrator, mostly.
    let common = &roles[1..];

    // --- users ---
    for i in 0..sizes.users {
        let user_name = if rng.pct(1) {
            format!("élodie{i}@example.com")
        } else if rng.pct(10) {
            format!("User{i}@Example.com")
        } else {
            format!("user{i}@example.com")
        };
        st.users.push(User {
            id: UserId::new_unchecked(format!("u{i}")),
            directory: dir_main.clone(),
            user_name,
            active: !rng.pct(2),
        });
    }
    let side_users = (sizes.users / 100).max(10);
    for i in 0..side_users {
        st.users.push(User {
            id: UserId::new_unchecked(format!("s{i}")),
            directory: dir_side.clone(),
            user_name: format!("person{i}@side.example"),
            active: true,
        });
    }

    // --- groups, four levels; each below the top is in one (2%: two) parents ---
    let n = sizes.groups;
    let l0 = (n / 1000).clamp(2, 10);
    let l1 = (n / 100).max(2);
    let l2 = (n / 10).max(2);
    let bounds = [0, l0, l0 + l1, l0 + l1 + l2, n];
    for i in 0..n {
        st.groups.push(Group {
            id: GroupId::new_unchecked(format!("g{i}")),
            directory: dir_main.clone(),
            display_name: format!("Group {i}"),
        });
    }
    let gid = |i: usize| GroupId::new_unchecked(format!("g{i}"));
    for level in 1..4 {
        let (parents, members) = (
            bounds[level - 1]..bounds[level],
            bounds[level]..bounds[level + 1],
        );
        for g in members {
            let parents_of = if rng.pct(2) { 2 } else { 1 };
            for _ in 0..parents_of {
                let p = parents.start + rng.below(parents.len());
                st.memberships.push(Membership {
                    group: gid(p),
                    member: Member::Group(gid(g)),
                });
            }
        }
    }
    // Users join 1-3 groups of the two lower levels.
    let leaves = bounds[2]..n;
    for i in 0..sizes.users {
        for _ in 0..1 + rng.below(3) {
            let g = leaves.start + rng.below(leaves.len());
            st.memberships.push(Membership {
                group: gid(g),
                member: Member::User(UserId::new_unchecked(format!("u{i}"))),
            });
        }
    }

    // --- role assignments ---
    let assign =
        |st: &mut State, subject: Subject, role: &RoleName, scope: Scope, dir: &DirectoryId| {
            st.role_assignments.push(RoleAssignment {
                directory: dir.clone(),
                subject,
                role: role.clone(),
                scope,
            })
        };
    // Top: two departments get organization-wide roles.
    assign(
        &mut st,
        Subject::Group(gid(0)),
        &roles[4],
        Scope::Organization(org_main.clone()),
        &dir_main,
    );
    assign(
        &mut st,
        Subject::Group(gid(1)),
        &roles[2],
        Scope::Organization(org_main.clone()),
        &dir_main,
    );
    // Level 1: a role on a chosen list of accounts.
    for g in bounds[1]..bounds[2] {
        let accounts = (0..5 + rng.below(16))
            .map(|_| rng.pick(&main_accounts).clone())
            .collect();
        let role = rng.pick(common).clone();
        assign(
            &mut st,
            Subject::Group(gid(g)),
            &role,
            Scope::OrganizationAccounts {
                organization: org_main.clone(),
                accounts,
            },
            &dir_main,
        );
    }
    // Levels 2 and 3: a role on one account (all of level 2, half of level 3).
    for g in bounds[2]..n {
        if g >= bounds[3] && rng.pct(50) {
            continue;
        }
        let role = rng.pick(common).clone();
        let acct = rng.pick(&main_accounts).clone();
        assign(
            &mut st,
            Subject::Group(gid(g)),
            &role,
            Scope::Account(acct),
            &dir_main,
        );
    }
    // 1% of users: a role of their own on one account; a few administrators.
    for i in 0..sizes.users {
        if rng.pct(1) {
            let role = if rng.pct(10) {
                roles[0].clone()
            } else {
                rng.pick(common).clone()
            };
            let acct = rng.pick(&main_accounts).clone();
            let u = Subject::User(UserId::new_unchecked(format!("u{i}")));
            assign(&mut st, u, &role, Scope::Account(acct), &dir_main);
        }
    }
    // The side organization: groups whose roles do not count (saml), and
    // a view_only role of its own for every tenth person.
    for (k, role) in roles.iter().take(4).enumerate() {
        let g = GroupId::new_unchecked(format!("side_g{k}"));
        st.groups.push(Group {
            id: g.clone(),
            directory: dir_side.clone(),
            display_name: format!("Side {k}"),
        });
        for i in (k..side_users).step_by(4) {
            st.memberships.push(Membership {
                group: g.clone(),
                member: Member::User(UserId::new_unchecked(format!("s{i}"))),
            });
        }
        assign(
            &mut st,
            Subject::Group(g),
            role,
            Scope::Organization(org_side.clone()),
            &dir_side,
        );
    }
    for i in (0..side_users).step_by(10) {
        let u = Subject::User(UserId::new_unchecked(format!("s{i}")));
        assign(
            &mut st,
            u,
            &roles[4],
            Scope::Organization(org_side.clone()),
            &dir_side,
        );
    }
    st
}

/// Resident set size of this process (Linux `/proc/self/statm`), if readable.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
