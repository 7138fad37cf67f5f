//! Benchmarks of compiling snapshots: a full build, and deltas applied
//! copy-on-write by `snapshot::Incremental` over the directory of
//! `benches/check.rs` (see `common`).
//!
//! ```sh
//! cargo bench --bench snapshot                              # 100k users
//! ROLECALL_BENCH_USERS=1000000 cargo bench --bench snapshot # 1M users
//! ROLECALL_BENCH_USERS=2000 cargo test --bench snapshot     # smoke: each bench once
//! ```
//!
//! Groups: `snapshot/build` (a full build), `apply/membership` (a delta that
//! adds one membership to a user, or takes it back, and publishes the
//! result), `apply/group_role` (a role assignment added to, or taken from, a
//! group with about 1k users under it). Before criterion runs, the fixture's
//! size, heap per user and first build time are printed, and a plain timing
//! loop prints medians of both applies.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion};
use rolecall::model::{
    AccountId, Delta, Edit, GroupEdges, GroupId, Member, RoleAssignment, RoleName, Scope, State,
    Subject, UserEdges, group_edges, user_edges,
};
use rolecall::snapshot::{self, Incremental, SnapshotHolder};

mod common;
use common::{Rng, generate, resident_bytes, sizes_from_env};

/// Users whose membership the `apply/membership` bench toggles.
const POOL: usize = 1024;

struct Fixture {
    state: State,
    /// (user as it is, a group to toggle it into)
    users: Vec<(UserEdges, GroupId)>,
    /// A group with about 1k users under it, and how many.
    group: (GroupEdges, usize),
}

/// The group among the first levels (groups `g0..`) with a count of users
/// under it (through nesting) closest to 1000.
fn group_near_1k(state: &State) -> (GroupEdges, usize) {
    let mut children: HashMap<&GroupId, Vec<&GroupId>> = HashMap::new();
    let mut users: HashMap<&GroupId, Vec<&str>> = HashMap::new();
    for m in &state.memberships {
        match &m.member {
            Member::Group(c) => children.entry(&m.group).or_default().push(c),
            Member::User(u) => users.entry(&m.group).or_default().push(u.as_str()),
        }
    }
    let under = |g: &GroupId| {
        let mut seen = std::collections::HashSet::new();
        let mut found = std::collections::HashSet::new();
        let mut stack = vec![g];
        while let Some(g) = stack.pop() {
            if !seen.insert(g) {
                continue;
            }
            found.extend(users.get(g).into_iter().flatten().copied());
            stack.extend(children.get(g).into_iter().flatten().copied());
        }
        found.len()
    };
    let groups = group_edges(state);
    groups
        .into_iter()
        .filter(|g| g.group.directory.as_str() == "dir_main")
        .take(2000)
        .map(|g| {
            let n = under(&g.group.id);
            (g, n)
        })
        .min_by_key(|(_, n)| n.abs_diff(1000))
        .expect("the fixture has groups")
}

fn fixture(smoke: bool) -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let sizes = sizes_from_env(smoke);
        let mut rng = Rng(0x5EED_C0FF_EE00_0001);
        let t = Instant::now();
        let state = generate(&sizes, &mut rng);
        let generated = t.elapsed();
        // The copy handed over is made before measuring: what grows is the
        // snapshot and what `Incremental` keeps (and its build's garbage).
        let copy = state.clone();
        let rss_before = resident_bytes();
        let t = Instant::now();
        let inc = Incremental::new(copy).expect("the generated state builds");
        let built = t.elapsed();
        let rss_after = resident_bytes();
        let snap = inc.snapshot();
        let stats = snap.stats();
        eprintln!(
            "fixture: {} users, {} groups, {} memberships, {} accounts, {} role assignments \
             (generated in {generated:.2?})",
            state.users.len(),
            state.groups.len(),
            state.memberships.len(),
            state.accounts.len(),
            state.role_assignments.len(),
        );
        eprintln!("snapshot: {stats:?}");
        eprintln!(
            "snapshot: heap_bytes {} ({:.1} MiB, {:.0} bytes per user), \
             Incremental::new {built:.2?}",
            snap.heap_bytes(),
            snap.heap_bytes() as f64 / (1024.0 * 1024.0),
            snap.heap_bytes() as f64 / stats.users as f64,
        );
        if let (Some(before), Some(after)) = (rss_before, rss_after) {
            eprintln!(
                "incremental: resident memory grew by {:.1} MiB during Incremental::new \
                 (snapshot and the indexes kept to apply deltas)",
                after.saturating_sub(before) as f64 / (1024.0 * 1024.0),
            );
        }
        drop(inc);

        let edges = user_edges(&state);
        let leaves: Vec<&GroupId> = state
            .groups
            .iter()
            .map(|g| &g.id)
            .filter(|g| g.as_str().starts_with('g'))
            .skip(state.groups.len() / 10)
            .collect();
        let main: Vec<&UserEdges> = edges
            .iter()
            .filter(|u| u.user.directory.as_str() == "dir_main")
            .collect();
        let users = (0..POOL)
            .map(|_| {
                let u = (*rng.pick(&main)).clone();
                let g = (*rng.pick(&leaves)).clone();
                (u, g)
            })
            .collect();
        let group = group_near_1k(&state);
        eprintln!(
            "apply/group_role: group `{}` has {} users under it",
            group.0.group.id, group.1
        );
        Fixture {
            state,
            users,
            group,
        }
    })
}

/// Applies deltas in turn; each call makes the next one.
struct Toggler<'f> {
    f: &'f Fixture,
    inc: Incremental,
    holder: SnapshotHolder,
    next: usize,
    on: Vec<bool>,
    group_on: bool,
}

impl<'f> Toggler<'f> {
    fn new(f: &'f Fixture) -> Self {
        let inc = Incremental::new(f.state.clone()).expect("the generated state builds");
        let holder = SnapshotHolder::new();
        holder.publish(inc.snapshot().clone());
        Toggler {
            f,
            inc,
            holder,
            next: 0,
            on: vec![false; POOL],
            group_on: false,
        }
    }

    fn delta(&self) -> Delta {
        Delta {
            from: self.inc.revision(),
            revision: self.inc.revision() + 1,
            ..Delta::default()
        }
    }

    /// A delta that adds one membership to a user of the pool (or takes it back).
    fn membership(&mut self) -> Delta {
        let i = self.next % POOL;
        self.next += 1;
        let (u, g) = &self.f.users[i];
        let mut u = u.clone();
        self.on[i] = !self.on[i];
        if self.on[i] {
            u.groups.push(g.clone());
        }
        Delta {
            users: vec![Edit::Put(u)],
            ..self.delta()
        }
    }

    /// A delta that adds a role assignment to the ~1k-user group (or takes it back).
    fn group_role(&mut self) -> Delta {
        let mut g = self.f.group.0.clone();
        self.group_on = !self.group_on;
        if self.group_on {
            g.role_assignments.push(RoleAssignment {
                directory: g.group.directory.clone(),
                subject: Subject::Group(g.group.id.clone()),
                role: RoleName::new_unchecked("refund_analyst"),
                scope: Scope::Account(AccountId::new_unchecked("acct_00000")),
            });
        }
        Delta {
            groups: vec![Edit::Put(g)],
            ..self.delta()
        }
    }

    fn apply(&mut self, d: &Delta) {
        let snap = self.inc.apply(d).expect("the delta applies");
        self.holder.publish(snap);
    }
}

fn median(name: &str, runs: usize, mut one: impl FnMut() -> Duration) {
    let mut times: Vec<Duration> = (0..runs).map(|_| one()).collect();
    times.sort();
    eprintln!(
        "{name}: median {:.1?}  p90 {:.1?}  max {:.1?}  ({runs} runs)",
        times[runs / 2],
        times[runs * 9 / 10],
        times[runs - 1],
    );
}

fn plain_timings(f: &Fixture) {
    let mut t = Toggler::new(f);
    median("apply/membership", 400, || {
        let d = t.membership();
        let s = Instant::now();
        t.apply(&d);
        s.elapsed()
    });
    median("apply/group_role", 40, || {
        let d = t.group_role();
        let s = Instant::now();
        t.apply(&d);
        s.elapsed()
    });
}

fn bench(c: &mut Criterion, smoke: bool) {
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

    let t = RefCell::new(Toggler::new(f));
    let mut group = c.benchmark_group("apply");
    group.bench_function("membership", |b| {
        b.iter_batched(
            || t.borrow_mut().membership(),
            |d| t.borrow_mut().apply(black_box(&d)),
            BatchSize::PerIteration,
        )
    });
    group.bench_function("group_role", |b| {
        b.iter_batched(
            || t.borrow_mut().group_role(),
            |d| t.borrow_mut().apply(black_box(&d)),
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
        plain_timings(fixture(smoke));
    }
    bench(&mut c, smoke);
    c.final_summary();
}
