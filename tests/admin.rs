//! The admin API end to end: the real binary over HTTP (`/admin/v1`), SCIM
//! (`/scim/v2`) and gRPC (`Authorizer.Check`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{Admin, Db, Scim, Server, decide, start_with_admin};
use rolecall::pb::v1 as pb;
use serde_json::{Value, json};

// === helpers ===

async fn start() -> (Db, Server, Admin) {
    let db = Db::new();
    let server = start_with_admin(&db).await;
    let admin = Admin::new(&server);
    (db, server, admin)
}

/// The error body's `(code, message, field)`.
fn error_of(body: &Value) -> (String, String, Option<String>) {
    let e = &body["error"];
    (
        e["code"]
            .as_str()
            .unwrap_or_else(|| panic!("no error code: {body}"))
            .to_owned(),
        e["message"].as_str().expect("an error message").to_owned(),
        e["field"].as_str().map(str::to_owned),
    )
}

/// The acme world, through the admin API: `org_acme` (acct_main, acct_eu)
/// with directory `dir_acme` (acme.example), `org_globex` (acct_globex) and a
/// standalone `acct_solo`; roles `charges_reader` and `refunds_manager`.
async fn acme(admin: &Admin) {
    for (id, name) in [("org_acme", "Acme"), ("org_globex", "Globex")] {
        admin
            .write(
                201,
                "POST",
                "/organizations",
                Some(&json!({"id": id, "name": name})),
            )
            .await;
    }
    for (id, org) in [
        ("acct_main", Some("org_acme")),
        ("acct_eu", Some("org_acme")),
        ("acct_globex", Some("org_globex")),
        ("acct_solo", None),
    ] {
        let mut body = json!({"id": id, "name": id});
        if let Some(o) = org {
            body["organization"] = json!(o);
        }
        admin.write(201, "POST", "/accounts", Some(&body)).await;
    }
    admin
        .write(
            201,
            "POST",
            "/directories",
            Some(&json!({"id": "dir_acme", "owner": {"organization": "org_acme"}, "domains": ["acme.example"], "mode": "dashboard"})),
        )
        .await;
    admin
        .write(
            201,
            "POST",
            "/roles",
            Some(&json!({"name": "charges_reader", "description": "Reads charges", "permissions": ["charges.read"]})),
        )
        .await;
    admin
        .write(
            201,
            "POST",
            "/roles",
            Some(&json!({"name": "refunds_manager", "description": "Refunds", "permissions": ["refunds.create", "refunds.read"]})),
        )
        .await;
}

/// A SCIM client for `dir` with a token minted through the admin API.
async fn scim_for(admin: &Admin, dir: &str) -> (Scim, String) {
    let (_, token) = admin
        .write(
            201,
            "POST",
            &format!("/directories/{dir}/scim-tokens"),
            None,
        )
        .await;
    let secret = token["token"].as_str().expect("the secret").to_owned();
    (
        Scim::new(admin.addr, &secret),
        token["id"].as_str().expect("a token id").to_owned(),
    )
}

async fn scim_user(scim: &Scim, user_name: &str) -> String {
    let resp = scim
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "emails": [{"value": user_name, "primary": true, "type": "work"}],
                "active": true,
            }),
        )
        .await;
    assert_eq!(resp.status, 201, "create {user_name}: {resp:#?}");
    resp.json()["id"].as_str().expect("a user id").to_owned()
}

async fn scim_group(scim: &Scim, name: &str, members: &[&str]) -> String {
    let members: Vec<Value> = members.iter().map(|m| json!({"value": m})).collect();
    let resp = scim
        .post(
            "/Groups",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "displayName": name,
                "members": members,
            }),
        )
        .await;
    assert_eq!(resp.status, 201, "create group {name}: {resp:#?}");
    resp.json()["id"].as_str().expect("a group id").to_owned()
}

fn org_scope(org: &str) -> Value {
    json!({"organization": org})
}

fn assignments(list: &[(&str, Value)]) -> Value {
    let list: Vec<Value> = list
        .iter()
        .map(|(role, scope)| json!({"role": role, "scope": scope}))
        .collect();
    json!({ "role_assignments": list })
}

async fn allowed(server: &Server, user: &str, permission: &str, account: &str) -> bool {
    decide(server, user, permission, account, None).await.0
}

/// `Authorizer.ListPermissions` as a set.
async fn permissions(server: &Server, user: &str, account: &str) -> BTreeSet<String> {
    let mut client = server.authorizer().await;
    client
        .list_permissions(pb::ListPermissionsRequest {
            user: user.to_owned(),
            account: account.to_owned(),
            consistency: None,
        })
        .await
        .expect("list permissions")
        .into_inner()
        .permissions
        .into_iter()
        .collect()
}

/// What each user holds on each account (gRPC ListPermissions).
async fn permission_map(
    server: &Server,
    users: &[&str],
    accounts: &[&str],
) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for u in users {
        for a in accounts {
            out.insert(
                ((*u).to_owned(), (*a).to_owned()),
                permissions(server, u, a).await,
            );
        }
    }
    out
}

// === auth and errors ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_the_admin_api_is_off() {
    let db = Db::new();
    let server = Server::start(&db.url()).await;
    let admin = Admin::new(&server);
    let resp = admin.get("/organizations").await;
    assert_eq!(resp.status, 503, "{resp:#?}");
    assert_eq!(
        resp.json(),
        json!({"error": {"code": "admin_api_disabled", "message": "the admin API is off: set ROLECALL_ADMIN_TOKEN or pass --admin-token-file to turn it on"}})
    );
    assert!(
        server
            .log()
            .contains("the admin API is off: set ROLECALL_ADMIN_TOKEN or pass --admin-token-file"),
        "start-up should say how to turn it on:\n{}",
        server.log()
    );
    // The document describing the API is public.
    let doc = admin.get("/openapi.json").await;
    assert_eq!(doc.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_errors_and_organizations_accounts_directories_roles() {
    let (_db, server, admin) = start().await;

    // Auth: none, wrong.
    for token in [None, Some("wrong-token")] {
        let resp = admin.clone().with_token(token).get("/organizations").await;
        assert_eq!(resp.status, 401, "{resp:#?}");
        assert!(
            resp.header("www-authenticate")
                .unwrap_or("")
                .starts_with("Bearer")
        );
        assert_eq!(error_of(&resp.json()).0, "unauthorized");
    }
    assert!(
        !server.log().contains(common::ADMIN_TOKEN),
        "the token must never be logged"
    );

    // Organizations.
    let (rev1, org) = admin
        .write(
            201,
            "POST",
            "/organizations",
            Some(&json!({"id": "org_a", "name": "A"})),
        )
        .await;
    assert_eq!(org["id"], "org_a");
    assert_eq!(org["accounts"], json!([]));
    let dup = admin
        .expect(
            409,
            "POST",
            "/organizations",
            Some(&json!({"id": "org_a", "name": "Again"})),
        )
        .await;
    assert_eq!(error_of(&dup).0, "conflict");
    let unknown = admin
        .expect(
            400,
            "POST",
            "/organizations",
            Some(&json!({"id": "org_b", "name": "B", "colour": "red"})),
        )
        .await;
    let (code, message, field) = error_of(&unknown);
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("invalid_argument", Some("colour"))
    );
    assert!(message.contains("colour"), "{message}");
    let malformed = admin
        .send_raw("POST", "/organizations", Some(b"{\"id\": "))
        .await;
    assert_eq!(malformed.status, 400);
    assert!(error_of(&malformed.json()).1.contains("not valid JSON"));
    let missing = admin
        .expect(404, "GET", "/organizations/org_nope", None)
        .await;
    assert_eq!(
        missing,
        json!({"error": {"code": "not_found", "message": "organization `org_nope` not found"}})
    );
    let (rev2, renamed) = admin
        .write(
            200,
            "PATCH",
            "/organizations/org_a",
            Some(&json!({"name": "Alpha"})),
        )
        .await;
    assert!(rev2 > rev1);
    assert_eq!(renamed["name"], "Alpha");
    let list = admin.expect(200, "GET", "/organizations", None).await;
    assert_eq!(list["organizations"][0]["name"], "Alpha");

    // Accounts.
    admin
        .write(
            201,
            "POST",
            "/accounts",
            Some(&json!({"id": "acct_1", "name": "One", "organization": "org_a"})),
        )
        .await;
    let (_, solo) = admin
        .write(
            201,
            "POST",
            "/accounts",
            Some(&json!({"id": "acct_2", "name": "Two"})),
        )
        .await;
    assert_eq!(solo["organization"], Value::Null);
    let bad_org = admin
        .expect(
            404,
            "POST",
            "/accounts",
            Some(&json!({"id": "acct_3", "name": "Three", "organization": "org_nope"})),
        )
        .await;
    assert_eq!(error_of(&bad_org).0, "not_found");
    let bad_id = admin
        .expect(
            400,
            "POST",
            "/accounts",
            Some(&json!({"id": "acct 3", "name": "Three"})),
        )
        .await;
    assert_eq!(error_of(&bad_id).2.as_deref(), Some("id"));
    let in_org = admin
        .expect(200, "GET", "/accounts?organization=org_a", None)
        .await;
    assert_eq!(in_org["accounts"].as_array().unwrap().len(), 1);
    let (_, moved) = admin
        .write(
            200,
            "PATCH",
            "/accounts/acct_2",
            Some(&json!({"organization": "org_a", "name": "Deux"})),
        )
        .await;
    assert_eq!(
        (moved["organization"].as_str(), moved["name"].as_str()),
        (Some("org_a"), Some("Deux"))
    );
    let (_, out) = admin
        .write(
            200,
            "PATCH",
            "/accounts/acct_2",
            Some(&json!({"organization": null})),
        )
        .await;
    assert_eq!(out["organization"], Value::Null);
    admin.expect(404, "GET", "/accounts/acct_nope", None).await;
    let bad_query = admin
        .expect(400, "GET", "/accounts?organisation=org_a", None)
        .await;
    assert_eq!(error_of(&bad_query).2.as_deref(), Some("organisation"));

    // Directories.
    let (_, dir) = admin
        .write(
            201,
            "POST",
            "/directories",
            Some(&json!({"id": "dir_a", "owner": {"organization": "org_a"}, "domains": ["A.example"], "mode": "dashboard"})),
        )
        .await;
    assert_eq!(dir["domains"], json!(["a.example"]));
    assert_eq!(dir["scim"]["status"], "never_connected");
    assert_eq!(dir["scim"]["last_request"], Value::Null);
    let taken = admin
        .expect(
            409,
            "POST",
            "/directories",
            Some(&json!({"id": "dir_a2", "owner": {"organization": "org_a"}})),
        )
        .await;
    assert_eq!(error_of(&taken).0, "conflict");
    let bad_owner = admin
        .expect(
            400,
            "POST",
            "/directories",
            Some(&json!({"id": "dir_x", "owner": {"organization": "org_a", "account": "acct_2"}})),
        )
        .await;
    assert_eq!(error_of(&bad_owner).2.as_deref(), Some("owner"));
    let bad_mode = admin
        .expect(
            400,
            "PATCH",
            "/directories/dir_a",
            Some(&json!({"mode": "sso"})),
        )
        .await;
    assert_eq!(error_of(&bad_mode).2.as_deref(), Some("mode"));
    let (_, patched) = admin
        .write(
            200,
            "PATCH",
            "/directories/dir_a",
            Some(&json!({"domains": ["a.example", "b.example"], "enforce_domains": false})),
        )
        .await;
    assert_eq!(patched["domains"], json!(["a.example", "b.example"]));
    assert_eq!(patched["enforce_domains"], false);
    admin
        .expect(404, "GET", "/directories/dir_nope", None)
        .await;
    let listed = admin.expect(200, "GET", "/directories", None).await;
    assert_eq!(listed["directories"].as_array().unwrap().len(), 1);

    // Roles.
    let catalog = admin.expect(200, "GET", "/roles", None).await;
    let builtin: Vec<&Value> = catalog["roles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["builtin"] == true)
        .collect();
    assert!(
        builtin.iter().any(|r| r["name"] == "developer"),
        "{catalog}"
    );
    let (_, role) = admin
        .write(201, "POST", "/roles", Some(&json!({"name": "auditor", "description": "Reads", "permissions": ["charges.read", "balance.*"]})))
        .await;
    assert_eq!(role["builtin"], false);
    let invalid = admin
        .expect(
            400,
            "POST",
            "/roles",
            Some(&json!({"name": "bad", "permissions": ["charges.read", "Charges Read"]})),
        )
        .await;
    let (code, message, field) = error_of(&invalid);
    assert_eq!(
        (code.as_str(), field.as_deref()),
        ("invalid_argument", Some("permissions[1]"))
    );
    assert!(message.contains("Charges Read"), "{message}");
    admin
        .expect(
            409,
            "POST",
            "/roles",
            Some(&json!({"name": "auditor", "permissions": ["*"]})),
        )
        .await;
    let read_only = admin
        .expect(
            400,
            "PUT",
            "/roles/developer",
            Some(&json!({"permissions": ["*"]})),
        )
        .await;
    assert!(error_of(&read_only).1.contains("read-only"), "{read_only}");
    let (_, replaced) = admin
        .write(200, "PUT", "/roles/auditor", Some(&json!({"description": "Reads more", "permissions": ["charges.read", "refunds.read"]})))
        .await;
    assert_eq!(
        replaced["permissions"],
        json!(["charges.read", "refunds.read"])
    );
    admin
        .write(
            201,
            "PUT",
            "/roles/temp",
            Some(&json!({"permissions": ["tax.read"]})),
        )
        .await;
    admin.write(204, "DELETE", "/roles/temp", None).await;
    admin.expect(404, "GET", "/roles/temp", None).await;
    admin.expect(400, "DELETE", "/roles/developer", None).await;

    // Unknown routes are JSON too.
    let none = admin.expect(404, "GET", "/nothing-here", None).await;
    assert_eq!(error_of(&none).0, "not_found");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_tokens_are_shown_once_work_and_revoke() {
    let (_db, server, admin) = start().await;
    acme(&admin).await;
    let dir = admin
        .expect(200, "GET", "/directories/dir_acme", None)
        .await;
    assert_eq!(dir["scim"]["status"], "never_connected");
    assert_eq!(dir["scim"]["live_tokens"], 0);

    let (_, first) = admin
        .write(201, "POST", "/directories/dir_acme/scim-tokens", None)
        .await;
    let secret = first["token"].as_str().unwrap().to_owned();
    assert!(
        secret.contains(first["prefix"].as_str().unwrap()),
        "{first}"
    );
    let (_, second) = admin
        .write(201, "POST", "/directories/dir_acme/scim-tokens", None)
        .await;
    let listed = admin
        .expect(200, "GET", "/directories/dir_acme/scim-tokens", None)
        .await;
    assert_eq!(listed["tokens"].as_array().unwrap().len(), 2);
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once only"
    );

    let scim = Scim::new(server.http_addr, &secret);
    assert_eq!(scim.get("/Users").await.status, 200);
    let dir = admin
        .expect(200, "GET", "/directories/dir_acme", None)
        .await;
    assert_eq!(dir["scim"]["status"], "connected", "{dir}");
    assert!(dir["scim"]["last_request"].is_string());
    assert_eq!(dir["scim"]["live_tokens"], 2);

    let id = first["id"].as_str().unwrap();
    admin
        .write(
            204,
            "DELETE",
            &format!("/directories/dir_acme/scim-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(
        scim.get("/Users").await.status,
        401,
        "a revoked token stops working"
    );
    let other = Scim::new(server.http_addr, second["token"].as_str().unwrap());
    assert_eq!(
        other.get("/Users").await.status,
        200,
        "the other token still works"
    );
    admin
        .expect(
            404,
            "DELETE",
            "/directories/dir_acme/scim-tokens/tok_nope",
            None,
        )
        .await;
    admin
        .expect(404, "POST", "/directories/dir_nope/scim-tokens", None)
        .await;
}

// === the seed flow ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_flow_group_roles_at_organization_scope() {
    let (_db, server, admin) = start().await;
    acme(&admin).await;
    let (scim, _) = scim_for(&admin, "dir_acme").await;
    let alice = scim_user(&scim, "alice@acme.example").await;
    let bob = scim_user(&scim, "bob@acme.example").await;
    let carol = scim_user(&scim, "carol@acme.example").await;
    // A user of an unverified domain is refused at SCIM time.
    let mallory = scim
        .post(
            "/Users",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "mallory@evil.example", "emails": [{"value": "mallory@evil.example", "primary": true}]}),
        )
        .await;
    assert_eq!(mallory.status, 400, "{mallory:#?}");
    let team = scim_group(&scim, "Payments Team", &[&alice, &bob]).await;

    let groups = admin
        .expect(200, "GET", "/directories/dir_acme/groups", None)
        .await;
    assert_eq!(groups["groups"][0]["displayName"], "Payments Team");
    assert_eq!(groups["groups"][0]["direct_members"], 2);
    assert_eq!(groups["groups"][0]["role_assignments"], json!([]));
    let members = admin
        .expect(
            200,
            "GET",
            &format!("/directories/dir_acme/groups/{team}/members?limit=1"),
            None,
        )
        .await;
    assert_eq!(members["total"], 2);
    assert_eq!(members["members"].as_array().unwrap().len(), 1);
    assert_eq!(members["members"][0]["name"], "alice@acme.example");

    // Two roles at organization scope: the union on every account of the org.
    let path = format!("/directories/dir_acme/groups/{team}/role-assignments");
    let two = assignments(&[
        ("charges_reader", org_scope("org_acme")),
        ("refunds_manager", org_scope("org_acme")),
    ]);
    let (revision, set) = admin.write(200, "PUT", &path, Some(&two)).await;
    assert_eq!(set["role_assignments"].as_array().unwrap().len(), 2);
    for user in ["alice@acme.example", "bob@acme.example"] {
        for account in ["acct_main", "acct_eu"] {
            for permission in ["charges.read", "refunds.create", "refunds.read"] {
                assert!(
                    allowed(&server, user, permission, account).await,
                    "{user} {permission} {account}"
                );
            }
            assert!(!allowed(&server, user, "payouts.read", account).await);
        }
        assert!(!allowed(&server, user, "charges.read", "acct_globex").await);
    }
    assert!(!allowed(&server, "carol@acme.example", "charges.read", "acct_main").await);
    assert!(!allowed(&server, "mallory@evil.example", "charges.read", "acct_main").await);
    let (ok, _) = decide(
        &server,
        "alice@acme.example",
        "charges.read",
        "acct_main",
        Some(revision),
    )
    .await;
    assert!(ok);

    // An account created afterwards in the org is covered at once.
    admin
        .write(
            201,
            "POST",
            "/accounts",
            Some(&json!({"id": "acct_new", "name": "New", "organization": "org_acme"})),
        )
        .await;
    assert!(allowed(&server, "bob@acme.example", "refunds.create", "acct_new").await);
    // ...and so is one moved in.
    admin
        .write(
            200,
            "PATCH",
            "/accounts/acct_solo",
            Some(&json!({"organization": "org_acme"})),
        )
        .await;
    assert!(allowed(&server, "bob@acme.example", "charges.read", "acct_solo").await);

    // The groups view shows the assignments.
    let groups = admin
        .expect(200, "GET", "/directories/dir_acme/groups", None)
        .await;
    assert_eq!(
        groups["groups"][0]["role_assignments"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // /check answers like gRPC.
    for (user, permission, account) in [
        ("alice@acme.example", "refunds.read", "acct_eu"),
        ("carol@acme.example", "refunds.read", "acct_eu"),
        ("nobody@acme.example", "refunds.read", "acct_eu"),
        ("alice@acme.example", "refunds.read", "acct_nope"),
        (alice.as_str(), "charges.read", "acct_main"),
    ] {
        let body = admin
            .expect(
                200,
                "GET",
                &format!("/check?user={user}&permission={permission}&account={account}"),
                None,
            )
            .await;
        let (grpc, reason) = decide(&server, user, permission, account, None).await;
        assert_eq!(
            body["allowed"], grpc,
            "{user} {permission} {account}: {body}"
        );
        if grpc {
            assert_eq!(body["explanation"]["grant"]["group"], "Payments Team");
            assert_eq!(body["explanation"]["grant"]["group_id"], team.as_str());
            assert_eq!(body["explanation"]["grant"]["scope"], org_scope("org_acme"));
            assert_eq!(body["explanation"]["deny_reason"], Value::Null);
        } else {
            let expected = format!("{:?}", reason).to_lowercase();
            let got = body["explanation"]["deny_reason"]
                .as_str()
                .unwrap()
                .replace('_', "");
            assert_eq!(got, expected, "{body}");
        }
        assert!(body["revision"].as_u64().unwrap() >= revision);
    }
    let bad = admin
        .expect(
            400,
            "GET",
            "/check?user=alice&permission=Charges&account=acct_main",
            None,
        )
        .await;
    assert_eq!(error_of(&bad).2.as_deref(), Some("permission"));

    // Access review lists exactly the holders, with their paths.
    let access = admin
        .expect(
            200,
            "GET",
            "/accounts/acct_main/access?permission=refunds.create",
            None,
        )
        .await;
    let holders: Vec<&str> = access["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user"]["userName"].as_str().unwrap())
        .collect();
    assert_eq!(holders, ["alice@acme.example", "bob@acme.example"]);
    assert_eq!(access["users"][0]["user"]["id"], alice.as_str());
    assert_eq!(access["users"][0]["grants"][0]["role"], "refunds_manager");
    assert_eq!(access["users"][0]["grants"][0]["group"], "Payments Team");
    admin
        .expect(
            404,
            "GET",
            "/accounts/acct_nope/access?permission=refunds.create",
            None,
        )
        .await;

    // The chosen-accounts variant covers only those.
    let chosen = assignments(&[(
        "charges_reader",
        json!({"organization": "org_acme", "accounts": ["acct_eu"]}),
    )]);
    admin.write(200, "PUT", &path, Some(&chosen)).await;
    assert!(allowed(&server, "alice@acme.example", "charges.read", "acct_eu").await);
    assert!(!allowed(&server, "alice@acme.example", "charges.read", "acct_main").await);
    assert!(!allowed(&server, "alice@acme.example", "refunds.read", "acct_eu").await);
    let outside = assignments(&[(
        "charges_reader",
        json!({"organization": "org_acme", "accounts": ["acct_eu", "acct_globex"]}),
    )]);
    let refused = admin.expect(400, "PUT", &path, Some(&outside)).await;
    let (code, message, field) = error_of(&refused);
    assert_eq!(code, "invalid_argument");
    assert!(
        field
            .unwrap_or_default()
            .starts_with("role_assignments[0].scope"),
        "{refused}"
    );
    assert!(message.contains("acct_globex"), "{message}");
    let unknown_role = admin
        .expect(
            400,
            "PUT",
            &path,
            Some(&assignments(&[("nope", org_scope("org_acme"))])),
        )
        .await;
    assert!(error_of(&unknown_role).1.contains("nope"), "{unknown_role}");
    admin
        .expect(
            404,
            "PUT",
            "/directories/dir_acme/groups/g_nope/role-assignments",
            Some(&chosen),
        )
        .await;
    let bad_scope = admin
        .expect(400, "PUT", &path, Some(&json!({"role_assignments": [{"role": "charges_reader", "scope": {"everything": true}}]})))
        .await;
    assert_eq!(
        error_of(&bad_scope).2.as_deref(),
        Some("role_assignments[0].scope.everything")
    );

    // Back to org scope; then removing a member over SCIM revokes at once.
    admin.write(200, "PUT", &path, Some(&two)).await;
    assert!(allowed(&server, "bob@acme.example", "charges.read", "acct_main").await);
    let removed = scim
        .patch(
            &format!("/Groups/{team}"),
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "remove", "path": format!("members[value eq \"{bob}\"]")}]}),
        )
        .await;
    assert!(
        removed.status == 200 || removed.status == 204,
        "{removed:#?}"
    );
    assert!(!allowed(&server, "bob@acme.example", "charges.read", "acct_main").await);
    assert!(allowed(&server, "alice@acme.example", "charges.read", "acct_main").await);

    // saml: neutralises group assignments (SAML_MODE) and refuses new ones; back restores.
    admin
        .write(
            200,
            "PATCH",
            "/directories/dir_acme",
            Some(&json!({"mode": "saml"})),
        )
        .await;
    let (ok, reason) = decide(
        &server,
        "alice@acme.example",
        "charges.read",
        "acct_main",
        None,
    )
    .await;
    assert!(!ok);
    assert_eq!(reason, pb::DenyReason::SamlMode);
    let check = admin
        .expect(
            200,
            "GET",
            "/check?user=alice@acme.example&permission=charges.read&account=acct_main",
            None,
        )
        .await;
    assert_eq!(check["explanation"]["deny_reason"], "saml_mode");
    let saml = admin.expect(409, "PUT", &path, Some(&two)).await;
    let (code, message, _) = error_of(&saml);
    assert_eq!(code, "failed_precondition");
    assert!(
        message.contains("dir_acme") && message.contains("SAML") && message.contains("dashboard"),
        "{message}"
    );
    // A user's own assignments still count in saml mode.
    let user_path = format!("/directories/dir_acme/users/{carol}/role-assignments");
    admin
        .write(
            200,
            "PUT",
            &user_path,
            Some(&assignments(&[(
                "charges_reader",
                json!({"account": "acct_eu"}),
            )])),
        )
        .await;
    assert!(allowed(&server, "carol@acme.example", "charges.read", "acct_eu").await);
    let carol_list = admin.expect(200, "GET", &user_path, None).await;
    assert_eq!(
        carol_list["role_assignments"][0]["scope"],
        json!({"account": "acct_eu"})
    );
    admin
        .write(
            200,
            "PATCH",
            "/directories/dir_acme",
            Some(&json!({"mode": "dashboard"})),
        )
        .await;
    assert!(allowed(&server, "alice@acme.example", "refunds.create", "acct_main").await);

    // The audit log has the writes, with before and after.
    let audit = admin
        .expect(
            200,
            "GET",
            "/audit-log?action=group.role_assignments&limit=2",
            None,
        )
        .await;
    let entries = audit["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{audit}");
    assert!(audit["next_before"].is_i64(), "{audit}");
    assert_eq!(entries[0]["actor"], "admin");
    assert_eq!(
        entries[0]["target"],
        format!("directories/dir_acme/groups/{team}")
    );
    assert!(
        !entries[0]["before"].is_null() && !entries[0]["after"].is_null(),
        "{audit}"
    );
    let older = admin
        .expect(
            200,
            "GET",
            &format!(
                "/audit-log?action=group.role_assignments&before={}",
                audit["next_before"]
            ),
            None,
        )
        .await;
    assert_eq!(
        older["entries"].as_array().unwrap().len(),
        1,
        "three group writes in all: {older}"
    );
    let modes = admin
        .expect(
            200,
            "GET",
            "/audit-log?target=directories/dir_acme&action=directory.update",
            None,
        )
        .await;
    assert_eq!(modes["entries"].as_array().unwrap().len(), 2, "{modes}");

    // The sync log shows the refused user.
    let log = admin
        .expect(
            200,
            "GET",
            "/directories/dir_acme/sync-log?limit=1000",
            None,
        )
        .await;
    let refused: Vec<&Value> = log["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["status"] == 400 && e["method"] == "POST")
        .collect();
    assert!(!refused.is_empty(), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_matches_applying() {
    let (_db, server, admin) = start().await;
    acme(&admin).await;
    let (scim, _) = scim_for(&admin, "dir_acme").await;
    let alice = scim_user(&scim, "alice@acme.example").await;
    let bob = scim_user(&scim, "bob@acme.example").await;
    let carol = scim_user(&scim, "carol@acme.example").await;
    let inner = scim_group(&scim, "Refunds Desk", &[&carol]).await;
    let team = scim_group(&scim, "Payments Team", &[&alice, &bob, &inner]).await;
    let path = format!("/directories/dir_acme/groups/{team}/role-assignments");
    admin
        .write(
            200,
            "PUT",
            &path,
            Some(&assignments(&[("charges_reader", org_scope("org_acme"))])),
        )
        .await;

    let users = [
        "alice@acme.example",
        "bob@acme.example",
        "carol@acme.example",
    ];
    let accounts = ["acct_main", "acct_eu"];
    let proposal = assignments(&[
        ("refunds_manager", org_scope("org_acme")),
        (
            "charges_reader",
            json!({"organization": "org_acme", "accounts": ["acct_eu"]}),
        ),
    ]);
    let before = permission_map(&server, &users, &accounts).await;
    let preview = admin
        .expect(200, "POST", &format!("{path}:preview"), Some(&proposal))
        .await;
    // Nothing was written.
    assert_eq!(before, permission_map(&server, &users, &accounts).await);
    admin.write(200, "PUT", &path, Some(&proposal)).await;
    let after = permission_map(&server, &users, &accounts).await;

    let mut expected = Vec::new();
    for ((user, account), was) in &before {
        let now = &after[&(user.clone(), account.clone())];
        let gained: Vec<&String> = now.difference(was).collect();
        let lost: Vec<&String> = was.difference(now).collect();
        if !gained.is_empty() || !lost.is_empty() {
            expected
                .push(json!({"user": user, "account": account, "gained": gained, "lost": lost}));
        }
    }
    let got: Vec<Value> = preview["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| json!({"user": c["user"]["userName"], "account": c["account"], "gained": c["gained"], "lost": c["lost"]}))
        .collect();
    assert_eq!(got, expected, "preview: {preview}");
    assert_eq!(
        got.len(),
        6,
        "three users (one through a nested group) on two accounts"
    );

    // The same validation as the PUT.
    let outside = admin
        .expect(
            400,
            "POST",
            &format!("{path}:preview"),
            Some(&assignments(&[(
                "charges_reader",
                json!({"account": "acct_globex"}),
            )])),
        )
        .await;
    assert!(
        error_of(&outside)
            .2
            .unwrap_or_default()
            .starts_with("role_assignments[0].scope")
    );
    admin
        .expect(
            404,
            "POST",
            "/directories/dir_acme/groups/g_nope/role-assignments:preview",
            Some(&proposal),
        )
        .await;
    // A user's preview.
    let user_preview = admin
        .expect(
            200,
            "POST",
            &format!("/directories/dir_acme/users/{bob}/role-assignments:preview"),
            Some(&assignments(&[(
                "charges_reader",
                json!({"account": "acct_main"}),
            )])),
        )
        .await;
    assert_eq!(
        user_preview["changes"],
        json!([{"user": {"id": bob, "userName": "bob@acme.example"}, "account": "acct_main", "gained": ["charges.read"], "lost": []}])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_an_assigned_role_is_refused_unless_cascading() {
    let (_db, server, admin) = start().await;
    acme(&admin).await;
    let (scim, _) = scim_for(&admin, "dir_acme").await;
    let alice = scim_user(&scim, "alice@acme.example").await;
    let team = scim_group(&scim, "Payments Team", &[&alice]).await;
    admin
        .write(
            200,
            "PUT",
            &format!("/directories/dir_acme/groups/{team}/role-assignments"),
            Some(&assignments(&[
                ("charges_reader", org_scope("org_acme")),
                ("refunds_manager", org_scope("org_acme")),
            ])),
        )
        .await;
    let refused = admin
        .expect(409, "DELETE", "/roles/charges_reader", None)
        .await;
    let (code, message, _) = error_of(&refused);
    assert_eq!(code, "failed_precondition");
    assert!(
        message.contains("Payments Team") && message.contains("cascade"),
        "{message}"
    );
    assert_eq!(
        refused["error"]["details"]["assignments"][0]["subject_id"],
        team.as_str()
    );
    assert!(allowed(&server, "alice@acme.example", "charges.read", "acct_main").await);

    admin
        .write(204, "DELETE", "/roles/charges_reader?cascade=true", None)
        .await;
    assert!(!allowed(&server, "alice@acme.example", "charges.read", "acct_main").await);
    assert!(allowed(&server, "alice@acme.example", "refunds.read", "acct_main").await);
    let left = admin
        .expect(
            200,
            "GET",
            &format!("/directories/dir_acme/groups/{team}/role-assignments"),
            None,
        )
        .await;
    assert_eq!(left["role_assignments"].as_array().unwrap().len(), 1);
    assert_eq!(left["role_assignments"][0]["role"], "refunds_manager");
}

// === the OpenAPI document ===

/// The admin routes of DESIGN.md plus the reads, with `{}` for parameters.
const ROUTES: &[(&str, &str)] = &[
    ("get", "/admin/v1/organizations"),
    ("post", "/admin/v1/organizations"),
    ("get", "/admin/v1/organizations/{}"),
    ("patch", "/admin/v1/organizations/{}"),
    ("get", "/admin/v1/accounts"),
    ("post", "/admin/v1/accounts"),
    ("get", "/admin/v1/accounts/{}"),
    ("patch", "/admin/v1/accounts/{}"),
    ("get", "/admin/v1/accounts/{}/access"),
    ("get", "/admin/v1/directories"),
    ("post", "/admin/v1/directories"),
    ("get", "/admin/v1/directories/{}"),
    ("patch", "/admin/v1/directories/{}"),
    ("get", "/admin/v1/directories/{}/scim-tokens"),
    ("post", "/admin/v1/directories/{}/scim-tokens"),
    ("delete", "/admin/v1/directories/{}/scim-tokens/{}"),
    ("get", "/admin/v1/roles"),
    ("post", "/admin/v1/roles"),
    ("get", "/admin/v1/roles/{}"),
    ("put", "/admin/v1/roles/{}"),
    ("delete", "/admin/v1/roles/{}"),
    ("get", "/admin/v1/directories/{}/groups"),
    ("get", "/admin/v1/directories/{}/groups/{}/members"),
    ("get", "/admin/v1/directories/{}/groups/{}/role-assignments"),
    ("put", "/admin/v1/directories/{}/groups/{}/role-assignments"),
    (
        "post",
        "/admin/v1/directories/{}/groups/{}/role-assignments:preview",
    ),
    ("get", "/admin/v1/directories/{}/users/{}/role-assignments"),
    ("put", "/admin/v1/directories/{}/users/{}/role-assignments"),
    (
        "post",
        "/admin/v1/directories/{}/users/{}/role-assignments:preview",
    ),
    ("get", "/admin/v1/check"),
    ("get", "/admin/v1/directories/{}/sync-log"),
    ("get", "/admin/v1/audit-log"),
    ("get", "/admin/v1/openapi.json"),
];

fn generic(path: &str) -> String {
    let mut out = String::new();
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            c => out.push(c),
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_lists_every_route_and_only_routes() {
    let (_db, _server, admin) = start().await;
    let doc = admin.expect(200, "GET", "/openapi.json", None).await;
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3."),
        "{}",
        doc["openapi"]
    );
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.clone(), generic(path)));
            }
        }
    }
    let wanted: BTreeSet<(String, String)> = ROUTES
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, wanted, "the document and the route list differ");

    // Every documented operation reaches a handler: not the router's 404, not a 405.
    for (method, path) in &documented {
        let concrete = path.replace("{}", "x_probe");
        let rel = concrete.strip_prefix("/admin/v1").unwrap();
        let body = (method != "get" && method != "delete").then(|| json!({}));
        let resp = admin.send(&method.to_uppercase(), rel, body.as_ref()).await;
        assert_ne!(resp.status, 405, "{method} {path}: {resp:#?}");
        assert!(
            !(resp.status == 404 && resp.body.contains("no admin route")),
            "{method} {path} is documented but not routed: {resp:#?}"
        );
    }
    // And the schemas are there.
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ErrorBody",
        "AssignmentsBody",
        "ScopeJson",
        "CheckView",
        "PreviewView",
        "DirectoryView",
    ] {
        assert!(schemas.contains_key(name), "schema {name} missing");
    }
}

// === latency ===

/// Measures (does not assert) a PUT of a group's role assignments on a group
/// of 10,000 members: 20 times, alternating two lists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_of_an_assignment_change_on_10000_members() {
    const USERS: usize = 10_000;
    let db = Db::new();
    let users: Vec<Value> = (0..USERS)
        .map(|i| json!({"directory": "dir_big", "userName": format!("user{i:05}@big.example"), "id": format!("u{i:05}")}))
        .collect();
    let members: Vec<String> = (0..USERS)
        .map(|i| format!("user{i:05}@big.example"))
        .collect();
    let data = json!({
        "organizations": [{"id": "org_big", "name": "Big"}],
        "accounts": [
            {"id": "acct_big_1", "name": "Big 1", "organization": "org_big"},
            {"id": "acct_big_2", "name": "Big 2", "organization": "org_big"},
            {"id": "acct_big_3", "name": "Big 3", "organization": "org_big"}
        ],
        "directories": [{"id": "dir_big", "owner": {"organization": "org_big"}, "domains": ["big.example"], "mode": "dashboard"}],
        "users": users,
        "groups": [{"directory": "dir_big", "displayName": "Everyone", "id": "g_everyone", "members": members}],
    });
    common::import_json(&db, "big.json", &data).await;
    let server = start_with_admin(&db).await;
    let admin = Admin::new(&server);
    let path = "/directories/dir_big/groups/g_everyone/role-assignments";
    let lists = [
        assignments(&[("developer", org_scope("org_big"))]),
        assignments(&[
            (
                "analyst",
                json!({"organization": "org_big", "accounts": ["acct_big_1", "acct_big_2"]}),
            ),
            ("view_only", json!({"account": "acct_big_3"})),
        ]),
    ];
    let mut times = Vec::new();
    for i in 0..20 {
        let started = Instant::now();
        let resp = admin.put(path, &lists[i % 2]).await;
        times.push(started.elapsed());
        assert_eq!(resp.status, 200, "{resp:#?}");
    }
    // Consistent at once: the last list (analyst on acct_big_1/2) is in force.
    assert!(
        allowed(
            &server,
            "user09999@big.example",
            "charges.read",
            "acct_big_1"
        )
        .await
    );
    times.sort();
    let pct = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
    eprintln!(
        "PUT group role-assignments, 10,000 members, 20 runs: p50 {:?}, p99 {:?}, min {:?}, max {:?}",
        pct(0.50),
        pct(0.99),
        times[0],
        times[times.len() - 1]
    );
    let _: Duration = pct(0.5);
}
