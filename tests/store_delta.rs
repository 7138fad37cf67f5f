//! `Store::delta` over real databases (SQLite, and PostgreSQL when
//! `ROLECALL_TEST_POSTGRES_URL` is set): after every kind of write, the
//! delta from the previous revision, applied to the previous state, gives the
//! state the store now loads; deltas spanning several writes do too; and the
//! store says when it cannot answer (ahead of it, too many entities).
//!
//! The state is compared as entities with the edges they own (a user with its
//! direct groups and role assignments, a group with its parents and role
//! assignments), which is the shape a delta carries.

use std::collections::BTreeMap;

use rolecall::datafile::{DataFile, Format};
use rolecall::model::{
    Account, Delta, Directory, DirectoryId, GroupEdges, Member, Mode, Organization, OrganizationId,
    PermissionPattern, Role, RoleName, Scope, State, Subject, UserEdges,
};
use rolecall::store::admin::{AssignmentSpec, DirectoryChange, SubjectId};
use rolecall::store::scim::{GroupWrite, MembersChange, UserWrite};
use serde_json::json;

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
  - {id: dir_acme, owner: {organization: org_acme}, domains: [acme.com]}
  - {id: dir_solo, owner: {account: acct_solo}, domains: [solo.dev]}
roles:
  - {name: test_admin, permissions: ["*"]}
  - {name: test_refunds, permissions: [refunds.*, charges.read]}
users:
  - {directory: dir_acme, userName: alice@acme.com, id: u_alice}
  - {directory: dir_acme, userName: bob@acme.com, id: u_bob}
  - {directory: dir_solo, userName: sam@solo.dev, id: u_sam}
groups:
  - {directory: dir_acme, displayName: Admins, id: g_admins, members: [alice@acme.com, "group:Support"]}
  - {directory: dir_acme, displayName: Support, id: g_support, members: [bob@acme.com]}
role_assignments:
  - {directory: dir_acme, group: Admins, role: test_admin, scope: {organization: org_acme}}
  - {directory: dir_acme, group: Support, role: test_refunds, scope: {organization: org_acme, accounts: [acct_us]}}
  - {directory: dir_acme, user: bob@acme.com, role: test_refunds, scope: {account: acct_eu}}
"#;

/// The state as entities with the edges they own, every list sorted.
#[derive(Debug, Default, PartialEq)]
struct Entities {
    organizations: BTreeMap<String, Organization>,
    accounts: BTreeMap<String, Account>,
    directories: BTreeMap<String, Directory>,
    roles: BTreeMap<String, Role>,
    users: BTreeMap<String, UserEdges>,
    groups: BTreeMap<String, GroupEdges>,
}

fn entities(state: &State) -> Entities {
    let mut e = Entities::default();
    for o in &state.organizations {
        e.organizations.insert(o.id.to_string(), o.clone());
    }
    for a in &state.accounts {
        e.accounts.insert(a.id.to_string(), a.clone());
    }
    for d in &state.directories {
        e.directories.insert(d.id.to_string(), d.clone());
    }
    for r in &state.roles {
        e.roles.insert(r.name.to_string(), r.clone());
    }
    for u in &state.users {
        e.users.insert(
            u.id.to_string(),
            UserEdges {
                user: u.clone(),
                groups: Vec::new(),
                role_assignments: Vec::new(),
            },
        );
    }
    for g in &state.groups {
        e.groups.insert(
            g.id.to_string(),
            GroupEdges {
                group: g.clone(),
                parents: Vec::new(),
                role_assignments: Vec::new(),
            },
        );
    }
    for m in &state.memberships {
        match &m.member {
            Member::User(u) => e
                .users
                .get_mut(u.as_str())
                .unwrap()
                .groups
                .push(m.group.clone()),
            Member::Group(g) => e
                .groups
                .get_mut(g.as_str())
                .unwrap()
                .parents
                .push(m.group.clone()),
        }
    }
    for ra in &state.role_assignments {
        match &ra.subject {
            Subject::User(u) => e
                .users
                .get_mut(u.as_str())
                .unwrap()
                .role_assignments
                .push(ra.clone()),
            Subject::Group(g) => e
                .groups
                .get_mut(g.as_str())
                .unwrap()
                .role_assignments
                .push(ra.clone()),
        }
    }
    normalize(&mut e);
    e
}

fn normalize(e: &mut Entities) {
    let key = |ra: &rolecall::model::RoleAssignment| format!("{ra:?}");
    for r in e.roles.values_mut() {
        r.permissions.sort();
    }
    for d in e.directories.values_mut() {
        d.domains.sort();
    }
    for u in e.users.values_mut() {
        u.groups.sort();
        u.role_assignments.sort_by_key(key);
    }
    for g in e.groups.values_mut() {
        g.parents.sort();
        g.role_assignments.sort_by_key(key);
    }
}

/// `state` with `delta` applied (by the model's own `State::apply`), as entities.
fn applied(state: &State, delta: &Delta) -> Entities {
    let mut state = state.clone();
    state.apply(delta);
    entities(&state)
}

struct Fixture {
    _db: TestDb,
    store: TestStore,
    /// States seen, by revision.
    seen: Vec<State>,
}

impl Fixture {
    async fn new(backend: Backend) -> Self {
        let db = TestDb::new(backend).await;
        let store = db.open().await;
        let file = DataFile::parse(BASE, Format::Yaml, "base.yaml").unwrap();
        store.import(&file).await.unwrap();
        let state = store.load_state().await.unwrap();
        Self {
            _db: db,
            store,
            seen: vec![state],
        }
    }

    /// Checks that the delta from the last state seen leads to the state now,
    /// and remembers the state now.
    async fn step(&mut self, what: &str) {
        let before = self.seen.last().unwrap().clone();
        let now = self.store.load_state().await.unwrap();
        assert!(now.revision > before.revision, "{what}: wrote nothing");
        let delta = self
            .store
            .delta(before.revision, 100_000)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{what}: no delta"));
        assert_eq!(
            (delta.from, delta.revision),
            (before.revision, now.revision),
            "{what}"
        );
        assert!(!delta.is_empty(), "{what}: empty delta");
        assert_eq!(
            applied(&before, &delta),
            entities(&now),
            "{what}: delta {delta:#?}"
        );
        self.seen.push(now);
    }
}

fn dir() -> DirectoryId {
    DirectoryId::new_unchecked("dir_acme".to_owned())
}

backend_tests!(every_write_is_carried_by_its_delta);
async fn every_write_is_carried_by_its_delta(backend: Backend) {
    let mut f = Fixture::new(backend).await;
    let store = &f.store;
    let carol = store
        .create_user(
            &dir(),
            UserWrite {
                user_name: "carol@acme.com".into(),
                external_id: None,
                display_name: None,
                active: true,
                emails: vec![],
                document: json!({"userName": "carol@acme.com"}),
            },
        )
        .await
        .unwrap()
        .record
        .id;
    f.step("SCIM user create").await;

    let store = &f.store;
    let ops = store
        .create_group(
            &dir(),
            GroupWrite {
                display_name: "Ops".into(),
                external_id: None,
                document: json!({"displayName": "Ops"}),
            },
            vec![carol.clone(), "g_admins".into()],
        )
        .await
        .unwrap()
        .record
        .id;
    f.step("SCIM group create with a user and a nested group")
        .await;

    f.store
        .update_group(
            &dir(),
            &ops,
            None,
            MembersChange {
                replace: None,
                add: vec!["u_bob".into()],
                remove: vec![carol.clone()],
            },
            None,
        )
        .await
        .unwrap();
    f.step("SCIM member add and remove").await;

    f.store
        .set_role_assignments(
            "test",
            &dir(),
            &SubjectId::Group(ops.clone()),
            &[AssignmentSpec {
                role: RoleName::new_unchecked("test_refunds".to_owned()),
                scope: Scope::Account(rolecall::model::AccountId::new_unchecked(
                    "acct_us".to_owned(),
                )),
            }],
        )
        .await
        .unwrap();
    f.step("group role assignments").await;

    f.store
        .update_directory(
            "test",
            &dir(),
            &DirectoryChange {
                domains: Some(vec!["acme.com".into(), "acme.io".into()]),
                mode: Some(Mode::Saml),
                enforce_domains: None,
            },
        )
        .await
        .unwrap();
    f.step("directory mode and domains").await;

    f.store
        .put_role(
            "test",
            &RoleName::new_unchecked("test_refunds".to_owned()),
            "Refunds",
            &[PermissionPattern::parse("refunds.read").unwrap()],
        )
        .await
        .unwrap();
    f.step("role permissions").await;

    f.store
        .move_account(
            "test",
            &rolecall::model::AccountId::new_unchecked("acct_eu".to_owned()),
            None,
        )
        .await
        .unwrap();
    f.step("account moved out of its organization").await;

    f.store
        .rename_organization(
            "test",
            &OrganizationId::new_unchecked("org_acme".to_owned()),
            "Acme Inc",
        )
        .await
        .unwrap();
    f.step("organization renamed").await;

    f.store
        .delete_role(
            "test",
            &RoleName::new_unchecked("test_refunds".to_owned()),
            true,
        )
        .await
        .unwrap();
    f.step("role deleted with its assignments").await;

    f.store
        .delete_group(&dir(), "g_admins", None)
        .await
        .unwrap();
    f.step("group deleted: its members and nested groups lose it")
        .await;

    f.store.delete_user(&dir(), "u_bob", None).await.unwrap();
    f.step("user deleted").await;

    let file = DataFile::parse(
        "users: [{directory: dir_acme, userName: alice@acme.com, active: false}]",
        Format::Yaml,
        "update.yaml",
    )
    .unwrap();
    f.store.import(&file).await.unwrap();
    f.step("import deactivates a user").await;

    // One delta across all of it leads from the first state to the last.
    let first = f.seen.first().unwrap();
    let last = f.seen.last().unwrap();
    let delta = f
        .store
        .delta(first.revision, 100_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delta.revision, last.revision);
    assert_eq!(applied(first, &delta), entities(last));

    // Applying a delta twice, or to any state in its range, gives the same.
    let middle = &f.seen[f.seen.len() / 2];
    let mut from_middle = middle.clone();
    from_middle.apply(&delta);
    from_middle.apply(&delta);
    assert_eq!(entities(&from_middle), entities(last));
}

backend_tests!(the_store_says_when_it_cannot_give_a_delta);
async fn the_store_says_when_it_cannot_give_a_delta(backend: Backend) {
    let f = Fixture::new(backend).await;
    let revision = f.store.revision().await.unwrap();
    // Up to date: an empty delta.
    let same = f.store.delta(revision, 10).await.unwrap().unwrap();
    assert!(same.is_empty());
    assert_eq!((same.from, same.revision), (revision, revision));
    // Ahead of the store (another database): no delta.
    assert!(f.store.delta(revision + 1, 10).await.unwrap().is_none());
    // More entities than asked for: no delta.
    assert!(f.store.delta(revision - 1, 2).await.unwrap().is_none());
    // Before the table existed (revision 0 of a new store is fine: its keys
    // are all there).
    let all = f.store.delta(0, 100_000).await.unwrap().unwrap();
    assert_eq!(
        applied(&State::default(), &all),
        entities(f.seen.last().unwrap())
    );
}
