//! The SCIM side of the store over real databases (SQLite, and PostgreSQL
//! when `ROLECALL_TEST_POSTGRES_URL` is set): tokens, users, groups
//! and members, tenant isolation, revisions and the change log, the state
//! the decision reads, the sync log, and the upgrade from schema version 1.
//!
//! Revisions are counted from the one the store is at after the test's own
//! setup (the default role catalog and a small data file).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Instant;

use rolecall::datafile::{DataFile, Format};
use rolecall::model::{DirectoryId, Member, Mode, State, Subject};
use rolecall::store::scim::{
    GroupLookup, GroupRecord, GroupWrite, MemberKind, MembersChange, SyncLogEntry, UserLookup,
    UserRecord, UserWrite,
};
use rolecall::store::sqlite::SqliteStore;
use rolecall::store::{Store, StoreError};
use serde_json::json;
use tempfile::TempDir;

#[macro_use]
#[path = "common/stores.rs"]
mod stores;

use stores::{Backend, TestDb, TestStore};

const BASE: &str = r#"
organizations:
  - {id: org_a, name: A}
accounts:
  - {id: acct_a1, name: A1, organization: org_a}
  - {id: acct_b, name: B}
directories:
  - {id: dir_a, owner: {organization: org_a}, domains: [a.com, a.org]}
  - {id: dir_b, owner: {account: acct_b}, domains: [b.com], mode: saml}
roles:
  - {name: test_admin, description: Everything, permissions: ["*"]}
"#;

fn yaml(text: &str) -> DataFile {
    DataFile::parse(text, Format::Yaml, "test.yaml").expect("test data parses")
}

fn db_path(dir: &TempDir) -> PathBuf {
    dir.path().join("rolecall.db")
}

fn url(path: &Path) -> String {
    format!("sqlite://{}", path.display())
}

fn dir_a() -> DirectoryId {
    DirectoryId::new_unchecked("dir_a")
}

fn dir_b() -> DirectoryId {
    DirectoryId::new_unchecked("dir_b")
}

/// A new database of `backend` with [`BASE`] imported, a store on it, and
/// its revision.
async fn fresh(backend: Backend) -> (TestDb, TestStore, u64) {
    let db = TestDb::new(backend).await;
    let store = db.open().await;
    let out = store.import(&yaml(BASE)).await.expect("base imports");
    (db, store, out.revision)
}

fn user(name: &str, emails: &[&str]) -> UserWrite {
    UserWrite {
        user_name: name.to_owned(),
        external_id: None,
        display_name: None,
        active: true,
        emails: emails.iter().map(|e| (*e).to_owned()).collect(),
        document: json!({
            "userName": name,
            "emails": emails.iter().map(|e| json!({"value": e, "type": "work"})).collect::<Vec<_>>(),
        }),
    }
}

fn group(name: &str) -> GroupWrite {
    GroupWrite {
        display_name: name.to_owned(),
        external_id: None,
        document: json!({"displayName": name}),
    }
}

fn ids(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

fn add(list: &[&str]) -> MembersChange {
    MembersChange {
        add: ids(list),
        ..MembersChange::default()
    }
}

fn user_ids(users: &[UserRecord]) -> Vec<&str> {
    users.iter().map(|u| u.id.as_str()).collect()
}

fn group_ids(groups: &[GroupRecord]) -> Vec<&str> {
    groups.iter().map(|g| g.id.as_str()).collect()
}

/// The members of `group` in the state: (is a user, id).
fn state_members(state: &State, group: &str) -> BTreeSet<(bool, String)> {
    state
        .memberships
        .iter()
        .filter(|m| m.group.as_str() == group)
        .map(|m| match &m.member {
            Member::User(u) => (true, u.as_str().to_owned()),
            Member::Group(g) => (false, g.as_str().to_owned()),
        })
        .collect()
}

fn member_ids(g: &GroupRecord) -> BTreeSet<String> {
    g.members
        .as_ref()
        .expect("members were asked for")
        .iter()
        .map(|m| m.id.clone())
        .collect()
}

fn set(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

// --- tokens ----------------------------------------------------------------

backend_tests!(tokens_authenticate_rotate_and_revoke);
async fn tokens_authenticate_rotate_and_revoke(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let (t1, s1) = store.create_scim_token(&dir_a()).await.unwrap();
    let (t2, s2) = store.create_scim_token(&dir_a()).await.unwrap();
    let (tb, sb) = store.create_scim_token(&dir_b()).await.unwrap();

    for (t, s) in [(&t1, &s1), (&t2, &s2), (&tb, &sb)] {
        assert!(s.starts_with("rcs_"), "{s}");
        assert_eq!(s.len(), 4 + 43);
        assert_eq!(t.prefix, s[4..12]);
        assert!(t.id.starts_with("tok_"));
        assert_eq!(t.last_used_ms, None);
        assert_eq!(t.revoked_ms, None);
    }
    assert_eq!(t1.directory, dir_a());
    assert_ne!(t1.id, t2.id);
    assert_ne!(s1, s2);

    // Two live tokens at once: rotation.
    assert_eq!(
        store.authenticate_scim(&s1).await.unwrap(),
        Some((dir_a(), t1.id.clone()))
    );
    assert_eq!(
        store.authenticate_scim(&s2).await.unwrap(),
        Some((dir_a(), t2.id.clone()))
    );
    assert_eq!(
        store.authenticate_scim(&sb).await.unwrap(),
        Some((dir_b(), tb.id.clone()))
    );

    // Wrong secrets.
    for wrong in [
        "",
        "rcs_",
        "rcs_nope",
        &s1[..s1.len() - 1],
        &format!("{s1}x"),
        &s1.to_uppercase(),
        &format!(" {s1}"),
    ] {
        assert_eq!(
            store.authenticate_scim(wrong).await.unwrap(),
            None,
            "{wrong:?}"
        );
    }

    // The use is recorded.
    let listed = store.list_scim_tokens(&dir_a()).await.unwrap();
    assert_eq!(
        listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        vec![t1.id.as_str(), t2.id.as_str()]
    );
    assert!(listed.iter().all(|t| t.last_used_ms.is_some()));
    assert!(listed.iter().all(|t| t.prefix.len() == 8));

    // Revoke the old one: the new one goes on working.
    store.revoke_scim_token(&dir_a(), &t1.id).await.unwrap();
    assert_eq!(store.authenticate_scim(&s1).await.unwrap(), None);
    assert_eq!(
        store.authenticate_scim(&s2).await.unwrap(),
        Some((dir_a(), t2.id.clone()))
    );
    let listed = store.list_scim_tokens(&dir_a()).await.unwrap();
    let revoked_at = listed[0].revoked_ms.expect("t1 is revoked");
    assert_eq!(listed[1].revoked_ms, None);
    // Revoking again is fine and keeps the first time.
    store.revoke_scim_token(&dir_a(), &t1.id).await.unwrap();
    assert_eq!(
        store.list_scim_tokens(&dir_a()).await.unwrap()[0].revoked_ms,
        Some(revoked_at)
    );

    // Another directory's token, an unknown token, an unknown directory.
    assert!(matches!(
        store.revoke_scim_token(&dir_a(), &tb.id).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.revoke_scim_token(&dir_a(), "tok_nope").await,
        Err(StoreError::NotFound { .. })
    ));
    let nowhere = DirectoryId::new_unchecked("dir_nowhere");
    assert!(matches!(
        store.create_scim_token(&nowhere).await,
        Err(StoreError::NotFound {
            what: "directory",
            ..
        })
    ));
    assert!(matches!(
        store.list_scim_tokens(&nowhere).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        store.authenticate_scim(&sb).await.unwrap(),
        Some((dir_b(), tb.id.clone()))
    );

    // Tokens decide nothing: no revision.
    assert_eq!(store.revision().await.unwrap(), r0);
    assert!(store.changes_since(r0, 10).await.unwrap().is_empty());
}

backend_tests!(tokens_survive_a_restart_and_their_secrets_are_never_stored);
async fn tokens_survive_a_restart_and_their_secrets_are_never_stored(backend: Backend) {
    let (tmp, store, _) = fresh(backend).await;
    let (t, secret) = store.create_scim_token(&dir_a()).await.unwrap();
    assert!(store.authenticate_scim(&secret).await.unwrap().is_some());
    store.close().await;
    drop(store);

    // Every file of the database (main, WAL, shared memory); on PostgreSQL,
    // every column of every token row.
    if tmp.dir().is_none() {
        let mut conn = stores::admin_connection(tmp.url()).await;
        let rows: Vec<String> =
            sqlx::query_scalar("SELECT row_to_json(t)::text FROM scim_tokens t")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(rows.len(), 1);
        assert!(
            !rows[0].contains(&secret[4..]),
            "the secret is stored: {}",
            rows[0]
        );
    }
    let files = tmp.dir().map(|d| std::fs::read_dir(d).unwrap());
    for entry in files.into_iter().flatten() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        for needle in [secret.as_bytes(), &secret.as_bytes()[4..]] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the secret is in {}",
                path.display()
            );
        }
    }

    let store = tmp.open().await;
    assert_eq!(
        store.authenticate_scim(&secret).await.unwrap(),
        Some((dir_a(), t.id))
    );
}

// --- users -----------------------------------------------------------------

backend_tests!(users_create_get_find_replace_delete);
async fn users_create_get_find_replace_delete(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let dir = dir_a();

    let mut w = user("Alice@A.com", &["Alice@A.com", "alice.work@a.org"]);
    w.external_id = Some("okta-1".to_owned());
    w.display_name = Some("Alice".to_owned());
    let alice = store.create_user(&dir, w.clone()).await.unwrap();
    assert_eq!(alice.revision, r0 + 1);
    assert!(alice.skipped_members.is_empty());
    let a = &alice.record;
    assert_eq!(a.id.len(), 36);
    assert_eq!(&a.id[14..15], "4");
    assert_eq!(a.version, 1);
    assert_eq!(a.directory, dir);
    assert_eq!(a.created_ms, a.updated_ms);
    assert_eq!(store.get_user(&dir, &a.id).await.unwrap().as_ref(), Some(a));

    let bob = store
        .create_user(&dir, user("bob@a.com", &["BOB@a.com"]))
        .await
        .unwrap();
    assert_eq!(bob.revision, r0 + 2);
    let b = &bob.record;

    // userName is unique in the directory, case-insensitively.
    match store.create_user(&dir, user("ALICE@a.COM", &[])).await {
        Err(StoreError::Conflict { attribute, message }) => {
            assert_eq!(attribute, "userName");
            assert!(message.contains("ALICE@a.COM"), "{message}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.revision().await.unwrap(), r0 + 2);

    // Lookups.
    let find = |l: UserLookup| {
        let store = &store;
        let dir = dir.clone();
        async move { store.find_users(&dir, &l).await.unwrap() }
    };
    assert_eq!(
        user_ids(&find(UserLookup::All).await),
        vec![a.id.as_str(), b.id.as_str()]
    );
    assert_eq!(
        user_ids(&find(UserLookup::UserName("aLiCe@a.CoM".into())).await),
        vec![a.id.as_str()]
    );
    assert_eq!(
        user_ids(&find(UserLookup::Email("ALICE.WORK@A.ORG".into())).await),
        vec![a.id.as_str()]
    );
    assert_eq!(
        user_ids(&find(UserLookup::Email("bob@A.com".into())).await),
        vec![b.id.as_str()]
    );
    assert_eq!(
        user_ids(&find(UserLookup::ExternalId("okta-1".into())).await),
        vec![a.id.as_str()]
    );
    assert!(
        find(UserLookup::ExternalId("OKTA-1".into()))
            .await
            .is_empty(),
        "externalId is exact"
    );
    assert_eq!(
        user_ids(&find(UserLookup::Id(b.id.clone())).await),
        vec![b.id.as_str()]
    );
    assert!(find(UserLookup::Id("nope".into())).await.is_empty());
    assert!(
        find(UserLookup::Email("nobody@a.com".into()))
            .await
            .is_empty()
    );
    let found = &find(UserLookup::Id(a.id.clone())).await[0];
    assert_eq!(found.emails, vec!["Alice@A.com", "alice.work@a.org"]);
    assert_eq!(found.external_id.as_deref(), Some("okta-1"));
    assert_eq!(found.display_name.as_deref(), Some("Alice"));
    assert_eq!(found.document, w.document);

    // Replace: If-Match, then for real.
    let mut w2 = user("alice@a.com", &["alice@a.org"]);
    w2.active = false;
    match store.replace_user(&dir, &a.id, w2.clone(), Some(7)).await {
        Err(StoreError::VersionMismatch { current }) => assert_eq!(current, 1),
        other => panic!("expected a version mismatch, got {other:?}"),
    }
    assert_eq!(store.revision().await.unwrap(), r0 + 2);
    let replaced = store
        .replace_user(&dir, &a.id, w2.clone(), Some(1))
        .await
        .unwrap();
    assert_eq!(replaced.revision, r0 + 3);
    assert_eq!(replaced.record.version, 2);
    assert_eq!(replaced.record.created_ms, a.created_ms);
    assert!(!replaced.record.active);
    assert_eq!(replaced.record.user_name, "alice@a.com");
    assert_eq!(
        store.get_user(&dir, &a.id).await.unwrap().as_ref(),
        Some(&replaced.record)
    );
    // The email index follows.
    assert!(
        find(UserLookup::Email("alice.work@a.org".into()))
            .await
            .is_empty()
    );
    assert_eq!(
        user_ids(&find(UserLookup::Email("ALICE@a.org".into())).await),
        vec![a.id.as_str()]
    );
    // A replace that changes nothing writes nothing.
    let same = store
        .replace_user(&dir, &a.id, w2.clone(), None)
        .await
        .unwrap();
    assert_eq!(same.revision, r0 + 3);
    assert_eq!(same.record, replaced.record);
    assert_eq!(store.revision().await.unwrap(), r0 + 3);
    // Taking another user's userName.
    assert!(matches!(
        store
            .replace_user(&dir, &a.id, user("BOB@a.com", &[]), None)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    // Changing only the case of one's own userName is fine.
    let cased = store
        .replace_user(&dir, &a.id, user("ALICE@a.com", &["alice@a.org"]), None)
        .await
        .unwrap();
    assert_eq!(cased.record.version, 3);
    assert_eq!(cased.revision, r0 + 4);
    assert!(matches!(
        store
            .replace_user(&dir, "nope", user("x@a.com", &[]), None)
            .await,
        Err(StoreError::NotFound { what: "user", .. })
    ));

    // Delete: If-Match, then for real; the userName is free again.
    assert!(matches!(
        store.delete_user(&dir, &a.id, Some(1)).await,
        Err(StoreError::VersionMismatch { current: 3 })
    ));
    assert_eq!(store.revision().await.unwrap(), r0 + 4);
    assert_eq!(
        store.delete_user(&dir, &a.id, Some(3)).await.unwrap(),
        r0 + 5
    );
    assert_eq!(store.get_user(&dir, &a.id).await.unwrap(), None);
    assert!(
        find(UserLookup::Email("alice@a.org".into()))
            .await
            .is_empty()
    );
    assert!(matches!(
        store.delete_user(&dir, &a.id, None).await,
        Err(StoreError::NotFound { .. })
    ));
    let again = store
        .create_user(&dir, user("alice@a.com", &["alice@a.org"]))
        .await
        .unwrap();
    assert_ne!(again.record.id, a.id);
    assert_eq!(again.revision, r0 + 6);

    let kinds: Vec<String> = store
        .changes_since(r0, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "scim.user.create",
            "scim.user.create",
            "scim.user.replace",
            "scim.user.replace",
            "scim.user.delete",
            "scim.user.create",
        ]
    );
    let change = &store.changes_since(r0, 1).await.unwrap()[0];
    let detail: serde_json::Value = serde_json::from_str(&change.detail).unwrap();
    assert_eq!(detail["directory"], "dir_a");
    assert_eq!(detail["id"], a.id.as_str());
}

backend_tests!(directories_are_isolated);
async fn directories_are_isolated(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let a = store
        .create_user(&dir_a(), user("pat@a.com", &["pat@a.com"]))
        .await
        .unwrap()
        .record;
    // The same userName in another directory is another user.
    let b = store
        .create_user(&dir_b(), user("pat@a.com", &["pat@a.com"]))
        .await
        .unwrap()
        .record;
    let gb = store
        .create_group(&dir_b(), group("Team"), vec![b.id.clone()])
        .await
        .unwrap()
        .record;
    let r = store.revision().await.unwrap();

    assert_eq!(store.get_user(&dir_a(), &b.id).await.unwrap(), None);
    assert!(matches!(
        store
            .replace_user(&dir_a(), &b.id, user("x@a.com", &[]), None)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_user(&dir_a(), &b.id, None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(
        user_ids(
            &store
                .find_users(&dir_a(), &UserLookup::Email("PAT@a.com".into()))
                .await
                .unwrap()
        ),
        vec![a.id.as_str()]
    );
    assert_eq!(
        user_ids(
            &store
                .find_users(&dir_a(), &UserLookup::Id(b.id.clone()))
                .await
                .unwrap()
        ),
        Vec::<&str>::new()
    );
    assert!(store.user_groups(&dir_a(), &b.id).await.unwrap().is_empty());
    assert_eq!(store.get_group(&dir_a(), &gb.id, true).await.unwrap(), None);
    assert!(matches!(
        store
            .update_group(&dir_a(), &gb.id, None, add(&[&a.id]), None)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.delete_group(&dir_a(), &gb.id, None).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.revision().await.unwrap(), r);

    // B's user and group cannot become members of A's group.
    let ga = store
        .create_group(&dir_a(), group("Team"), ids(&[&b.id, &gb.id, &a.id]))
        .await
        .unwrap();
    assert_eq!(ga.skipped_members, ids(&[&b.id, &gb.id]));
    assert_eq!(member_ids(&ga.record), set(&[&a.id]));
    let up = store
        .update_group(&dir_a(), &ga.record.id, None, add(&[&b.id]), None)
        .await
        .unwrap();
    assert_eq!(up.skipped_members, ids(&[&b.id]));
    assert_eq!(up.revision, r + 1, "nothing changed");
    // B's group is untouched.
    let gb_now = store
        .get_group(&dir_b(), &gb.id, true)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member_ids(&gb_now), set(&[&b.id]));
    assert_eq!(gb_now.version, 1);
}

// --- groups ----------------------------------------------------------------

backend_tests!(groups_create_with_members_and_find);
async fn groups_create_with_members_and_find(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let dir = dir_a();
    let mut aw = user("alice@a.com", &[]);
    aw.display_name = Some("Alice A.".to_owned());
    let alice = store.create_user(&dir, aw).await.unwrap().record;
    let bob = store
        .create_user(&dir, user("bob@a.com", &[]))
        .await
        .unwrap()
        .record;
    let sub = store
        .create_group(&dir, group("Sub"), vec![bob.id.clone()])
        .await
        .unwrap()
        .record;
    let mut gw = group("Engineering");
    gw.external_id = Some("ext-eng".to_owned());
    let eng = store
        .create_group(
            &dir,
            gw,
            ids(&[
                &alice.id,
                "unknown-1",
                &sub.id,
                &alice.id,
                "unknown-1",
                &bob.id,
            ]),
        )
        .await
        .unwrap();
    assert_eq!(eng.revision, r0 + 4);
    assert_eq!(eng.skipped_members, ids(&["unknown-1"]));
    let g = &eng.record;
    assert_eq!(g.version, 1);
    assert_eq!(g.member_count, 3);
    let members = g.members.as_ref().unwrap();
    let shown: Vec<(MemberKind, &str, Option<&str>)> = members
        .iter()
        .map(|m| (m.kind, m.id.as_str(), m.display.as_deref()))
        .collect();
    let mut expected = vec![
        (MemberKind::User, alice.id.as_str(), Some("Alice A.")),
        (MemberKind::User, bob.id.as_str(), Some("bob@a.com")),
    ];
    expected.sort_by_key(|e| e.1);
    expected.push((MemberKind::Group, sub.id.as_str(), Some("Sub")));
    assert_eq!(shown, expected);

    // Without members: counted, not listed.
    let plain = store.get_group(&dir, &g.id, false).await.unwrap().unwrap();
    assert_eq!(plain.members, None);
    assert_eq!(plain.member_count, 3);
    assert_eq!(plain.external_id.as_deref(), Some("ext-eng"));
    assert_eq!(plain.document, json!({"displayName": "Engineering"}));
    assert_eq!(
        store.get_group(&dir, &g.id, true).await.unwrap().as_ref(),
        Some(g)
    );

    // displayName is unique, case-insensitively.
    assert!(matches!(
        store.create_group(&dir, group("ENGINEERING"), vec![]).await,
        Err(StoreError::Conflict { attribute, .. }) if attribute == "displayName"
    ));

    let find = |l: GroupLookup| {
        let store = &store;
        let dir = dir.clone();
        async move { store.find_groups(&dir, &l, false).await.unwrap() }
    };
    assert_eq!(
        group_ids(&find(GroupLookup::All).await),
        vec![sub.id.as_str(), g.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::DisplayName("engineering".into())).await),
        vec![g.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::ExternalId("ext-eng".into())).await),
        vec![g.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::Id(sub.id.clone())).await),
        vec![sub.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::Member(bob.id.clone())).await),
        vec![sub.id.as_str(), g.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::Member(alice.id.clone())).await),
        vec![g.id.as_str()]
    );
    assert_eq!(
        group_ids(&find(GroupLookup::Member(sub.id.clone())).await),
        vec![g.id.as_str()]
    );
    assert!(
        find(GroupLookup::Member("unknown-1".into()))
            .await
            .is_empty()
    );
    let with = store
        .find_groups(&dir, &GroupLookup::DisplayName("SUB".into()), true)
        .await
        .unwrap();
    assert_eq!(member_ids(&with[0]), set(&[&bob.id]));

    let mut of_bob = store.user_groups(&dir, &bob.id).await.unwrap();
    of_bob.sort();
    let mut want = vec![
        (g.id.clone(), "Engineering".to_owned()),
        (sub.id.clone(), "Sub".to_owned()),
    ];
    want.sort();
    assert_eq!(of_bob, want);

    // The state the decision reads has them.
    let state = store.load_state().await.unwrap();
    assert_eq!(state.revision, r0 + 4);
    assert_eq!(
        state_members(&state, &g.id),
        [
            (true, alice.id.clone()),
            (true, bob.id.clone()),
            (false, sub.id.clone())
        ]
        .into_iter()
        .collect()
    );
    assert!(state.users.iter().any(|u| u.id.as_str() == alice.id));
    assert!(
        state
            .groups
            .iter()
            .any(|x| x.id.as_str() == g.id && x.display_name == "Engineering")
    );
}

backend_tests!(groups_update_members_and_attributes);
async fn groups_update_members_and_attributes(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let dir = dir_a();
    let mut u = Vec::new();
    for i in 0..5 {
        u.push(
            store
                .create_user(&dir, user(&format!("u{i}@a.com"), &[]))
                .await
                .unwrap()
                .record
                .id,
        );
    }
    let other = store
        .create_group(&dir, group("Other"), vec![])
        .await
        .unwrap()
        .record;
    let g = store
        .create_group(&dir, group("G"), ids(&[&u[0], &u[1]]))
        .await
        .unwrap()
        .record;
    let r = store.revision().await.unwrap();

    // Add (one already there, one unknown, the group itself, a nested group).
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            add(&[&u[1], &u[2], "ghost", &g.id, &other.id]),
            None,
        )
        .await
        .unwrap();
    assert_eq!(w.revision, r + 1);
    assert_eq!(w.record.version, 2);
    assert_eq!(w.record.member_count, 4);
    assert_eq!(w.record.members, None);
    assert_eq!(w.skipped_members, ids(&["ghost", &g.id]));
    let got = store.get_group(&dir, &g.id, true).await.unwrap().unwrap();
    assert_eq!(member_ids(&got), set(&[&u[0], &u[1], &u[2], &other.id]));

    // Remove.
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                remove: ids(&[&u[0], &other.id, &u[4]]),
                ..MembersChange::default()
            },
            Some(2),
        )
        .await
        .unwrap();
    assert_eq!(w.revision, r + 2);
    assert_eq!(w.record.version, 3);
    assert_eq!(w.record.member_count, 2);
    assert!(w.skipped_members.is_empty());

    // Replace, then add, then remove, in one update.
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                replace: Some(ids(&[&u[3], &u[4], "ghost"])),
                add: ids(&[&u[0]]),
                remove: ids(&[&u[4]]),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(w.revision, r + 3);
    assert_eq!(w.skipped_members, ids(&["ghost"]));
    let got = store.get_group(&dir, &g.id, true).await.unwrap().unwrap();
    assert_eq!(member_ids(&got), set(&[&u[3], &u[0]]));
    assert_eq!(got.version, 4);

    // No-ops: adding present members, removing absent ones, replacing with
    // the same list, renaming to the same name. Nothing is written.
    let before = store.get_group(&dir, &g.id, false).await.unwrap().unwrap();
    for change in [
        add(&[&u[0], &u[3]]),
        MembersChange {
            remove: ids(&[&u[1], "ghost"]),
            ..MembersChange::default()
        },
        MembersChange {
            replace: Some(ids(&[&u[0], &u[3]])),
            ..MembersChange::default()
        },
        MembersChange::default(),
    ] {
        let w = store
            .update_group(&dir, &g.id, Some(group("G")), change, Some(4))
            .await
            .unwrap();
        assert_eq!(w.revision, r + 3);
        assert_eq!(w.record, before);
    }
    assert_eq!(store.revision().await.unwrap(), r + 3);

    // Attributes: rename, externalId, document; conflicts and If-Match.
    assert!(matches!(
        store
            .update_group(
                &dir,
                &g.id,
                Some(group("other")),
                MembersChange::default(),
                None
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store
            .update_group(
                &dir,
                &g.id,
                Some(group("H")),
                MembersChange::default(),
                Some(3)
            )
            .await,
        Err(StoreError::VersionMismatch { current: 4 })
    ));
    assert!(matches!(
        store
            .update_group(&dir, "nope", None, add(&[&u[0]]), None)
            .await,
        Err(StoreError::NotFound { what: "group", .. })
    ));
    assert_eq!(store.revision().await.unwrap(), r + 3);
    let mut h = group("H");
    h.external_id = Some("ext-h".to_owned());
    let w = store
        .update_group(
            &dir,
            &g.id,
            Some(h.clone()),
            MembersChange::default(),
            Some(4),
        )
        .await
        .unwrap();
    assert_eq!(w.revision, r + 4);
    assert_eq!(w.record.display_name, "H");
    assert_eq!(w.record.external_id.as_deref(), Some("ext-h"));
    assert_eq!(w.record.document, h.document);
    assert_eq!(w.record.version, 5);
    assert_eq!(w.record.member_count, 2);
    // The old name is free.
    store.create_group(&dir, group("g"), vec![]).await.unwrap();

    // Replace with nothing empties the group.
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                replace: Some(vec![]),
                ..MembersChange::default()
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!(w.record.member_count, 0);
    let state = store.load_state().await.unwrap();
    assert!(state_members(&state, &g.id).is_empty());

    let kinds: Vec<String> = store
        .changes_since(r, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.kind)
        .collect();
    assert_eq!(
        kinds,
        vec![
            "scim.group.update",
            "scim.group.update",
            "scim.group.update",
            "scim.group.update",
            "scim.group.create",
            "scim.group.update",
        ]
    );
}

backend_tests!(deletes_cascade_to_memberships_and_role_assignments);
async fn deletes_cascade_to_memberships_and_role_assignments(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let dir = dir_a();
    let alice = store
        .create_user(&dir, user("alice@a.com", &[]))
        .await
        .unwrap()
        .record;
    let bob = store
        .create_user(&dir, user("bob@a.com", &[]))
        .await
        .unwrap()
        .record;
    let inner = store
        .create_group(&dir, group("Inner"), ids(&[&alice.id]))
        .await
        .unwrap()
        .record;
    let outer = store
        .create_group(&dir, group("Outer"), ids(&[&inner.id, &bob.id, &alice.id]))
        .await
        .unwrap()
        .record;
    store
        .import(&yaml(
            r#"
role_assignments:
  - {directory: dir_a, group: Inner, role: test_admin, scope: {account: acct_a1}}
  - {directory: dir_a, group: outer, role: test_admin, scope: {organization: org_a}}
  - {directory: dir_a, user: ALICE@a.com, role: test_admin, scope: {account: acct_a1}}
"#,
        ))
        .await
        .unwrap();
    let state = store.load_state().await.unwrap();
    assert_eq!(state.role_assignments.len(), 3);

    // A group's If-Match, then its deletion.
    assert!(matches!(
        store.delete_group(&dir, &inner.id, Some(9)).await,
        Err(StoreError::VersionMismatch { current: 1 })
    ));
    let r = store.revision().await.unwrap();
    assert_eq!(
        store.delete_group(&dir, &inner.id, Some(1)).await.unwrap(),
        r + 1
    );
    let state = store.load_state().await.unwrap();
    assert_eq!(state.revision, r + 1);
    assert!(!state.groups.iter().any(|g| g.id.as_str() == inner.id));
    assert!(state_members(&state, &inner.id).is_empty());
    assert_eq!(
        state_members(&state, &outer.id),
        [(true, alice.id.clone()), (true, bob.id.clone())]
            .into_iter()
            .collect(),
        "it left the groups it was a member of"
    );
    assert!(
        !state
            .role_assignments
            .iter()
            .any(|a| matches!(&a.subject, Subject::Group(g) if g.as_str() == inner.id))
    );
    assert_eq!(state.role_assignments.len(), 2);
    assert_eq!(
        store
            .get_group(&dir, &outer.id, false)
            .await
            .unwrap()
            .unwrap()
            .member_count,
        2
    );
    assert!(matches!(
        store.delete_group(&dir, &inner.id, None).await,
        Err(StoreError::NotFound { .. })
    ));

    // A user's deletion takes their memberships and assignments.
    assert_eq!(
        store.delete_user(&dir, &alice.id, None).await.unwrap(),
        r + 2
    );
    let state = store.load_state().await.unwrap();
    assert_eq!(
        state_members(&state, &outer.id),
        [(true, bob.id.clone())].into_iter().collect()
    );
    assert!(!state.users.iter().any(|u| u.id.as_str() == alice.id));
    assert_eq!(state.role_assignments.len(), 1);
    assert!(matches!(
        &state.role_assignments[0].subject,
        Subject::Group(g) if g.as_str() == outer.id
    ));
    assert_eq!(
        store
            .changes_since(r, 10)
            .await
            .unwrap()
            .iter()
            .map(|c| c.kind.as_str())
            .collect::<Vec<_>>(),
        vec!["scim.group.delete", "scim.user.delete"]
    );
}

backend_tests!(every_write_bumps_the_revision_by_one_and_shows_in_the_state);
async fn every_write_bumps_the_revision_by_one_and_shows_in_the_state(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let dir = dir_a();
    let at = std::cell::Cell::new(r0);
    let check = async |revision: u64, what: &str| {
        let expected = at.get() + 1;
        at.set(expected);
        assert_eq!(revision, expected, "{what}");
        let state = store.load_state().await.unwrap();
        assert_eq!(state.revision, expected, "{what}");
        assert_eq!(
            store.changes_since(expected - 1, 10).await.unwrap().len(),
            1,
            "{what}"
        );
        state
    };

    let u = store.create_user(&dir, user("u@a.com", &[])).await.unwrap();
    let s = check(u.revision, "create user").await;
    let su = s
        .users
        .iter()
        .find(|x| x.id.as_str() == u.record.id)
        .unwrap();
    assert!(su.active);
    assert_eq!(su.user_name, "u@a.com");

    let mut w = user("U@a.com", &[]);
    w.active = false;
    let r = store
        .replace_user(&dir, &u.record.id, w, None)
        .await
        .unwrap();
    let s = check(r.revision, "replace user").await;
    let su = s
        .users
        .iter()
        .find(|x| x.id.as_str() == u.record.id)
        .unwrap();
    assert!(!su.active);
    assert_eq!(su.user_name, "U@a.com");

    let g = store
        .create_group(&dir, group("G"), ids(&[&u.record.id]))
        .await
        .unwrap();
    let s = check(g.revision, "create group").await;
    assert_eq!(state_members(&s, &g.record.id).len(), 1);

    let up = store
        .update_group(
            &dir,
            &g.record.id,
            None,
            MembersChange {
                remove: ids(&[&u.record.id]),
                ..MembersChange::default()
            },
            None,
        )
        .await
        .unwrap();
    let s = check(up.revision, "update group").await;
    assert!(state_members(&s, &g.record.id).is_empty());

    let rev = store.set_domain_enforcement(&dir, false).await.unwrap();
    check(rev, "domain enforcement").await;
    let info = store.directory(&dir).await.unwrap().unwrap();
    assert!(!info.enforce_domains);
    assert_eq!(info.domains, vec!["a.com", "a.org"]);
    assert_eq!(info.mode, Mode::Dashboard);
    // Setting it to what it is writes nothing.
    assert_eq!(
        store.set_domain_enforcement(&dir, false).await.unwrap(),
        at.get()
    );

    let rev = store.delete_group(&dir, &g.record.id, None).await.unwrap();
    let s = check(rev, "delete group").await;
    assert!(s.groups.is_empty());

    let rev = store.delete_user(&dir, &u.record.id, None).await.unwrap();
    let s = check(rev, "delete user").await;
    assert!(s.users.is_empty());

    assert_eq!(store.revision().await.unwrap(), at.get());
    let b = store.directory(&dir_b()).await.unwrap().unwrap();
    assert!(b.enforce_domains);
    assert_eq!(b.mode, Mode::Saml);
    assert_eq!(
        store
            .directory(&DirectoryId::new_unchecked("nope"))
            .await
            .unwrap(),
        None
    );
    assert!(matches!(
        store
            .set_domain_enforcement(&DirectoryId::new_unchecked("nope"), true)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

backend_tests!(ten_thousand_members_in_one_update);
async fn ten_thousand_members_in_one_update(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let dir = dir_a();
    let mut file = String::from("users:\n");
    for i in 0..10_000 {
        file.push_str(&format!(
            "  - {{directory: dir_a, userName: u{i}@a.com, id: user-{i:05}}}\n"
        ));
    }
    store.import(&yaml(&file)).await.unwrap();
    let g = store
        .create_group(&dir, group("Everyone"), vec![])
        .await
        .unwrap()
        .record;
    let r = store.revision().await.unwrap();
    let all: Vec<String> = (0..10_000).map(|i| format!("user-{i:05}")).collect();

    let started = Instant::now();
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                add: all.clone(),
                ..MembersChange::default()
            },
            None,
        )
        .await
        .unwrap();
    let took = started.elapsed();
    eprintln!("adding 10,000 members in one update_group took {took:?}");
    assert_eq!(w.revision, r + 1);
    assert_eq!(w.record.member_count, 10_000);
    assert!(w.skipped_members.is_empty());

    // Again: nothing changes, nothing is written.
    let started = Instant::now();
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                add: all.clone(),
                ..MembersChange::default()
            },
            None,
        )
        .await
        .unwrap();
    eprintln!(
        "adding the same 10,000 members again (no-op) took {:?}",
        started.elapsed()
    );
    assert_eq!(w.revision, r + 1);

    let state = store.load_state().await.unwrap();
    assert_eq!(state_members(&state, &g.id).len(), 10_000);

    // Replace with half of them.
    let started = Instant::now();
    let w = store
        .update_group(
            &dir,
            &g.id,
            None,
            MembersChange {
                replace: Some(all[..5_000].to_vec()),
                ..MembersChange::default()
            },
            None,
        )
        .await
        .unwrap();
    eprintln!(
        "replacing 10,000 members by 5,000 took {:?}",
        started.elapsed()
    );
    assert_eq!(w.record.member_count, 5_000);
    assert_eq!(w.revision, r + 2);

    let started = Instant::now();
    let rev = store.delete_group(&dir, &g.id, None).await.unwrap();
    eprintln!(
        "deleting a group of 5,000 members took {:?}",
        started.elapsed()
    );
    assert_eq!(rev, r + 3);
}

// --- data files ------------------------------------------------------------

backend_tests!(imported_emails_are_indexed);
async fn imported_emails_are_indexed(backend: Backend) {
    let (_tmp, store, _) = fresh(backend).await;
    let dir = dir_a();
    store
        .import(&yaml(
            "users: [{directory: dir_a, userName: kim@a.com, id: u_kim, \
                      emails: [{value: Kim@A.com, primary: true}, kim@a.org]}]",
        ))
        .await
        .unwrap();
    let by = |e: &str| {
        let store = &store;
        let dir = dir.clone();
        let l = UserLookup::Email(e.to_owned());
        async move { store.find_users(&dir, &l).await.unwrap() }
    };
    assert_eq!(user_ids(&by("kim@a.com").await), vec!["u_kim"]);
    assert_eq!(user_ids(&by("KIM@A.ORG").await), vec!["u_kim"]);
    let kim = store.get_user(&dir, "u_kim").await.unwrap().unwrap();
    assert_eq!(kim.emails, vec!["Kim@A.com", "kim@a.org"]);
    assert_eq!(kim.document, serde_json::Value::Null);
    assert_eq!(kim.version, 1);

    // Re-import with other emails: the index follows.
    store
        .import(&yaml(
            "users: [{directory: dir_a, userName: kim@a.com, emails: [kim2@a.com]}]",
        ))
        .await
        .unwrap();
    assert!(by("kim@a.org").await.is_empty());
    assert_eq!(user_ids(&by("Kim2@a.com").await), vec!["u_kim"]);
    assert_eq!(
        store
            .get_user(&dir, "u_kim")
            .await
            .unwrap()
            .unwrap()
            .version,
        2
    );

    // A data file can put a SCIM user into a group, by userName.
    let scim = store
        .create_user(&dir, user("lee@a.com", &["lee@a.com"]))
        .await
        .unwrap()
        .record;
    store
        .import(&yaml(
            "groups: [{directory: dir_a, displayName: Mixed, members: [LEE@a.com, kim@a.com]}]",
        ))
        .await
        .unwrap();
    let mixed = store
        .find_groups(&dir, &GroupLookup::DisplayName("mixed".into()), true)
        .await
        .unwrap();
    assert_eq!(member_ids(&mixed[0]), set(&[&scim.id, "u_kim"]));
}

#[tokio::test]
async fn a_version_1_database_is_upgraded_and_its_emails_indexed() {
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    use sqlx::{Connection, SqlSafeStr};

    let tmp = TempDir::new().unwrap();
    let path = db_path(&tmp);
    {
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .foreign_keys(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&options)
            .await
            .unwrap();
        let v1 = Migration::new(
            1,
            "init".into(),
            MigrationType::Simple,
            include_str!("../migrations/sqlite/0001_init.sql").into_sql_str(),
            false,
        );
        Migrator::with_migrations(vec![v1])
            .run_direct(None, &mut conn, false)
            .await
            .unwrap();
        for sql in [
            "INSERT INTO organizations VALUES ('org_old', 'Old', 0, 0)",
            "INSERT INTO directories (id, owner_organization_id, created_ms, updated_ms) \
             VALUES ('dir_old', 'org_old', 0, 0)",
            "INSERT INTO users (id, directory_id, user_name, user_name_folded, emails, created_ms, updated_ms) \
             VALUES ('u_old', 'dir_old', 'Émile@old.com', 'émile@old.com', \
                     '[{\"value\":\"ÉMILE@Old.com\",\"primary\":true},{\"value\":\"e@old.org\"}]', 0, 0)",
        ] {
            sqlx::query(sql).execute(&mut conn).await.unwrap();
        }
        conn.close().await.unwrap();
    }

    let store = SqliteStore::open(&url(&path)).await.unwrap();
    let dir = DirectoryId::new_unchecked("dir_old");
    for e in ["émile@old.com", "ÉMILE@OLD.COM", "E@old.org"] {
        assert_eq!(
            user_ids(
                &store
                    .find_users(&dir, &UserLookup::Email(e.to_owned()))
                    .await
                    .unwrap()
            ),
            vec!["u_old"],
            "{e}"
        );
    }
    let info = store.directory(&dir).await.unwrap().unwrap();
    assert!(info.enforce_domains, "enforcement is on by default");
    let (_, secret) = store.create_scim_token(&dir).await.unwrap();
    assert!(store.authenticate_scim(&secret).await.unwrap().is_some());
}

#[tokio::test]
async fn an_in_memory_store_does_scim_too() {
    let store = SqliteStore::open("sqlite::memory:").await.unwrap();
    store.import(&yaml(BASE)).await.unwrap();
    let u = store
        .create_user(&dir_a(), user("m@a.com", &["m@a.com"]))
        .await
        .unwrap()
        .record;
    let g = store
        .create_group(&dir_a(), group("M"), ids(&[&u.id, "ghost"]))
        .await
        .unwrap();
    assert_eq!(g.skipped_members, ids(&["ghost"]));
    assert_eq!(
        store
            .find_users(&dir_a(), &UserLookup::Email("M@A.COM".into()))
            .await
            .unwrap()
            .len(),
        1
    );
    let (_, secret) = store.create_scim_token(&dir_a()).await.unwrap();
    assert!(store.authenticate_scim(&secret).await.unwrap().is_some());
}

// --- sync log --------------------------------------------------------------

fn entry(dir: Option<&DirectoryId>, path: &str, status: u16) -> SyncLogEntry {
    SyncLogEntry {
        id: 0,
        at_ms: 1_700_000_000_000,
        directory: dir.cloned(),
        token_id: dir.map(|_| "tok_1".to_owned()),
        method: "POST".to_owned(),
        path: path.to_owned(),
        status,
        scim_type: (status == 409).then(|| "uniqueness".to_owned()),
        detail: (status >= 400).then(|| "userName is taken".to_owned()),
        latency_us: 1234,
        user_agent: Some("Okta SCIM Client 1.0.0".to_owned()),
        changes: (status < 400).then(|| json!({"created": ["u1"], "skipped_members": []})),
        revision: (status < 400).then_some(42),
    }
}

backend_tests!(sync_log_appends_and_pages_newest_first);
async fn sync_log_appends_and_pages_newest_first(backend: Backend) {
    let (_tmp, store, r0) = fresh(backend).await;
    let a = dir_a();
    let b = dir_b();
    for i in 0..10 {
        store
            .append_sync_log(entry(Some(&a), &format!("/Users/{i}"), 201))
            .await
            .unwrap();
    }
    store
        .append_sync_log(entry(Some(&b), "/Groups", 409))
        .await
        .unwrap();
    store
        .append_sync_log(entry(None, "/Users", 401))
        .await
        .unwrap();

    let all = store.sync_log(None, 100, None).await.unwrap();
    assert_eq!(all.len(), 12);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(all[0].directory, None);
    assert_eq!(all[0].status, 401);
    assert_eq!(all[1].directory.as_ref(), Some(&b));
    assert_eq!(all[1].scim_type.as_deref(), Some("uniqueness"));
    assert_eq!(all[1].changes, None);

    let page1 = store.sync_log(Some(&a), 4, None).await.unwrap();
    assert_eq!(
        page1.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        vec!["/Users/9", "/Users/8", "/Users/7", "/Users/6"]
    );
    let mut want = entry(Some(&a), "/Users/9", 201);
    want.id = page1[0].id;
    assert_eq!(page1[0], want, "an entry reads back as written");
    let page2 = store
        .sync_log(Some(&a), 4, Some(page1[3].id))
        .await
        .unwrap();
    assert_eq!(
        page2.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        vec!["/Users/5", "/Users/4", "/Users/3", "/Users/2"]
    );
    let page4 = store
        .sync_log(Some(&a), 4, Some(page2[3].id - 2))
        .await
        .unwrap();
    assert!(page4.is_empty());
    let before_b = store.sync_log(None, 2, Some(all[0].id)).await.unwrap();
    assert_eq!(before_b[0].directory.as_ref(), Some(&b));
    assert_eq!(before_b.len(), 2);

    // The log decides nothing.
    assert_eq!(store.revision().await.unwrap(), r0);
}

backend_tests!(sync_log_is_bounded_per_directory);
async fn sync_log_is_bounded_per_directory(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.open().await.with_sync_log_capacity(200);
    store.import(&yaml(BASE)).await.unwrap();
    let a = dir_a();
    let b = dir_b();
    for i in 0..3 {
        store
            .append_sync_log(entry(Some(&b), &format!("/b/{i}"), 200))
            .await
            .unwrap();
    }
    // 200 per directory, pruned every 2 appends.
    for i in 0..451 {
        store
            .append_sync_log(entry(Some(&a), &format!("/a/{i}"), 200))
            .await
            .unwrap();
        store
            .append_sync_log(entry(None, &format!("/none/{i}"), 401))
            .await
            .unwrap();
    }
    let of_a = store.sync_log(Some(&a), 10_000, None).await.unwrap();
    assert_eq!(of_a.len(), 201, "pruned at the 450th, not yet at the 451st");
    assert_eq!(of_a[0].path, "/a/450", "the newest entries stay");
    assert_eq!(of_a.last().unwrap().path, "/a/250");
    let all = store.sync_log(None, 100_000, None).await.unwrap();
    let unattributed = all.iter().filter(|e| e.directory.is_none()).count();
    assert_eq!(unattributed, 201);
    assert_eq!(
        store.sync_log(Some(&b), 100, None).await.unwrap().len(),
        3,
        "another directory's entries are left alone"
    );
}
