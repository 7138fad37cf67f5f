//! End-to-end tests of the `rolecall` command line: `check` exit codes and
//! output, `import` errors and idempotence, `serve` on a corrupt database and
//! with `--demo`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Db, Fixture, Server, fixture, free_addr, import, import_ok, repo_file, rolecall};
use rolecall::pb::v1 as pb;

async fn check_cli(
    server_addr: &str,
    user: &str,
    permission: &str,
    account: &str,
    extra: &[&str],
) -> common::Run {
    let mut args = vec![
        "check",
        "--addr",
        server_addr,
        "--user",
        user,
        "--permission",
        permission,
        "--account",
        account,
    ];
    args.extend_from_slice(extra);
    rolecall(args).await
}

#[tokio::test]
async fn check_exits_0_when_allowed_and_1_when_denied() {
    let f = Fixture::start().await;
    let addr = f.server.addr_arg();

    let run = check_cli(
        &addr,
        "alice@fx.example",
        "charges.refund",
        "acct_fx_a",
        &[],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    assert!(run.stdout.starts_with("allowed"), "{run:#?}");
    assert!(
        run.stdout.contains(&format!("revision {}", f.revision)),
        "{run:#?}"
    );

    let run = check_cli(&addr, "bob@fx.example", "charges.read", "acct_fx_b", &[]).await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stdout.starts_with("denied"), "{run:#?}");

    // Unknown names are denials too, not errors.
    let run = check_cli(
        &addr,
        "nobody@fx.example",
        "charges.read",
        "acct_missing",
        &[],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");

    // `HOST:PORT` works as well as a URL.
    let bare = f.server.grpc_addr.to_string();
    let run = check_cli(&bare, "u_alice", "charges.refund", "acct_fx_a", &[]).await;
    assert_eq!(run.code, Some(0), "{run:#?}");

    // Malformed input is an error, naming the field.
    let run = check_cli(&addr, "alice@fx.example", "Charges.read", "acct_fx_a", &[]).await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("permission"), "{run:#?}");
}

#[tokio::test]
async fn check_exits_2_when_nothing_listens() {
    let addr = free_addr();
    let run = check_cli(
        &format!("http://{addr}"),
        "alice@fx.example",
        "charges.read",
        "acct_fx_a",
        &[],
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains(&addr.to_string()), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[tokio::test]
async fn check_explain_prints_the_explanation() {
    let f = Fixture::start().await;
    let addr = f.server.addr_arg();

    let run = check_cli(
        &addr,
        "alice@fx.example",
        "charges.refund",
        "acct_fx_a",
        &["--explain"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    for needle in ["Payments", "fx_charges_owner", "charges.*", "acct_fx_a"] {
        assert!(run.stdout.contains(needle), "no `{needle}` in {run:#?}");
    }

    let run = check_cli(
        &addr,
        "dave@fx.example",
        "charges.read",
        "acct_fx_a",
        &["--explain"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    for needle in ["dave@fx.example", "dir_fx", "not active"] {
        assert!(run.stdout.contains(needle), "no `{needle}` in {run:#?}");
    }

    // Without --explain, only the verdict.
    let run = check_cli(&addr, "dave@fx.example", "charges.read", "acct_fx_a", &[]).await;
    assert_eq!(run.stdout.lines().count(), 1, "{run:#?}");
}

#[tokio::test]
async fn check_json_prints_parseable_json() {
    let f = Fixture::start().await;
    let addr = f.server.addr_arg();

    let run = check_cli(
        &addr,
        "carol@fx.example",
        "payouts.create",
        "acct_fx_b",
        &["--json", "--explain"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
    assert_eq!(v["allowed"], true, "{v}");
    assert_eq!(v["revision"].as_u64(), Some(f.revision), "{v}");
    assert_eq!(v["explanation"]["directory"], "dir_fx", "{v}");
    assert_eq!(v["explanation"]["grant"]["direct"], true, "{v}");
    assert_eq!(v["explanation"]["grant"]["role"], "fx_payouts", "{v}");
    assert_eq!(
        v["explanation"]["grant"]["matched_permission"], "payouts.*",
        "{v}"
    );

    let run = check_cli(
        &addr,
        "bob@fx.example",
        "charges.read",
        "acct_fx_b",
        &["--json", "--explain"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
    assert_eq!(v["allowed"], false, "{v}");
    assert_eq!(
        v["explanation"]["deny_reason"], "DENY_REASON_NO_GRANT",
        "{v}"
    );
    assert!(v["explanation"]["grant"].is_null(), "{v}");

    let run = check_cli(
        &addr,
        "alice@fx.example",
        "charges.refund",
        "acct_fx_a",
        &["--json"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");
    let v: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("JSON on stdout");
    assert_eq!(v["allowed"], true, "{v}");
    assert!(v["explanation"].is_null(), "{v}");
}

/// Imports authz.yaml into a fresh database, then `bad`, which must fail
/// naming the file and `mentions`; then proves nothing of `bad` was written:
/// the next good import lands on the same revision as in a database that
/// never saw `bad`.
async fn import_fails_and_writes_nothing(bad: &Path, mentions: &[&str]) {
    let control = Db::new();
    import_ok(&control.url(), &[&fixture("authz.yaml")]).await;
    let expected = import_ok(&control.url(), &[&fixture("grant_bob_payouts.yaml")]).await;

    let db = Db::new();
    let base = import_ok(&db.url(), &[&fixture("authz.yaml")]).await;
    let run = import(&db.url(), &[bad]).await;
    assert!(
        !run.success(),
        "importing {} should fail: {run:#?}",
        bad.display()
    );
    let file_name = bad
        .file_name()
        .and_then(|n| n.to_str())
        .expect("a file name");
    assert!(
        run.stderr.contains(file_name),
        "stderr does not name the file: {run:#?}"
    );
    for needle in mentions {
        assert!(
            run.stderr.contains(needle),
            "stderr does not mention `{needle}`: {run:#?}"
        );
    }
    assert!(!run.stdout.contains("imported"), "{run:#?}");

    // Re-importing the base changes nothing, and the next change lands where
    // it lands without the failed import.
    let again = import(&db.url(), &[&fixture("authz.yaml")]).await;
    assert!(
        again.success() && again.stdout.contains("no change"),
        "{again:#?}"
    );
    assert_eq!(
        common::last_revision(&again.stdout),
        Some(base),
        "{again:#?}"
    );
    let after = import_ok(&db.url(), &[&fixture("grant_bob_payouts.yaml")]).await;
    assert_eq!(after, expected, "the failed import moved the revision");
}

#[tokio::test]
async fn import_refuses_an_entry_with_an_unknown_directory() {
    import_fails_and_writes_nothing(
        &fixture("bad_user_directory.yaml"),
        &["users[1]", "directory", "dir_nope"],
    )
    .await;
}

#[tokio::test]
async fn import_refuses_a_role_with_a_malformed_permission() {
    import_fails_and_writes_nothing(
        &fixture("bad_role_permission.yaml"),
        &["roles[1]", "permissions", "Charges.Read"],
    )
    .await;
}

#[tokio::test]
async fn import_refuses_an_unknown_field() {
    import_fails_and_writes_nothing(&fixture("bad_user_field.yaml"), &["users[1]", "usrName"])
        .await;
}

#[tokio::test]
async fn import_refuses_malformed_yaml() {
    import_fails_and_writes_nothing(&fixture("malformed.yaml"), &[]).await;
}

#[tokio::test]
async fn import_of_several_files_is_refused_before_any_is_written() {
    let db = Db::new();
    let base = import_ok(&db.url(), &[&fixture("authz.yaml")]).await;
    // The first file is good, the second unparsable: nothing is applied.
    let run = import(
        &db.url(),
        &[
            &fixture("grant_bob_payouts.yaml"),
            &fixture("malformed.yaml"),
        ],
    )
    .await;
    assert!(!run.success(), "{run:#?}");
    assert!(run.stderr.contains("malformed.yaml"), "{run:#?}");
    let again = import(&db.url(), &[&fixture("authz.yaml")]).await;
    assert_eq!(
        common::last_revision(&again.stdout),
        Some(base),
        "{again:#?}"
    );
    let grant = import_ok(&db.url(), &[&fixture("grant_bob_payouts.yaml")]).await;
    assert!(
        grant > base,
        "grant_bob_payouts.yaml was not applied by the failed run"
    );
}

#[tokio::test]
async fn importing_the_same_file_twice_changes_nothing_the_second_time() {
    let db = Db::new();
    let first = import(&db.url(), &[&fixture("authz.yaml")]).await;
    assert!(first.success(), "{first:#?}");
    assert!(first.stdout.contains("imported"), "{first:#?}");
    assert!(!first.stdout.contains("no change"), "{first:#?}");
    let revision = common::last_revision(&first.stdout).expect("a revision");
    assert!(revision > 0);

    let second = import(&db.url(), &[&fixture("authz.yaml")]).await;
    assert!(second.success(), "{second:#?}");
    assert!(second.stdout.contains("no change"), "{second:#?}");
    assert_eq!(
        common::last_revision(&second.stdout),
        Some(revision),
        "{second:#?}"
    );
}

/// Runs `rolecall serve` on `db` until it exits by itself (at most 20 s).
async fn serve_until_exit(db: &Db) -> (std::process::ExitStatus, String) {
    let (mut child, log, _logdir) = common::spawn_serve(&db.url(), free_addr(), free_addr(), &[]);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the server") {
            break status;
        }
        if started.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "serve kept running on a corrupt database; stderr:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    (status, std::fs::read_to_string(&log).unwrap_or_default())
}

#[tokio::test]
async fn serve_on_a_corrupt_database_exits_with_advice() {
    let db = Db::new();
    // Deterministic garbage, larger than a SQLite header.
    let mut x: u32 = 0x1234_5678;
    let garbage: Vec<u8> = (0..16 * 1024)
        .map(|_| {
            x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(&db.path, garbage).expect("write garbage");

    let (status, stderr) = match serve_until_exit(&db).await {
        // One of the picked ports was taken meanwhile: once more.
        (_, stderr) if stderr.contains("cannot listen on") => serve_until_exit(&db).await,
        done => done,
    };
    assert!(!status.success(), "exit status {status}; stderr:\n{stderr}");
    assert!(
        stderr.contains(&db.path.display().to_string()),
        "stderr does not name the database file:\n{stderr}"
    );
    assert!(
        stderr.contains("restore") || stderr.contains("--database-url"),
        "stderr does not say what to do:\n{stderr}"
    );
}

/// `allow USER PERMISSION ACCOUNT` and `deny USER PERMISSION ACCOUNT REASON`
/// lines of data/demo.yaml's header.
fn demo_cases(text: &str) -> Vec<(bool, String, String, String, Option<String>)> {
    let mut cases = Vec::new();
    for line in text.lines() {
        let Some(comment) = line.strip_prefix('#') else {
            if !line.trim().is_empty() {
                break;
            }
            continue;
        };
        let fields: Vec<&str> = comment
            .split("--")
            .next()
            .unwrap_or("")
            .split_whitespace()
            .collect();
        match fields.as_slice() {
            ["allow", user, permission, account] => {
                cases.push((
                    true,
                    (*user).into(),
                    (*permission).into(),
                    (*account).into(),
                    None,
                ));
            }
            ["deny", user, permission, account, reason] => cases.push((
                false,
                (*user).into(),
                (*permission).into(),
                (*account).into(),
                Some((*reason).into()),
            )),
            _ => {}
        }
    }
    cases
}

#[tokio::test]
async fn serve_demo_answers_the_demo_checks() {
    let text = std::fs::read_to_string(repo_file("data/demo.yaml")).expect("read data/demo.yaml");
    let cases = demo_cases(&text);
    assert!(
        cases.iter().any(|c| c.0) && cases.iter().any(|c| !c.0),
        "data/demo.yaml's header lists no allow and deny examples"
    );

    let db = Db::new();
    let server = Server::start_with(&db.url(), &["--demo"]).await;

    let (_, user, permission, account, _) = cases.iter().find(|c| c.0).expect("an allowed case");
    let run = check_cli(
        &server.addr_arg(),
        user,
        permission,
        account,
        &["--explain"],
    )
    .await;
    assert_eq!(run.code, Some(0), "{run:#?}");

    let mut client = server.authorizer().await;
    let mut demo_revision = 0;
    for (allow, user, permission, account, reason) in &cases {
        let resp = client
            .check(common::check_req(user, permission, account, true))
            .await
            .unwrap_or_else(|s| panic!("check {user} {permission} {account}: {s:?}"))
            .into_inner();
        assert_eq!(
            resp.allowed, *allow,
            "{user} {permission} {account}: {resp:?}"
        );
        demo_revision = resp.revision;
        if let Some(reason) = reason {
            let e = resp.explanation.expect("explanation");
            let got = pb::DenyReason::try_from(e.deny_reason)
                .map(|r| {
                    r.as_str_name()
                        .trim_start_matches("DENY_REASON_")
                        .to_ascii_lowercase()
                })
                .unwrap_or_default();
            assert_eq!(&got, reason, "{user} {permission} {account}: {e:?}");
        }
    }
    drop(client);
    drop(server);

    // A second start on the same database does not load the demo again.
    let server = Server::start_with(&db.url(), &["--demo"]).await;
    let mut client = server.authorizer().await;
    let (_, user, permission, account, _) = cases.iter().find(|c| c.0).expect("an allowed case");
    let resp = client
        .check(common::check_req(user, permission, account, false))
        .await
        .expect("check")
        .into_inner();
    assert!(resp.allowed);
    assert_eq!(
        resp.revision, demo_revision,
        "the demo data was imported again"
    );
}
