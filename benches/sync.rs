//! Store → sidecar propagation, measured with real processes on this machine:
//! one `rolecall store` on a SQLite file and two `rolecall sidecar`s.
//!
//! - Full snapshot: time from starting a sidecar to its SERVING (connect,
//!   transfer, decode, compile), and the sidecars' resident memory.
//! - Write → visible: for each SCIM write (alternately granting and revoking
//!   a role by adding a user to a group and removing it), the time from the
//!   write's acknowledgement to a Check on each sidecar answering from that
//!   write's revision (`at_least_revision`), with the expected answer.
//! - Cold start: a sidecar restarted from its cache file with the store down.
//!
//! `ROLECALL_BENCH_USERS` (default 100000) sizes the directory,
//! `ROLECALL_BENCH_WRITES` (default 1000) the writes. Run with
//! `cargo bench --bench sync`; `cargo test --bench sync` with small sizes is
//! the smoke run.

#[path = "../tests/common/mod.rs"]
#[allow(unused_imports)]
mod common;

use std::time::{Duration, Instant};

use common::procs::{SidecarProc, StoreProc};
use common::{Db, Scim, rolecall};
use rolecall::pb::v1 as pb;
use serde_json::json;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `users` users in one directory, ~5 groups each (one group per 200 users,
/// each with a role on the organization), and an empty `Probe` group with a
/// role on one account.
fn data(users: usize) -> serde_json::Value {
    let groups = (users / 40).max(5);
    let per_user = 5.min(groups);
    let mut members: Vec<Vec<String>> = vec![Vec::new(); groups];
    for u in 0..users {
        for k in 0..per_user {
            members[(u * 7 + k * 13) % groups].push(format!("u{u}"));
        }
    }
    json!({
        "organizations": [{"id": "org_load", "name": "Load"}],
        "accounts": (0..10).map(|i| json!({"id": format!("acct_load_{i}"), "name": format!("Load {i}"), "organization": "org_load"})).collect::<Vec<_>>(),
        "directories": [{"id": "dir_load", "owner": {"organization": "org_load"}, "domains": ["load.example"], "mode": "dashboard"}],
        "users": (0..users).map(|u| json!({"directory": "dir_load", "id": format!("u{u}"), "userName": format!("user{u}@load.example")})).collect::<Vec<_>>(),
        "groups": (0..groups).map(|g| json!({"directory": "dir_load", "id": format!("g{g}"), "displayName": format!("Team {g}"),
            "members": members[g].iter().map(|id| format!("user{}@load.example", &id[1..])).collect::<Vec<_>>()}))
            .chain(std::iter::once(json!({"directory": "dir_load", "id": "g_probe", "displayName": "Probe", "members": []})))
            .collect::<Vec<_>>(),
        "role_assignments": (0..groups).map(|g| json!({"directory": "dir_load", "group": format!("Team {g}"),
            "role": ROLES[g % 3], "scope": {"organization": "org_load"}}))
            .chain(std::iter::once(json!({"directory": "dir_load", "group": "Probe", "role": "iam_admin", "scope": {"account": "acct_load_0"}})))
            .collect::<Vec<_>>(),
    })
}

const ROLES: [&str; 3] = ["developer", "analyst", "view_only"];

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

async fn start_sidecar(store: &StoreProc, cache: &str) -> (SidecarProc, Duration) {
    let started = Instant::now();
    let mut s = SidecarProc::start(&store.url(), &["--cache-file", cache]).await;
    s.wait_serving().await;
    (s, started.elapsed())
}

/// Checks on `sidecar` at `revision` until answered; the time it took.
async fn seen(sidecar: &SidecarProc, revision: u64, expect: bool, acked: Instant) -> Duration {
    let mut client = sidecar.authorizer().await;
    let mut req = tonic::Request::new(pb::CheckRequest {
        user: "user1@load.example".into(),
        permission: "team.invite".into(),
        account: "acct_load_0".into(),
        consistency: common::at_least(revision),
        explain: false,
    });
    req.set_timeout(Duration::from_secs(30));
    let r = client.check(req).await.expect("check").into_inner();
    let took = acked.elapsed();
    assert_eq!(r.allowed, expect, "revision {revision}");
    took
}

fn main() {
    // `cargo test --bench sync` passes `--bench`-less args; run either way.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(run());
}

async fn run() {
    let users = env("ROLECALL_BENCH_USERS", 100_000);
    let writes = env("ROLECALL_BENCH_WRITES", 1000);
    println!("sync bench: {users} users, {writes} writes, one store and two sidecars");
    let db = Db::new();
    let file = db.dir().join("load.json");
    let started = Instant::now();
    std::fs::write(&file, data(users).to_string()).unwrap();
    // No timeout: a million users take minutes to import.
    let status = std::process::Command::new(common::bin())
        .args(["import", "--database-url", &db.url()])
        .arg(&file)
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run rolecall import");
    assert!(status.success(), "rolecall import failed");
    println!("  import: {:.1} s", started.elapsed().as_secs_f64());
    let token = rolecall([
        "directory",
        "token",
        "create",
        "dir_load",
        "--database-url",
        &db.url(),
    ])
    .await;
    assert!(token.success(), "{}", token.stderr);
    let secret = token.stdout.trim().to_owned();

    let store = StoreProc::start(&db.url(), &[]).await;
    let cache_a = db.dir().join("a.cache").to_str().unwrap().to_owned();
    let cache_b = db.dir().join("b.cache").to_str().unwrap().to_owned();
    let (a, load_a) = start_sidecar(&store, &cache_a).await;
    let (b, load_b) = start_sidecar(&store, &cache_b).await;
    let pid = |s: &SidecarProc| s.proc.pid();
    println!(
        "  full snapshot to SERVING: sidecar A {:.0} ms, sidecar B {:.0} ms",
        ms(load_a),
        ms(load_b)
    );
    println!(
        "  resident memory: sidecar A {:.1} MiB, sidecar B {:.1} MiB, store {:.1} MiB",
        rss_mib(pid(&a)),
        rss_mib(pid(&b)),
        rss_mib(store.proc.pid())
    );

    let scim = Scim::new(store.http_addr, &secret);
    let mut grant = (Vec::new(), Vec::new());
    let mut revoke = (Vec::new(), Vec::new());
    let mut last_revision = 0;
    for i in 0..writes {
        let add = i % 2 == 0;
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": if add { "add" } else { "remove" }, "path": "members", "value": [{"value": "u1"}]}]
        });
        let r = scim.patch("/Groups/g_probe", &body).await;
        let acked = Instant::now();
        assert_eq!(r.status, 204, "{}", r.body);
        let revision: u64 = r.header("rolecall-revision").unwrap().parse().unwrap();
        last_revision = revision;
        let (ta, tb) = tokio::join!(
            seen(&a, revision, add, acked),
            seen(&b, revision, add, acked)
        );
        let into = if add { &mut grant } else { &mut revoke };
        into.0.push(ta);
        into.1.push(tb);
    }
    for (what, (sa, sb)) in [("grants", &mut grant), ("revocations", &mut revoke)] {
        sa.sort();
        sb.sort();
        println!(
            "  write acknowledged → Check sees it, {what} ({} each): sidecar A p50 {:.2} ms p99 {:.2} ms; sidecar B p50 {:.2} ms p99 {:.2} ms",
            sa.len(),
            ms(percentile(sa, 0.5)),
            ms(percentile(sa, 0.99)),
            ms(percentile(sb, 0.5)),
            ms(percentile(sb, 0.99)),
        );
    }

    // Cold start from the cache file with the store gone, once sidecar A
    // has written it in a quiet moment (its header holds its revision at
    // bytes 12..20).
    let cached = || {
        std::fs::read(&cache_a)
            .ok()
            .filter(|b| b.len() >= 20)
            .map_or(0, |b| u64::from_le_bytes(b[12..20].try_into().unwrap()))
    };
    let waited = Instant::now();
    while cached() < last_revision {
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "the cache file did not reach revision {last_revision}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(store);
    drop(a);
    let started = Instant::now();
    let mut cold = SidecarProc::start(
        &format!("http://{}", common::free_addr()),
        &["--cache-file", &cache_a],
    )
    .await;
    cold.wait_serving().await;
    println!(
        "  cold start from the cache file (store down): {:.0} ms to SERVING, {:.1} MiB cache file",
        ms(started.elapsed()),
        std::fs::metadata(&cache_a).map_or(0, |m| m.len()) as f64 / (1024.0 * 1024.0)
    );
    drop(b);
}
