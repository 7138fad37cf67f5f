//! The admin side of the store over real databases (SQLite, and PostgreSQL
//! when `ROLECALL_TEST_POSTGRES_URL` is set): organizations,
//! accounts, directories, roles, the groups view, role assignments and the
//! audit log; their errors, revisions (one per changing write, none for a
//! write that changes nothing), audit entries, and what the decision then
//! reads.
//!
//! Revisions are counted from the one the store is at after the test's own
//! setup (the default role catalog and [`BASE`]).

use rolecall::datafile::{DataFile, Format};
use rolecall::engine;
use rolecall::model::{
    AccountId, DirectoryId, Mode, OrganizationId, Owner, PermissionPattern, RoleName, Scope, State,
    Subject,
};
use rolecall::snapshot;
use rolecall::store::StoreError;
use rolecall::store::admin::{AssignmentSpec, AuditEntry, AuditQuery, DirectoryChange, SubjectId};
use rolecall::store::scim::SyncLogEntry;
use serde_json::json;

#[macro_use]
#[path = "common/stores.rs"]
mod stores;

use stores::{Backend, TestDb, TestStore};

const BASE: &str = r#"
organizations:
  - {id: org_acme, name: Acme}
  - {id: org_beta, name: Beta}
accounts:
  - {id: acct_us, name: Acme US, organization: org_acme}
  - {id: acct_eu, name: Acme EU, organization: org_acme}
  - {id: acct_beta, name: Beta One, organization: org_beta}
  - {id: acct_solo, name: Solo}
directories:
  - {id: dir_acme, owner: {organization: org_acme}, domains: [acme.com]}
  - {id: dir_solo, owner: {account: acct_solo}, domains: [solo.dev], mode: saml}
roles:
  - {name: test_admin, description: Everything, permissions: ["*"]}
  - {name: test_reader, permissions: [charges.read]}
users:
  - {directory: dir_acme, userName: alice@acme.com, id: u_alice}
  - {directory: dir_acme, userName: bob@acme.com, id: u_bob}
  - {directory: dir_acme, userName: Carol@acme.com, id: u_carol, active: false}
  - {directory: dir_solo, userName: sam@solo.dev, id: u_sam}
groups:
  - {directory: dir_acme, displayName: engineering, id: g_eng, members: [alice@acme.com, "group:Platform"]}
  - {directory: dir_acme, displayName: Platform, id: g_plat, members: [bob@acme.com, carol@acme.com]}
  - {directory: dir_acme, displayName: Admins, id: g_admins}
  - {directory: dir_acme, displayName: Ring A, id: g_ra, members: [alice@acme.com, "group:Ring B"]}
  - {directory: dir_acme, displayName: Ring B, id: g_rb, members: [bob@acme.com, "group:Ring A"]}
  - {directory: dir_solo, displayName: Team, id: g_team, members: [sam@solo.dev]}
"#;

const ACTOR: &str = "adm_test";

fn yaml(text: &str) -> DataFile {
    DataFile::parse(text, Format::Yaml, "test.yaml").expect("test data parses")
}

/// A new database of `backend` with [`BASE`] imported, a store on it, and
/// its revision.
async fn fresh(backend: Backend) -> (TestDb, TestStore, u64) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    let out = store.import(&yaml(BASE)).await.expect("base imports");
    (db, store, out.revision)
}

fn org(s: &str) -> OrganizationId {
    OrganizationId::new_unchecked(s)
}

fn acct(s: &str) -> AccountId {
    AccountId::new_unchecked(s)
}

fn dir(s: &str) -> DirectoryId {
    DirectoryId::new_unchecked(s)
}

fn role(s: &str) -> RoleName {
    RoleName::new_unchecked(s)
}

fn group(s: &str) -> SubjectId {
    SubjectId::Group(s.to_owned())
}

fn user(s: &str) -> SubjectId {
    SubjectId::User(s.to_owned())
}

fn spec(r: &str, scope: Scope) -> AssignmentSpec {
    AssignmentSpec {
        role: role(r),
        scope,
    }
}

fn at_org(o: &str) -> Scope {
    Scope::Organization(org(o))
}

fn at_account(a: &str) -> Scope {
    Scope::Account(acct(a))
}

fn at_accounts(o: &str, accounts: &[&str]) -> Scope {
    Scope::OrganizationAccounts {
        organization: org(o),
        accounts: accounts.iter().map(|a| acct(a)).collect(),
    }
}

fn perms(list: &[&str]) -> Vec<PermissionPattern> {
    list.iter()
        .map(|p| PermissionPattern::parse(p).unwrap())
        .collect()
}

/// `Invalid`: its field and message.
fn invalid<T: std::fmt::Debug>(r: Result<T, StoreError>) -> (Option<String>, String) {
    match r {
        Err(StoreError::Invalid { field, message }) => (field, message),
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// `NotFound`: what and id.
fn not_found<T: std::fmt::Debug>(r: Result<T, StoreError>) -> (&'static str, String) {
    match r {
        Err(StoreError::NotFound { what, id }) => (what, id),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

/// `Conflict`: attribute and message.
fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> (String, String) {
    match r {
        Err(StoreError::Conflict { attribute, message }) => (attribute, message),
        other => panic!("expected Conflict, got {other:?}"),
    }
}

async fn last_audit(store: &TestStore) -> AuditEntry {
    store
        .audit_log(&AuditQuery {
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("an audit entry")
}

async fn audit_count(store: &TestStore) -> usize {
    store
        .audit_log(&AuditQuery {
            limit: 10_000,
            ..AuditQuery::default()
        })
        .await
        .unwrap()
        .len()
}

/// The last change-log kind.
async fn last_kind(store: &TestStore, after: u64) -> Vec<String> {
    store
        .changes_since(after, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect()
}

/// Does the engine allow it on the store's current state?
async fn allowed(store: &TestStore, user: &str, permission: &str, account: &str) -> bool {
    let state = store.load_state().await.unwrap();
    let snap = snapshot::build(&state).expect("snapshot builds");
    engine::check(&snap, user, permission, account)
}

/// Assignments of `subject` in the state: (role, scope).
fn state_assignments(state: &State, subject: &Subject) -> Vec<(String, Scope)> {
    state
        .role_assignments
        .iter()
        .filter(|a| &a.subject == subject)
        .map(|a| (a.role.as_str().to_owned(), a.scope.clone()))
        .collect()
}

// --- organizations and accounts ---------------------------------------------

backend_tests!(organizations_are_created_renamed_and_listed);
async fn organizations_are_created_renamed_and_listed(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let list = store.list_organizations().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(ids, ["org_acme", "org_beta"]);
    let acme = &list[0];
    assert_eq!(
        acme.accounts,
        vec![acct("acct_eu"), acct("acct_us")],
        "accounts sorted"
    );
    assert_eq!(acme.directory, Some(dir("dir_acme")));
    assert_eq!(list[1].directory, None);

    let r1 = store
        .create_organization(ACTOR, &org("org_new"), "New Co")
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    let got = store
        .get_organization(&org("org_new"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.name, "New Co");
    assert!(got.accounts.is_empty());
    assert!(got.created_ms > 0 && got.updated_ms == got.created_ms);
    let a = last_audit(&store).await;
    assert_eq!(
        (a.actor.as_str(), a.action.as_str(), a.target.as_str()),
        (ACTOR, "organization.create", "organizations/org_new")
    );
    assert_eq!(a.before, None);
    assert_eq!(a.after, Some(json!({"id": "org_new", "name": "New Co"})));
    assert_eq!(a.revision, Some(r1));
    assert_eq!(last_kind(&store, r0).await, ["admin.organization.create"]);

    // Duplicate id: Conflict; bad name: Invalid; nothing written.
    let (attr, msg) = conflict(store.create_organization(ACTOR, &org("org_new"), "X").await);
    assert_eq!(attr, "id");
    assert!(msg.contains("`org_new` exists already"), "{msg}");
    let (field, msg) = invalid(store.create_organization(ACTOR, &org("org_x"), "  ").await);
    assert_eq!(field.as_deref(), Some("name"));
    assert!(msg.contains("must not be empty"), "{msg}");
    let (field, _) = invalid(
        store
            .create_organization(ACTOR, &org("has space"), "X")
            .await,
    );
    assert_eq!(field.as_deref(), Some("id"));
    assert_eq!(store.revision().await.unwrap(), r1);

    // Rename: +1, then the same name: +0 and no audit entry.
    let r2 = store
        .rename_organization(ACTOR, &org("org_new"), "Newer Co")
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let a = last_audit(&store).await;
    assert_eq!(a.action, "organization.rename");
    assert_eq!(a.before.unwrap()["name"], "New Co");
    assert_eq!(a.after.unwrap()["name"], "Newer Co");
    let n = audit_count(&store).await;
    let again = store
        .rename_organization(ACTOR, &org("org_new"), "Newer Co")
        .await
        .unwrap();
    assert_eq!(again, r2);
    assert_eq!(store.revision().await.unwrap(), r2);
    assert_eq!(audit_count(&store).await, n);
    let (what, id) = not_found(store.rename_organization(ACTOR, &org("org_no"), "X").await);
    assert_eq!((what, id.as_str()), ("organization", "org_no"));
    assert!(
        store
            .get_organization(&org("org_no"))
            .await
            .unwrap()
            .is_none()
    );
}

backend_tests!(accounts_are_created_renamed_and_listed);
async fn accounts_are_created_renamed_and_listed(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let all = store.list_accounts(None).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acct_beta", "acct_eu", "acct_solo", "acct_us"]);
    let solo = all.iter().find(|a| a.id.as_str() == "acct_solo").unwrap();
    assert_eq!(solo.directory, Some(dir("dir_solo")), "its own directory");
    assert_eq!(solo.organization, None);
    let us = all.iter().find(|a| a.id.as_str() == "acct_us").unwrap();
    assert_eq!(us.directory, Some(dir("dir_acme")), "its organization's");
    let beta = all.iter().find(|a| a.id.as_str() == "acct_beta").unwrap();
    assert_eq!(beta.directory, None);

    let of_acme = store.list_accounts(Some(&org("org_acme"))).await.unwrap();
    let ids: Vec<&str> = of_acme.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acct_eu", "acct_us"]);
    let (what, _) = not_found(store.list_accounts(Some(&org("org_no"))).await);
    assert_eq!(what, "organization");

    let r1 = store
        .create_account(ACTOR, &acct("acct_jp"), "Acme JP", Some(&org("org_acme")))
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    let jp = store.get_account(&acct("acct_jp")).await.unwrap().unwrap();
    assert_eq!(jp.organization, Some(org("org_acme")));
    assert_eq!(jp.directory, Some(dir("dir_acme")));
    let a = last_audit(&store).await;
    assert_eq!(a.action, "account.create");
    assert_eq!(a.target, "accounts/acct_jp");
    assert_eq!(
        a.after,
        Some(json!({"id": "acct_jp", "name": "Acme JP", "organization": "org_acme"}))
    );
    let acme = store
        .get_organization(&org("org_acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        acme.accounts,
        vec![acct("acct_eu"), acct("acct_jp"), acct("acct_us")]
    );

    let r2 = store
        .create_account(ACTOR, &acct("acct_lone"), "Lone", None)
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);

    let (attr, _) = conflict(
        store
            .create_account(ACTOR, &acct("acct_jp"), "Again", None)
            .await,
    );
    assert_eq!(attr, "id");
    let (what, id) = not_found(
        store
            .create_account(ACTOR, &acct("acct_x"), "X", Some(&org("org_no")))
            .await,
    );
    assert_eq!((what, id.as_str()), ("organization", "org_no"));
    let (field, _) = invalid(store.create_account(ACTOR, &acct("acct_x"), "", None).await);
    assert_eq!(field.as_deref(), Some("name"));
    assert_eq!(store.revision().await.unwrap(), r2);

    let r3 = store
        .rename_account(ACTOR, &acct("acct_jp"), "Acme Japan")
        .await
        .unwrap();
    assert_eq!(r3, r2 + 1);
    assert_eq!(last_audit(&store).await.action, "account.rename");
    assert_eq!(
        store
            .rename_account(ACTOR, &acct("acct_jp"), "Acme Japan")
            .await
            .unwrap(),
        r3
    );
    let (what, _) = not_found(store.rename_account(ACTOR, &acct("acct_no"), "X").await);
    assert_eq!(what, "account");
    assert_eq!(last_kind(&store, r0).await.len(), 3);
}

backend_tests!(org_wide_assignments_cover_new_and_moved_accounts);
async fn org_wide_assignments_cover_new_and_moved_accounts(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    store
        .set_role_assignments(
            ACTOR,
            &dir("dir_acme"),
            &group("g_eng"),
            &[spec("test_reader", at_org("org_acme"))],
        )
        .await
        .unwrap();
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_us").await);
    assert!(!allowed(&store, "alice@acme.com", "charges.read", "acct_beta").await);

    // A new account of the organization is covered at once.
    store
        .create_account(ACTOR, &acct("acct_new"), "New", Some(&org("org_acme")))
        .await
        .unwrap();
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_new").await);

    // Moving an account in: covered; out: not any more.
    let r = store
        .move_account(ACTOR, &acct("acct_beta"), Some(&org("org_acme")))
        .await
        .unwrap();
    assert_eq!(r, r0 + 3);
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_beta").await);
    let a = last_audit(&store).await;
    assert_eq!(a.action, "account.move");
    assert_eq!(a.before.unwrap()["organization"], "org_beta");
    assert_eq!(a.after.unwrap()["organization"], "org_acme");
    assert_eq!(last_kind(&store, r - 1).await, ["admin.account.move"]);
    let state = store.load_state().await.unwrap();
    let moved = state
        .accounts
        .iter()
        .find(|a| a.id.as_str() == "acct_beta")
        .unwrap();
    assert_eq!(moved.organization, Some(org("org_acme")));

    // An account scope of dir_acme on acct_us stops counting when it leaves.
    store
        .set_role_assignments(
            ACTOR,
            &dir("dir_acme"),
            &user("u_bob"),
            &[spec("test_admin", at_account("acct_us"))],
        )
        .await
        .unwrap();
    assert!(allowed(&store, "bob@acme.com", "refunds.create", "acct_us").await);
    let r = store
        .move_account(ACTOR, &acct("acct_us"), None)
        .await
        .unwrap();
    assert!(!allowed(&store, "bob@acme.com", "refunds.create", "acct_us").await);
    assert!(!allowed(&store, "alice@acme.com", "charges.read", "acct_us").await);
    // Same place again: nothing written.
    assert_eq!(
        store
            .move_account(ACTOR, &acct("acct_us"), None)
            .await
            .unwrap(),
        r
    );
    assert_eq!(store.revision().await.unwrap(), r);
    // Back in: covered again.
    store
        .move_account(ACTOR, &acct("acct_us"), Some(&org("org_acme")))
        .await
        .unwrap();
    assert!(allowed(&store, "bob@acme.com", "refunds.create", "acct_us").await);

    let (what, _) = not_found(store.move_account(ACTOR, &acct("acct_no"), None).await);
    assert_eq!(what, "account");
    let (what, _) = not_found(
        store
            .move_account(ACTOR, &acct("acct_us"), Some(&org("org_no")))
            .await,
    );
    assert_eq!(what, "organization");
}

// --- directories -------------------------------------------------------------

backend_tests!(directories_are_created_and_updated);
async fn directories_are_created_and_updated(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let list = store.list_directories().await.unwrap();
    let ids: Vec<&str> = list.iter().map(|d| d.id.as_str()).collect();
    assert_eq!(ids, ["dir_acme", "dir_solo"]);
    let acme = &list[0];
    assert_eq!(acme.owner, Owner::Organization(org("org_acme")));
    assert_eq!(acme.domains, ["acme.com"]);
    assert_eq!(acme.mode, Mode::Dashboard);
    assert!(acme.enforce_domains);
    assert_eq!(acme.scim.last_request_ms, None, "never connected");
    assert_eq!((acme.scim.users, acme.scim.groups), (3, 5));
    assert_eq!(acme.scim.live_tokens, 0);

    let r1 = store
        .create_directory(
            ACTOR,
            &dir("dir_beta"),
            &Owner::Organization(org("org_beta")),
            &[
                "Beta.COM".to_owned(),
                "beta.com".to_owned(),
                "beta.io".to_owned(),
            ],
            Mode::Dashboard,
        )
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    let beta = store
        .get_directory(&dir("dir_beta"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(beta.domains, ["beta.com", "beta.io"], "lowercase, once");
    let a = last_audit(&store).await;
    assert_eq!(
        (a.action.as_str(), a.target.as_str()),
        ("directory.create", "directories/dir_beta")
    );
    assert_eq!(
        a.after.as_ref().unwrap()["owner"],
        json!({"organization": "org_beta"})
    );
    assert_eq!(last_kind(&store, r0).await, ["admin.directory.create"]);
    let account = store
        .get_account(&acct("acct_beta"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(account.directory, Some(dir("dir_beta")));

    // Errors.
    let (attr, _) = conflict(
        store
            .create_directory(
                ACTOR,
                &dir("dir_beta"),
                &Owner::Account(acct("acct_us")),
                &[],
                Mode::Saml,
            )
            .await,
    );
    assert_eq!(attr, "id");
    let (attr, msg) = conflict(
        store
            .create_directory(
                ACTOR,
                &dir("dir_two"),
                &Owner::Organization(org("org_acme")),
                &[],
                Mode::Saml,
            )
            .await,
    );
    assert_eq!(attr, "owner");
    assert!(msg.contains("already has directory `dir_acme`"), "{msg}");
    let (what, _) = not_found(
        store
            .create_directory(
                ACTOR,
                &dir("dir_two"),
                &Owner::Account(acct("acct_no")),
                &[],
                Mode::Saml,
            )
            .await,
    );
    assert_eq!(what, "account");
    let (field, msg) = invalid(
        store
            .create_directory(
                ACTOR,
                &dir("dir_two"),
                &Owner::Account(acct("acct_us")),
                &["ok.com".to_owned(), "not a domain".to_owned()],
                Mode::Saml,
            )
            .await,
    );
    assert_eq!(field.as_deref(), Some("domains[1]"));
    assert!(msg.contains("is not a domain name"), "{msg}");
    assert_eq!(store.revision().await.unwrap(), r1);

    // Update: domains, mode, enforcement; the same again writes nothing.
    let change = DirectoryChange {
        domains: Some(vec!["ACME.com".to_owned(), "acme.eu".to_owned()]),
        mode: None,
        enforce_domains: Some(false),
    };
    let r2 = store
        .update_directory(ACTOR, &dir("dir_acme"), &change)
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let got = store
        .get_directory(&dir("dir_acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.domains, ["acme.com", "acme.eu"]);
    assert!(!got.enforce_domains);
    assert_eq!(got.mode, Mode::Dashboard);
    let a = last_audit(&store).await;
    assert_eq!(a.action, "directory.update");
    assert_eq!(
        a.before,
        Some(json!({"domains": ["acme.com"], "mode": "dashboard", "enforce_domains": true}))
    );
    assert_eq!(
        a.after,
        Some(
            json!({"domains": ["acme.com", "acme.eu"], "mode": "dashboard", "enforce_domains": false})
        )
    );
    assert_eq!(
        store
            .update_directory(ACTOR, &dir("dir_acme"), &change)
            .await
            .unwrap(),
        r2
    );
    assert_eq!(
        store
            .update_directory(ACTOR, &dir("dir_acme"), &DirectoryChange::default())
            .await
            .unwrap(),
        r2
    );
    assert_eq!(store.revision().await.unwrap(), r2);
    let info = store.directory(&dir("dir_acme")).await.unwrap().unwrap();
    assert_eq!(
        info.domains,
        ["acme.com", "acme.eu"],
        "SCIM sees the change"
    );
    assert!(!info.enforce_domains);

    let (field, _) = invalid(
        store
            .update_directory(
                ACTOR,
                &dir("dir_acme"),
                &DirectoryChange {
                    domains: Some(vec!["@bad".to_owned()]),
                    ..DirectoryChange::default()
                },
            )
            .await,
    );
    assert_eq!(field.as_deref(), Some("domains[0]"));
    let (what, _) = not_found(
        store
            .update_directory(ACTOR, &dir("dir_no"), &DirectoryChange::default())
            .await,
    );
    assert_eq!(what, "directory");
}

backend_tests!(scim_status_reports_the_last_request_and_tokens);
async fn scim_status_reports_the_last_request_and_tokens(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let (token, secret) = store.create_scim_token(&dir("dir_acme")).await.unwrap();
    store.create_scim_token(&dir("dir_acme")).await.unwrap();
    let (revoked, _) = store.create_scim_token(&dir("dir_acme")).await.unwrap();
    store
        .revoke_scim_token(&dir("dir_acme"), &revoked.id)
        .await
        .unwrap();
    let got = store
        .get_directory(&dir("dir_acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.scim.live_tokens, 2);
    assert_eq!(got.scim.last_request_ms, None);

    // A request that authenticates records the token's use.
    store.authenticate_scim(&secret).await.unwrap().unwrap();
    let got = store
        .get_directory(&dir("dir_acme"))
        .await
        .unwrap()
        .unwrap();
    let used = got.scim.last_request_ms.expect("connected");

    // The sync log has every request, later than the token's minute.
    let later = used + 30_000;
    store
        .append_sync_log(SyncLogEntry {
            id: 0,
            at_ms: later,
            directory: Some(dir("dir_acme")),
            token_id: Some(token.id.clone()),
            method: "GET".to_owned(),
            path: "/scim/v2/Users".to_owned(),
            status: 200,
            scim_type: None,
            detail: None,
            latency_us: 10,
            user_agent: None,
            changes: None,
            revision: None,
        })
        .await
        .unwrap();
    let got = store
        .get_directory(&dir("dir_acme"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.scim.last_request_ms, Some(later));
    let solo = store
        .get_directory(&dir("dir_solo"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(solo.scim.last_request_ms, None);
    assert_eq!(store.revision().await.unwrap(), r0, "tokens bump nothing");
}

// --- roles -------------------------------------------------------------------

backend_tests!(custom_roles_are_put_and_builtin_ones_are_read_only);
async fn custom_roles_are_put_and_builtin_ones_are_read_only(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let roles = store.list_roles().await.unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r.name.as_str()).collect();
    let mut sorted = names.clone();
    sorted.sort_unstable();
    assert_eq!(names, sorted, "by name");
    let admin = roles.iter().find(|r| r.name.as_str() == "admin").unwrap();
    assert!(admin.builtin);
    let reader = roles
        .iter()
        .find(|r| r.name.as_str() == "test_reader")
        .unwrap();
    assert!(!reader.builtin);
    assert_eq!(reader.permissions, ["charges.read"]);

    let (field, msg) = invalid(
        store
            .put_role(ACTOR, &role("admin"), "mine", &perms(&["*"]))
            .await,
    );
    assert_eq!(field.as_deref(), Some("name"));
    assert_eq!(
        msg,
        "role `admin` is part of the default catalog and read-only; create a custom role with another name"
    );
    let (_, msg) = invalid(store.delete_role(ACTOR, &role("admin"), true).await);
    assert!(msg.contains("read-only"), "{msg}");
    assert_eq!(store.revision().await.unwrap(), r0);

    // Create, then replace, then the same again.
    let r1 = store
        .put_role(
            ACTOR,
            &role("test_refunds"),
            "Refunds",
            &perms(&["refunds.*", "charges.read", "charges.read"]),
        )
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    let got = store
        .get_role(&role("test_refunds"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.permissions, ["charges.read", "refunds.*"]);
    assert_eq!(got.description, "Refunds");
    assert!(!got.builtin);
    let a = last_audit(&store).await;
    assert_eq!(
        (a.action.as_str(), a.target.as_str()),
        ("role.create", "roles/test_refunds")
    );
    assert_eq!(a.before, None);
    assert_eq!(
        a.after,
        Some(
            json!({"name": "test_refunds", "description": "Refunds", "permissions": ["charges.read", "refunds.*"]})
        )
    );
    assert_eq!(last_kind(&store, r0).await, ["admin.role.put"]);

    let r2 = store
        .put_role(
            ACTOR,
            &role("test_refunds"),
            "Refunds only",
            &perms(&["refunds.create"]),
        )
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let a = last_audit(&store).await;
    assert_eq!(a.action, "role.update");
    assert_eq!(
        a.before.unwrap()["permissions"],
        json!(["charges.read", "refunds.*"])
    );
    assert_eq!(a.after.unwrap()["permissions"], json!(["refunds.create"]));
    assert_eq!(
        store
            .put_role(
                ACTOR,
                &role("test_refunds"),
                "Refunds only",
                &perms(&["refunds.create"])
            )
            .await
            .unwrap(),
        r2
    );
    assert_eq!(store.revision().await.unwrap(), r2);
    let state = store.load_state().await.unwrap();
    let r = state
        .roles
        .iter()
        .find(|r| r.name.as_str() == "test_refunds")
        .unwrap();
    assert_eq!(r.permissions, perms(&["refunds.create"]));

    let (field, _) = invalid(
        store
            .put_role(ACTOR, &role("test_long"), &"x".repeat(5000), &[])
            .await,
    );
    assert_eq!(field.as_deref(), Some("description"));
    let (what, _) = not_found(store.delete_role(ACTOR, &role("test_nope"), false).await);
    assert_eq!(what, "role");
}

backend_tests!(assigned_roles_are_deleted_only_with_cascade);
async fn assigned_roles_are_deleted_only_with_cascade(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    store
        .set_role_assignments(
            ACTOR,
            &dir("dir_acme"),
            &group("g_eng"),
            &[
                spec("test_reader", at_org("org_acme")),
                spec("test_reader", at_accounts("org_acme", &["acct_us"])),
            ],
        )
        .await
        .unwrap();
    store
        .set_role_assignments(
            ACTOR,
            &dir("dir_acme"),
            &user("u_bob"),
            &[spec("test_reader", at_account("acct_eu"))],
        )
        .await
        .unwrap();
    let of_role = store
        .role_assignments_of_role(&role("test_reader"))
        .await
        .unwrap();
    assert_eq!(of_role.len(), 3);
    assert_eq!(of_role[0].subject_name, "engineering");
    assert_eq!(of_role[2].subject, user("u_bob"));
    assert_eq!(of_role[2].subject_name, "bob@acme.com");
    let r = store.revision().await.unwrap();

    let (field, msg) = invalid(store.delete_role(ACTOR, &role("test_reader"), false).await);
    assert_eq!(field, None);
    assert!(
        msg.contains("role `test_reader` is assigned 3 times"),
        "{msg}"
    );
    assert!(
        msg.contains("dir_acme/group:engineering → organization org_acme"),
        "{msg}"
    );
    assert!(
        msg.contains("dir_acme/group:engineering → organization org_acme (accounts acct_us)"),
        "{msg}"
    );
    assert!(
        msg.contains("dir_acme/user:bob@acme.com → account acct_eu"),
        "{msg}"
    );
    assert!(msg.contains("cascade"), "{msg}");
    assert_eq!(store.revision().await.unwrap(), r);
    assert!(
        store
            .get_role(&role("test_reader"))
            .await
            .unwrap()
            .is_some()
    );

    let r1 = store
        .delete_role(ACTOR, &role("test_reader"), true)
        .await
        .unwrap();
    assert_eq!(r1, r + 1);
    assert!(
        store
            .get_role(&role("test_reader"))
            .await
            .unwrap()
            .is_none()
    );
    let state = store.load_state().await.unwrap();
    assert!(state.roles.iter().all(|r| r.name.as_str() != "test_reader"));
    assert!(
        state
            .role_assignments
            .iter()
            .all(|a| a.role.as_str() != "test_reader")
    );
    let a = last_audit(&store).await;
    assert_eq!(a.action, "role.delete");
    assert_eq!(a.after, None);
    let before = a.before.unwrap();
    assert_eq!(before["permissions"], json!(["charges.read"]));
    assert_eq!(before["role_assignments"].as_array().unwrap().len(), 3);
    assert_eq!(last_kind(&store, r).await, ["admin.role.delete"]);

    // An unassigned role goes without cascade.
    store
        .put_role(ACTOR, &role("test_tmp"), "", &perms(&["a.b"]))
        .await
        .unwrap();
    let r2 = store.revision().await.unwrap();
    assert_eq!(
        store
            .delete_role(ACTOR, &role("test_tmp"), false)
            .await
            .unwrap(),
        r2 + 1
    );
}

backend_tests!(a_refused_deletion_lists_at_most_twenty_assignments);
async fn a_refused_deletion_lists_at_most_twenty_assignments(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let mut text = String::from("users:\n");
    let mut ra = String::from("role_assignments:\n");
    for i in 0..25 {
        text.push_str(&format!(
            "  - {{directory: dir_acme, userName: u{i:02}@acme.com}}\n"
        ));
        ra.push_str(&format!(
            "  - {{directory: dir_acme, user: u{i:02}@acme.com, role: test_admin, scope: {{account: acct_us}}}}\n"
        ));
    }
    store.import(&yaml(&format!("{text}{ra}"))).await.unwrap();
    let (_, msg) = invalid(store.delete_role(ACTOR, &role("test_admin"), false).await);
    assert!(msg.contains("assigned 25 times"), "{msg}");
    assert!(msg.contains("u19@acme.com"), "{msg}");
    assert!(!msg.contains("u20@acme.com"), "{msg}");
    assert!(msg.contains("and 5 more"), "{msg}");
}

// --- role assignments ----------------------------------------------------------

backend_tests!(group_assignments_are_set_as_a_whole_list);
async fn group_assignments_are_set_as_a_whole_list(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let d = dir("dir_acme");
    let list = [
        spec("test_admin", at_account("acct_us")),
        spec("test_reader", at_org("org_acme")),
        spec(
            "test_reader",
            at_accounts("org_acme", &["acct_us", "acct_eu", "acct_us"]),
        ),
        spec("test_reader", at_org("org_acme")),
    ];
    let r1 = store
        .set_role_assignments(ACTOR, &d, &group("g_eng"), &list)
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    assert_eq!(last_kind(&store, r0).await, ["admin.role_assignments.set"]);
    let a = last_audit(&store).await;
    assert_eq!(a.actor, ACTOR);
    assert_eq!(a.action, "group.role_assignments.set");
    assert_eq!(a.target, "directories/dir_acme/groups/g_eng");
    assert_eq!(a.before, Some(json!({"role_assignments": []})));
    assert_eq!(
        a.after.as_ref().unwrap()["role_assignments"]
            .as_array()
            .unwrap()
            .len(),
        3,
        "duplicates collapse: {:?}",
        a.after
    );
    assert_eq!(a.revision, Some(r1));

    let got = store
        .role_assignments_of(&d, &group("g_eng"))
        .await
        .unwrap();
    assert_eq!(got.len(), 3);
    assert!(
        got.iter()
            .all(|a| a.subject_name == "engineering" && a.directory == d)
    );
    let state = store.load_state().await.unwrap();
    let mut have = state_assignments(
        &state,
        &Subject::Group(rolecall::model::GroupId::new_unchecked("g_eng")),
    );
    have.sort_by_key(|(r, s)| format!("{r}{s:?}"));
    let mut want = vec![
        ("test_admin".to_owned(), at_account("acct_us")),
        ("test_reader".to_owned(), at_org("org_acme")),
        (
            "test_reader".to_owned(),
            at_accounts("org_acme", &["acct_eu", "acct_us"]),
        ),
    ];
    want.sort_by_key(|(r, s)| format!("{r}{s:?}"));
    assert_eq!(have, want);

    // Members get the union; nested members too; inactive ones nothing.
    assert!(allowed(&store, "alice@acme.com", "refunds.create", "acct_us").await);
    assert!(!allowed(&store, "alice@acme.com", "refunds.create", "acct_eu").await);
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_eu").await);
    assert!(allowed(&store, "bob@acme.com", "refunds.create", "acct_us").await);
    assert!(!allowed(&store, "carol@acme.com", "charges.read", "acct_us").await);

    // The same list again (in another order): nothing written.
    let n = audit_count(&store).await;
    let mut again = list.to_vec();
    again.reverse();
    assert_eq!(
        store
            .set_role_assignments(ACTOR, &d, &group("g_eng"), &again)
            .await
            .unwrap(),
        r1
    );
    assert_eq!(store.revision().await.unwrap(), r1);
    assert_eq!(audit_count(&store).await, n);

    // A shorter list deletes the rest, keeping what stays.
    let kept_created = got
        .iter()
        .find(|a| a.scope == at_org("org_acme"))
        .unwrap()
        .created_ms;
    let r2 = store
        .set_role_assignments(
            ACTOR,
            &d,
            &group("g_eng"),
            &[spec("test_reader", at_org("org_acme"))],
        )
        .await
        .unwrap();
    assert_eq!(r2, r1 + 1);
    let got = store
        .role_assignments_of(&d, &group("g_eng"))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].created_ms, kept_created);
    let a = last_audit(&store).await;
    assert_eq!(
        a.before.unwrap()["role_assignments"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(
        a.after,
        Some(
            json!({"role_assignments": [{"role": "test_reader", "scope": {"organization": "org_acme"}}]})
        )
    );
    assert!(!allowed(&store, "alice@acme.com", "refunds.create", "acct_us").await);

    // Clearing.
    let r3 = store
        .set_role_assignments(ACTOR, &d, &group("g_eng"), &[])
        .await
        .unwrap();
    assert_eq!(r3, r2 + 1);
    assert!(
        store
            .role_assignments_of(&d, &group("g_eng"))
            .await
            .unwrap()
            .is_empty()
    );
    assert!(!allowed(&store, "alice@acme.com", "charges.read", "acct_us").await);
    assert_eq!(
        store
            .set_role_assignments(ACTOR, &d, &group("g_eng"), &[])
            .await
            .unwrap(),
        r3
    );
}

backend_tests!(assignments_name_what_is_wrong);
async fn assignments_name_what_is_wrong(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let d = dir("dir_acme");
    let set = |subject: SubjectId, list: Vec<AssignmentSpec>| {
        let store = &store;
        let d = d.clone();
        async move { store.set_role_assignments(ACTOR, &d, &subject, &list).await }
    };

    let (what, id) = not_found(
        store
            .set_role_assignments(ACTOR, &dir("dir_no"), &group("g_eng"), &[])
            .await,
    );
    assert_eq!((what, id.as_str()), ("directory", "dir_no"));
    let (what, id) = not_found(set(group("g_none"), vec![]).await);
    assert_eq!((what, id.as_str()), ("group", "g_none"));
    // A group of another directory is not found in this one.
    let (what, id) = not_found(set(group("g_team"), vec![]).await);
    assert_eq!((what, id.as_str()), ("group", "g_team"));
    let (what, _) = not_found(set(user("u_sam"), vec![]).await);
    assert_eq!(what, "user");

    let (field, msg) = invalid(
        set(
            group("g_eng"),
            vec![
                spec("test_reader", at_org("org_acme")),
                spec("test_nope", at_org("org_acme")),
            ],
        )
        .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[1].role"));
    assert!(msg.contains("role `test_nope` does not exist"), "{msg}");

    let (field, msg) = invalid(
        set(
            group("g_eng"),
            vec![spec(
                "test_reader",
                at_accounts("org_acme", &["acct_us", "acct_beta", "acct_solo"]),
            )],
        )
        .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[0].scope.accounts"));
    assert!(
        msg.contains("accounts `acct_beta`, `acct_solo` are not in organization `org_acme`"),
        "{msg}"
    );

    let (_, msg) = invalid(
        set(
            group("g_eng"),
            vec![spec(
                "test_reader",
                at_accounts("org_acme", &["acct_beta", "acct_us", "acct_beta"]),
            )],
        )
        .await,
    );
    assert!(
        msg.contains("account `acct_beta` is not in organization `org_acme`"),
        "each named once: {msg}"
    );

    let (field, msg) = invalid(
        set(
            group("g_eng"),
            vec![spec("test_reader", at_org("org_beta"))],
        )
        .await,
    );
    assert_eq!(
        field.as_deref(),
        Some("role_assignments[0].scope.organization")
    );
    assert!(msg.contains("governs organization `org_acme`"), "{msg}");

    let (field, _) = invalid(
        set(
            group("g_eng"),
            vec![spec("test_reader", at_account("acct_beta"))],
        )
        .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[0].scope.account"));

    let (field, _) = invalid(
        set(
            group("g_eng"),
            vec![spec("test_reader", at_account("acct_no"))],
        )
        .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[0].scope.account"));

    let (field, _) =
        invalid(set(group("g_eng"), vec![spec("test_reader", at_org("org_no"))]).await);
    assert_eq!(
        field.as_deref(),
        Some("role_assignments[0].scope.organization")
    );

    let (field, _) = invalid(
        set(
            group("g_eng"),
            vec![spec(
                "test_reader",
                at_accounts("org_acme", &["acct_us", "acct_no"]),
            )],
        )
        .await,
    );
    assert_eq!(
        field.as_deref(),
        Some("role_assignments[0].scope.accounts[1]")
    );

    let (field, msg) = invalid(
        set(
            group("g_eng"),
            vec![spec("test_reader", at_accounts("org_acme", &[]))],
        )
        .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[0].scope.accounts"));
    assert!(msg.contains("empty"), "{msg}");

    // An account's directory scopes to that account only.
    let (field, msg) = invalid(
        store
            .set_role_assignments(
                ACTOR,
                &dir("dir_solo"),
                &user("u_sam"),
                &[spec("test_reader", at_account("acct_us"))],
            )
            .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments[0].scope.account"));
    assert!(msg.contains("belongs to account `acct_solo`"), "{msg}");

    // Nothing was written by any of them.
    assert_eq!(store.revision().await.unwrap(), r0);
    assert_eq!(audit_count(&store).await, 0);
}

backend_tests!(saml_directories_refuse_group_assignments_and_keep_them);
async fn saml_directories_refuse_group_assignments_and_keep_them(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let solo = dir("dir_solo");

    // A group of a saml directory: refused, saying how to switch.
    let (field, msg) = invalid(
        store
            .set_role_assignments(
                ACTOR,
                &solo,
                &group("g_team"),
                &[spec("test_reader", at_account("acct_solo"))],
            )
            .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments"));
    assert_eq!(
        msg,
        "directory `dir_solo` takes roles from SAML (role-assignment mode `saml`): group role assignments do \
         not apply; switch its mode to `dashboard` (PATCH /admin/v1/directories/dir_solo {\"mode\":\"dashboard\"}) \
         to assign roles to groups"
    );
    // Clearing is fine (and here changes nothing).
    assert_eq!(
        store
            .set_role_assignments(ACTOR, &solo, &group("g_team"), &[])
            .await
            .unwrap(),
        r0
    );
    // A user of a saml directory: accepted, and counts.
    let r1 = store
        .set_role_assignments(
            ACTOR,
            &solo,
            &user("u_sam"),
            &[spec("test_reader", at_account("acct_solo"))],
        )
        .await
        .unwrap();
    assert_eq!(r1, r0 + 1);
    let a = last_audit(&store).await;
    assert_eq!(a.action, "user.role_assignments.set");
    assert_eq!(a.target, "directories/dir_solo/users/u_sam");
    assert!(allowed(&store, "sam@solo.dev", "charges.read", "acct_solo").await);

    // Switch to dashboard, assign the group, switch back: kept, not counted.
    store
        .set_role_assignments(ACTOR, &solo, &user("u_sam"), &[])
        .await
        .unwrap();
    let to_dashboard = DirectoryChange {
        mode: Some(Mode::Dashboard),
        ..DirectoryChange::default()
    };
    let to_saml = DirectoryChange {
        mode: Some(Mode::Saml),
        ..DirectoryChange::default()
    };
    store
        .update_directory(ACTOR, &solo, &to_dashboard)
        .await
        .unwrap();
    let a = last_audit(&store).await;
    assert_eq!(a.before.unwrap()["mode"], "saml");
    assert_eq!(a.after.unwrap()["mode"], "dashboard");
    store
        .set_role_assignments(
            ACTOR,
            &solo,
            &group("g_team"),
            &[spec("test_admin", at_account("acct_solo"))],
        )
        .await
        .unwrap();
    assert!(allowed(&store, "sam@solo.dev", "refunds.create", "acct_solo").await);

    let r = store
        .update_directory(ACTOR, &solo, &to_saml)
        .await
        .unwrap();
    let state = store.load_state().await.unwrap();
    let team = Subject::Group(rolecall::model::GroupId::new_unchecked("g_team"));
    assert_eq!(
        state_assignments(&state, &team),
        [("test_admin".to_owned(), at_account("acct_solo"))],
        "kept in saml mode"
    );
    assert_eq!(
        state
            .directories
            .iter()
            .find(|d| d.id == solo)
            .unwrap()
            .mode,
        Mode::Saml
    );
    assert!(!allowed(&store, "sam@solo.dev", "refunds.create", "acct_solo").await);
    assert_eq!(
        store
            .role_assignments_of(&solo, &group("g_team"))
            .await
            .unwrap()
            .len(),
        1
    );
    // Setting the same list in saml mode is still refused; nothing written.
    let (field, _) = invalid(
        store
            .set_role_assignments(
                ACTOR,
                &solo,
                &group("g_team"),
                &[spec("test_admin", at_account("acct_solo"))],
            )
            .await,
    );
    assert_eq!(field.as_deref(), Some("role_assignments"));
    assert_eq!(store.revision().await.unwrap(), r);

    // Back to dashboard: counted again.
    store
        .update_directory(ACTOR, &solo, &to_dashboard)
        .await
        .unwrap();
    assert!(allowed(&store, "sam@solo.dev", "refunds.create", "acct_solo").await);
}

backend_tests!(user_assignments_work_at_every_scope);
async fn user_assignments_work_at_every_scope(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let d = dir("dir_acme");
    store
        .set_role_assignments(
            ACTOR,
            &d,
            &user("u_alice"),
            &[
                spec("test_reader", at_accounts("org_acme", &["acct_eu"])),
                spec("test_admin", at_account("acct_us")),
            ],
        )
        .await
        .unwrap();
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_eu").await);
    assert!(!allowed(&store, "alice@acme.com", "refunds.create", "acct_eu").await);
    assert!(allowed(&store, "alice@acme.com", "refunds.create", "acct_us").await);
    assert!(!allowed(&store, "bob@acme.com", "charges.read", "acct_eu").await);
    let got = store
        .role_assignments_of(&d, &user("u_alice"))
        .await
        .unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].subject_name, "alice@acme.com");
    let (what, _) = not_found(store.role_assignments_of(&d, &user("u_sam")).await);
    assert_eq!(what, "user");
    let (what, _) = not_found(
        store
            .role_assignments_of(&dir("dir_no"), &user("u_sam"))
            .await,
    );
    assert_eq!(what, "directory");
}

// --- the groups view -----------------------------------------------------------

backend_tests!(group_summaries_count_members_through_nesting);
async fn group_summaries_count_members_through_nesting(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    store
        .set_role_assignments(
            ACTOR,
            &dir("dir_acme"),
            &group("g_plat"),
            &[
                spec("test_reader", at_org("org_acme")),
                spec("test_admin", at_account("acct_eu")),
            ],
        )
        .await
        .unwrap();
    let r = store.revision().await.unwrap();
    assert_eq!(r, r0 + 1);
    let list = store.group_summaries(&dir("dir_acme")).await.unwrap();
    let rows: Vec<(&str, u64, u64, usize)> = list
        .iter()
        .map(|g| {
            (
                g.display_name.as_str(),
                g.direct_members,
                g.effective_users,
                g.role_assignments.len(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("Admins", 0, 0, 0),
            ("engineering", 2, 3, 0),
            ("Platform", 2, 2, 2),
            ("Ring A", 2, 2, 0),
            ("Ring B", 2, 2, 0),
        ],
        "by displayName, case-insensitively; the cycle ends"
    );
    let plat = &list[2];
    assert_eq!(plat.id, "g_plat");
    assert!(
        plat.role_assignments
            .contains(&spec("test_reader", at_org("org_acme")))
    );
    assert_eq!(store.revision().await.unwrap(), r, "reads write nothing");

    let (what, _) = not_found(store.group_summaries(&dir("dir_no")).await);
    assert_eq!(what, "directory");
    assert_eq!(
        store.group_summaries(&dir("dir_solo")).await.unwrap().len(),
        1
    );
}

backend_tests!(group_summaries_scale_to_a_thousand_nested_groups);
async fn group_summaries_scale_to_a_thousand_nested_groups(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    // 100 chains of 10 groups, each with 3 users of its own and the next
    // group of its chain as a member.
    let mut file = String::from("users:\n");
    for i in 0..3000 {
        file.push_str(&format!(
            "  - {{directory: dir_acme, userName: n{i}@acme.com}}\n"
        ));
    }
    file.push_str("groups:\n");
    for g in 0..1000 {
        let mut members: Vec<String> = (0..3).map(|k| format!("n{}@acme.com", g * 3 + k)).collect();
        if g % 10 != 9 {
            members.push(format!("\"group:G{:04}\"", g + 1));
        }
        file.push_str(&format!(
            "  - {{directory: dir_acme, displayName: G{g:04}, members: [{}]}}\n",
            members.join(", ")
        ));
    }
    store.import(&yaml(&file)).await.unwrap();
    let started = std::time::Instant::now();
    let list = store.group_summaries(&dir("dir_acme")).await.unwrap();
    let took = started.elapsed();
    assert_eq!(list.len(), 1005);
    let g = |name: &str| list.iter().find(|s| s.display_name == name).unwrap();
    assert_eq!(
        (g("G0000").direct_members, g("G0000").effective_users),
        (4, 30)
    );
    assert_eq!(
        (g("G0005").direct_members, g("G0005").effective_users),
        (4, 15)
    );
    assert_eq!(
        (g("G0009").direct_members, g("G0009").effective_users),
        (3, 3)
    );
    assert!(took.as_secs() < 5, "group_summaries took {took:?}");
}

backend_tests!(group_members_are_paged_by_name);
async fn group_members_are_paged_by_name(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let mut users = String::from("users:\n");
    let mut members = Vec::new();
    for name in ["zed", "Yan", "xia", "Wu", "val"] {
        users.push_str(&format!(
            "  - {{directory: dir_acme, userName: {name}@acme.com, active: {}}}\n",
            name != "Wu"
        ));
        members.push(format!("{name}@acme.com"));
    }
    members.push("group:Admins".to_owned());
    members.push("group:platform".to_owned());
    let file = format!(
        "{users}groups:\n  - {{directory: dir_acme, displayName: Big, id: g_big, members: [{}]}}\n",
        members
            .iter()
            .map(|m| format!("\"{m}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    store.import(&yaml(&file)).await.unwrap();

    let d = dir("dir_acme");
    let (page, total) = store.group_members(&d, "g_big", 0, 3).await.unwrap();
    assert_eq!(total, 7);
    let names: Vec<(&str, &str)> = page.iter().map(|m| (m.kind, m.name.as_str())).collect();
    assert_eq!(
        names,
        [
            ("group", "Admins"),
            ("group", "Platform"),
            ("user", "val@acme.com")
        ]
    );
    assert_eq!(page[0].id, "g_admins");
    assert_eq!(page[0].active, None);
    assert_eq!(page[2].active, Some(true));
    let (page, total) = store.group_members(&d, "g_big", 3, 3).await.unwrap();
    assert_eq!(total, 7);
    let names: Vec<&str> = page.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["Wu@acme.com", "xia@acme.com", "Yan@acme.com"]);
    assert_eq!(page[0].active, Some(false));
    let (page, _) = store.group_members(&d, "g_big", 6, 3).await.unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].name, "zed@acme.com");
    let (page, _) = store.group_members(&d, "g_big", 10, 3).await.unwrap();
    assert!(page.is_empty());

    let (what, id) = not_found(store.group_members(&d, "g_team", 0, 10).await);
    assert_eq!((what, id.as_str()), ("group", "g_team"));
    let (what, _) = not_found(store.group_members(&dir("dir_no"), "g_big", 0, 10).await);
    assert_eq!(what, "directory");
    let (empty, total) = store.group_members(&d, "g_admins", 0, 10).await.unwrap();
    assert!(empty.is_empty());
    assert_eq!(total, 0);
}

// --- the audit log -------------------------------------------------------------

backend_tests!(the_audit_log_filters_and_pages_newest_first);
async fn the_audit_log_filters_and_pages_newest_first(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    store
        .create_organization("adm_one", &org("org_1"), "One")
        .await
        .unwrap();
    store
        .create_account("adm_two", &acct("acct_1"), "A1", Some(&org("org_1")))
        .await
        .unwrap();
    store
        .rename_organization("adm_one", &org("org_1"), "Uno")
        .await
        .unwrap();
    store
        .set_role_assignments(
            "adm_two",
            &dir("dir_acme"),
            &group("g_eng"),
            &[spec("test_reader", at_org("org_acme"))],
        )
        .await
        .unwrap();

    let all = store.audit_log(&AuditQuery::default()).await.unwrap();
    let actions: Vec<&str> = all.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "group.role_assignments.set",
            "organization.rename",
            "account.create",
            "organization.create"
        ]
    );
    assert!(all.windows(2).all(|w| w[0].id > w[1].id));
    assert!(all.windows(2).all(|w| w[0].revision > w[1].revision));
    assert!(all.iter().all(|e| e.at_ms > 0));

    let orgs = store
        .audit_log(&AuditQuery {
            action_prefix: Some("organization.".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(orgs.len(), 2);
    assert!(orgs.iter().all(|e| e.actor == "adm_one"));

    let targets = store
        .audit_log(&AuditQuery {
            target_prefix: Some("directories/dir_acme/".to_owned()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(targets.len(), 1);
    assert_eq!(targets[0].target, "directories/dir_acme/groups/g_eng");

    let first = store
        .audit_log(&AuditQuery {
            limit: 2,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(first.len(), 2);
    let next = store
        .audit_log(&AuditQuery {
            limit: 2,
            before: Some(first[1].id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let actions: Vec<&str> = next.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["account.create", "organization.create"]);
    let none = store
        .audit_log(&AuditQuery {
            limit: 2,
            before: Some(next[1].id),
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

backend_tests!(admin_writes_survive_a_reopen);
async fn admin_writes_survive_a_reopen(backend: Backend) {
    let db = TestDb::new(backend).await;
    {
        let store = db.open().await;
        store.import(&yaml(BASE)).await.unwrap();
        store
            .set_role_assignments(
                ACTOR,
                &dir("dir_acme"),
                &group("g_eng"),
                &[spec("test_reader", at_accounts("org_acme", &["acct_us"]))],
            )
            .await
            .unwrap();
        store.close().await;
    }
    let store = db.open().await;
    let got = store
        .role_assignments_of(&dir("dir_acme"), &group("g_eng"))
        .await
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].scope, at_accounts("org_acme", &["acct_us"]));
    assert_eq!(audit_count(&store).await, 1);
    assert!(allowed(&store, "alice@acme.com", "charges.read", "acct_us").await);
    assert!(!allowed(&store, "alice@acme.com", "charges.read", "acct_eu").await);
}

backend_tests!(concurrent_admin_writes_each_bump_the_revision_once);
async fn concurrent_admin_writes_each_bump_the_revision_once(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let store = std::sync::Arc::new(store);
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .create_organization(ACTOR, &org(&format!("org_c{i}")), "C")
                .await
                .unwrap()
        }));
    }
    let mut revisions = Vec::new();
    for t in tasks {
        revisions.push(t.await.unwrap());
    }
    revisions.sort_unstable();
    assert_eq!(revisions, (r0 + 1..=r0 + 8).collect::<Vec<_>>());
    assert_eq!(audit_count(&store).await, 8);
}
