//! `rolecall admin …` end to end against a real server: human and `--json`
//! output, and exit codes (0 done, 1 refused by the API, 2 usage/connection).

mod common;

use common::{ADMIN_TOKEN, Db, Run, Scim, Server, decide, free_addr, rolecall, start_with_admin};
use serde_json::{Value, json};

async fn admin_cli(server: &Server, args: &[&str]) -> Run {
    let url = format!("http://{}", server.http_addr);
    let mut all = vec!["admin", "--url", &url, "--token", ADMIN_TOKEN];
    all.extend_from_slice(args);
    rolecall(all).await
}

async fn ok(server: &Server, args: &[&str]) -> String {
    let run = admin_cli(server, args).await;
    assert!(run.success(), "rolecall admin {args:?}: {run:#?}");
    run.stdout
}

async fn ok_json(server: &Server, args: &[&str]) -> Value {
    let mut with = args.to_vec();
    with.push("--json");
    let out = ok(server, &with).await;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("`{out}` is not JSON: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_verbs_end_to_end() {
    let db = Db::new();
    let server = start_with_admin(&db).await;

    let out = ok(&server, &["organizations", "create", "org_acme", "Acme"]).await;
    assert!(out.contains("org_acme created (revision"), "{out}");
    for acct in ["acct_main", "acct_eu"] {
        ok(
            &server,
            &[
                "accounts",
                "create",
                acct,
                acct,
                "--organization",
                "org_acme",
            ],
        )
        .await;
    }
    let list = ok(&server, &["organizations", "list"]).await;
    let lines: Vec<&str> = list.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("NAME"),
        "{list}"
    );
    assert!(
        lines[1].starts_with("org_acme") && lines[1].contains("Acme"),
        "{list}"
    );
    let json_list = ok_json(&server, &["organizations", "list"]).await;
    assert_eq!(
        json_list["organizations"][0]["accounts"],
        json!(["acct_eu", "acct_main"])
    );

    ok(
        &server,
        &[
            "directories",
            "create",
            "dir_acme",
            "--organization",
            "org_acme",
            "--domain",
            "acme.example",
        ],
    )
    .await;
    let dir = ok_json(&server, &["directories", "get", "dir_acme"]).await;
    assert_eq!(dir["scim"]["status"], "never_connected");
    ok(
        &server,
        &[
            "roles",
            "put",
            "charges_reader",
            "--permission",
            "charges.read",
            "--description",
            "Reads charges",
        ],
    )
    .await;
    ok(
        &server,
        &[
            "roles",
            "put",
            "refunds_manager",
            "--permission",
            "refunds.create",
            "--permission",
            "refunds.read",
        ],
    )
    .await;
    let roles = ok(&server, &["roles", "list"]).await;
    assert!(
        roles
            .lines()
            .any(|l| l.starts_with("charges_reader") && l.contains("custom")),
        "{roles}"
    );

    // A SCIM token: the secret alone on stdout.
    let run = admin_cli(&server, &["tokens", "create", "dir_acme"]).await;
    assert!(run.success(), "{run:#?}");
    let secret = run.stdout.trim().to_owned();
    assert!(
        !secret.contains(char::is_whitespace) && !secret.is_empty(),
        "{run:#?}"
    );
    assert!(run.stderr.contains("shown once"), "{run:#?}");
    let scim = Scim::new(server.http_addr, &secret);
    let user = scim
        .post("/Users", &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.example"}))
        .await;
    assert_eq!(user.status, 201, "{user:#?}");
    let alice = user.json()["id"].as_str().unwrap().to_owned();
    let group = scim
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Payments Team", "members": [{"value": alice}]}),
        )
        .await;
    assert_eq!(group.status, 201, "{group:#?}");
    let team = group.json()["id"].as_str().unwrap().to_owned();

    let groups = ok(&server, &["groups", "list", "dir_acme"]).await;
    assert!(groups.contains("Payments Team"), "{groups}");

    // Preview, then assign with repeatable flags.
    let assign: Vec<&str> = vec![
        "dir_acme",
        &team,
        "--role",
        "charges_reader",
        "--organization",
        "org_acme",
        "--role",
        "refunds_manager",
        "--organization",
        "org_acme",
        "--accounts",
        "acct_eu",
    ];
    let mut preview = vec!["groups", "preview"];
    preview.extend_from_slice(&assign);
    let shown = ok(&server, &preview).await;
    assert!(
        shown.contains("alice@acme.example  acct_eu  +charges.read +refunds.create +refunds.read"),
        "{shown}"
    );
    assert!(
        !decide(
            &server,
            "alice@acme.example",
            "charges.read",
            "acct_main",
            None
        )
        .await
        .0
    );
    let mut set = vec!["groups", "assign"];
    set.extend_from_slice(&assign);
    let out = ok(&server, &set).await;
    assert!(
        out.contains("charges_reader at organization org_acme (all accounts)"),
        "{out}"
    );
    assert!(
        out.contains("refunds_manager at organization org_acme (accounts acct_eu)"),
        "{out}"
    );
    assert!(
        decide(
            &server,
            "alice@acme.example",
            "charges.read",
            "acct_main",
            None
        )
        .await
        .0
    );
    assert!(
        !decide(
            &server,
            "alice@acme.example",
            "refunds.read",
            "acct_main",
            None
        )
        .await
        .0
    );

    // The same from a file, as JSON output.
    let file = db.dir().join("assignments.json");
    std::fs::write(
        &file,
        json!([{"role": "charges_reader", "scope": {"account": "acct_eu"}}]).to_string(),
    )
    .unwrap();
    let file = file.to_string_lossy().into_owned();
    let set = ok_json(
        &server,
        &["groups", "assign", "dir_acme", &team, "--file", &file],
    )
    .await;
    assert_eq!(
        set["role_assignments"][0]["scope"],
        json!({"account": "acct_eu"})
    );

    let check = ok(
        &server,
        &["check", "alice@acme.example", "charges.read", "acct_eu"],
    )
    .await;
    assert!(check.starts_with("allowed: "), "{check}");
    let check = ok_json(
        &server,
        &["check", "alice@acme.example", "charges.read", "acct_main"],
    )
    .await;
    assert_eq!(check["allowed"], false);
    assert_eq!(check["explanation"]["deny_reason"], "no_grant");
    let access = ok(&server, &["access", "acct_eu", "charges.read"]).await;
    assert!(
        access.contains("alice@acme.example  via group `Payments Team`: role charges_reader"),
        "{access}"
    );
    let audit = ok_json(
        &server,
        &["audit-log", "--action", "group.role_assignments"],
    )
    .await;
    assert_eq!(audit["entries"].as_array().unwrap().len(), 2);
    let log = ok(&server, &["sync-log", "dir_acme"]).await;
    assert!(log.contains("/Groups"), "{log}");

    // Exit 1: the API refuses, with its message.
    let run = admin_cli(
        &server,
        &[
            "accounts",
            "create",
            "acct_x",
            "X",
            "--organization",
            "org_nope",
        ],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("org_nope"), "{run:#?}");
    let run = admin_cli(
        &server,
        &["roles", "put", "bad", "--permission", "Not A Permission"],
    )
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("permissions[0]"), "{run:#?}");
    let url = format!("http://{}", server.http_addr);
    let run = rolecall([
        "admin",
        "--url",
        &url,
        "--token",
        "wrong",
        "organizations",
        "list",
    ])
    .await;
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(run.stderr.contains("not the admin token"), "{run:#?}");

    // Exit 2: usage and connection errors.
    let run = admin_cli(
        &server,
        &[
            "groups",
            "assign",
            "dir_acme",
            &team,
            "--role",
            "charges_reader",
        ],
    )
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("no scope"), "{run:#?}");
    let nowhere = format!("http://{}", free_addr());
    let run = rolecall([
        "admin",
        "--url",
        &nowhere,
        "--token",
        ADMIN_TOKEN,
        "organizations",
        "list",
    ])
    .await;
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(run.stderr.contains("cannot reach"), "{run:#?}");
}
