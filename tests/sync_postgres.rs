//! Store replicas over one PostgreSQL: two `rolecall store` processes share a
//! database, and a sidecar watching either one sees the writes made through
//! both, each at the revision its write returned. Runs when
//! `ROLECALL_TEST_POSTGRES_URL` names a server (as `.ci/run` sets it), and
//! fails if that server cannot be reached.

mod common;
#[path = "common/stores.rs"]
mod stores;

use common::procs::{SidecarProc, StoreProc, reason};
use common::{Scim, fixture, import_ok, scim_token};
use rolecall::pb::v1 as pb;
use serde_json::json;
use stores::{Backend, TestDb};

const READERS: &str = r#"
groups:
  - {directory: dir_acme, displayName: Readers, id: g_readers, members: []}
role_assignments:
  - {directory: dir_acme, group: Readers, role: scim_charges_reader, scope: {organization: org_acme}}
"#;

fn revision_of(r: &common::HttpResponse) -> u64 {
    r.header("rolecall-revision")
        .unwrap_or_else(|| panic!("no Rolecall-Revision header: {r:?}"))
        .parse()
        .unwrap()
}

fn members(op: &str, id: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": "members", "value": [{"value": id}]}]
    })
}

#[tokio::test]
async fn store_replicas_over_one_postgres_each_feed_their_sidecars() {
    if stores::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(Backend::Postgres).await;
    let files = tempfile::tempdir().unwrap();
    let readers = files.path().join("readers.yaml");
    std::fs::write(&readers, READERS).unwrap();
    import_ok(db.url(), &[&fixture("scim/world.yaml"), &readers]).await;
    let token = scim_token(db.url(), "dir_acme").await.secret;

    let a = StoreProc::start(db.url(), &[]).await;
    let b = StoreProc::start(db.url(), &[]).await;
    let mut on_a = SidecarProc::start(&a.url(), &[]).await;
    let mut on_b = SidecarProc::start(&b.url(), &[]).await;
    on_a.wait_serving().await;
    on_b.wait_serving().await;

    // Written through A, seen by the sidecar of B.
    let via_a = Scim::new(a.http_addr, &token);
    let created = via_a
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "pg@acme.example",
                "emails": [{"value": "pg@acme.example", "primary": true}]
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let joined = via_a.patch("/Groups/g_readers", &members("add", &id)).await;
    assert_eq!(joined.status, 204, "{}", joined.body);
    let granted = revision_of(&joined);
    for sidecar in [&on_a, &on_b] {
        let r = sidecar
            .check(
                "pg@acme.example",
                "charges.read",
                "acct_acme_main",
                Some(granted),
            )
            .await
            .unwrap();
        assert!(r.allowed, "{r:?}");
    }

    // Written through B, seen by the sidecar of A; revisions keep one order.
    let via_b = Scim::new(b.http_addr, &token);
    let left = via_b
        .patch("/Groups/g_readers", &members("remove", &id))
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    let revoked = revision_of(&left);
    assert!(revoked > granted);
    for sidecar in [&on_a, &on_b] {
        let r = sidecar
            .check(
                "pg@acme.example",
                "charges.read",
                "acct_acme_main",
                Some(revoked),
            )
            .await
            .unwrap();
        assert_eq!(reason(&r), pb::DenyReason::NoGrant);
    }
}
