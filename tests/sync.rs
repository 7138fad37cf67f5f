//! The store and its sidecars as separate processes over real gRPC:
//! `rolecall store` on a SQLite file, `rolecall sidecar`s watching it.
//!
//! - SCIM writes reach every sidecar, readable at the revision the write
//!   returned (`Rolecall-Revision` + `at_least_revision`).
//! - A store killed with SIGKILL mid-writes loses no acknowledged write, and
//!   the sidecars get them all after it restarts.
//! - A sidecar answers every check while the store is away, and catches up
//!   (including writes made meanwhile) when it returns.
//! - A restarted sidecar serves from its cache file while the store is away;
//!   without store and cache it stays NOT_SERVING and says why.
//! - `--on-stale deny` denies with reason `stale` past `--max-staleness`.
//! - The sync port off loopback needs a token; a wrong token is refused.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::procs::{SidecarProc, StoreProc, reason};
use common::{Db, Scim, fixture, free_addr, import_ok, rolecall, scim_token};
use rolecall::pb::v1 as pb;
use serde_json::json;
use tokio::sync::Mutex;
use tonic_health::pb::health_check_response::ServingStatus;

/// `Readers` (id `g_readers`) may read charges in all of org_acme.
const READERS: &str = r#"
groups:
  - {directory: dir_acme, displayName: Readers, id: g_readers, members: []}
role_assignments:
  - {directory: dir_acme, group: Readers, role: scim_charges_reader, scope: {organization: org_acme}}
"#;

/// A database with the SCIM world, the `Readers` group and a SCIM token.
async fn world() -> (Db, String) {
    let db = Db::new();
    let readers = db.dir().join("readers.yaml");
    std::fs::write(&readers, READERS).unwrap();
    import_ok(&db.url(), &[&fixture("scim/world.yaml"), &readers]).await;
    let token = scim_token(&db.url(), "dir_acme").await;
    (db, token.secret)
}

fn user(name: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true
    })
}

fn members(op: &str, id: &str) -> serde_json::Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": "members", "value": [{"value": id}]}]
    })
}

/// The revision a SCIM write returned.
fn revision_of(r: &common::HttpResponse) -> u64 {
    r.header("rolecall-revision")
        .unwrap_or_else(|| panic!("no Rolecall-Revision header: {r:?}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn two_sidecars_follow_scim_writes_at_the_revision_each_write_returns() {
    let (db, token) = world().await;
    let store = StoreProc::start(&db.url(), &[]).await;
    let mut a = SidecarProc::start(&store.url(), &[]).await;
    let mut b = SidecarProc::start(&store.url(), &[]).await;
    a.wait_serving().await;
    b.wait_serving().await;
    let scim = Scim::new(store.http_addr, &token);

    let created = scim.post("/Users", &user("ada@acme.example")).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let joined = scim.patch("/Groups/g_readers", &members("add", &id)).await;
    assert_eq!(joined.status, 204, "{}", joined.body);
    let granted = revision_of(&joined);
    for sidecar in [&a, &b] {
        let r = sidecar
            .check(
                "ada@acme.example",
                "charges.read",
                "acct_acme_eu",
                Some(granted),
            )
            .await
            .unwrap();
        assert!(r.allowed, "{r:?}");
        assert!(r.revision >= granted);
        let grant = r.explanation.unwrap().grant.unwrap();
        assert_eq!(
            (grant.group.as_str(), grant.role.as_str()),
            ("Readers", "scim_charges_reader")
        );
    }

    let left = scim
        .patch("/Groups/g_readers", &members("remove", &id))
        .await;
    assert_eq!(left.status, 204, "{}", left.body);
    let revoked = revision_of(&left);
    for sidecar in [&a, &b] {
        let r = sidecar
            .check(
                "ada@acme.example",
                "charges.read",
                "acct_acme_eu",
                Some(revoked),
            )
            .await
            .unwrap();
        assert!(!r.allowed);
        assert_eq!(reason(&r), pb::DenyReason::NoGrant);
    }

    let deleted = scim.delete(&format!("/Users/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = revision_of(&deleted);
    for sidecar in [&a, &b] {
        let r = sidecar
            .check(
                "ada@acme.example",
                "charges.read",
                "acct_acme_eu",
                Some(gone),
            )
            .await
            .unwrap();
        assert_eq!(reason(&r), pb::DenyReason::UnknownUser);
        let (code, health) = sidecar.healthz().await;
        assert_eq!(code, 200, "{health}");
        assert_eq!(health["store_connected"], true);
        assert_eq!(health["stale"], false);
        assert!(health["revision"].as_u64().unwrap() >= gone);
    }
}

#[tokio::test]
async fn a_store_killed_mid_writes_loses_no_acknowledged_write_and_sidecars_get_them_all() {
    let (db, token) = world().await;
    let mut store = StoreProc::start(&db.url(), &[]).await;
    let mut sidecar = SidecarProc::start(&store.url(), &[]).await;
    sidecar.wait_serving().await;
    let acked = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let mut writers = Vec::new();
    for client in 0..3 {
        let scim = Scim::new(store.http_addr, &token);
        let acked = Arc::clone(&acked);
        writers.push(tokio::spawn(async move {
            for n in 0..1000 {
                let name = format!("kill-{client}-{n}@acme.example");
                let r = scim.post("/Users", &user(&name)).await;
                if r.status != 201 {
                    return;
                }
                acked.lock().await.push((name, revision_of(&r)));
            }
        }));
    }
    // Let some writes land, then kill the store in the middle of others.
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if acked.lock().await.len() >= 20 {
            break;
        }
    }
    store.kill();
    for w in writers {
        // A request cut off by the kill fails on the client (the task
        // panics on the broken response): that is expected.
        let _ = w.await;
    }
    let acked = acked.lock().await.clone();
    let newest = acked.iter().map(|(_, r)| *r).max().unwrap();

    // While the store is down the sidecar still answers.
    let r = sidecar
        .check(&acked[0].0, "charges.read", "acct_acme_main", None)
        .await
        .unwrap();
    assert!(!r.allowed);

    store.restart().await;
    for (name, revision) in &acked {
        let r = sidecar
            .check(name, "charges.read", "acct_acme_main", Some(newest))
            .await
            .unwrap_or_else(|s| panic!("{name} (revision {revision}): {s:?}"));
        assert_eq!(
            reason(&r),
            pb::DenyReason::NoGrant,
            "{name}, acknowledged at revision {revision}, is known after the restart"
        );
    }
}

#[tokio::test]
async fn a_sidecar_answers_every_check_while_the_store_is_away_and_catches_up() {
    let (db, token) = world().await;
    let mut store = StoreProc::start(&db.url(), &[]).await;
    let mut sidecar = SidecarProc::start(&store.url(), &[]).await;
    sidecar.wait_serving().await;
    let scim = Scim::new(store.http_addr, &token);
    let created = scim.post("/Users", &user("bo@acme.example")).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let joined = scim.patch("/Groups/g_readers", &members("add", &id)).await;
    sidecar
        .check(
            "bo@acme.example",
            "charges.read",
            "acct_acme_main",
            Some(revision_of(&joined)),
        )
        .await
        .unwrap();

    // Check load on the sidecar throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let load = {
        let (stop, answered, failed) = (stop.clone(), answered.clone(), failed.clone());
        let mut client = sidecar.authorizer().await;
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let req = pb::CheckRequest {
                    user: "bo@acme.example".into(),
                    permission: "charges.read".into(),
                    account: "acct_acme_main".into(),
                    consistency: None,
                    explain: false,
                };
                match client.check(req).await {
                    Ok(r) if r.get_ref().allowed => answered.fetch_add(1, Ordering::Relaxed),
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    store.kill();
    // A write made while the store process is away (straight to the database).
    let extra = db.dir().join("more.yaml");
    std::fs::write(
        &extra,
        "users: [{directory: dir_acme, userName: cy@acme.example}]\n\
         groups: [{directory: dir_acme, displayName: Readers, id: g_readers, members: [bo@acme.example, cy@acme.example]}]\n",
    )
    .unwrap();
    let offline = import_ok(&db.url(), &[&extra]).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during = answered.load(Ordering::Relaxed);
    store.restart().await;
    let r = sidecar
        .check(
            "cy@acme.example",
            "charges.read",
            "acct_acme_eu",
            Some(offline),
        )
        .await
        .unwrap();
    assert!(
        r.allowed,
        "the write made while the store was away arrives: {r:?}"
    );
    stop.store(true, Ordering::Relaxed);
    load.await.unwrap();
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "every check was answered, allowed"
    );
    assert!(
        during > 10,
        "checks went on while the store was away ({during})"
    );
}

#[tokio::test]
async fn a_restarted_sidecar_serves_from_its_cache_while_the_store_is_away() {
    let (db, token) = world().await;
    let mut store = StoreProc::start(&db.url(), &[]).await;
    let cache = db.dir().join("sidecar.cache");
    let cache_arg = cache.to_str().unwrap().to_owned();
    let args = ["--cache-file", cache_arg.as_str(), "--cache-interval", "0s"];
    let mut sidecar = SidecarProc::start(&store.url(), &args).await;
    sidecar.wait_serving().await;
    let scim = Scim::new(store.http_addr, &token);
    let created = scim.post("/Users", &user("di@acme.example")).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let joined = scim.patch("/Groups/g_readers", &members("add", &id)).await;
    let granted = revision_of(&joined);
    sidecar
        .check(
            "di@acme.example",
            "charges.read",
            "acct_acme_main",
            Some(granted),
        )
        .await
        .unwrap();
    // The cache file follows, in the first quiet moment (its header holds
    // its revision at bytes 12..20).
    let cached = || {
        std::fs::read(&cache)
            .ok()
            .filter(|b| b.len() >= 20)
            .map_or(0, |b| u64::from_le_bytes(b[12..20].try_into().unwrap()))
    };
    for _ in 0..400 {
        if cached() >= granted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(
        cached() >= granted,
        "the cache file reached revision {granted}"
    );

    store.kill();
    sidecar.proc.kill();
    let mut restarted = SidecarProc::start(&store.url(), &args).await;
    restarted.wait_serving().await;
    let r = restarted
        .check("di@acme.example", "charges.read", "acct_acme_main", None)
        .await
        .unwrap();
    assert!(r.allowed, "{r:?}");
    assert!(r.revision >= granted);
    let (code, health) = restarted.healthz().await;
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["store_connected"], false);
    let why = health["reason"].as_str().unwrap();
    assert!(why.contains("serving the last snapshot"), "{why}");

    // A damaged cache file is not used: no store, no snapshot.
    restarted.proc.kill();
    let mut bytes = std::fs::read(&cache).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&cache, bytes).unwrap();
    let damaged = SidecarProc::start(&store.url(), &args).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(damaged.health().await, Some(ServingStatus::NotServing));
    assert!(
        damaged.proc.log().contains("checksum"),
        "{}",
        damaged.proc.log()
    );
}

#[tokio::test]
async fn a_sidecar_with_no_store_and_no_cache_stays_not_serving_and_says_why() {
    let nowhere = format!("http://{}", free_addr());
    let sidecar = SidecarProc::start(&nowhere, &[]).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(sidecar.health().await, Some(ServingStatus::NotServing));
    let (code, health) = sidecar.healthz().await;
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["status"], "not_serving");
    let why = health["reason"].as_str().unwrap();
    assert!(
        why.contains("no snapshot yet") && why.contains("cannot connect"),
        "{why}"
    );
    let err = sidecar
        .check(
            "anyone@acme.example",
            "charges.read",
            "acct_acme_main",
            None,
        )
        .await
        .unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
}

#[tokio::test]
async fn past_max_staleness_a_sidecar_told_to_deny_denies_with_reason_stale() {
    let (db, token) = world().await;
    let mut store = StoreProc::start(&db.url(), &[]).await;
    let args = ["--max-staleness", "1s", "--on-stale", "deny"];
    let mut sidecar = SidecarProc::start(&store.url(), &args).await;
    sidecar.wait_serving().await;
    let scim = Scim::new(store.http_addr, &token);
    let created = scim.post("/Users", &user("ed@acme.example")).await;
    let id = created.json()["id"].as_str().unwrap().to_owned();
    let joined = scim.patch("/Groups/g_readers", &members("add", &id)).await;
    let r = sidecar
        .check(
            "ed@acme.example",
            "charges.read",
            "acct_acme_main",
            Some(revision_of(&joined)),
        )
        .await
        .unwrap();
    assert!(r.allowed);

    store.kill();
    let mut denied = None;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let r = sidecar
            .check("ed@acme.example", "charges.read", "acct_acme_main", None)
            .await
            .unwrap();
        if !r.allowed {
            denied = Some(r);
            break;
        }
    }
    let denied = denied.expect("denied once stale");
    assert_eq!(reason(&denied), pb::DenyReason::Stale);
    assert_eq!(sidecar.health().await, Some(ServingStatus::NotServing));
    let (code, health) = sidecar.healthz().await;
    assert_eq!(
        (code, health["status"].as_str()),
        (503, Some("stale_denying")),
        "{health}"
    );

    store.restart().await;
    sidecar.wait_serving().await;
    let r = sidecar
        .check("ed@acme.example", "charges.read", "acct_acme_main", None)
        .await
        .unwrap();
    assert!(r.allowed, "current again: {r:?}");
}

#[tokio::test]
async fn the_sync_port_needs_a_token_off_loopback_and_refuses_a_wrong_one() {
    let db = Db::new();
    let open = format!("0.0.0.0:{}", free_addr().port());
    let run = rolecall([
        "store",
        "--database-url",
        &db.url(),
        "--sync-addr",
        &open,
        "--http-addr",
        &free_addr().to_string(),
    ])
    .await;
    assert!(!run.success());
    assert!(
        run.stderr.contains("ROLECALL_SYNC_TOKEN") && run.stderr.contains("--sync-addr 127.0.0.1"),
        "{}",
        run.stderr
    );

    let good = db.dir().join("sync.token");
    std::fs::write(&good, "sync-secret-1\n").unwrap();
    let bad = db.dir().join("bad.token");
    std::fs::write(&bad, "not-it\n").unwrap();
    let (good, bad) = (
        good.to_str().unwrap().to_owned(),
        bad.to_str().unwrap().to_owned(),
    );
    let store = StoreProc::start(&db.url(), &["--sync-token-file", &good]).await;
    let refused = SidecarProc::start(&store.url(), &["--sync-token-file", &bad]).await;
    let mut accepted = SidecarProc::start(&store.url(), &["--sync-token-file", &good]).await;
    accepted.wait_serving().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(refused.health().await, Some(ServingStatus::NotServing));
    let (_, health) = refused.healthz().await;
    let why = health["reason"].as_str().unwrap();
    assert!(why.contains("not the sync token"), "{why}");
}

#[tokio::test]
async fn sidecars_that_vanish_mid_snapshot_do_not_stop_the_store() {
    let db = Db::new();
    import_ok(&db.url(), &[&fixture("scim/world.yaml")]).await;
    let users: Vec<_> = (0..20_000)
        .map(|n| json!({"directory": "dir_acme", "userName": format!("vanish-{n}@acme.example")}))
        .collect();
    common::import_json(&db, "users.json", &json!({ "users": users })).await;
    let mut store = StoreProc::start(&db.url(), &[]).await;
    for _ in 0..10 {
        let channel = tonic::transport::Endpoint::from_shared(store.url())
            .unwrap()
            .connect()
            .await
            .unwrap();
        let mut client = rolecall::pb::v1::snapshot_sync_client::SnapshotSyncClient::new(channel);
        let mut stream = client
            .watch(pb::WatchRequest {
                from_revision: 0,
                client: "vanishing".into(),
            })
            .await
            .unwrap()
            .into_inner();
        // Take the first chunk of the snapshot, then go away.
        let first = stream.message().await.unwrap();
        assert!(first.is_some());
        drop(stream);
        drop(client);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        store.proc.exited().is_none(),
        "the store died; stderr:\n{}",
        store.proc.log()
    );
    let mut sidecar = SidecarProc::start(&store.url(), &[]).await;
    sidecar.wait_serving().await;
}

#[tokio::test]
async fn a_sidecar_serves_on_a_unix_socket_alone() {
    let (db, _) = world().await;
    let store = StoreProc::start(&db.url(), &[]).await;
    let socket = db.dir().join("authorizer.sock");
    let socket_arg = socket.to_str().unwrap().to_owned();
    let sidecar = SidecarProc::start(
        &store.url(),
        &["--grpc-addr", "off", "--grpc-uds", &socket_arg],
    )
    .await;
    let path = socket.clone();
    let mut channel = None;
    for _ in 0..400 {
        let path = path.clone();
        let connected = tonic::transport::Endpoint::from_static("http://uds.invalid")
            .connect_with_connector(tower::service_fn(move |_: tonic::transport::Uri| {
                let path = path.clone();
                async move {
                    Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(
                        tokio::net::UnixStream::connect(path).await?,
                    ))
                }
            }))
            .await;
        if let Ok(c) = connected {
            let mut health = tonic_health::pb::health_client::HealthClient::new(c.clone());
            let serving = health
                .check(tonic_health::pb::HealthCheckRequest {
                    service: "rolecall.v1.Authorizer".into(),
                })
                .await
                .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32);
            if serving {
                channel = Some(c);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let channel = channel.unwrap_or_else(|| {
        panic!(
            "no Authorizer on the socket; stderr:\n{}",
            sidecar.proc.log()
        )
    });
    let mut client = rolecall::pb::v1::authorizer_client::AuthorizerClient::new(channel);
    let r = client
        .check(pb::CheckRequest {
            user: "nobody@acme.example".into(),
            permission: "charges.read".into(),
            account: "acct_acme_main".into(),
            consistency: None,
            explain: true,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(reason(&r), pb::DenyReason::UnknownUser);
    // Nothing listens on TCP: `--grpc-addr off`.
    assert!(
        tokio::net::TcpStream::connect(sidecar.grpc_addr)
            .await
            .is_err()
    );
}
