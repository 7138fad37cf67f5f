//! Replays of what Okta and Microsoft Entra ID really send over SCIM, in the
//! order they send it, against the real `rolecall serve` on a SQLite file
//! loaded with `tests/fixtures/scim/world.yaml`. Request bodies are the files
//! of `tests/fixtures/scim/{okta,entra}/` (see the README there); every step
//! checks the response and, where the step changes access, the decision of
//! the Authorizer right after the response — no waiting: a SCIM write is in
//! the snapshot before the IdP gets its answer.

mod common;

use std::collections::{BTreeSet, HashMap};

use common::{Db, HttpResponse, Scim, Server, decide, fixture, import_ok, scim_token};
use rolecall::pb::v1::DenyReason;
use serde_json::Value;

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// The User-Agent Okta's provisioning sends.
const OKTA_AGENT: &str = "Okta SCIM Client 1.0.0";

/// A server on world.yaml and a SCIM client of `dir_acme`. Fields drop in
/// order: the server stops before the database goes away.
struct Env {
    server: Server,
    scim: Scim,
    db: Db,
}

async fn start(user_agent: &str) -> Env {
    let db = Db::new();
    import_ok(&db.url(), &[&fixture("scim/world.yaml")]).await;
    let token = scim_token(&db.url(), "dir_acme").await;
    let server = Server::start(&db.url()).await;
    let scim = Scim::new(server.http_addr, &token.secret).with_user_agent(user_agent);
    Env { server, scim, db }
}

/// Values for the `{{name}}` placeholders of the fixtures.
#[derive(Default)]
struct Vars(HashMap<String, String>);

impl Vars {
    fn set(&mut self, key: &str, value: &str) {
        self.0.insert(key.to_owned(), value.to_owned());
    }

    /// `NAME.id` and `NAME.meta.*` of a resource the server returned.
    fn remember(&mut self, name: &str, resource: &Value) {
        let id = resource["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} has no id: {resource:#}"));
        self.set(&format!("{name}.id"), id);
        for key in ["created", "lastModified", "location", "version"] {
            if let Some(v) = resource["meta"][key].as_str() {
                self.set(&format!("{name}.meta.{key}"), v);
            }
        }
    }

    fn id(&self, name: &str) -> String {
        self.0
            .get(&format!("{name}.id"))
            .unwrap_or_else(|| panic!("no id remembered for {name}"))
            .clone()
    }
}

/// `tests/fixtures/scim/IDP/FILE` with its placeholders filled in (each
/// value escaped for the JSON string it stands in).
fn body(idp: &str, file: &str, vars: &Vars) -> Value {
    let path = fixture(&format!("scim/{idp}/{file}"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let mut out = String::with_capacity(text.len());
    let mut rest = text.as_str();
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let len = rest[start..]
            .find("}}")
            .unwrap_or_else(|| panic!("{file}: unclosed placeholder"));
        let key = &rest[start + 2..start + len];
        let value = vars
            .0
            .get(key)
            .unwrap_or_else(|| panic!("{file}: no value for {{{{{key}}}}}"));
        let quoted = serde_json::to_string(value).expect("a string serializes");
        out.push_str(&quoted[1..quoted.len() - 1]);
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{file} is not JSON: {e}\n{out}"))
}

/// Asserts the status and the SCIM content type of a response with a body;
/// returns the body.
fn expect(resp: &HttpResponse, status: u16, step: &str) -> Value {
    assert_eq!(resp.status, status, "{step}: {resp:#?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/scim+json"),
        "{step}: {resp:#?}"
    );
    resp.json()
}

/// Asserts a 204 without a body that carries the new revision and ETag.
fn expect_no_content(resp: &HttpResponse, step: &str) {
    assert_eq!(resp.status, 204, "{step}: {resp:#?}");
    assert!(resp.body.is_empty(), "{step}: {resp:#?}");
    revision(resp, step);
    assert!(resp.header("etag").is_some(), "{step}: no ETag: {resp:#?}");
}

/// The `Rolecall-Revision` a write answered with.
fn revision(resp: &HttpResponse, step: &str) -> u64 {
    resp.header("rolecall-revision")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{step}: no Rolecall-Revision: {resp:#?}"))
}

/// Asserts a ListResponse with no resources.
fn assert_empty_list(list: &Value, step: &str) {
    assert_eq!(list["schemas"][0], LIST_RESPONSE, "{step}: {list:#}");
    assert_eq!(list["totalResults"], 0, "{step}: {list:#}");
    assert_eq!(
        list["Resources"],
        Value::Array(Vec::new()),
        "{step}: {list:#}"
    );
    assert_eq!(list["startIndex"], 1, "{step}: {list:#}");
    assert_eq!(list["itemsPerPage"], 0, "{step}: {list:#}");
}

/// The ids of a list's resources, in order.
fn ids(list: &Value) -> Vec<String> {
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {list:#}"))
        .iter()
        .map(|r| r["id"].as_str().expect("a resource id").to_owned())
        .collect()
}

/// The member ids of a group as GET returns it (none when `members` is absent).
async fn members(scim: &Scim, group_id: &str) -> BTreeSet<String> {
    let g = expect(
        &scim.get(&format!("/Groups/{group_id}")).await,
        200,
        "get group",
    );
    g.get("members")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|m| m["value"].as_str().expect("member value").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn set(ids: &[&str]) -> BTreeSet<String> {
    ids.iter().map(|s| (*s).to_owned()).collect()
}

async fn allowed(env: &Env, user: &str, permission: &str, account: &str, step: &str) {
    let (ok, reason) = decide(&env.server, user, permission, account, None).await;
    assert!(
        ok,
        "{step}: {user} {permission} {account} should be allowed, denied with {reason:?}"
    );
}

async fn denied(
    env: &Env,
    user: &str,
    permission: &str,
    account: &str,
    why: DenyReason,
    step: &str,
) {
    let (ok, reason) = decide(&env.server, user, permission, account, None).await;
    assert!(
        !ok,
        "{step}: {user} {permission} {account} should be denied"
    );
    assert_eq!(reason, why, "{step}: {user} {permission} {account}");
}

/// Microsoft Entra ID provisioning a group of three users: lookups with
/// `+`-encoded filters, creates with the enterprise extension and `null`s,
/// the Microsoft group schema URI, capitalised ops with `$ref: null`,
/// `Remove` of listed members, path-less replace with dotted keys, a manager
/// as a bare string, `"False"`/`"True"` for `active`, a rename, an unknown
/// member (skipped and logged), and a delete.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_provisioning_flow() {
    let env = start("Azure AD SCIM provisioning test").await;
    let scim = &env.scim;
    let mut vars = Vars::default();

    // Entra looks a user up before creating it, spaces encoded as `+`: no
    // match is a 200 with an empty ListResponse.
    let lookup = "/Users?filter=userName+eq+%22alice%40acme.example%22";
    let list = expect(&scim.get(lookup).await, 200, "lookup alice");
    assert_empty_list(&list, "lookup alice");

    // Create, core + enterprise schemas.
    let resp = scim
        .post("/Users", &body("entra", "01_create_user_alice.json", &vars))
        .await;
    let alice = expect(&resp, 201, "create alice");
    assert_eq!(alice["userName"], "alice@acme.example");
    assert_eq!(alice["externalId"], "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef");
    assert_eq!(alice["active"], true);
    assert_eq!(alice["displayName"], "Alice Archer");
    assert_eq!(alice["name"]["givenName"], "Alice");
    assert_eq!(alice["name"]["formatted"], "Alice Archer");
    assert_eq!(alice["emails"][0]["value"], "alice@acme.example");
    assert_eq!(alice["emails"][0]["type"], "work");
    assert_eq!(alice["emails"][0]["primary"], true);
    assert_eq!(alice[ENTERPRISE]["employeeNumber"], "1001");
    assert_eq!(alice[ENTERPRISE]["department"], "Payments");
    assert_eq!(alice["meta"]["resourceType"], "User");
    let schemas: Vec<&str> = alice["schemas"]
        .as_array()
        .expect("schemas")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        schemas.contains(&USER_SCHEMA) && schemas.contains(&ENTERPRISE),
        "{alice:#}"
    );
    vars.remember("alice", &alice);
    revision(&resp, "create alice");

    // The same `+`-encoded lookup finds her now.
    let list = expect(&scim.get(lookup).await, 200, "lookup alice again");
    assert_eq!(list["totalResults"], 1, "{list:#}");
    assert_eq!(ids(&list), vec![vars.id("alice")]);

    // `null` attribute values mean "no value".
    let bob = expect(
        &scim
            .post("/Users", &body("entra", "02_create_user_bob.json", &vars))
            .await,
        201,
        "create bob (nulls)",
    );
    assert_eq!(bob["userName"], "bob@acme.example");
    assert!(bob.get("title").is_none(), "{bob:#}");
    assert!(bob.get("nickName").is_none(), "{bob:#}");
    assert!(bob["name"].get("middleName").is_none(), "{bob:#}");
    assert_eq!(bob["name"]["givenName"], "Bob");
    if let Some(ext) = bob.get(ENTERPRISE) {
        for key in ["employeeNumber", "department", "manager"] {
            assert!(ext.get(key).is_none(), "{bob:#}");
        }
    }
    vars.remember("bob", &bob);

    let carol = expect(
        &scim
            .post("/Users", &body("entra", "03_create_user_carol.json", &vars))
            .await,
        201,
        "create carol",
    );
    vars.remember("carol", &carol);

    // The group, with Microsoft's group schema URI next to the RFC one.
    let group = expect(
        &scim
            .post("/Groups", &body("entra", "04_create_group.json", &vars))
            .await,
        201,
        "create group (Microsoft schema URI)",
    );
    assert_eq!(group["displayName"], "Entra Engineering");
    assert_eq!(group["externalId"], "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    assert_eq!(group["schemas"][0], GROUP_SCHEMA);
    assert!(
        group
            .get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{group:#}"
    );
    vars.remember("group", &group);
    let gid = vars.id("group");
    let group_path = format!("/Groups/{gid}");

    // Entra reads groups without their members, by displayName.
    let list = expect(
        &scim
            .get("/Groups?excludedAttributes=members&filter=displayName+eq+%22Entra+Engineering%22")
            .await,
        200,
        "lookup group",
    );
    assert_eq!(ids(&list), vec![gid.clone()]);
    assert!(list["Resources"][0].get("members").is_none(), "{list:#}");
    let got = expect(
        &scim
            .get(&format!("{group_path}?excludedAttributes=members"))
            .await,
        200,
        "get group without members",
    );
    assert_eq!(got["displayName"], "Entra Engineering");
    assert!(got.get("members").is_none(), "{got:#}");

    // An administrator gives the synced group a role (data file).
    let rev = import_ok(&env.db.url(), &[&fixture("scim/entra/roles.yaml")]).await;
    let (ok, reason) = decide(
        &env.server,
        "alice@acme.example",
        "charges.read",
        "acct_acme_main",
        Some(rev),
    )
    .await;
    assert!(!ok && reason == DenyReason::NoGrant, "{reason:?}");

    // `Add` members, `$ref: null`: everyone gets the role at once.
    let resp = scim
        .patch(&group_path, &body("entra", "05_add_members.json", &vars))
        .await;
    expect_no_content(&resp, "add members");
    for user in ["alice", "bob", "carol"] {
        let name = format!("{user}@acme.example");
        allowed(&env, &name, "charges.read", "acct_acme_main", "add members").await;
        allowed(&env, &name, "charges.read", "acct_acme_eu", "add members").await;
    }
    assert_eq!(
        members(scim, &gid).await,
        set(&[&vars.id("alice"), &vars.id("bob"), &vars.id("carol")])
    );

    // `Remove` with `path: members` and a value list removes only those.
    let resp = scim
        .patch(
            &group_path,
            &body("entra", "06_remove_member_bob.json", &vars),
        )
        .await;
    expect_no_content(&resp, "remove bob");
    denied(
        &env,
        "bob@acme.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::NoGrant,
        "remove bob",
    )
    .await;
    allowed(
        &env,
        "alice@acme.example",
        "charges.read",
        "acct_acme_main",
        "remove bob",
    )
    .await;
    allowed(
        &env,
        "carol@acme.example",
        "charges.read",
        "acct_acme_main",
        "remove bob",
    )
    .await;
    assert_eq!(
        members(scim, &gid).await,
        set(&[&vars.id("alice"), &vars.id("carol")])
    );

    // Path-less `Replace` whose keys are dotted and schema-qualified.
    let alice_path = format!("/Users/{}", vars.id("alice"));
    let a = expect(
        &scim
            .patch(
                &alice_path,
                &body("entra", "07_update_user_without_path.json", &vars),
            )
            .await,
        200,
        "path-less replace",
    );
    assert_eq!(a["name"]["givenName"], "Alicia");
    assert_eq!(a["name"]["familyName"], "Archer-Smith");
    assert_eq!(a["name"]["formatted"], "Alice Archer", "untouched: {a:#}");
    assert_eq!(a["displayName"], "Alicia Archer-Smith");
    assert_eq!(a[ENTERPRISE]["employeeNumber"], "2002");
    assert_eq!(a[ENTERPRISE]["department"], "Platform");
    assert_eq!(a["userName"], "alice@acme.example");
    assert!(a.get("name.givenName").is_none(), "{a:#}");
    assert!(
        a.get(format!("{ENTERPRISE}:employeeNumber")).is_none(),
        "{a:#}"
    );

    // A manager given as a bare string is its `value`.
    let a = expect(
        &scim
            .patch(&alice_path, &body("entra", "08_set_manager.json", &vars))
            .await,
        200,
        "manager as a string",
    );
    assert_eq!(a[ENTERPRISE]["manager"]["value"], vars.id("carol").as_str());
    assert_eq!(a[ENTERPRISE]["employeeNumber"], "2002");

    // `emails[type eq "work"].value` and a plain attribute in one request.
    let a = expect(
        &scim
            .patch(
                &alice_path,
                &body("entra", "09_update_work_email.json", &vars),
            )
            .await,
        200,
        "replace work email",
    );
    let emails = a["emails"].as_array().expect("emails");
    assert_eq!(emails.len(), 1, "{a:#}");
    assert_eq!(emails[0]["value"], "alicia@acme.example");
    assert_eq!(emails[0]["type"], "work");
    assert_eq!(a["title"], "Staff Engineer");

    // `"active": "False"` (a string) deactivates, and revokes at once.
    let carol_path = format!("/Users/{}", vars.id("carol"));
    let c = expect(
        &scim
            .patch(&carol_path, &body("entra", "10_disable_user.json", &vars))
            .await,
        200,
        "disable carol",
    );
    assert_eq!(c["active"], false, "a JSON boolean: {c:#}");
    denied(
        &env,
        "carol@acme.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::InactiveUser,
        "disable carol",
    )
    .await;
    allowed(
        &env,
        "alice@acme.example",
        "charges.read",
        "acct_acme_main",
        "disable carol",
    )
    .await;
    let c = expect(&scim.get(&carol_path).await, 200, "get carol");
    assert_eq!(c["active"], false);

    // Rename: the group keeps its id and its role assignment.
    let resp = scim
        .patch(&group_path, &body("entra", "11_rename_group.json", &vars))
        .await;
    expect_no_content(&resp, "rename group");
    let g = expect(&scim.get(&group_path).await, 200, "get renamed group");
    assert_eq!(g["displayName"], "Entra Platform");
    assert_eq!(g["id"], gid.as_str());
    allowed(
        &env,
        "alice@acme.example",
        "charges.read",
        "acct_acme_eu",
        "rename group",
    )
    .await;

    // A member id nobody has is skipped; the rest of the request applies,
    // and the sync log says what was skipped.
    let resp = scim
        .patch(
            &group_path,
            &body("entra", "12_add_members_with_unknown.json", &vars),
        )
        .await;
    expect_no_content(&resp, "add with unknown member");
    allowed(
        &env,
        "bob@acme.example",
        "charges.read",
        "acct_acme_main",
        "re-add bob",
    )
    .await;
    assert_eq!(
        members(scim, &gid).await,
        set(&[&vars.id("alice"), &vars.id("bob"), &vars.id("carol")])
    );
    let unknown = "0f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a00";
    let entry = common::wait_for_sync_log(&env.db.url(), "with the skipped member", |e| {
        e["method"] == "PATCH"
            && e["path"].as_str().is_some_and(|p| p.ends_with(&group_path))
            && e["changes"]["skipped_members"]
                .as_array()
                .is_some_and(|s| s.iter().any(|m| m == unknown))
    })
    .await;
    assert_eq!(entry["status"], 204, "{entry:#}");
    assert_eq!(entry["directory"], "dir_acme", "{entry:#}");
    assert_eq!(
        entry["changes"]["skipped_members"],
        serde_json::json!([unknown]),
        "only the unknown id is skipped: {entry:#}"
    );

    // `"active": "True"` brings carol back.
    let c = expect(
        &scim
            .patch(&carol_path, &body("entra", "13_enable_user.json", &vars))
            .await,
        200,
        "enable carol",
    );
    assert_eq!(c["active"], true);
    allowed(
        &env,
        "carol@acme.example",
        "charges.read",
        "acct_acme_main",
        "enable carol",
    )
    .await;

    // Hard delete: gone from SCIM, from the group and from decisions.
    let bob_path = format!("/Users/{}", vars.id("bob"));
    let resp = scim.delete(&bob_path).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    denied(
        &env,
        "bob@acme.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::UnknownUser,
        "delete bob",
    )
    .await;
    expect(&scim.get(&bob_path).await, 404, "get deleted bob");
    assert_eq!(
        members(scim, &gid).await,
        set(&[&vars.id("alice"), &vars.id("carol")])
    );
}

/// Entra's path-less `replace` of several attributes at once, as Microsoft's
/// "Known issues" page shows it: besides dotted and schema-qualified keys,
/// the keys may be value paths (`emails[type eq "work"].value`). Every key
/// applies; none is dropped silently.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entra_update_without_path_with_value_path_keys() {
    let env = start("Azure AD SCIM provisioning test").await;
    let scim = &env.scim;
    let mut vars = Vars::default();
    let alice = expect(
        &scim
            .post("/Users", &body("entra", "01_create_user_alice.json", &vars))
            .await,
        201,
        "create alice",
    );
    vars.remember("alice", &alice);
    let a = expect(
        &scim
            .patch(
                &format!("/Users/{}", vars.id("alice")),
                &body(
                    "entra",
                    "update_user_without_path_filtered_keys.json",
                    &vars,
                ),
            )
            .await,
        200,
        "path-less replace with value-path keys",
    );
    assert_eq!(a["displayName"], "Alice Nguyen");
    assert_eq!(a["name"]["familyName"], "Nguyen");
    assert_eq!(a[ENTERPRISE]["department"], "Treasury");
    let work_email = a["emails"]
        .as_array()
        .and_then(|l| l.iter().find(|e| e["type"] == "work"))
        .unwrap_or_else(|| panic!("no work email: {a:#}"));
    assert_eq!(work_email["value"], "alice.nguyen@acme.example", "{a:#}");
    let work_phone = a["phoneNumbers"]
        .as_array()
        .and_then(|l| l.iter().find(|p| p["type"] == "work"))
        .unwrap_or_else(|| panic!("no work phone number: {a:#}"));
    assert_eq!(work_phone["value"], "+1 425 555 0100", "{a:#}");
}

/// Okta provisioning: the connection test, lookups, creates with a password,
/// `add` members with `display`, `remove` by `members[value eq "…"]`, a rename
/// that repeats the id, a PUT of the whole user as GET returned it, `replace`
/// of all members, a path-less `{"active": false}`, and `replace` with `[]`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_provisioning_flow() {
    let env = start(OKTA_AGENT).await;
    let scim = &env.scim;
    let mut vars = Vars::default();

    // What Okta asks when provisioning is switched on.
    let list = expect(
        &scim.get("/Users?startIndex=1&count=2").await,
        200,
        "connection test: users",
    );
    assert_empty_list(&list, "connection test: users");
    let list = expect(
        &scim.get("/Groups?startIndex=1&count=100").await,
        200,
        "connection test: groups",
    );
    assert_empty_list(&list, "connection test: groups");

    // Lookup before create (`%20`-encoded this time): no match.
    let list = expect(
        &scim
            .get("/Users?filter=userName%20eq%20%22dan%40acme.example%22&startIndex=1&count=100")
            .await,
        200,
        "lookup dan",
    );
    assert_empty_list(&list, "lookup dan");

    // Create with a password: accepted, never returned.
    let resp = scim
        .post("/Users", &body("okta", "01_create_user_dan.json", &vars))
        .await;
    let dan = expect(&resp, 201, "create dan");
    assert!(dan.get("password").is_none(), "{dan:#}");
    assert!(!resp.body.contains("Okta-Pa55word-For-Dan"), "{resp:#?}");
    assert_eq!(dan["userName"], "dan@acme.example");
    assert_eq!(dan["externalId"], "00ujl29u0le5T6Aj10h7");
    assert_eq!(dan["locale"], "en-US");
    assert_eq!(dan["name"]["familyName"], "Dawson");
    assert_eq!(dan["active"], true);
    assert!(resp.header("location").is_some(), "{resp:#?}");
    vars.remember("dan", &dan);
    let erin = expect(
        &scim
            .post("/Users", &body("okta", "02_create_user_erin.json", &vars))
            .await,
        201,
        "create erin",
    );
    vars.remember("erin", &erin);

    // Okta finds the user it just created.
    let list = expect(
        &scim
            .get("/Users?filter=userName%20eq%20%22dan%40acme.example%22&startIndex=1&count=100")
            .await,
        200,
        "lookup dan again",
    );
    assert_eq!(ids(&list), vec![vars.id("dan")]);

    // Push the group, empty.
    let group = expect(
        &scim
            .post("/Groups", &body("okta", "03_create_group.json", &vars))
            .await,
        201,
        "create group",
    );
    assert_eq!(group["displayName"], "Okta Support");
    vars.remember("group", &group);
    let gid = vars.id("group");
    let group_path = format!("/Groups/{gid}");

    let rev = import_ok(&env.db.url(), &[&fixture("scim/okta/roles.yaml")]).await;
    let (ok, reason) = decide(
        &env.server,
        "dan@acme.example",
        "refunds.create",
        "acct_acme_main",
        Some(rev),
    )
    .await;
    assert!(!ok && reason == DenyReason::NoGrant, "{reason:?}");

    // `add` members with `display`.
    let resp = scim
        .patch(&group_path, &body("okta", "04_add_members.json", &vars))
        .await;
    expect_no_content(&resp, "add members");
    for user in ["dan@acme.example", "erin@acme.example"] {
        allowed(
            &env,
            user,
            "refunds.create",
            "acct_acme_main",
            "add members",
        )
        .await;
        denied(
            &env,
            user,
            "refunds.create",
            "acct_acme_eu",
            DenyReason::NoGrant,
            "add members (account scope)",
        )
        .await;
    }
    assert_eq!(
        members(scim, &gid).await,
        set(&[&vars.id("dan"), &vars.id("erin")])
    );

    // `remove` with `members[value eq "…"]`.
    let resp = scim
        .patch(
            &group_path,
            &body("okta", "05_remove_member_erin.json", &vars),
        )
        .await;
    expect_no_content(&resp, "remove erin");
    denied(
        &env,
        "erin@acme.example",
        "refunds.create",
        "acct_acme_main",
        DenyReason::NoGrant,
        "remove erin",
    )
    .await;
    allowed(
        &env,
        "dan@acme.example",
        "refunds.create",
        "acct_acme_main",
        "remove erin",
    )
    .await;
    assert_eq!(members(scim, &gid).await, set(&[&vars.id("dan")]));

    // Rename: path-less `replace` whose value repeats the group's id.
    let resp = scim
        .patch(&group_path, &body("okta", "06_rename_group.json", &vars))
        .await;
    expect_no_content(&resp, "rename group");
    let g = expect(&scim.get(&group_path).await, 200, "get renamed group");
    assert_eq!(g["displayName"], "Okta Support Tier 2");
    assert_eq!(g["id"], gid.as_str());
    let list = expect(
        &scim
            .get("/Groups?filter=displayName%20eq%20%22Okta%20Support%20Tier%202%22&startIndex=1&count=100")
            .await,
        200,
        "lookup renamed group",
    );
    assert_eq!(ids(&list), vec![gid.clone()]);
    allowed(
        &env,
        "dan@acme.example",
        "refunds.create",
        "acct_acme_main",
        "rename group",
    )
    .await;

    // Okta PUTs back exactly what GET returned (id, meta, groups included).
    let dan_path = format!("/Users/{}", vars.id("dan"));
    let got = expect(&scim.get(&dan_path).await, 200, "get dan");
    assert_eq!(got["groups"][0]["value"], gid.as_str(), "{got:#}");
    let put = expect(&scim.put(&dan_path, &got).await, 200, "PUT of the GET body");
    for key in [
        "id",
        "userName",
        "name",
        "emails",
        "displayName",
        "externalId",
        "active",
    ] {
        assert_eq!(put[key], got[key], "{key} changed by a PUT of itself");
    }
    vars.remember("dan", &put);

    // A profile push: the whole user with a new name, `groups: []`, the old
    // `meta`. Groups are read-only: dan stays in the group.
    let put = expect(
        &scim
            .put(&dan_path, &body("okta", "07_put_user_dan.json", &vars))
            .await,
        200,
        "profile push",
    );
    assert_eq!(put["id"], vars.id("dan").as_str());
    assert_eq!(put["name"]["givenName"], "Daniel");
    assert_eq!(put["displayName"], "Daniel Dawson");
    assert_ne!(
        put["meta"]["version"].as_str(),
        vars.0.get("dan.meta.version").map(String::as_str),
        "a change makes a new version"
    );
    assert_eq!(members(scim, &gid).await, set(&[&vars.id("dan")]));
    allowed(
        &env,
        "dan@acme.example",
        "refunds.create",
        "acct_acme_main",
        "profile push",
    )
    .await;

    // `replace` members with the full list.
    let resp = scim
        .patch(&group_path, &body("okta", "08_replace_members.json", &vars))
        .await;
    expect_no_content(&resp, "replace members");
    assert_eq!(members(scim, &gid).await, set(&[&vars.id("erin")]));
    denied(
        &env,
        "dan@acme.example",
        "refunds.create",
        "acct_acme_main",
        DenyReason::NoGrant,
        "replace members",
    )
    .await;
    allowed(
        &env,
        "erin@acme.example",
        "refunds.create",
        "acct_acme_main",
        "replace members",
    )
    .await;

    // Path-less `{"active": false}`: revoked before the response returns.
    let erin_path = format!("/Users/{}", vars.id("erin"));
    let e = expect(
        &scim
            .patch(&erin_path, &body("okta", "09_deactivate_user.json", &vars))
            .await,
        200,
        "deactivate erin",
    );
    assert_eq!(e["active"], false);
    denied(
        &env,
        "erin@acme.example",
        "refunds.create",
        "acct_acme_main",
        DenyReason::InactiveUser,
        "deactivate erin",
    )
    .await;

    // `replace` members with `[]`.
    let resp = scim
        .patch(
            &group_path,
            &body("okta", "10_replace_members_empty.json", &vars),
        )
        .await;
    expect_no_content(&resp, "replace members with []");
    assert!(members(scim, &gid).await.is_empty());

    // The sync log knows who sent all this.
    let entry = common::wait_for_sync_log(&env.db.url(), "from Okta", |e| {
        e["user_agent"] == OKTA_AGENT && e["method"] == "PUT"
    })
    .await;
    assert_eq!(entry["status"], 200, "{entry:#}");
    assert!(
        entry["path"]
            .as_str()
            .is_some_and(|p| p.ends_with(&dan_path)),
        "{entry:#}"
    );
}

/// Okta's import: `startIndex` stepping by `count` over 25 users, in a stable
/// order, with the right `totalResults`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okta_pages_through_users_by_start_index() {
    let env = start(OKTA_AGENT).await;
    let scim = &env.scim;
    let mut created = BTreeSet::new();
    for n in 1..=25 {
        let mut vars = Vars::default();
        vars.set("n", &format!("{n:02}"));
        let u = expect(
            &scim
                .post(
                    "/Users",
                    &body("okta", "11_create_user_numbered.json", &vars),
                )
                .await,
            201,
            "create numbered user",
        );
        created.insert(u["id"].as_str().expect("id").to_owned());
    }

    let mut seen = Vec::new();
    for (start, expected) in [(1, 10), (11, 10), (21, 5)] {
        let path = format!("/Users?startIndex={start}&count=10");
        let page = expect(&scim.get(&path).await, 200, &path);
        assert_eq!(page["totalResults"], 25, "{path}: {page:#}");
        assert_eq!(page["startIndex"], start, "{path}: {page:#}");
        assert_eq!(page["itemsPerPage"], expected, "{path}: {page:#}");
        let page_ids = ids(&page);
        assert_eq!(page_ids.len(), expected, "{path}");
        // Stable: the same page again is the same ids in the same order.
        let again = expect(&scim.get(&path).await, 200, &path);
        assert_eq!(ids(&again), page_ids, "{path} is not stable");
        seen.extend(page_ids);
    }
    let distinct: BTreeSet<String> = seen.iter().cloned().collect();
    assert_eq!(distinct.len(), 25, "a user on two pages: {seen:?}");
    assert_eq!(distinct, created);

    // Past the end: no resources, the same total.
    let page = expect(
        &scim.get("/Users?startIndex=26&count=10").await,
        200,
        "past the end",
    );
    assert_eq!(page["totalResults"], 25);
    assert_eq!(page["itemsPerPage"], 0);
    assert_eq!(page["Resources"], Value::Array(Vec::new()));
}
