//! The store over real databases — a SQLite file, and PostgreSQL when
//! `ROLECALL_TEST_POSTGRES_URL` is set: opening, importing, reading back,
//! errors, durability and concurrency.
//!
//! The default role catalog may hold any roles: these tests use roles of
//! their own (`test_*`) and count revisions from the one a new store opens at.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rolecall::datafile::{DataFile, Format};
use rolecall::model::{Member, Mode, Owner, Scope, State, Subject};
use rolecall::store::postgres::PostgresStore;
use rolecall::store::sqlite::SqliteStore;
use rolecall::store::{ImportError, StoreError};
use tempfile::TempDir;

#[macro_use]
#[path = "common/stores.rs"]
mod stores;

use stores::{Backend, TestDb, TestStore};

const BASE: &str = r#"
organizations:
  - {id: org_acme, name: Acme}
accounts:
  - {id: acct_us, name: Acme US, organization: org_acme}
  - {id: acct_eu, name: Acme EU, organization: org_acme}
  - {id: acct_solo, name: Solo}
directories:
  - {id: dir_acme, owner: {organization: org_acme}, domains: [Acme.com, acme.eu]}
  - {id: dir_solo, owner: {account: acct_solo}, domains: [solo.dev], mode: saml}
roles:
  - {name: test_admin, description: Everything, permissions: ["*"]}
  - {name: test_refunds, permissions: [refunds.*, charges.read, charges.read]}
users:
  - directory: dir_acme
    userName: Alice@acme.com
    id: u_alice
    externalId: ext-1
    emails: [{value: alice@acme.com, type: work, primary: true}, alice@elsewhere.org]
  - {directory: dir_acme, userName: bob@acme.eu, active: false}
  - {directory: dir_solo, userName: sam@solo.dev}
groups:
  - {directory: dir_acme, displayName: Admins, id: g_admins, members: [alice@acme.com, "group:Support"]}
  - {directory: dir_acme, displayName: Support, members: [BOB@acme.eu]}
role_assignments:
  - {directory: dir_acme, group: Admins, role: test_admin, scope: {organization: org_acme}}
  - {directory: dir_acme, group: support, role: test_refunds, scope: {organization: org_acme, accounts: [acct_us, acct_eu]}}
  - {directory: dir_acme, user: bob@acme.eu, role: test_refunds, scope: {account: acct_eu}}
  - {directory: dir_solo, user: sam@solo.dev, role: test_admin, scope: {account: acct_solo}}
"#;

fn yaml(text: &str) -> DataFile {
    DataFile::parse(text, Format::Yaml, "test.yaml").expect("test data parses")
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("rolecall.db")
}

async fn open(path: &Path) -> SqliteStore {
    SqliteStore::open(&url(path)).await.expect("store opens")
}

/// A new database of `backend`, a store on it, and its revision after opening.
async fn fresh(backend: Backend) -> (TestDb, TestStore, u64) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    let r0 = store.revision().await.unwrap();
    (db, store, r0)
}

fn import_error(result: Result<impl std::fmt::Debug, StoreError>) -> ImportError {
    match result {
        Err(StoreError::Import(e)) => e,
        other => panic!("expected an import error, got {other:?}"),
    }
}

fn open_error<S>(result: Result<S, StoreError>) -> (String, String) {
    match result {
        Err(StoreError::Open { message, hint, .. }) => (message, hint),
        Err(e) => panic!("expected an open error, got {e}"),
        Ok(_) => panic!("expected an open error, the store opened"),
    }
}

fn user<'s>(state: &'s State, name: &str) -> &'s rolecall::model::User {
    state
        .users
        .iter()
        .find(|u| u.user_name == name)
        .unwrap_or_else(|| panic!("user {name}"))
}

fn group<'s>(state: &'s State, name: &str) -> &'s rolecall::model::Group {
    state
        .groups
        .iter()
        .find(|g| g.display_name == name)
        .unwrap_or_else(|| panic!("group {name}"))
}

backend_tests!(a_new_store_opens_at_a_stable_revision);
async fn a_new_store_opens_at_a_stable_revision(backend: Backend) {
    let (dir, store, r0) = fresh(backend).await;
    let state = store.load_state().await.unwrap();
    // The catalog is loaded in one write, or not at all when it is empty.
    assert_eq!(r0, u64::from(!state.roles.is_empty()));
    assert_eq!(state.revision, r0);
    assert!(state.organizations.is_empty() && state.users.is_empty());
    let log = store.changes_since(0, 100).await.unwrap();
    assert_eq!(log.len() as u64, r0);
    if let Some(c) = log.first() {
        assert_eq!(c.kind, "catalog");
    }
    store.close().await;
    drop(store);

    // Reopening loads the same catalog again: nothing to write.
    let store = dir.open().await;
    assert_eq!(store.revision().await.unwrap(), r0);
    assert_eq!(store.load_state().await.unwrap(), state);
}

backend_tests!(an_import_lands_in_one_revision);
async fn an_import_lands_in_one_revision(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    let out = store.import(&yaml(BASE)).await.unwrap();
    assert!(out.changed);
    assert_eq!(out.revision, r0 + 1);
    assert_eq!(store.revision().await.unwrap(), r0 + 1);

    let s = store.load_state().await.unwrap();
    assert_eq!(s.revision, r0 + 1);
    assert_eq!(s.organizations.len(), 1);
    assert_eq!(s.organizations[0].name, "Acme");
    let ids: Vec<_> = s.accounts.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["acct_eu", "acct_solo", "acct_us"]);
    assert_eq!(
        s.accounts[0].organization.as_ref().unwrap().as_str(),
        "org_acme"
    );
    assert_eq!(s.accounts[1].organization, None);

    let acme = &s.directories[0];
    assert_eq!(acme.id.as_str(), "dir_acme");
    assert_eq!(acme.domains, ["acme.com", "acme.eu"]);
    assert_eq!(acme.mode, Mode::Dashboard);
    assert!(matches!(&acme.owner, Owner::Organization(o) if o.as_str() == "org_acme"));
    let solo = &s.directories[1];
    assert_eq!(solo.mode, Mode::Saml);
    assert!(matches!(&solo.owner, Owner::Account(a) if a.as_str() == "acct_solo"));

    let refunds = s
        .roles
        .iter()
        .find(|r| r.name.as_str() == "test_refunds")
        .unwrap();
    let perms: Vec<_> = refunds
        .permissions
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(perms, ["charges.read", "refunds.*"]);
    let admin = s
        .roles
        .iter()
        .find(|r| r.name.as_str() == "test_admin")
        .unwrap();
    assert_eq!(admin.description, "Everything");

    assert_eq!(s.users.len(), 3);
    let alice = user(&s, "Alice@acme.com");
    assert_eq!(alice.id.as_str(), "u_alice");
    let bob = user(&s, "bob@acme.eu");
    assert!(!bob.active);
    assert_eq!(
        bob.id.as_str().len(),
        36,
        "a generated id looks like a UUID"
    );
    assert!(user(&s, "sam@solo.dev").active);

    let admins = group(&s, "Admins");
    assert_eq!(admins.id.as_str(), "g_admins");
    let support = group(&s, "Support");
    let members_of = |g: &rolecall::model::Group| {
        s.memberships
            .iter()
            .filter(|m| m.group == g.id)
            .map(|m| m.member.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        members_of(admins),
        [
            Member::User(alice.id.clone()),
            Member::Group(support.id.clone())
        ]
    );
    assert_eq!(members_of(support), [Member::User(bob.id.clone())]);

    assert_eq!(s.role_assignments.len(), 4);
    let chosen = s
        .role_assignments
        .iter()
        .find(|a| a.subject == Subject::Group(support.id.clone()))
        .unwrap();
    match &chosen.scope {
        Scope::OrganizationAccounts {
            organization,
            accounts,
        } => {
            assert_eq!(organization.as_str(), "org_acme");
            let ids: Vec<_> = accounts.iter().map(|a| a.as_str()).collect();
            assert_eq!(ids, ["acct_eu", "acct_us"], "sorted");
        }
        other => panic!("scope {other:?}"),
    }
    assert!(
        s.role_assignments
            .iter()
            .any(|a| a.subject == Subject::User(bob.id.clone())
                && matches!(&a.scope, Scope::Account(x) if x.as_str() == "acct_eu"))
    );

    // The state compiles into a snapshot.
    rolecall::snapshot::build(&s).expect("the state builds");

    let log = store.changes_since(r0, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].revision, r0 + 1);
    assert_eq!(log[0].kind, "import");
    assert!(log[0].at_ms > 0);
    let detail: serde_json::Value = serde_json::from_str(&log[0].detail).unwrap();
    assert_eq!(detail["created"]["users"], 3);
    assert_eq!(detail["created"]["groups"], 2);
    assert_eq!(detail["created"]["role_assignments"], 4);
    assert_eq!(detail["created"]["roles"], 2);
}

backend_tests!(importing_the_same_file_twice_changes_nothing);
async fn importing_the_same_file_twice_changes_nothing(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    store.import(&yaml(BASE)).await.unwrap();
    let before = store.load_state().await.unwrap();

    let out = store.import(&yaml(BASE)).await.unwrap();
    assert!(!out.changed);
    assert_eq!(out.revision, r0 + 1);
    assert_eq!(store.revision().await.unwrap(), r0 + 1);
    assert_eq!(store.load_state().await.unwrap(), before);
    assert_eq!(store.changes_since(r0, 10).await.unwrap().len(), 1);

    // The same content in another spelling: userNames and displayNames in
    // another case, members and accounts in another order, domains in
    // another case.
    let respelled = BASE
        .replace(
            "[alice@acme.com, \"group:Support\"]",
            "[\"group:SUPPORT\", ALICE@ACME.COM]",
        )
        .replace("[acct_us, acct_eu]", "[acct_eu, acct_us, acct_eu]")
        .replace("group: Admins", "group: admins");
    let out = store.import(&yaml(&respelled)).await.unwrap();
    assert!(!out.changed, "a respelled file changes nothing");
    assert_eq!(store.load_state().await.unwrap(), before);
}

backend_tests!(imports_larger_than_a_statement_land_whole);
/// Imports write users, their emails and memberships many rows a statement:
/// files of several statements' worth land whole, and a second import moves
/// members across the statements' boundaries.
async fn imports_larger_than_a_statement_land_whole(backend: Backend) {
    let (_dir, store, _) = fresh(backend).await;
    let file = |users: std::ops::Range<usize>, members: std::ops::Range<usize>| {
        let mut y = String::from(
            "organizations: [{id: org_big, name: Big}]\n\
             directories: [{id: dir_big, owner: {organization: org_big}, domains: [big.example]}]\n\
             users:\n",
        );
        for i in users {
            y.push_str(&format!(
                "  - {{directory: dir_big, userName: u{i}@big.example, id: u{i}, emails: [u{i}@big.example, U{i}.alt@big.example]}}\n"
            ));
        }
        y.push_str(
            "groups:\n  - {directory: dir_big, displayName: Everyone, id: g_all, members: [",
        );
        let names: Vec<String> = members.map(|i| format!("u{i}@big.example")).collect();
        y.push_str(&names.join(", "));
        y.push_str("]}\n");
        yaml(&y)
    };
    let members_of = |state: &State| {
        let mut m: Vec<String> = state
            .memberships
            .iter()
            .filter(|m| m.group.as_str() == "g_all")
            .map(|m| match &m.member {
                Member::User(u) => u.as_str().to_owned(),
                Member::Group(g) => panic!("unexpected nested group {g}"),
            })
            .collect();
        m.sort();
        m
    };
    let expected = |r: std::ops::Range<usize>| {
        let mut v: Vec<String> = r.map(|i| format!("u{i}")).collect();
        v.sort();
        v
    };

    store.import(&file(0..2_500, 0..2_500)).await.unwrap();
    let state = store.load_state().await.unwrap();
    assert_eq!(state.users.len(), 2_500);
    assert_eq!(members_of(&state), expected(0..2_500));

    store.import(&file(0..3_500, 1_000..3_500)).await.unwrap();
    let state = store.load_state().await.unwrap();
    assert_eq!(state.users.len(), 3_500);
    assert_eq!(members_of(&state), expected(1_000..3_500));

    // Every user's emails are indexed, the last batch's as well as the first's.
    let dir = rolecall::model::DirectoryId::parse("dir_big").unwrap();
    for i in [0, 999, 1_000, 2_499, 3_499] {
        let found = store
            .find_users(
                &dir,
                &rolecall::store::scim::UserLookup::Email(format!("u{i}.ALT@big.example")),
            )
            .await
            .unwrap();
        assert_eq!(found.len(), 1, "u{i}'s second email");
        assert_eq!(found[0].id, format!("u{i}"));
    }
}

backend_tests!(updates_replace_what_they_match);
async fn updates_replace_what_they_match(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    store.import(&yaml(BASE)).await.unwrap();
    let bob_id = user(&store.load_state().await.unwrap(), "bob@acme.eu")
        .id
        .clone();

    let update = r#"
roles:
  - {name: test_refunds, permissions: [refunds.read]}
users:
  - {directory: dir_acme, userName: BOB@acme.eu, active: true}
groups:
  - {directory: dir_acme, displayName: support, members: [alice@acme.com]}
"#;
    let out = store.import(&yaml(update)).await.unwrap();
    assert!(out.changed);
    assert_eq!(out.revision, r0 + 2);

    let s = store.load_state().await.unwrap();
    let bob = user(&s, "BOB@acme.eu");
    assert_eq!(bob.id, bob_id, "matched by userName, the SCIM id stays");
    assert!(bob.active);
    let support = group(&s, "support");
    let alice = user(&s, "Alice@acme.com");
    let members: Vec<_> = s
        .memberships
        .iter()
        .filter(|m| m.group == support.id)
        .collect();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].member, Member::User(alice.id.clone()));
    let refunds = s
        .roles
        .iter()
        .find(|r| r.name.as_str() == "test_refunds")
        .unwrap();
    let perms: Vec<_> = refunds
        .permissions
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(perms, ["refunds.read"]);
    // Untouched rows stay.
    assert_eq!(s.role_assignments.len(), 4);
    assert_eq!(group(&s, "Admins").id.as_str(), "g_admins");

    let detail: serde_json::Value =
        serde_json::from_str(&store.changes_since(r0 + 1, 10).await.unwrap()[0].detail).unwrap();
    assert_eq!(detail["updated"]["users"], 1);
    assert_eq!(detail["updated"]["groups"], 1);
    assert_eq!(detail["updated"]["roles"], 1);
    assert!(detail["created"].as_object().unwrap().is_empty());

    // Applying it again is quiet.
    assert!(!store.import(&yaml(update)).await.unwrap().changed);
}

backend_tests!(names_may_pass_from_one_row_to_another);
async fn names_may_pass_from_one_row_to_another(backend: Backend) {
    let (_dir, store, _) = fresh(backend).await;
    let setup = r#"
organizations: [{id: o, name: O}]
directories: [{id: d, owner: {organization: o}}]
users:
  - {directory: d, userName: a, id: u1}
  - {directory: d, userName: b, id: u2}
groups:
  - {directory: d, displayName: one, id: g1}
  - {directory: d, displayName: two, id: g2}
"#;
    store.import(&yaml(setup)).await.unwrap();
    // u2 leaves `b` for `c`; u1 then takes `b` (matched by id: a rename).
    let renames = r#"
users:
  - {directory: d, userName: c, id: u2}
  - {directory: d, userName: b, id: u1}
groups:
  - {directory: d, displayName: three, id: g2}
  - {directory: d, displayName: Two, id: g1}
"#;
    assert!(store.import(&yaml(renames)).await.unwrap().changed);
    let s = store.load_state().await.unwrap();
    assert_eq!(user(&s, "b").id.as_str(), "u1");
    assert_eq!(user(&s, "c").id.as_str(), "u2");
    assert_eq!(group(&s, "Two").id.as_str(), "g1");
    assert_eq!(group(&s, "three").id.as_str(), "g2");
    assert!(!store.import(&yaml(renames)).await.unwrap().changed);
}

backend_tests!(bad_entries_are_named_and_nothing_is_written);
/// Each bad file, imported over BASE: the entry and field named, nothing written.
async fn bad_entries_are_named_and_nothing_is_written(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    store.import(&yaml(BASE)).await.unwrap();
    let before = store.load_state().await.unwrap();

    let cases: &[(&str, &str, &str, &str)] = &[
        (
            "accounts: [{id: acct_x, name: X, organization: org_nope}]",
            "accounts[0]",
            "organization",
            "`org_nope` does not exist",
        ),
        (
            "organizations: [{id: org_new, name: New}]\naccounts: [{id: acct_bad, name: ''}]",
            "accounts[0]",
            "name",
            "must not be empty",
        ),
        (
            "directories: [{id: dir_2, owner: {organization: org_acme}}]",
            "directories[0]",
            "owner.organization",
            "already has directory `dir_acme`",
        ),
        (
            "directories: [{id: dir_3, owner: {account: acct_nope}}]",
            "directories[0]",
            "owner.account",
            "`acct_nope` does not exist",
        ),
        (
            "accounts: [{id: acct_two, name: Two}]\ndirectories: [{id: dir_solo, owner: {account: acct_two}, mode: saml}]",
            "directories[0]",
            "owner",
            "owner cannot change",
        ),
        (
            "directories: [{id: dir_acme, owner: {organization: org_acme}, mode: sso}]",
            "directories[0]",
            "mode",
            "use `dashboard` or `saml`",
        ),
        (
            "directories: [{id: dir_acme, owner: {organization: org_acme}, domains: [acme.com, 'not a domain']}]",
            "directories[0]",
            "domains[1]",
            "is not a domain name",
        ),
        (
            "roles: [{name: test_x, permissions: [charges.read, charges]}]",
            "roles[0]",
            "permissions[1]",
            "`charges` is not a permission",
        ),
        (
            "users: [{directory: dir_nope, userName: x}]",
            "users[0]",
            "directory",
            "`dir_nope` does not exist",
        ),
        (
            "users: [{directory: dir_acme, userName: eve@evil.com}]",
            "users[0]",
            "userName",
            "domain `evil.com` is not a verified domain of directory `dir_acme`: add `evil.com` to the directory's `domains`",
        ),
        (
            "users: [{directory: dir_acme, userName: eve, emails: [eve@evil.com, eve@acme.com]}]",
            "users[0]",
            "emails[0]",
            "`evil.com` is not a verified domain",
        ),
        (
            "users: [{directory: dir_acme, userName: eve, emails: [eve@acme.com, {value: eve@evil.com, primary: true}]}]",
            "users[0]",
            "emails[1]",
            "`evil.com` is not a verified domain",
        ),
        (
            "users: [{directory: dir_acme, userName: x@acme.com}, {directory: dir_acme, userName: X@ACME.com}]",
            "users[1]",
            "userName",
            "appears twice",
        ),
        (
            "users: [{directory: dir_solo, userName: x@solo.dev, id: u_alice}]",
            "users[0]",
            "id",
            "belongs to a user of directory `dir_acme`",
        ),
        (
            "groups: [{directory: dir_acme, displayName: Admins, members: [alice@acme.com, nobody@acme.com]}]",
            "groups[0]",
            "members[1]",
            "user `nobody@acme.com` is not a user of directory `dir_acme`",
        ),
        (
            "groups: [{directory: dir_acme, displayName: Admins, members: ['group:Nope']}]",
            "groups[0]",
            "members[0]",
            "group `Nope` is not a group of directory `dir_acme`",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Admins, role: nope, scope: {account: acct_us}}]",
            "role_assignments[0]",
            "role",
            "`nope` does not exist",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Admins, user: alice@acme.com, role: test_admin, scope: {account: acct_us}}]",
            "role_assignments[0]",
            "group",
            "exactly one of `group`",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Nope, role: test_admin, scope: {account: acct_us}}]",
            "role_assignments[0]",
            "group",
            "`Nope` is not a group",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Admins, role: test_admin, scope: {organization: org_acme, accounts: [acct_us, acct_solo]}}]",
            "role_assignments[0]",
            "scope.accounts",
            "account `acct_solo` is not in organization `org_acme`",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Admins, role: test_admin, scope: {organization: org_acme, accounts: []}}]",
            "role_assignments[0]",
            "scope.accounts",
            "empty",
        ),
        (
            "role_assignments: [{directory: dir_acme, group: Admins, role: test_admin, scope: {account: acct_us, organization: org_acme}}]",
            "role_assignments[0]",
            "scope",
            "not both",
        ),
        (
            "role_assignments: [{directory: dir_acme, user: alice@acme.com, role: test_admin, scope: {account: acct_solo}}]",
            "role_assignments[0]",
            "scope.account",
            "directory `dir_acme` governs organization `org_acme`",
        ),
        (
            "role_assignments: [{directory: dir_solo, user: sam@solo.dev, role: test_admin, scope: {organization: org_acme}}]",
            "role_assignments[0]",
            "scope.organization",
            "belongs to account `acct_solo`",
        ),
        (
            "groups: [{directory: dir_solo, displayName: Team, members: [sam@solo.dev]}]\n\
             role_assignments: [{directory: dir_solo, group: Team, role: test_admin, scope: {account: acct_solo}}]",
            "role_assignments[0]",
            "group",
            "directory `dir_solo` takes roles from SAML (role-assignment mode `saml`): group role assignments do not \
             apply; switch the directory's mode to `dashboard` to assign roles to groups",
        ),
    ];
    for (file, entry, field, message) in cases {
        let e = import_error(store.import(&yaml(file)).await);
        assert_eq!(
            (e.entry.as_str(), e.field.as_deref()),
            (*entry, Some(*field)),
            "for {file}: {e}"
        );
        assert!(
            e.message.contains(message),
            "for {file}: `{}` lacks `{message}`",
            e.message
        );
        assert!(
            e.message.starts_with(|c: char| !c.is_uppercase()),
            "messages start lowercase: {}",
            e.message
        );
        assert_eq!(
            store.revision().await.unwrap(),
            r0 + 1,
            "nothing written for {file}"
        );
    }
    assert_eq!(store.load_state().await.unwrap(), before);
    assert_eq!(store.changes_since(r0 + 1, 10).await.unwrap(), []);
}

backend_tests!(a_saml_directory_takes_user_assignments_and_a_switch_to_dashboard_allows_groups);
async fn a_saml_directory_takes_user_assignments_and_a_switch_to_dashboard_allows_groups(
    backend: Backend,
) {
    let (_dir, store, _) = fresh(backend).await;
    store.import(&yaml(BASE)).await.unwrap();
    let switch = r#"
directories: [{id: dir_solo, owner: {account: acct_solo}, domains: [solo.dev], mode: dashboard}]
groups: [{directory: dir_solo, displayName: Team, members: [sam@solo.dev]}]
role_assignments: [{directory: dir_solo, group: Team, role: test_admin, scope: {account: acct_solo}}]
"#;
    assert!(store.import(&yaml(switch)).await.unwrap().changed);
    let s = store.load_state().await.unwrap();
    assert_eq!(s.directories[1].mode, Mode::Dashboard);
    assert_eq!(s.role_assignments.len(), 5);
}

backend_tests!(an_account_of_an_organization_may_have_a_directory_of_its_own);
async fn an_account_of_an_organization_may_have_a_directory_of_its_own(backend: Backend) {
    // The organization's directory governs the account when there is one;
    // the account's own directory assigns roles on that account only.
    let (_dir, store, _) = fresh(backend).await;
    store.import(&yaml(BASE)).await.unwrap();
    let labs = r#"
accounts: [{id: acct_labs, name: Labs, organization: org_acme}]
directories: [{id: dir_labs, owner: {account: acct_labs}, domains: [labs.dev]}]
users: [{directory: dir_labs, userName: lars@labs.dev}]
role_assignments:
  - {directory: dir_labs, user: lars@labs.dev, role: test_admin, scope: {account: acct_labs}}
"#;
    assert!(store.import(&yaml(labs)).await.unwrap().changed);
    let wider = "role_assignments: [{directory: dir_labs, user: lars@labs.dev, role: test_admin, \
                 scope: {organization: org_acme}}]";
    let e = import_error(store.import(&yaml(wider)).await);
    assert_eq!(e.field.as_deref(), Some("scope.organization"), "{e}");
    let s = store.load_state().await.unwrap();
    rolecall::snapshot::build(&s).expect("the state builds");
}

#[tokio::test]
async fn a_file_that_is_not_a_database_is_refused_with_a_hint() {
    let dir = TempDir::new().unwrap();
    let path = db_path(&dir);
    let noise: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&path, noise).unwrap();
    let (message, hint) = open_error(SqliteStore::open(&url(&path)).await);
    assert!(message.contains("not a database"), "{message}");
    assert!(
        hint.contains("is not a rolecall SQLite database or is corrupt: restore it from a backup, or point --database-url at a new file"),
        "{hint}"
    );
    assert!(hint.contains(&path.display().to_string()), "{hint}");
}

#[tokio::test]
async fn unopenable_paths_are_named_in_the_hint() {
    let dir = TempDir::new().unwrap();
    // A directory where the file should be.
    let (_, hint) = open_error(SqliteStore::open(&url(dir.path())).await);
    assert!(hint.contains("is a directory"), "{hint}");
    assert!(hint.contains(&dir.path().display().to_string()), "{hint}");

    // A file in a directory that does not exist.
    let missing = dir.path().join("nope").join("rolecall.db");
    let (_, hint) = open_error(SqliteStore::open(&url(&missing)).await);
    assert!(hint.contains("does not exist"), "{hint}");
    assert!(
        hint.contains(&dir.path().join("nope").display().to_string()),
        "{hint}"
    );

    // Not a URL of a database rolecall knows.
    match rolecall::store::open("mysql://localhost/rolecall").await {
        Err(StoreError::Open { hint, .. }) => {
            assert!(hint.contains("sqlite://"), "{hint}");
            assert!(hint.contains("postgres://"), "{hint}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
}

#[tokio::test]
async fn foreign_and_newer_databases_are_refused() {
    use sqlx::ConnectOptions;
    use sqlx::sqlite::SqliteConnectOptions;
    use std::str::FromStr;

    // Someone else's SQLite database.
    let dir = TempDir::new().unwrap();
    let path = dir.path().join("other.db");
    let mut conn = SqliteConnectOptions::from_str(&url(&path))
        .unwrap()
        .create_if_missing(true)
        .connect()
        .await
        .unwrap();
    sqlx::query("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    let (message, hint) = open_error(SqliteStore::open(&url(&path)).await);
    assert!(message.contains("not a rolecall one"), "{message}");
    assert!(hint.contains("--database-url"), "{hint}");

    // A rolecall database that a newer rolecall migrated further.
    let path = db_path(&dir);
    open(&path).await.close().await;
    let mut conn = SqliteConnectOptions::from_str(&url(&path))
        .unwrap()
        .connect()
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'future', 1, x'00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    drop(conn);
    let (message, hint) = open_error(SqliteStore::open(&url(&path)).await);
    assert!(message.contains("created by a newer rolecall"), "{message}");
    assert!(message.contains("999"), "{message}");
    assert!(hint.contains("--database-url"), "{hint}");
}

#[tokio::test]
async fn postgres_urls_that_cannot_work_say_what_to_fix_without_the_password() {
    // Nothing listens on port 1.
    let url = "postgres://rolecall:s3cret@127.0.0.1:1/rolecall";
    let e = match rolecall::store::open(url).await {
        Err(e) => e,
        Ok(_) => panic!("opened"),
    };
    let shown = e.to_string();
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("rolecall:***@127.0.0.1:1"), "{shown}");
    assert!(
        shown.contains("cannot reach the PostgreSQL server at 127.0.0.1:1"),
        "{shown}"
    );
    assert!(shown.contains("check that PostgreSQL runs"), "{shown}");

    let url = "postgres://rolecall:s3cret@localhost:port/rolecall";
    let shown = match rolecall::store::open(url).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened"),
    };
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("not a PostgreSQL URL"), "{shown}");
    assert!(
        shown.contains("postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE"),
        "{shown}"
    );
}

#[tokio::test]
async fn foreign_missing_and_newer_postgres_databases_are_refused() {
    let Some(server) = stores::postgres_url() else {
        return;
    };
    let db = TestDb::new(Backend::Postgres).await;

    // A database that does not exist.
    let missing = stores::with_database(&server, "rolecall_no_such_database");
    let shown = match PostgresStore::open(&missing).await {
        Err(e) => e.to_string(),
        Ok(_) => panic!("opened"),
    };
    assert!(shown.contains("create the database"), "{shown}");

    // Someone else's database.
    let mut conn = stores::admin_connection(db.url()).await;
    sqlx::query("CREATE TABLE invoices (id BIGINT PRIMARY KEY)")
        .execute(&mut conn)
        .await
        .unwrap();
    let (message, hint) = open_error(PostgresStore::open(db.url()).await);
    assert!(message.contains("no rolecall schema"), "{message}");
    assert!(hint.contains("--database-url"), "{hint}");

    // A rolecall database that a newer rolecall migrated further.
    sqlx::query("DROP TABLE invoices")
        .execute(&mut conn)
        .await
        .unwrap();
    db.open().await.close().await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (999, 'future', TRUE, '\\x00', 0)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let (message, hint) = open_error(PostgresStore::open(db.url()).await);
    assert!(message.contains("created by a newer rolecall"), "{message}");
    assert!(message.contains("999"), "{message}");
    assert!(hint.contains("--database-url"), "{hint}");
}

backend_tests!(an_acknowledged_import_survives_reopening);
async fn an_acknowledged_import_survives_reopening(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    let out = store.import(&yaml(BASE)).await.unwrap();
    let state = store.load_state().await.unwrap();
    drop(store); // no orderly close

    let store = db.open().await;
    assert_eq!(store.revision().await.unwrap(), out.revision);
    assert_eq!(store.load_state().await.unwrap(), state);
    assert!(!store.import(&yaml(BASE)).await.unwrap().changed);
    if backend != Backend::Sqlite {
        return;
    }

    // The file is in WAL mode.
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    let mut conn = sqlx::sqlite::SqliteConnectOptions::from_str(db.url())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
}

fn org_file(n: usize) -> DataFile {
    yaml(&format!(
        "organizations: [{{id: org_{n}, name: Org {n}}}]\n\
         accounts: [{{id: acct_{n}, name: Account {n}, organization: org_{n}}}]\n\
         directories: [{{id: dir_{n}, owner: {{organization: org_{n}}}, domains: [org{n}.example]}}]\n\
         users: [{{directory: dir_{n}, userName: someone@org{n}.example}}]"
    ))
}

backend_tests!(multi_thread: concurrent_imports_are_serialised_and_all_land);
async fn concurrent_imports_are_serialised_and_all_land(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    let store = Arc::new(store);
    let tasks: Vec<_> = (0..2)
        .map(|n| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.import(&org_file(n)).await })
        })
        .collect();
    let mut revisions = Vec::new();
    for t in tasks {
        let out = t.await.unwrap().unwrap();
        assert!(out.changed);
        revisions.push(out.revision);
    }
    revisions.sort();
    assert_eq!(revisions, [r0 + 1, r0 + 2]);
    assert_eq!(store.revision().await.unwrap(), r0 + 2);
    let s = store.load_state().await.unwrap();
    assert_eq!(s.organizations.len(), 2);
    assert_eq!(s.users.len(), 2);
    let log = store.changes_since(r0, 10).await.unwrap();
    assert_eq!(
        log.iter().map(|c| c.revision).collect::<Vec<_>>(),
        [r0 + 1, r0 + 2]
    );
}

backend_tests!(multi_thread: two_stores_on_one_file_take_turns);
async fn two_stores_on_one_file_take_turns(backend: Backend) {
    // As two processes would: each with its own connections.
    let (db, a, r0) = fresh(backend).await;
    let b = db.open().await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 {
            Arc::clone(&a)
        } else {
            Arc::clone(&b)
        };
        tasks.push(tokio::spawn(
            async move { store.import(&org_file(n)).await },
        ));
    }
    for t in tasks {
        assert!(t.await.unwrap().unwrap().changed);
    }
    assert_eq!(a.revision().await.unwrap(), r0 + 8);
    assert_eq!(b.load_state().await.unwrap().organizations.len(), 8);
}

backend_tests!(multi_thread: stores_opening_a_new_file_at_once_migrate_it_once);
async fn stores_opening_a_new_file_at_once_migrate_it_once(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let db = Arc::clone(&db);
            tokio::spawn(async move { db.try_open().await })
        })
        .collect();
    let mut revisions = Vec::new();
    for t in tasks {
        let store = t.await.unwrap().expect("every store opens");
        revisions.push(store.revision().await.unwrap());
    }
    let last = *revisions.iter().max().unwrap();
    // The catalog landed once, whoever loaded it.
    let store = db.open().await;
    assert_eq!(store.revision().await.unwrap(), last);
    assert!(last <= 1);
}

backend_tests!(multi_thread: readers_see_revisions_in_order_and_in_one_snapshot);
async fn readers_see_revisions_in_order_and_in_one_snapshot(backend: Backend) {
    // Two stores write at once (as two processes would) while a third reads:
    // whatever revision a reader sees, every one below it is there too, and
    // a state is the state of exactly its revision.
    let (db, a, r0) = fresh(backend).await;
    let b = db.open().await;
    let reader = db.open().await;
    let writers: Vec<_> = [a, b]
        .into_iter()
        .enumerate()
        .map(|(w, store)| {
            tokio::spawn(async move {
                for n in 0..10 {
                    store.import(&org_file(w * 100 + n)).await.unwrap();
                }
            })
        })
        .collect();
    let mut seen = r0;
    while seen < r0 + 20 {
        let revision = reader.revision().await.unwrap();
        assert!(revision >= seen, "the revision went back");
        let log = reader.changes_since(r0, 1000).await.unwrap();
        let revisions: Vec<u64> = log.iter().map(|c| c.revision).collect();
        assert!(
            revisions.len() as u64 >= revision - r0,
            "revision {revision} is visible but not all below it: {revisions:?}"
        );
        assert_eq!(
            revisions,
            (r0 + 1..=r0 + revisions.len() as u64).collect::<Vec<_>>()
        );
        let state = reader.load_state().await.unwrap();
        assert_eq!(state.organizations.len() as u64, state.revision - r0);
        seen = revision;
    }
    for w in writers {
        w.await.unwrap();
    }
}

backend_tests!(changes_since_pages_through_the_log);
async fn changes_since_pages_through_the_log(backend: Backend) {
    let (_dir, store, r0) = fresh(backend).await;
    for n in 0..5 {
        store.import(&org_file(n)).await.unwrap();
    }
    let page = store.changes_since(r0, 2).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.revision).collect::<Vec<_>>(),
        [r0 + 1, r0 + 2]
    );
    let page = store.changes_since(r0 + 4, 10).await.unwrap();
    assert_eq!(
        page.iter().map(|c| c.revision).collect::<Vec<_>>(),
        [r0 + 5]
    );
    assert!(store.changes_since(r0 + 5, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn the_open_function_serves_memory_stores() {
    let store = rolecall::store::open("sqlite::memory:").await.unwrap();
    let r0 = store.revision().await.unwrap();
    store.import(&yaml(BASE)).await.unwrap();
    let s = store.load_state().await.unwrap();
    assert_eq!(s.revision, r0 + 1);
    assert_eq!(s.users.len(), 3);
}
