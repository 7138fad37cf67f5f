//! Benchmarks of the decision engine over a generated directory.
//!
//! By default: 100k users, 10k groups nested four levels deep, 1k accounts in
//! one organization (plus a small second organization with a `saml`
//! directory, and accounts without a directory), the default-ish role catalog,
//! and role assignments at every scope kind. Everything is generated from a
//! fixed seed, so runs are comparable.
//!
//! ```sh
//! cargo bench --bench check                                # full size
//! ROLECALL_BENCH_USERS=2000 cargo bench --bench check      # quick
//! cargo bench --bench check -- --test                      # smoke: each bench once (5k users)
//! ROLECALL_BENCH_LATENCY_CALLS=0 cargo bench --bench check # skip the latency loop
//! ```
//!
//! Groups: `check/hit`, `check/miss`, `check/mixed`, `explain/mixed`,
//! `snapshot/build`. Before criterion runs, the fixture's size, heap and
//! build time are printed, and a plain timing loop prints latency percentiles
//! (of batch means; see [`latency`]).

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput};
use rolecall::engine;
use rolecall::model::{
    Account, AccountId, Directory, DirectoryId, Group, GroupId, Member, Membership, Mode,
    Organization, OrganizationId, Owner, PermissionPattern, Role, RoleAssignment, RoleName, Scope,
    State, Subject, User, UserId,
};
use rolecall::snapshot::{self, Snapshot};

/// Queries per pool; a power of two so the index is a mask.
const POOL: usize = 4096;

// === a small deterministic PRNG (splitmix64) ===

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0; the bias is negligible here).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    /// True with probability `pct`%.
    fn pct(&mut self, pct: u64) -> bool {
        self.next() % 100 < pct
    }

    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }
}

// === the generated directory ===

const ROLES: [(&str, &[&str]); 9] = [
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
const PERMISSIONS: [&str; 22] = [
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

struct Sizes {
    users: usize,
    groups: usize,
    accounts: usize,
}

impl Sizes {
    fn from_env(smoke: bool) -> Self {
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
fn generate(sizes: &Sizes, rng: &mut Rng) -> State {
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

// === queries ===

#[derive(Clone)]
struct Query {
    user: String,
    permission: &'static str,
    account: String,
}

/// How a query names a user: the stored userName, a case variant of it, or
/// the SCIM id.
fn user_ref(rng: &mut Rng, u: &User) -> String {
    match rng.below(20) {
        0..=13 => u.user_name.clone(),
        14..=16 => u.user_name.to_uppercase(),
        _ => u.id.to_string(),
    }
}

struct Queries {
    hit: Vec<Query>,
    miss: Vec<Query>,
    mixed: Vec<Query>,
}

fn queries(st: &State, snap: &Snapshot, rng: &mut Rng) -> Queries {
    let main_users: Vec<&User> = st
        .users
        .iter()
        .filter(|u| u.directory.as_str() == "dir_main")
        .collect();
    let inactive: Vec<&User> = main_users.iter().copied().filter(|u| !u.active).collect();
    let side_users: Vec<&User> = st
        .users
        .iter()
        .filter(|u| u.directory.as_str() == "dir_side")
        .collect();
    let main_accounts: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| {
            a.organization
                .as_ref()
                .is_some_and(|o| o.as_str() == "org_main")
        })
        .collect();
    let side_accounts: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| {
            a.organization
                .as_ref()
                .is_some_and(|o| o.as_str() == "org_side")
        })
        .collect();
    let nodir: Vec<&Account> = st
        .accounts
        .iter()
        .filter(|a| a.organization.is_none())
        .collect();
    let q = |user: String, permission: &'static str, account: &str| Query {
        user,
        permission,
        account: account.to_owned(),
    };

    let mut hit = Vec::with_capacity(POOL);
    let mut tries = 0u64;
    while hit.len() < POOL {
        tries += 1;
        assert!(tries < 200_000_000, "cannot find enough allowed checks");
        let u = *rng.pick(&main_users);
        let perm = *rng.pick(&PERMISSIONS);
        let query = q(user_ref(rng, u), perm, rng.pick(&main_accounts).id.as_str());
        if engine::check(snap, &query.user, query.permission, &query.account) {
            hit.push(query);
        }
    }

    // Misses: unknown users, unknown accounts, accounts with no directory,
    // inactive users, users of another directory, saml-suppressed group
    // roles, and (half of them) known active users without a grant.
    let mut miss = Vec::with_capacity(POOL);
    while miss.len() < POOL {
        let perm = *rng.pick(&PERMISSIONS);
        let acct = rng.pick(&main_accounts).id.to_string();
        let u = *rng.pick(&main_users);
        let query = match rng.below(20) {
            0..=3 => q(
                format!("nobody{}@example.com", rng.below(1 << 20)),
                perm,
                &acct,
            ),
            4 => q(user_ref(rng, u), perm, "acct_missing"),
            5 => q(user_ref(rng, u), perm, rng.pick(&nodir).id.as_str()),
            6 if !inactive.is_empty() => {
                let x = *rng.pick(&inactive);
                q(user_ref(rng, x), perm, &acct)
            }
            7 => q(user_ref(rng, u), perm, rng.pick(&side_accounts).id.as_str()),
            8 | 9 => {
                let s = *rng.pick(&side_users);
                q(user_ref(rng, s), perm, rng.pick(&side_accounts).id.as_str())
            }
            _ => q(user_ref(rng, u), perm, &acct),
        };
        if !engine::check(snap, &query.user, query.permission, &query.account) {
            miss.push(query);
        }
    }

    let mut mixed = Vec::with_capacity(POOL);
    let (mut h, mut m) = (0, 0);
    while mixed.len() < POOL {
        if rng.pct(50) {
            mixed.push(hit[h].clone());
            h += 1;
        } else {
            mixed.push(miss[m].clone());
            m += 1;
        }
    }
    Queries { hit, miss, mixed }
}

// === fixture ===

struct Fixture {
    state: State,
    snap: Snapshot,
    queries: Queries,
}

fn fixture(smoke: bool) -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let sizes = Sizes::from_env(smoke);
        let mut rng = Rng(0x5EED_C0FF_EE00_0001);
        let t = Instant::now();
        let state = generate(&sizes, &mut rng);
        let generated = t.elapsed();
        let rss_before = resident_bytes();
        let t = Instant::now();
        let snap = snapshot::build(&state).expect("the generated state builds");
        let built = t.elapsed();
        let rss_after = resident_bytes();
        let queries = queries(&state, &snap, &mut rng);
        eprintln!(
            "fixture: {} users, {} groups, {} memberships, {} accounts, {} role assignments \
             (generated in {generated:.2?})",
            state.users.len(),
            state.groups.len(),
            state.memberships.len(),
            state.accounts.len(),
            state.role_assignments.len(),
        );
        eprintln!("snapshot: {:?}", snap.stats());
        eprintln!(
            "snapshot: heap_bytes {} ({:.1} MiB), first build {built:.2?}",
            snap.heap_bytes(),
            snap.heap_bytes() as f64 / (1024.0 * 1024.0),
        );
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            eprintln!(
                "snapshot: resident memory grew by {:.1} MiB during the build",
                after.saturating_sub(before) as f64 / (1024.0 * 1024.0),
            );
        }
        Fixture {
            state,
            snap,
            queries,
        }
    })
}

/// Resident set size of this process (Linux `/proc/self/statm`), if readable.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

// === latency percentiles, outside criterion ===

/// Times `calls` checks in batches of 64 with `Instant` and prints
/// percentiles of the per-batch mean (ns per check). A batch mean hides
/// variation inside a batch: these are not single-call percentiles, but
/// `Instant::now()` costs about as much as a check, so one call cannot be
/// timed on its own.
fn latency(name: &str, snap: &Snapshot, qs: &[Query], calls: usize) {
    const BATCH: usize = 64;
    let batches = (calls / BATCH).max(1);
    let mut means = Vec::with_capacity(batches);
    let mask = qs.len() - 1;
    let mut allowed = 0usize;
    for b in 0..batches {
        let t = Instant::now();
        for k in 0..BATCH {
            let q = &qs[(b * BATCH + k) & mask];
            allowed += usize::from(engine::check(
                snap,
                black_box(&q.user),
                black_box(q.permission),
                black_box(&q.account),
            ));
        }
        means.push(t.elapsed().as_nanos() as f64 / BATCH as f64);
    }
    means.sort_by(f64::total_cmp);
    let at = |p: f64| means[((means.len() - 1) as f64 * p).round() as usize];
    let mean = means.iter().sum::<f64>() / means.len() as f64;
    eprintln!(
        "latency {name:<6} ({} checks, mean of each batch of {BATCH}, ns/check): \
         mean {mean:.1}  p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  [{} allowed]",
        batches * BATCH,
        at(0.50),
        at(0.90),
        at(0.99),
        at(0.999),
        at(1.0),
        allowed,
    );
}

// === criterion ===

fn bench_check(c: &mut Criterion, smoke: bool) {
    let f = fixture(smoke);
    let snap = &f.snap;
    let mut group = c.benchmark_group("check");
    group.throughput(Throughput::Elements(1));
    for (name, qs) in [
        ("hit", &f.queries.hit),
        ("miss", &f.queries.miss),
        ("mixed", &f.queries.mixed),
    ] {
        let mask = qs.len() - 1;
        group.bench_function(name, |b| {
            let mut i = 0usize;
            b.iter(|| {
                let q = &qs[i & mask];
                i = i.wrapping_add(1);
                engine::check(
                    snap,
                    black_box(&q.user),
                    black_box(q.permission),
                    black_box(&q.account),
                )
            })
        });
    }
    group.finish();

    let mut group = c.benchmark_group("explain");
    group.throughput(Throughput::Elements(1));
    let qs = &f.queries.mixed;
    let mask = qs.len() - 1;
    group.bench_function("mixed", |b| {
        let mut i = 0usize;
        b.iter(|| {
            let q = &qs[i & mask];
            i = i.wrapping_add(1);
            engine::explain(
                snap,
                black_box(&q.user),
                black_box(q.permission),
                black_box(&q.account),
            )
            .allowed()
        })
    });
    group.finish();
}

fn bench_build(c: &mut Criterion, smoke: bool) {
    let f = fixture(smoke);
    let mut group = c.benchmark_group("snapshot");
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.bench_function("build", |b| {
        b.iter_batched(
            || (),
            |()| snapshot::build(black_box(&f.state)).unwrap(),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let flag = |f: &str| args.iter().any(|a| a == f);
    // As criterion decides: without `--bench` (cargo test) or with `--test`,
    // each benchmark runs once.
    let smoke = !flag("--bench") || flag("--test");
    let listing = flag("--list");

    let mut c = Criterion::default().configure_from_args();
    if !smoke && !listing {
        let calls = std::env::var("ROLECALL_BENCH_LATENCY_CALLS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000usize);
        if calls > 0 {
            let f = fixture(smoke);
            for (name, qs) in [
                ("hit", &f.queries.hit),
                ("miss", &f.queries.miss),
                ("mixed", &f.queries.mixed),
            ] {
                latency(name, &f.snap, qs, calls);
            }
        }
    }
    bench_check(&mut c, smoke);
    bench_build(&mut c, smoke);
    c.final_summary();
}
