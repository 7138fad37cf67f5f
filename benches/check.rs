//! Benchmarks of the decision engine over a generated directory (generated
//! in `common`, shared with `benches/snapshot.rs`).
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
use rolecall::bench::generate::{self, Query};
use rolecall::engine;
use rolecall::model::State;
use rolecall::snapshot::{self, Snapshot};

mod common;
use common::{Rng, resident_bytes, sizes_from_env};

/// Queries per pool; a power of two so the index is a mask.
const POOL: usize = 4096;

// === queries ===

struct Queries {
    hit: Vec<Query>,
    miss: Vec<Query>,
    mixed: Vec<Query>,
}

/// The pools, from the generator's query mix (`generate::queries`): all
/// allowed, all denied, and the two interleaved half and half.
fn queries(st: &State, snap: &Snapshot, rng: &mut Rng) -> Queries {
    let hit = generate::queries(st, snap, POOL, 100, rng);
    let miss = generate::queries(st, snap, POOL, 0, rng);
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
        let sizes = sizes_from_env(smoke);
        let mut rng = Rng(0x5EED_C0FF_EE00_0001);
        let t = Instant::now();
        let state = generate::generate(&sizes, &mut rng);
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
                black_box(q.permission.as_str()),
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
                    black_box(q.permission.as_str()),
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
                black_box(q.permission.as_str()),
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
