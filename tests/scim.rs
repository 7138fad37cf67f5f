//! End-to-end tests of the SCIM 2.0 endpoint (`/scim/v2`) of the real
//! `rolecall serve`, on a SQLite file loaded with
//! `tests/fixtures/scim/world.yaml` (two tenants: `dir_acme` verifies
//! `acme.example`, `dir_globex` verifies `globex.example`): discovery, RFC 7644
//! errors, filters, sorting, projection, ETags, deletes, bearer tokens,
//! tenancy, verified domains, PATCH atomicity and scale, and the decisions
//! the Authorizer makes from what the IdP synced — checked right after each
//! SCIM response, without waiting.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Instant;

use common::{
    Db, HttpResponse, Scim, ScimToken, Server, decide, fixture, import_json, import_ok,
    revoke_scim_token, rolecall, scim_token, sync_log_raw, wait_for_sync_log,
};
use rolecall::pb::v1::DenyReason;
use serde_json::{Value, json};

const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

/// A server on world.yaml (plus `extra` data files imported first) and a
/// SCIM client of `dir_acme`. Fields drop in order: the server stops before
/// the database goes away.
struct Env {
    server: Server,
    acme: Scim,
    acme_token: ScimToken,
    db: Db,
}

impl Env {
    async fn start() -> Self {
        Self::start_with(&[]).await
    }

    async fn start_with(extra: &[&Path]) -> Self {
        let db = Db::new();
        let world = fixture("scim/world.yaml");
        let mut files: Vec<&Path> = vec![&world];
        files.extend_from_slice(extra);
        import_ok(&db.url(), &files).await;
        let acme_token = scim_token(&db.url(), "dir_acme").await;
        let server = Server::start(&db.url()).await;
        let acme = Scim::new(server.http_addr, &acme_token.secret);
        Self {
            server,
            acme,
            acme_token,
            db,
        }
    }

    /// A SCIM client with another token of `directory`.
    async fn client(&self, directory: &str) -> (Scim, ScimToken) {
        let token = scim_token(&self.db.url(), directory).await;
        (Scim::new(self.server.http_addr, &token.secret), token)
    }
}

// === helpers ===

/// A core user of `domain` with a primary work email.
fn user(local: &str, domain: &str) -> Value {
    let address = format!("{local}@{domain}");
    json!({
        "schemas": [USER_SCHEMA],
        "userName": address,
        "emails": [{"value": address, "type": "work", "primary": true}],
        "active": true,
    })
}

fn patch_op(ops: Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Asserts the status and the SCIM content type; returns the JSON body.
fn expect(resp: &HttpResponse, status: u16, what: &str) -> Value {
    assert_eq!(resp.status, status, "{what}: {resp:#?}");
    assert_eq!(
        resp.header("content-type"),
        Some("application/scim+json"),
        "{what}: {resp:#?}"
    );
    resp.json()
}

/// Asserts an RFC 7644 §3.12 error: the status, the SCIM content type, the
/// Error schema, `status` as a string, `scimType` (when given, else absent)
/// and a non-empty `detail`; returns the detail.
fn expect_error(resp: &HttpResponse, status: u16, scim_type: Option<&str>, what: &str) -> String {
    let body = expect(resp, status, what);
    assert_eq!(body["schemas"], json!([ERROR_SCHEMA]), "{what}: {body:#}");
    assert_eq!(
        body["status"],
        json!(status.to_string()),
        "{what}: {body:#}"
    );
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], t, "{what}: {body:#}"),
        None => assert!(body.get("scimType").is_none(), "{what}: {body:#}"),
    }
    let detail = body["detail"].as_str().unwrap_or_default().to_owned();
    assert!(!detail.is_empty(), "{what}: no detail: {body:#}");
    detail
}

async fn create(scim: &Scim, endpoint: &str, body: &Value) -> Value {
    expect(
        &scim.post(endpoint, body).await,
        201,
        &format!("POST {endpoint} {body}"),
    )
}

fn id_of(resource: &Value) -> String {
    resource["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {resource:#}"))
        .to_owned()
}

fn revision(resp: &HttpResponse) -> u64 {
    resp.header("rolecall-revision")
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Rolecall-Revision: {resp:#?}"))
}

/// The `id`s of a ListResponse, in order.
fn ids(list: &Value) -> Vec<String> {
    assert_eq!(list["schemas"], json!([LIST_RESPONSE]), "{list:#}");
    list["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("no Resources: {list:#}"))
        .iter()
        .map(id_of)
        .collect()
}

/// GET a list; returns it.
async fn list(scim: &Scim, path: &str) -> Value {
    expect(&scim.get(path).await, 200, path)
}

/// The userNames a user filter selects, sorted.
async fn user_filter(scim: &Scim, filter: &str) -> Vec<String> {
    let encoded: String = form_urlencoded::byte_serialize(filter.as_bytes()).collect();
    let body = list(scim, &format!("/Users?filter={encoded}")).await;
    let mut names: Vec<String> = body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("filter {filter}: {body:#}"))
        .iter()
        .map(|r| r["userName"].as_str().expect("userName").to_owned())
        .collect();
    assert_eq!(
        body["totalResults"],
        names.len(),
        "filter {filter}: {body:#}"
    );
    names.sort();
    names
}

fn names(list: &[&str]) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| format!("{s}@acme.example")).collect();
    v.sort();
    v
}

/// The member ids of a group.
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

async fn assert_allowed(server: &Server, user: &str, permission: &str, account: &str) {
    let (ok, reason) = decide(server, user, permission, account, None).await;
    assert!(ok, "{user} {permission} {account}: denied with {reason:?}");
}

async fn assert_denied(
    server: &Server,
    user: &str,
    permission: &str,
    account: &str,
    why: DenyReason,
) {
    let (ok, reason) = decide(server, user, permission, account, None).await;
    assert!(!ok, "{user} {permission} {account} should be denied");
    assert_eq!(reason, why, "{user} {permission} {account}");
}

/// Every file of the database (the main file, its WAL and shared memory).
fn database_bytes(db: &Db) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(db.dir()).expect("read the database directory") {
        let path = entry.expect("a directory entry").path();
        let is_db = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("rolecall.db"));
        if is_db {
            all.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    assert!(
        !all.is_empty(),
        "no database files in {}",
        db.dir().display()
    );
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

// === discovery ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_describes_what_is_supported() {
    let env = Env::start().await;
    let scim = &env.acme;

    let spc = expect(
        &scim.get("/ServiceProviderConfig").await,
        200,
        "ServiceProviderConfig",
    );
    assert_eq!(spc["schemas"], json!([SPC_SCHEMA]), "{spc:#}");
    assert_eq!(spc["patch"]["supported"], true, "{spc:#}");
    assert_eq!(spc["bulk"]["supported"], false, "{spc:#}");
    assert_eq!(spc["filter"]["supported"], true, "{spc:#}");
    assert!(
        spc["filter"]["maxResults"].as_u64().is_some_and(|n| n > 0),
        "{spc:#}"
    );
    assert_eq!(spc["sort"]["supported"], true, "{spc:#}");
    assert_eq!(spc["etag"]["supported"], true, "{spc:#}");
    assert_eq!(spc["changePassword"]["supported"], false, "{spc:#}");
    let schemes = spc["authenticationSchemes"]
        .as_array()
        .expect("authenticationSchemes");
    assert!(
        schemes.iter().any(|s| s["type"] == "oauthbearertoken"),
        "{spc:#}"
    );

    let types = list(scim, "/ResourceTypes").await;
    assert_eq!(types["totalResults"], 2, "{types:#}");
    let resources = types["Resources"].as_array().expect("Resources");
    let user_type = resources
        .iter()
        .find(|t| t["id"] == "User")
        .unwrap_or_else(|| panic!("no User: {types:#}"));
    assert_eq!(user_type["endpoint"], "/Users");
    assert_eq!(user_type["schema"], USER_SCHEMA);
    assert!(
        user_type["schemaExtensions"]
            .as_array()
            .is_some_and(|e| e.iter().any(|x| x["schema"] == ENTERPRISE)),
        "{user_type:#}"
    );
    let group_type = resources
        .iter()
        .find(|t| t["id"] == "Group")
        .unwrap_or_else(|| panic!("no Group: {types:#}"));
    assert_eq!(group_type["endpoint"], "/Groups");
    assert_eq!(group_type["schema"], GROUP_SCHEMA);

    let one = expect(
        &scim.get("/ResourceTypes/User").await,
        200,
        "ResourceTypes/User",
    );
    assert_eq!(one["id"], "User");
    assert_eq!(one["endpoint"], "/Users");
    let one = expect(
        &scim.get("/ResourceTypes/Group").await,
        200,
        "ResourceTypes/Group",
    );
    assert_eq!(one["endpoint"], "/Groups");
    expect_error(
        &scim.get("/ResourceTypes/Widget").await,
        404,
        None,
        "unknown type",
    );

    let schemas = list(scim, "/Schemas").await;
    let found: BTreeSet<&str> = schemas["Resources"]
        .as_array()
        .expect("Resources")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert_eq!(
        found,
        BTreeSet::from([USER_SCHEMA, GROUP_SCHEMA, ENTERPRISE]),
        "{schemas:#}"
    );

    let user_schema = expect(
        &scim.get(&format!("/Schemas/{USER_SCHEMA}")).await,
        200,
        "Schemas/User",
    );
    assert_eq!(user_schema["id"], USER_SCHEMA);
    let attrs = user_schema["attributes"].as_array().expect("attributes");
    let user_name = attrs
        .iter()
        .find(|a| a["name"] == "userName")
        .unwrap_or_else(|| panic!("no userName: {user_schema:#}"));
    assert_eq!(user_name["caseExact"], false, "{user_name:#}");
    assert_eq!(user_name["uniqueness"], "server", "{user_name:#}");
    assert_eq!(user_name["required"], true, "{user_name:#}");
    let password = attrs
        .iter()
        .find(|a| a["name"] == "password")
        .unwrap_or_else(|| panic!("no password: {user_schema:#}"));
    assert_eq!(password["returned"], "never", "{password:#}");
    assert_eq!(password["mutability"], "writeOnly", "{password:#}");

    let ext = expect(
        &scim.get(&format!("/Schemas/{ENTERPRISE}")).await,
        200,
        "Schemas/enterprise",
    );
    assert!(
        ext["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "manager")),
        "{ext:#}"
    );
    let group_schema = expect(
        &scim.get(&format!("/Schemas/{GROUP_SCHEMA}")).await,
        200,
        "Schemas/Group",
    );
    assert!(
        group_schema["attributes"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "members")),
        "{group_schema:#}"
    );
    expect_error(
        &scim.get("/Schemas/urn:example:unknown").await,
        404,
        None,
        "unknown schema",
    );

    // /Me: a token acts for a directory, not a user.
    expect_error(&scim.get("/Me").await, 501, None, "/Me");
}

// === errors ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_use_the_rfc_7644_error_body() {
    let env = Env::start().await;
    let scim = &env.acme;
    let missing = "00000000-0000-4000-8000-000000000000";

    // 404 on a missing id, for every method, users and groups.
    let user_body = user("nobody", "acme.example");
    let group_body = json!({"schemas": [GROUP_SCHEMA], "displayName": "Nobody"});
    let ops = patch_op(json!([{"op": "replace", "path": "displayName", "value": "X"}]));
    for (endpoint, body) in [("/Users", &user_body), ("/Groups", &group_body)] {
        let path = format!("{endpoint}/{missing}");
        expect_error(&scim.get(&path).await, 404, None, &format!("GET {path}"));
        expect_error(
            &scim.put(&path, body).await,
            404,
            None,
            &format!("PUT {path}"),
        );
        expect_error(
            &scim.patch(&path, &ops).await,
            404,
            None,
            &format!("PATCH {path}"),
        );
        expect_error(
            &scim.delete(&path).await,
            404,
            None,
            &format!("DELETE {path}"),
        );
    }

    // 409 uniqueness: userName, whatever its case.
    create(scim, "/Users", &user("alice", "acme.example")).await;
    let mut again = user("alice", "acme.example");
    again["userName"] = json!("ALICE@Acme.Example");
    let detail = expect_error(
        &scim.post("/Users", &again).await,
        409,
        Some("uniqueness"),
        "duplicate userName",
    );
    assert!(detail.contains("ALICE@Acme.Example"), "{detail}");

    // 409 uniqueness: group displayName (also in another case).
    create(scim, "/Groups", &json!({"displayName": "Risk"})).await;
    expect_error(
        &scim.post("/Groups", &json!({"displayName": "Risk"})).await,
        409,
        Some("uniqueness"),
        "duplicate displayName",
    );
    expect_error(
        &scim.post("/Groups", &json!({"displayName": "RISK"})).await,
        409,
        Some("uniqueness"),
        "duplicate displayName, other case",
    );

    // 400 invalidFilter: bad syntax, unknown attribute.
    for (endpoint, filter) in [
        ("/Users", "userName+eq"),
        ("/Users", "userName+eq+%22a%22+and"),
        ("/Users", "(userName+eq+%22a%22"),
        ("/Users", "userName+like+%22a%22"),
        ("/Users", "shoeSize+eq+42"),
        ("/Users", "emails%5Bcolour+eq+%22red%22%5D"),
        ("/Groups", "displayName+eq"),
        ("/Groups", "userName+eq+%22a%22"),
    ] {
        let path = format!("{endpoint}?filter={filter}");
        expect_error(&scim.get(&path).await, 400, Some("invalidFilter"), &path);
    }

    // 400 invalidValue: a user without userName.
    let detail = expect_error(
        &scim
            .post(
                "/Users",
                &json!({"schemas": [USER_SCHEMA], "displayName": "No Name"}),
            )
            .await,
        400,
        Some("invalidValue"),
        "missing userName",
    );
    assert!(detail.contains("userName"), "{detail}");

    // 400 invalidSyntax: a body that is not JSON.
    expect_error(
        &scim
            .send_raw(
                "POST",
                "/Users",
                Some(b"userName=alice"),
                "application/scim+json",
                &[],
            )
            .await,
        400,
        Some("invalidSyntax"),
        "not JSON",
    );
    expect_error(
        &scim
            .send_raw(
                "PATCH",
                "/Groups/whatever",
                Some(b"{\"Operations\": ["),
                "application/scim+json",
                &[],
            )
            .await,
        400,
        Some("invalidSyntax"),
        "truncated JSON",
    );

    // An unknown endpoint is a SCIM 404 too.
    expect_error(&scim.get("/Widgets").await, 404, None, "unknown endpoint");
}

// === filters, sorting, projection ===

/// Three users to filter, sort and project.
async fn three_users(scim: &Scim) -> (String, String, String) {
    let alice = create(
        scim,
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA, ENTERPRISE],
            "userName": "alice@acme.example",
            "externalId": "EXT-Alice",
            "displayName": "Alice Archer",
            "title": "Engineer",
            "name": {"givenName": "Alice", "familyName": "Archer"},
            "emails": [
                {"value": "alice@acme.example", "type": "work", "primary": true},
                {"value": "alice.home@acme.example", "type": "home"}
            ],
            ENTERPRISE: {"employeeNumber": "100", "department": "Risk"},
        }),
    )
    .await;
    let bob = create(
        scim,
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA],
            "userName": "bob@acme.example",
            "externalId": "ext-bob",
            "displayName": "Bob Baker",
            "name": {"givenName": "Bob", "familyName": "Baker"},
            "emails": [
                {"value": "bob.home@acme.example", "type": "home", "primary": true},
                {"value": "bob@acme.example", "type": "work"}
            ],
        }),
    )
    .await;
    let carol = create(
        scim,
        "/Users",
        &json!({
            "schemas": [USER_SCHEMA],
            "userName": "carol@acme.example",
            "displayName": "Carol Chen",
            "name": {"givenName": "Carol", "familyName": "Chen"},
            "emails": [{"value": "carol@acme.example", "type": "work"}],
        }),
    )
    .await;
    (id_of(&alice), id_of(&bob), id_of(&carol))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_follow_the_rfc_grammar_and_case_rules() {
    let env = Env::start().await;
    let scim = &env.acme;
    let (alice, _bob, _carol) = three_users(scim).await;
    let all = names(&["alice", "bob", "carol"]);

    let cases: Vec<(&str, Vec<String>)> = vec![
        // Operators.
        (r#"userName eq "bob@acme.example""#, names(&["bob"])),
        (
            r#"userName ne "bob@acme.example""#,
            names(&["alice", "carol"]),
        ),
        (r#"displayName co "Bake""#, names(&["bob"])),
        (r#"userName sw "car""#, names(&["carol"])),
        (r#"userName ew "@acme.example""#, all.clone()),
        ("title pr", names(&["alice"])),
        ("externalId pr", names(&["alice", "bob"])),
        (r#"meta.created gt "2000-01-01T00:00:00Z""#, all.clone()),
        (r#"meta.lastModified gt "2999-01-01T00:00:00Z""#, vec![]),
        (r#"userName gt "b""#, names(&["bob", "carol"])),
        (r#"userName lt "b""#, names(&["alice"])),
        // Logic, precedence, parentheses.
        (r#"title pr and userName sw "a""#, names(&["alice"])),
        (
            r#"userName sw "a" or userName sw "b""#,
            names(&["alice", "bob"]),
        ),
        (r#"not (userName sw "a")"#, names(&["bob", "carol"])),
        (
            r#"(userName sw "a" or userName sw "b") and not (displayName co "Bob")"#,
            names(&["alice"]),
        ),
        (
            r#"userName sw "c" or userName sw "a" and title pr"#,
            names(&["alice", "carol"]),
        ),
        // Value paths and sub-attributes.
        (
            r#"emails[type eq "work" and primary eq true]"#,
            names(&["alice"]),
        ),
        (r#"emails[type eq "work"]"#, all.clone()),
        (
            r#"emails.value eq "bob.home@acme.example""#,
            names(&["bob"]),
        ),
        (r#"emails eq "carol@acme.example""#, names(&["carol"])),
        (r#"name.familyName eq "Chen""#, names(&["carol"])),
        // Schema-qualified names.
        (
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@acme.example""#,
            names(&["bob"]),
        ),
        (
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "100""#,
            names(&["alice"]),
        ),
        // Case: userName is case-insensitive, externalId case-exact;
        // attribute names and keywords are case-insensitive.
        (r#"userName eq "ALICE@ACME.EXAMPLE""#, names(&["alice"])),
        (r#"externalId eq "EXT-Alice""#, names(&["alice"])),
        (r#"externalId eq "ext-alice""#, vec![]),
        (r#"externalId eq "EXT-BOB""#, vec![]),
        (r#"USERNAME EQ "bob@acme.example""#, names(&["bob"])),
        (
            r#"Emails[Type eq "work" AND Primary eq true]"#,
            names(&["alice"]),
        ),
        (r#"id eq "ALICE""#, vec![]),
    ];
    for (filter, expected) in cases {
        assert_eq!(user_filter(scim, filter).await, expected, "filter {filter}");
    }
    assert_eq!(
        user_filter(scim, &format!(r#"id eq "{alice}""#)).await,
        names(&["alice"])
    );

    // Groups: displayName, members.
    let team = create(
        scim,
        "/Groups",
        &json!({"displayName": "Team Blue", "members": [{"value": alice}]}),
    )
    .await;
    create(scim, "/Groups", &json!({"displayName": "Team Red"})).await;
    let path = "/Groups?filter=displayName+eq+%22Team+Blue%22";
    assert_eq!(ids(&list(scim, path).await), vec![id_of(&team)]);
    let path = format!("/Groups?filter=members%5Bvalue+eq+%22{alice}%22%5D");
    assert_eq!(ids(&list(scim, &path).await), vec![id_of(&team)]);
    let path = "/Groups?filter=displayName+sw+%22Team%22";
    assert_eq!(ids(&list(scim, path).await).len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lists_sort_and_responses_project_attributes() {
    let env = Env::start().await;
    let scim = &env.acme;
    let (alice, bob, carol) = three_users(scim).await;

    // sortBy / sortOrder.
    let asc = list(scim, "/Users?sortBy=userName").await;
    assert_eq!(ids(&asc), vec![alice.clone(), bob.clone(), carol.clone()]);
    let asc = list(scim, "/Users?sortBy=userName&sortOrder=ascending").await;
    assert_eq!(ids(&asc), vec![alice.clone(), bob.clone(), carol.clone()]);
    let desc = list(scim, "/Users?sortBy=userName&sortOrder=descending").await;
    assert_eq!(ids(&desc), vec![carol.clone(), bob.clone(), alice.clone()]);
    let by_family = list(scim, "/Users?sortBy=name.familyName&sortOrder=descending").await;
    assert_eq!(
        ids(&by_family),
        vec![carol.clone(), bob.clone(), alice.clone()]
    );
    let paged = list(
        scim,
        "/Users?sortBy=userName&sortOrder=descending&startIndex=2&count=1",
    )
    .await;
    assert_eq!(ids(&paged), vec![bob.clone()]);
    assert_eq!(paged["totalResults"], 3);
    assert_eq!(paged["startIndex"], 2);
    assert_eq!(paged["itemsPerPage"], 1);

    // attributes=userName: id and userName (and schemas) only.
    let only = list(scim, "/Users?attributes=userName").await;
    for r in only["Resources"].as_array().expect("Resources") {
        let keys: BTreeSet<&str> = r
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(keys.contains("id") && keys.contains("userName"), "{r:#}");
        assert!(
            keys.is_subset(&BTreeSet::from(["id", "userName", "schemas"])),
            "{r:#}"
        );
    }
    let one = expect(
        &scim
            .get(&format!("/Users/{alice}?attributes=userName"))
            .await,
        200,
        "GET with attributes",
    );
    let keys: BTreeSet<&str> = one
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    assert!(
        keys.is_subset(&BTreeSet::from(["id", "userName", "schemas"])) && keys.contains("userName"),
        "{one:#}"
    );
    // A sub-attribute: only it, under its parent.
    let one = expect(
        &scim
            .get(&format!("/Users/{alice}?attributes=name.givenName"))
            .await,
        200,
        "GET name.givenName",
    );
    assert_eq!(one["name"], json!({"givenName": "Alice"}), "{one:#}");
    assert!(
        one.get("emails").is_none() && one.get("title").is_none(),
        "{one:#}"
    );
    assert_eq!(one["id"], alice.as_str());

    // excludedAttributes on users.
    let one = expect(
        &scim
            .get(&format!("/Users/{alice}?excludedAttributes=emails,title"))
            .await,
        200,
        "GET excludedAttributes",
    );
    assert!(
        one.get("emails").is_none() && one.get("title").is_none(),
        "{one:#}"
    );
    assert_eq!(one["userName"], "alice@acme.example");
    assert_eq!(one["id"], alice.as_str());
    let many = list(
        scim,
        "/Users?excludedAttributes=emails&filter=userName+sw+%22a%22",
    )
    .await;
    assert_eq!(ids(&many), vec![alice.clone()]);
    assert!(many["Resources"][0].get("emails").is_none(), "{many:#}");

    // Groups: excludedAttributes=members, attributes=displayName.
    let team = create(
        scim,
        "/Groups",
        &json!({"displayName": "Team", "members": [{"value": alice}, {"value": bob}]}),
    )
    .await;
    let team_id = id_of(&team);
    let without = expect(
        &scim
            .get(&format!("/Groups/{team_id}?excludedAttributes=members"))
            .await,
        200,
        "group without members",
    );
    assert!(without.get("members").is_none(), "{without:#}");
    assert_eq!(without["displayName"], "Team");
    let groups = list(scim, "/Groups?excludedAttributes=members").await;
    assert!(
        groups["Resources"][0].get("members").is_none(),
        "{groups:#}"
    );
    let named = list(scim, "/Groups?attributes=displayName").await;
    let g = &named["Resources"][0];
    assert_eq!(g["displayName"], "Team");
    assert_eq!(g["id"], team_id.as_str());
    assert!(g.get("members").is_none(), "{g:#}");
    let with = expect(&scim.get(&format!("/Groups/{team_id}")).await, 200, "group");
    assert_eq!(
        with["members"].as_array().map(Vec::len),
        Some(2),
        "{with:#}"
    );
}

// === create, password, content types ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_answers_201_with_location_etag_and_never_keeps_the_password() {
    let env = Env::start().await;
    let scim = &env.acme;
    let password = "Zq8-never-store-me-7Hk2";
    let body = json!({
        "schemas": [USER_SCHEMA, ENTERPRISE],
        "userName": "dora@acme.example",
        "externalId": "dora-1",
        "displayName": "Dora Diaz",
        "nickName": "Dee",
        "title": "Analyst",
        "locale": "es-ES",
        "password": password,
        "name": {"givenName": "Dora", "familyName": "Diaz", "formatted": "Dora Diaz"},
        "emails": [{"value": "dora@acme.example", "type": "work", "primary": true}],
        "phoneNumbers": [{"value": "+34 600 000 000", "type": "mobile"}],
        ENTERPRISE: {"employeeNumber": "42", "department": "Finance", "manager": {"value": "m-1"}},
    });
    // `application/json` is accepted as well as `application/scim+json`.
    let resp = scim
        .send_raw(
            "POST",
            "/Users",
            Some(body.to_string().as_bytes()),
            "application/json",
            &[],
        )
        .await;
    let dora = expect(&resp, 201, "create dora");
    let id = id_of(&dora);
    assert!(!resp.body.contains(password), "{resp:#?}");
    assert!(dora.get("password").is_none(), "{dora:#}");
    for key in [
        "userName",
        "externalId",
        "displayName",
        "nickName",
        "title",
        "locale",
        "name",
        "emails",
        "phoneNumbers",
    ] {
        assert_eq!(dora[key], body[key], "{key}: {dora:#}");
    }
    assert_eq!(dora[ENTERPRISE]["employeeNumber"], "42");
    assert_eq!(dora[ENTERPRISE]["manager"]["value"], "m-1");
    assert_eq!(dora["meta"]["resourceType"], "User");
    assert!(dora["meta"]["created"].is_string() && dora["meta"]["lastModified"].is_string());
    let location = resp.header("location").expect("Location").to_owned();
    assert!(
        location.ends_with(&format!("/scim/v2/Users/{id}")),
        "{location}"
    );
    assert_eq!(dora["meta"]["location"], location.as_str());
    let etag = resp.header("etag").expect("ETag").to_owned();
    assert_eq!(dora["meta"]["version"], etag.as_str());
    revision(&resp);

    // GET: the same resource, still without the password.
    let resp = scim.get(&format!("/Users/{id}")).await;
    let got = expect(&resp, 200, "get dora");
    assert!(!resp.body.contains(password));
    assert_eq!(resp.header("etag"), Some(etag.as_str()));
    assert_eq!(got["name"], body["name"]);

    // PUT with a (new) password: not kept either.
    let mut put = body.clone();
    put["password"] = json!(format!("{password}-2"));
    put["title"] = json!("Lead Analyst");
    let resp = scim.put(&format!("/Users/{id}"), &put).await;
    let replaced = expect(&resp, 200, "put dora");
    assert_eq!(replaced["title"], "Lead Analyst");
    assert!(!resp.body.contains(password));

    // Attribute names in any case, in bodies and in PATCH paths.
    let odd = create(
        scim,
        "/Users",
        &json!({
            "SCHEMAS": [USER_SCHEMA],
            "UserName": "odd@acme.example",
            "EMAILS": [{"VALUE": "odd@acme.example", "Type": "work", "PRIMARY": true}],
            "name": {"GivenName": "Odd", "FAMILYNAME": "Case"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user": {"EmployeeNumber": "7"},
        }),
    )
    .await;
    assert_eq!(odd["userName"], "odd@acme.example", "{odd:#}");
    assert_eq!(odd["emails"][0]["value"], "odd@acme.example", "{odd:#}");
    assert_eq!(odd["emails"][0]["primary"], true, "{odd:#}");
    assert_eq!(odd["name"]["givenName"], "Odd", "{odd:#}");
    assert_eq!(odd["name"]["familyName"], "Case", "{odd:#}");
    assert_eq!(odd[ENTERPRISE]["employeeNumber"], "7", "{odd:#}");
    let ops = patch_op(json!([{"OP": "Replace", "PATH": "NAME.familyname", "VALUE": "Even"}]));
    let patched = expect(
        &scim.patch(&format!("/Users/{}", id_of(&odd)), &ops).await,
        200,
        "PATCH with an odd-cased path",
    );
    assert_eq!(patched["name"]["familyName"], "Even", "{patched:#}");

    // A group over `application/json`.
    let resp = scim
        .send_raw(
            "POST",
            "/Groups",
            Some(
                json!({"displayName": "Analysts", "members": [{"value": id}]})
                    .to_string()
                    .as_bytes(),
            ),
            "application/json",
            &[],
        )
        .await;
    let g = expect(&resp, 201, "create group (application/json)");
    assert!(
        resp.header("location")
            .is_some_and(|l| l.ends_with(&format!("/scim/v2/Groups/{}", id_of(&g)))),
        "{resp:#?}"
    );
    assert_eq!(g["members"][0]["value"], id.as_str());

    // Nowhere in the database files.
    let bytes = database_bytes(&env.db);
    assert!(
        !contains(&bytes, password),
        "the password is in the database"
    );
    assert!(
        contains(&bytes, "dora@acme.example"),
        "the search itself works"
    );
}

// === ETags ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn if_match_with_a_stale_etag_is_412_and_changes_nothing() {
    let env = Env::start().await;
    let scim = &env.acme;
    let created = scim.post("/Users", &user("eve", "acme.example")).await;
    let eve = expect(&created, 201, "create eve");
    let path = format!("/Users/{}", id_of(&eve));
    let v1 = created.header("etag").expect("ETag").to_owned();
    assert_eq!(eve["meta"]["version"], v1.as_str());

    // Current version: applied.
    let title = |t: &str| patch_op(json!([{"op": "replace", "path": "title", "value": t}]));
    let resp = scim
        .send("PATCH", &path, Some(&title("First")), &[("If-Match", &v1)])
        .await;
    let patched = expect(&resp, 200, "PATCH with the current ETag");
    assert_eq!(patched["title"], "First");
    let v2 = resp.header("etag").expect("ETag").to_owned();
    assert_ne!(v1, v2);
    assert_eq!(patched["meta"]["version"], v2.as_str());

    // Stale version: 412, nothing changed, for PATCH, PUT and DELETE.
    expect_error(
        &scim
            .send("PATCH", &path, Some(&title("Second")), &[("If-Match", &v1)])
            .await,
        412,
        None,
        "PATCH with a stale ETag",
    );
    let mut body = user("eve", "acme.example");
    body["title"] = json!("Third");
    expect_error(
        &scim
            .send("PUT", &path, Some(&body), &[("If-Match", &v1)])
            .await,
        412,
        None,
        "PUT with a stale ETag",
    );
    expect_error(
        &scim.send("DELETE", &path, None, &[("If-Match", &v1)]).await,
        412,
        None,
        "DELETE with a stale ETag",
    );
    let resp = scim.get(&path).await;
    let now = expect(&resp, 200, "GET after 412s");
    assert_eq!(now["title"], "First");
    assert_eq!(resp.header("etag"), Some(v2.as_str()));

    // PUT with the current one: applied.
    let resp = scim
        .send("PUT", &path, Some(&body), &[("If-Match", &v2)])
        .await;
    let put = expect(&resp, 200, "PUT with the current ETag");
    assert_eq!(put["title"], "Third");
    let v3 = resp.header("etag").expect("ETag").to_owned();

    // Groups: a stale ETag leaves the members alone.
    let created = scim
        .post("/Groups", &json!({"displayName": "Guarded"}))
        .await;
    let g = expect(&created, 201, "create group");
    let gpath = format!("/Groups/{}", id_of(&g));
    let g1 = created.header("etag").expect("ETag").to_owned();
    let add =
        patch_op(json!([{"op": "add", "path": "members", "value": [{"value": id_of(&eve)}]}]));
    let resp = scim
        .send("PATCH", &gpath, Some(&add), &[("If-Match", &g1)])
        .await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    let g2 = resp.header("etag").expect("ETag on 204").to_owned();
    assert_ne!(g1, g2);
    let remove = patch_op(json!([{"op": "replace", "path": "members", "value": []}]));
    expect_error(
        &scim
            .send("PATCH", &gpath, Some(&remove), &[("If-Match", &g1)])
            .await,
        412,
        None,
        "group PATCH with a stale ETag",
    );
    assert_eq!(
        members(scim, &id_of(&g)).await,
        BTreeSet::from([id_of(&eve)])
    );

    // DELETE with the current one.
    let resp = scim.send("DELETE", &path, None, &[("If-Match", &v3)]).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
}

// === delete ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_removes_the_user_everywhere_at_once() {
    let env = Env::start().await;
    let scim = &env.acme;
    let frank = create(scim, "/Users", &user("frank", "acme.example")).await;
    let id = id_of(&frank);
    let group = create(
        scim,
        "/Groups",
        &json!({"displayName": "Payouts", "members": [{"value": id}]}),
    )
    .await;
    let gid = id_of(&group);
    let rev = import_json(
        &env.db,
        "payouts_roles.json",
        &json!({"role_assignments": [{"directory": "dir_acme", "group": "Payouts",
            "role": "scim_payouts_owner", "scope": {"organization": "org_acme"}}]}),
    )
    .await;
    let (ok, reason) = decide(
        &env.server,
        "frank@acme.example",
        "payouts.create",
        "acct_acme_main",
        Some(rev),
    )
    .await;
    assert!(ok, "{reason:?}");

    let resp = scim.delete(&format!("/Users/{id}")).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    assert!(resp.body.is_empty(), "{resp:#?}");
    revision(&resp);

    // Denied at once, as an unknown user.
    assert_denied(
        &env.server,
        "frank@acme.example",
        "payouts.create",
        "acct_acme_main",
        DenyReason::UnknownUser,
    )
    .await;
    assert_denied(
        &env.server,
        &id,
        "payouts.create",
        "acct_acme_main",
        DenyReason::UnknownUser,
    )
    .await;
    // 404 everywhere; in no list, in no group.
    expect_error(
        &scim.get(&format!("/Users/{id}")).await,
        404,
        None,
        "GET deleted",
    );
    expect_error(
        &scim.delete(&format!("/Users/{id}")).await,
        404,
        None,
        "DELETE again",
    );
    let all = list(scim, "/Users").await;
    assert!(!ids(&all).contains(&id), "{all:#}");
    assert_eq!(all["totalResults"], 0);
    assert!(
        user_filter(scim, r#"userName eq "frank@acme.example""#)
            .await
            .is_empty()
    );
    assert!(members(scim, &gid).await.is_empty());

    // The userName is free again: a new user, with no old memberships.
    let again = create(scim, "/Users", &user("frank", "acme.example")).await;
    assert_ne!(id_of(&again), id);
    assert_denied(
        &env.server,
        "frank@acme.example",
        "payouts.create",
        "acct_acme_main",
        DenyReason::NoGrant,
    )
    .await;

    // Groups delete the same way.
    let resp = scim.delete(&format!("/Groups/{gid}")).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    expect_error(
        &scim.get(&format!("/Groups/{gid}")).await,
        404,
        None,
        "GET deleted group",
    );
    assert_eq!(list(scim, "/Groups").await["totalResults"], 0);
}

// === authentication ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_401_and_are_logged_without_the_secret() {
    let env = Env::start().await;
    let addr = env.server.http_addr;
    let wrong = "rcs_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

    let check_401 = |resp: HttpResponse, what: &str| {
        expect_error(&resp, 401, None, what);
        let challenge = resp.header("www-authenticate").unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{what}: {resp:#?}");
    };
    check_401(Scim::without_token(addr).get("/Users").await, "no token");
    check_401(Scim::new(addr, wrong).get("/Users").await, "wrong token");
    check_401(
        Scim::without_token(addr)
            .send(
                "GET",
                "/Users",
                None,
                &[("Authorization", "Basic YWxpY2U6c2VjcmV0")],
            )
            .await,
        "basic auth",
    );

    // Rotation: two live tokens both work; revoking one leaves the other.
    let first = env.acme.clone();
    let (second, second_token) = env.client("dir_acme").await;
    expect(&first.get("/Users").await, 200, "first token");
    expect(&second.get("/Users").await, 200, "second token");
    create(&second, "/Users", &user("gail", "acme.example")).await;
    assert_eq!(
        user_filter(&first, r#"userName eq "gail@acme.example""#).await,
        names(&["gail"]),
        "both tokens act for the same directory"
    );
    revoke_scim_token(&env.db.url(), "dir_acme", &env.acme_token.id).await;
    check_401(first.get("/Users").await, "revoked token");
    check_401(
        first.post("/Users", &user("hank", "acme.example")).await,
        "revoked token, write",
    );
    expect(
        &second.get("/Users").await,
        200,
        "the other token after the revocation",
    );
    assert!(
        user_filter(&second, r#"userName eq "hank@acme.example""#)
            .await
            .is_empty()
    );

    // Every refusal is in the sync log (status 401), and no secret is.
    let url = env.db.url();
    wait_for_sync_log(&url, "of the revoked write", |e| {
        e["status"] == 401 && e["method"] == "POST"
    })
    .await;
    let entries = common::sync_log(&url).await;
    let refused = entries.iter().filter(|e| e["status"] == 401).count();
    assert!(refused >= 5, "{refused} refusals logged: {entries:#?}");
    let raw = sync_log_raw(&url).await;
    for secret in [
        env.acme_token.secret.as_str(),
        second_token.secret.as_str(),
        wrong,
        "YWxpY2U6c2VjcmV0",
    ] {
        assert!(!raw.contains(secret), "the sync log holds a secret: {raw}");
    }
    assert!(!contains(&database_bytes(&env.db), &second_token.secret));
}

// === tenancy ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_directory_never_sees_or_changes_another() {
    let env = Env::start().await;
    let acme = &env.acme;
    let (globex, _) = env.client("dir_globex").await;

    let ida = create(acme, "/Users", &user("ida", "acme.example")).await;
    let ida_id = id_of(&ida);
    let acme_group = create(
        acme,
        "/Groups",
        &json!({"displayName": "Acme Team", "members": [{"value": ida_id}]}),
    )
    .await;
    let acme_gid = id_of(&acme_group);
    let gus = create(&globex, "/Users", &user("gus", "globex.example")).await;
    let globex_group = create(&globex, "/Groups", &json!({"displayName": "Globex Team"})).await;
    let globex_gid = id_of(&globex_group);

    // Another directory's ids are not found, whatever the method.
    let ops = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let upath = format!("/Users/{ida_id}");
    expect_error(&globex.get(&upath).await, 404, None, "GET acme user");
    expect_error(
        &globex.put(&upath, &user("ida", "globex.example")).await,
        404,
        None,
        "PUT acme user",
    );
    expect_error(
        &globex.patch(&upath, &ops).await,
        404,
        None,
        "PATCH acme user",
    );
    expect_error(&globex.delete(&upath).await, 404, None, "DELETE acme user");
    let gpath = format!("/Groups/{acme_gid}");
    let rename = patch_op(json!([{"op": "replace", "path": "displayName", "value": "Taken"}]));
    expect_error(&globex.get(&gpath).await, 404, None, "GET acme group");
    expect_error(
        &globex.put(&gpath, &json!({"displayName": "Taken"})).await,
        404,
        None,
        "PUT acme group",
    );
    expect_error(
        &globex.patch(&gpath, &rename).await,
        404,
        None,
        "PATCH acme group",
    );
    expect_error(&globex.delete(&gpath).await, 404, None, "DELETE acme group");

    // Lists: only their own.
    assert_eq!(ids(&list(&globex, "/Users").await), vec![id_of(&gus)]);
    assert_eq!(
        ids(&list(&globex, "/Groups").await),
        vec![globex_gid.clone()]
    );
    assert_eq!(ids(&list(acme, "/Users").await), vec![ida_id.clone()]);
    assert_eq!(ids(&list(acme, "/Groups").await), vec![acme_gid.clone()]);
    assert!(
        user_filter(&globex, r#"userName eq "ida@acme.example""#)
            .await
            .is_empty()
    );
    let path = format!("/Users?filter=id+eq+%22{ida_id}%22");
    assert_eq!(list(&globex, &path).await["totalResults"], 0);
    let path = format!("/Groups?filter=members%5Bvalue+eq+%22{ida_id}%22%5D");
    assert_eq!(list(&globex, &path).await["totalResults"], 0);

    // Acme's user cannot join Globex's group: skipped, logged.
    let add = patch_op(
        json!([{"op": "add", "path": "members", "value": [{"value": ida_id}, {"value": id_of(&gus)}]}]),
    );
    let resp = globex.patch(&format!("/Groups/{globex_gid}"), &add).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    assert_eq!(
        members(&globex, &globex_gid).await,
        BTreeSet::from([id_of(&gus)])
    );
    let made = create(
        &globex,
        "/Groups",
        &json!({"displayName": "Globex Two", "members": [{"value": ida_id}]}),
    )
    .await;
    assert!(
        made.get("members")
            .is_none_or(|m| m.as_array().is_some_and(Vec::is_empty)),
        "{made:#}"
    );
    let gid = globex_gid.clone();
    let entry = wait_for_sync_log(&env.db.url(), "with the skipped acme user", |e| {
        e["directory"] == "dir_globex"
            && e["method"] == "PATCH"
            && e["path"].as_str().is_some_and(|p| p.ends_with(&gid))
    })
    .await;
    assert_eq!(
        entry["changes"]["skipped_members"],
        json!([ida_id]),
        "{entry:#}"
    );

    // Acme's resources are as they were.
    let still = expect(&acme.get(&upath).await, 200, "acme user");
    assert_eq!(still["active"], ida["active"]);
    assert_eq!(still["meta"]["version"], ida["meta"]["version"]);
    let g = expect(&acme.get(&gpath).await, 200, "acme group");
    assert_eq!(g["displayName"], "Acme Team");
    assert_eq!(
        members(acme, &acme_gid).await,
        BTreeSet::from([ida_id.clone()])
    );
}

// === verified domains ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_of_unverified_domains_are_refused_until_enforcement_is_off() {
    let env = Env::start().await;
    let scim = &env.acme;
    let body = user("xena", "unverified.example");
    let detail = expect_error(
        &scim.post("/Users", &body).await,
        400,
        Some("invalidValue"),
        "unverified userName",
    );
    assert!(detail.contains("unverified.example"), "{detail}");
    assert!(detail.contains("verif"), "says how to verify: {detail}");
    assert!(detail.contains("domains"), "says how to verify: {detail}");

    // A verified userName with an unverified primary email: refused too.
    let mut mixed = user("yann", "acme.example");
    mixed["emails"] =
        json!([{"value": "yann@Unverified.Example", "type": "work", "primary": true}]);
    let detail = expect_error(
        &scim.post("/Users", &mixed).await,
        400,
        Some("invalidValue"),
        "unverified primary email",
    );
    assert!(
        detail.to_lowercase().contains("unverified.example"),
        "{detail}"
    );

    // The domain check is case-insensitive.
    create(scim, "/Users", &user("zoe", "ACME.Example")).await;

    // Never stored, never decided on.
    assert!(
        user_filter(scim, r#"userName eq "xena@unverified.example""#)
            .await
            .is_empty()
    );
    assert_eq!(list(scim, "/Users").await["totalResults"], 1);
    assert_denied(
        &env.server,
        "xena@unverified.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::UnknownUser,
    )
    .await;

    // Moving an existing user to an unverified domain is refused as well.
    let zoe = &list(scim, "/Users").await["Resources"][0];
    let zpath = format!("/Users/{}", id_of(zoe));
    let ops =
        patch_op(json!([{"op": "replace", "path": "userName", "value": "zoe@unverified.example"}]));
    expect_error(
        &scim.patch(&zpath, &ops).await,
        400,
        Some("invalidValue"),
        "PATCH to unverified",
    );
    assert_eq!(
        expect(&scim.get(&zpath).await, 200, "zoe")["userName"],
        "zoe@ACME.Example"
    );

    // In the sync log, with its status and detail.
    let entry = wait_for_sync_log(&env.db.url(), "of the refused create", |e| {
        e["method"] == "POST"
            && e["status"] == 400
            && e["detail"]
                .as_str()
                .is_some_and(|d| d.contains("xena@unverified.example"))
    })
    .await;
    assert_eq!(entry["directory"], "dir_acme", "{entry:#}");
    assert_eq!(entry["scimType"], "invalidValue", "{entry:#}");

    // Enforcement off (a test tenant): the same create succeeds.
    let run = rolecall([
        "directory",
        "domain-enforcement",
        "dir_acme",
        "off",
        "--database-url",
        &env.db.url(),
    ])
    .await;
    assert!(run.success(), "{run:#?}");
    let xena = create(scim, "/Users", &body).await;
    assert_eq!(xena["userName"], "xena@unverified.example");
    assert_denied(
        &env.server,
        "xena@unverified.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::NoGrant,
    )
    .await;
}

// === PATCH ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn patch_applies_all_operations_or_none() {
    let env = Env::start().await;
    let scim = &env.acme;
    let mut body = user("ivy", "acme.example");
    body["title"] = json!("Before");
    let ivy = create(scim, "/Users", &body).await;
    let path = format!("/Users/{}", id_of(&ivy));

    for (second, scim_type) in [
        (
            json!({"op": "replace", "path": "shoeSize", "value": 42}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "emails[type eq \"work\"", "value": "x"}),
            "invalidPath",
        ),
        (
            json!({"op": "replace", "path": "active", "value": "maybe"}),
            "invalidValue",
        ),
        (json!({"op": "remove", "path": "userName"}), "invalidValue"),
        (
            json!({"op": "frobnicate", "path": "title", "value": "x"}),
            "invalidSyntax",
        ),
    ] {
        let ops = patch_op(json!([
            {"op": "replace", "path": "title", "value": "After"},
            second
        ]));
        let resp = scim.patch(&path, &ops).await;
        expect_error(&resp, 400, Some(scim_type), &format!("second op {second}"));
        let now = expect(&scim.get(&path).await, 200, "GET after a refused PATCH");
        assert_eq!(now["title"], "Before", "the first op applied: {second}");
        assert_eq!(now["meta"]["version"], ivy["meta"]["version"], "{second}");
    }

    // Groups: the members added by the first op are not kept either.
    let group = create(scim, "/Groups", &json!({"displayName": "Atomic"})).await;
    let gpath = format!("/Groups/{}", id_of(&group));
    let rev = import_json(
        &env.db,
        "atomic_roles.json",
        &json!({"role_assignments": [{"directory": "dir_acme", "group": "Atomic",
            "role": "scim_charges_reader", "scope": {"account": "acct_acme_main"}}]}),
    )
    .await;
    let (ok, _) = decide(
        &env.server,
        "ivy@acme.example",
        "charges.read",
        "acct_acme_main",
        Some(rev),
    )
    .await;
    assert!(!ok);
    for second in [
        json!({"op": "replace", "path": "displayName", "value": ""}),
        json!({"op": "remove", "path": "members[display eq \"Ivy\"]"}),
        json!({"op": "replace", "path": "colour", "value": "red"}),
    ] {
        let ops = patch_op(json!([
            {"op": "add", "path": "members", "value": [{"value": id_of(&ivy)}]},
            second
        ]));
        let resp = scim.patch(&gpath, &ops).await;
        assert_eq!(resp.status, 400, "{second}: {resp:#?}");
        assert!(members(scim, &id_of(&group)).await.is_empty(), "{second}");
        assert_denied(
            &env.server,
            "ivy@acme.example",
            "charges.read",
            "acct_acme_main",
            DenyReason::NoGrant,
        )
        .await;
        let g = expect(&scim.get(&gpath).await, 200, "group");
        assert_eq!(g["displayName"], "Atomic");
    }
}

/// A group PATCH answers 204 No Content (with the new ETag and revision):
/// the IdPs accept it, and the server never has to load or send a member
/// list that may be huge. 10,000 members in one request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_patch_adds_ten_thousand_members_in_one_request() {
    const N: usize = 10_000;
    let users: Vec<Value> = (0..N)
        .map(|i| json!({"directory": "dir_acme", "userName": format!("bulk{i:05}@acme.example")}))
        .collect();
    let db_dir = tempfile::tempdir().expect("a temporary directory");
    let bulk = db_dir.path().join("bulk_users.json");
    std::fs::write(&bulk, json!({"users": users}).to_string()).expect("write the data file");
    let env = Env::start_with(&[&bulk]).await;
    let scim = &env.acme;

    // The ids, page by page.
    let mut all = Vec::with_capacity(N);
    let mut start = 1;
    loop {
        let page = list(
            scim,
            &format!("/Users?attributes=id&startIndex={start}&count=1000"),
        )
        .await;
        assert_eq!(page["totalResults"], N, "startIndex {start}");
        let got = ids(&page);
        if got.is_empty() {
            break;
        }
        start += got.len();
        all.extend(got);
    }
    assert_eq!(all.len(), N);
    assert_eq!(
        all.iter().collect::<BTreeSet<_>>().len(),
        N,
        "paging repeated an id"
    );

    let group = create(scim, "/Groups", &json!({"displayName": "Everyone"})).await;
    let gid = id_of(&group);
    let rev = import_json(
        &env.db,
        "everyone_roles.json",
        &json!({"role_assignments": [{"directory": "dir_acme", "group": "Everyone",
            "role": "scim_charges_reader", "scope": {"organization": "org_acme"}}]}),
    )
    .await;
    let (ok, _) = decide(
        &env.server,
        "bulk00000@acme.example",
        "charges.read",
        "acct_acme_main",
        Some(rev),
    )
    .await;
    assert!(!ok);

    let value: Vec<Value> = all.iter().map(|id| json!({"value": id})).collect();
    let ops = patch_op(json!([{"op": "add", "path": "members", "value": value}]));
    let started = Instant::now();
    let resp = scim.patch(&format!("/Groups/{gid}"), &ops).await;
    let latency = started.elapsed();
    eprintln!(
        "PATCH adding {N} members ({} KiB body): {latency:?}",
        ops.to_string().len() / 1024
    );
    assert_eq!(resp.status, 204, "{resp:#?}");
    assert!(resp.body.is_empty());
    assert!(resp.header("etag").is_some(), "{resp:#?}");
    revision(&resp);

    for user in [
        "bulk00000@acme.example",
        "bulk04999@acme.example",
        "bulk09999@acme.example",
    ] {
        assert_allowed(&env.server, user, "charges.read", "acct_acme_eu").await;
    }
    let g = expect(&scim.get(&format!("/Groups/{gid}")).await, 200, "group");
    assert_eq!(g["members"].as_array().map(Vec::len), Some(N));
    let g = expect(
        &scim
            .get(&format!("/Groups/{gid}?excludedAttributes=members"))
            .await,
        200,
        "group without members",
    );
    assert!(g.get("members").is_none());
}

// === the seed flow ===

/// The IdP syncs users and `Payments Team`; an administrator gives the group
/// two roles on the whole organization; members get their union on every
/// account, a later account included; membership and activation changes
/// over SCIM take effect before the IdP gets its response.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_group_roles_follow_scim_changes_at_once() {
    let env = Env::start().await;
    let scim = &env.acme;
    let pat = id_of(&create(scim, "/Users", &user("pat", "acme.example")).await);
    let quinn = id_of(&create(scim, "/Users", &user("quinn", "acme.example")).await);
    let ray = id_of(&create(scim, "/Users", &user("ray", "acme.example")).await);
    let resp = scim
        .post(
            "/Groups",
            &json!({"schemas": [GROUP_SCHEMA], "displayName": "Payments Team",
                    "members": [{"value": pat}, {"value": quinn}]}),
        )
        .await;
    let team = expect(&resp, 201, "create Payments Team");
    let gpath = format!("/Groups/{}", id_of(&team));
    let created_at = revision(&resp);

    let rev = import_ok(&env.db.url(), &[&fixture("scim/payments_team_roles.yaml")]).await;
    assert!(rev > created_at);
    let accounts = ["acct_acme_main", "acct_acme_eu"];
    for who in ["pat@acme.example", "quinn@acme.example"] {
        for account in accounts {
            for permission in ["charges.read", "refunds.create", "refunds.read"] {
                let (ok, reason) = decide(&env.server, who, permission, account, Some(rev)).await;
                assert!(ok, "{who} {permission} {account}: {reason:?}");
            }
            assert_denied(
                &env.server,
                who,
                "payouts.read",
                account,
                DenyReason::NoGrant,
            )
            .await;
        }
        // Globex's account is governed by Globex's directory.
        assert_denied(
            &env.server,
            who,
            "charges.read",
            "acct_globex",
            DenyReason::UnknownUser,
        )
        .await;
    }
    assert_denied(
        &env.server,
        "ray@acme.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::NoGrant,
    )
    .await;

    // An account that joins the organization later is covered.
    let rev = import_ok(&env.db.url(), &[&fixture("scim/acme_new_account.yaml")]).await;
    let (ok, reason) = decide(
        &env.server,
        "pat@acme.example",
        "refunds.create",
        "acct_acme_us",
        Some(rev),
    )
    .await;
    assert!(ok, "{reason:?}");
    assert_allowed(
        &env.server,
        "quinn@acme.example",
        "charges.read",
        "acct_acme_us",
    )
    .await;

    // Removing a member revokes at once; the revision in the response is
    // already served.
    let ops = patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{quinn}\"]")}]));
    let resp = scim.patch(&gpath, &ops).await;
    assert_eq!(resp.status, 204, "{resp:#?}");
    let removed_at = revision(&resp);
    assert!(removed_at > rev);
    for account in ["acct_acme_main", "acct_acme_eu", "acct_acme_us"] {
        assert_denied(
            &env.server,
            "quinn@acme.example",
            "charges.read",
            account,
            DenyReason::NoGrant,
        )
        .await;
        assert_allowed(&env.server, "pat@acme.example", "charges.read", account).await;
    }
    let (ok, _) = decide(
        &env.server,
        "quinn@acme.example",
        "refunds.read",
        "acct_acme_eu",
        Some(removed_at),
    )
    .await;
    assert!(!ok);

    // Adding one grants at once.
    let ops = patch_op(json!([{"op": "add", "path": "members", "value": [{"value": ray}]}]));
    assert_eq!(scim.patch(&gpath, &ops).await.status, 204);
    assert_allowed(
        &env.server,
        "ray@acme.example",
        "refunds.create",
        "acct_acme_us",
    )
    .await;
    assert_eq!(
        members(scim, &id_of(&team)).await,
        BTreeSet::from([pat.clone(), ray.clone()])
    );

    // A nested group: its members get the roles too, and lose them with it.
    let sam = id_of(&create(scim, "/Users", &user("sam", "acme.example")).await);
    let contractors = id_of(
        &create(
            scim,
            "/Groups",
            &json!({"displayName": "Payments Contractors", "members": [{"value": sam, "type": "User"}]}),
        )
        .await,
    );
    assert_denied(
        &env.server,
        "sam@acme.example",
        "charges.read",
        "acct_acme_eu",
        DenyReason::NoGrant,
    )
    .await;
    let ops = patch_op(
        json!([{"op": "add", "path": "members", "value": [{"value": contractors, "type": "Group"}]}]),
    );
    assert_eq!(scim.patch(&gpath, &ops).await.status, 204);
    assert_allowed(
        &env.server,
        "sam@acme.example",
        "charges.read",
        "acct_acme_eu",
    )
    .await;
    let team_now = expect(&scim.get(&gpath).await, 200, "team with a nested group");
    let nested = team_now["members"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["value"] == contractors.as_str()))
        .unwrap_or_else(|| panic!("no nested group: {team_now:#}"));
    assert_eq!(nested["type"], "Group", "{nested:#}");
    let ops =
        patch_op(json!([{"op": "remove", "path": format!("members[value eq \"{contractors}\"]")}]));
    assert_eq!(scim.patch(&gpath, &ops).await.status, 204);
    assert_denied(
        &env.server,
        "sam@acme.example",
        "charges.read",
        "acct_acme_eu",
        DenyReason::NoGrant,
    )
    .await;

    // Deactivation revokes everything at once.
    let ops = patch_op(json!([{"op": "replace", "path": "active", "value": false}]));
    let p = expect(
        &scim.patch(&format!("/Users/{pat}"), &ops).await,
        200,
        "deactivate pat",
    );
    assert_eq!(p["active"], false);
    for account in ["acct_acme_main", "acct_acme_eu", "acct_acme_us"] {
        assert_denied(
            &env.server,
            "pat@acme.example",
            "charges.read",
            account,
            DenyReason::InactiveUser,
        )
        .await;
    }
    assert_allowed(
        &env.server,
        "ray@acme.example",
        "charges.read",
        "acct_acme_main",
    )
    .await;

    // And reactivation restores the grants.
    let ops = patch_op(json!([{"op": "replace", "path": "active", "value": true}]));
    expect(
        &scim.patch(&format!("/Users/{pat}"), &ops).await,
        200,
        "reactivate pat",
    );
    assert_allowed(
        &env.server,
        "pat@acme.example",
        "refunds.read",
        "acct_acme_us",
    )
    .await;
}

/// A user created without `active` is active (the Authorizer says so), so
/// `active eq true` must find it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_filter_finds_users_created_without_active() {
    let env = Env::start().await;
    let scim = &env.acme;
    let mut body = user("uma", "acme.example");
    body.as_object_mut().expect("an object").remove("active");
    let uma = create(scim, "/Users", &body).await;
    assert_ne!(uma["active"], false, "{uma:#}");
    assert_denied(
        &env.server,
        "uma@acme.example",
        "charges.read",
        "acct_acme_main",
        DenyReason::NoGrant,
    )
    .await;
    let mut off = user("vic", "acme.example");
    off["active"] = json!(false);
    create(scim, "/Users", &off).await;

    assert_eq!(user_filter(scim, "active eq false").await, names(&["vic"]));
    assert_eq!(user_filter(scim, "active eq true").await, names(&["uma"]));
    assert_eq!(user_filter(scim, "active pr").await, names(&["uma", "vic"]));
}
