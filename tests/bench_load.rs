//! `rolecall bench load` against real servers over loopback gRPC: the
//! ceiling server (`rolecall bench ceiling-server`) in closed and open loop,
//! and `rolecall serve` over a generated, imported data set. Runs are short
//! and the machine may be busy, so only what does not depend on timing is
//! asserted: calls were answered without error, percentiles are ordered, the
//! open loop sent each scheduled call once, the decisions came back.

mod common;

use common::procs::CeilingProc;
use common::{Db, Run, Server, free_addr, import_ok, rolecall};
use serde_json::Value;

/// `rolecall bench load ARGS --json -`: the run and its JSON report.
async fn load(addr: &str, args: &[&str]) -> (Run, Value) {
    let mut all = vec![
        "bench",
        "load",
        "--addr",
        addr,
        "--duration",
        "1s",
        "--warmup",
        "200ms",
        "--json",
        "-",
    ];
    all.extend_from_slice(args);
    let run = rolecall(&all).await;
    assert!(
        run.success(),
        "rolecall bench load {args:?} failed: {run:#?}"
    );
    let report: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not the JSON report ({e}): {run:#?}"));
    (run, report)
}

fn u(report: &Value, key: &str) -> u64 {
    report[key]
        .as_u64()
        .unwrap_or_else(|| panic!("`{key}` is not a count: {report:#}"))
}

fn f(report: &Value, key: &str) -> f64 {
    report[key]
        .as_f64()
        .unwrap_or_else(|| panic!("`{key}` is not a number: {report:#}"))
}

/// Calls were made and every one succeeded; the percentiles are ordered.
fn assert_clean(report: &Value) {
    assert!(u(report, "requests") > 0, "no calls: {report:#}");
    assert_eq!(u(report, "error_count"), 0, "{report:#}");
    assert_eq!(report["errors"], serde_json::json!({}), "{report:#}");
    assert_eq!(u(report, "unfinished"), 0, "{report:#}");
    assert_eq!(u(report, "ok"), u(report, "requests"), "{report:#}");
    assert!(f(report, "rps") > 0.0, "{report:#}");
    assert!(f(report, "load_cpu_s") >= 0.0, "{report:#}");
    assert_percentiles(&report["latency_us"], report);
}

fn assert_percentiles(p: &Value, report: &Value) {
    let get = |k: &str| {
        p[k].as_f64()
            .unwrap_or_else(|| panic!("no {k} percentile: {report:#}"))
    };
    let (p50, p90, p99, p999, max) = (get("p50"), get("p90"), get("p99"), get("p99_9"), get("max"));
    assert!(p50 > 0.0, "{report:#}");
    assert!(
        p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
        "percentiles out of order: {report:#}"
    );
}

#[tokio::test]
async fn closed_and_open_loop_against_the_ceiling_server() {
    let ceiling = CeilingProc::start().await;
    let addr = ceiling.url();

    // Closed loop: as fast as the server answers.
    let (run, r) = load(&addr, &["--concurrency", "4", "--connections", "2"]).await;
    assert_clean(&r);
    assert_eq!(r["mode"], "closed");
    assert_eq!(r["call"], "check");
    assert_eq!((u(&r, "connections"), u(&r, "concurrency")), (2, 4));
    assert!(r["offered_rate"].is_null() && r["late"].is_null(), "{r:#}");
    assert!(f(&r, "achieved_rate") > 0.0, "{r:#}");
    // The ceiling answers every check with a default (denied) response.
    assert_eq!(u(&r, "decisions"), u(&r, "requests"));
    assert_eq!(u(&r, "allowed"), 0);
    assert!(run.stderr.contains("closed loop"), "{run:#?}");

    // Open loop: 500 calls/s for 1 s after the warm-up is 500 scheduled
    // calls, each sent once and answered.
    let (run, r) = load(&addr, &["--rate", "500", "--concurrency", "8"]).await;
    assert_clean(&r);
    assert_eq!(r["mode"], "open");
    assert_eq!(f(&r, "offered_rate"), 500.0);
    assert_eq!(u(&r, "requests"), 500, "{r:#}");
    let achieved = f(&r, "achieved_rate");
    assert!(
        achieved > 50.0 && achieved <= 600.0,
        "sent {achieved}/s of 500/s: {r:#}"
    );
    assert_percentiles(&r["service_time_us"], &r);
    // Latency counts from the intended start, so it is never below the
    // service time of the same calls.
    assert!(f(&r["latency_us"], "max") >= f(&r["service_time_us"], "max") - 0.2);
    assert!(u(&r, "late") <= 500 && f(&r, "max_lag_us") >= 0.0, "{r:#}");
    assert_eq!(f(&r, "late_threshold_us"), 1000.0);
    assert!(run.stderr.contains("coordinated omission"), "{run:#?}");

    // BatchCheck: each call answers its batch.
    let (_, r) = load(
        &addr,
        &[
            "--call",
            "batch-check",
            "--batch-size",
            "10",
            "--concurrency",
            "2",
        ],
    )
    .await;
    assert_clean(&r);
    assert_eq!(u(&r, "batch_size"), 10);
    assert_eq!(u(&r, "decisions"), 10 * u(&r, "requests"), "{r:#}");
    assert!(f(&r, "decisions_per_s") > f(&r, "rps"), "{r:#}");

    let (_, r) = load(&addr, &["--call", "list-permissions", "--concurrency", "2"]).await;
    assert_clean(&r);
    assert_eq!(r["call"], "list-permissions");
}

#[tokio::test]
async fn check_and_batch_check_against_serve_on_a_generated_data_set() {
    let db = Db::new();
    let data = db.dir().join("data.json");
    let requests = db.dir().join("requests.json");
    let (data_arg, requests) = (
        data.to_string_lossy().into_owned(),
        requests.to_string_lossy().into_owned(),
    );
    let generated = rolecall([
        "bench",
        "generate",
        "--users",
        "500",
        "--requests",
        "400",
        "-o",
        &data_arg,
        "--requests-output",
        &requests,
    ])
    .await;
    assert!(generated.success(), "bench generate failed: {generated:#?}");
    import_ok(&db.url(), &[&data]).await;
    let server = Server::start(&db.url()).await;
    let addr = server.addr_arg();

    // Half the generated checks are allowed: both answers come back.
    let (_, r) = load(&addr, &["--requests", &requests, "--concurrency", "4"]).await;
    assert_both_answers(&r, 1);

    let (_, r) = load(
        &addr,
        &[
            "--requests",
            &requests,
            "--call",
            "batch-check",
            "--batch-size",
            "100",
            "--concurrency",
            "2",
        ],
    )
    .await;
    assert_both_answers(&r, 100);

    let (_, r) = load(
        &addr,
        &[
            "--requests",
            &requests,
            "--rate",
            "300",
            "--concurrency",
            "8",
        ],
    )
    .await;
    assert_clean(&r);
    assert_eq!(u(&r, "requests"), 300, "{r:#}");
    assert!(u(&r, "allowed") > 0, "{r:#}");

    let (_, r) = load(
        &addr,
        &[
            "--requests",
            &requests,
            "--call",
            "list-permissions",
            "--concurrency",
            "2",
        ],
    )
    .await;
    assert_clean(&r);
    assert!(u(&r, "allowed") > 0, "no permissions listed: {r:#}");
}

#[tokio::test]
async fn a_bad_requests_file_or_address_is_a_clear_error_with_exit_code_2() {
    let db = Db::new();
    let bad = |name: &str, text: &str| {
        let path = db.dir().join(name);
        std::fs::write(&path, text).expect("write a requests file");
        path.to_string_lossy().into_owned()
    };
    // Nothing listens on the address: the file is refused before connecting.
    let addr = format!("http://{}", free_addr());
    let cases = [
        (
            bad("object.json", r#"{"user": "a@example.com"}"#),
            "is not a JSON array of checks",
        ),
        (
            bad("garbage.json", "not json at all"),
            "is not a JSON array",
        ),
        (
            bad(
                "missing.json",
                r#"[{"user": "a@example.com", "account": "acct_1"}]"#,
            ),
            "missing field `permission`",
        ),
        (
            bad(
                "invalid.json",
                r#"[{"user": "a@example.com", "permission": "charges.read", "account": "acct_1"},
                    {"user": "", "permission": "charges.read", "account": "acct_1"}]"#,
            ),
            "[1].user",
        ),
        (bad("empty.json", "[]"), "holds no checks"),
        (
            db.dir().join("absent.json").to_string_lossy().into_owned(),
            "cannot read the requests file",
        ),
    ];
    for (path, expected) in &cases {
        let run = rolecall([
            "bench",
            "load",
            "--addr",
            &addr,
            "--requests",
            path,
            "--duration",
            "1s",
        ])
        .await;
        assert_eq!(run.code, Some(2), "{path}: {run:#?}");
        assert!(
            run.stderr.contains(expected) && run.stderr.contains(path.as_str()),
            "{path}: stderr should say `{expected}` and name the file: {run:#?}"
        );
        assert!(run.stdout.is_empty(), "{run:#?}");
    }

    // A good file, but no server: exit 2 with the address.
    let good = bad(
        "good.json",
        r#"[{"user": "a@example.com", "permission": "charges.read", "account": "acct_1"}]"#,
    );
    let run = rolecall(["bench", "load", "--addr", &addr, "--requests", &good]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(
        run.stderr.contains("cannot connect") && run.stderr.contains(&addr),
        "{run:#?}"
    );

    // A batch larger than the server takes is a usage error too.
    let run = rolecall([
        "bench",
        "load",
        "--addr",
        &addr,
        "--call",
        "batch-check",
        "--batch-size",
        "1001",
    ])
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("--batch-size"), "{run:#?}");
}

/// A clean run over the generated checks (half allowed): `per_call`
/// decisions a call, and both answers among them.
fn assert_both_answers(r: &Value, per_call: u64) {
    assert_clean(r);
    let (decisions, allowed) = (u(r, "decisions"), u(r, "allowed"));
    assert_eq!(decisions, per_call * u(r, "requests"), "{r:#}");
    assert!(
        allowed > 0 && allowed < decisions,
        "{allowed} of {decisions} allowed: {r:#}"
    );
}
