//! What the benchmarks share: the generated data set (`rolecall::bench::generate`)
//! at the size `ROLECALL_BENCH_USERS` asks for, and the process's resident size.
#![allow(dead_code)]

#[allow(unused_imports)]
pub use rolecall::bench::generate::{PERMISSIONS, Rng, Shape as Sizes, generate};

/// The shape for `ROLECALL_BENCH_USERS` users (default 100k, or 5k for a smoke run).
pub fn sizes_from_env(smoke: bool) -> Sizes {
    let users = std::env::var("ROLECALL_BENCH_USERS")
        .ok()
        .map(|v| {
            v.parse::<usize>()
                .unwrap_or_else(|_| panic!("ROLECALL_BENCH_USERS={v:?} is not a number"))
        })
        .unwrap_or(if smoke { 5_000 } else { 100_000 });
    Sizes::for_users(users)
}

/// Resident set size of this process (Linux `/proc/self/statm`), if readable.
pub fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}
