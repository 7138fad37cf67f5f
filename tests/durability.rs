//! A kill never loses an acknowledged write: SCIM users created by several
//! clients at once are all there after `rolecall serve` is killed with
//! SIGKILL in the middle of more writes, and restarted on the same file.

mod common;

use std::sync::Arc;

use common::{Db, Scim, Server, fixture, import_ok, scim_token};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::Mutex;

const CLIENTS: usize = 4;
const CREATES: usize = 15;

fn user(i: usize, n: usize) -> serde_json::Value {
    let name = format!("durable-{i}-{n}@acme.example");
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": name,
        "emails": [{"value": name, "type": "work", "primary": true}],
        "active": true
    })
}

#[tokio::test]
async fn acknowledged_scim_writes_survive_a_kill() {
    let db = Db::new();
    import_ok(&db.url(), &[&fixture("scim/world.yaml")]).await;
    let token = scim_token(&db.url(), "dir_acme").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));

    let server = Server::start(&db.url()).await;
    let addr = server.http_addr;
    // Phase 1: writes that all finish.
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let scim = Scim::new(addr, &token.secret);
        let acked = Arc::clone(&acknowledged);
        tasks.push(tokio::spawn(async move {
            for n in 0..CREATES {
                let r = scim.post("/Users", &user(i, n)).await;
                assert_eq!(r.status, 201, "{}", r.body);
                let id = r.json()["id"].as_str().unwrap().to_owned();
                acked
                    .lock()
                    .await
                    .push((id, format!("durable-{i}-{n}@acme.example")));
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // Phase 2: more writes in flight when the process is killed. Those that
    // were acknowledged before the kill must survive too.
    let mut inflight = Vec::new();
    for i in 0..CLIENTS {
        let scim = Scim::new(addr, &token.secret);
        let acked = Arc::clone(&acknowledged);
        inflight.push(tokio::spawn(async move {
            for n in CREATES..CREATES * 10 {
                let r = scim.post("/Users", &user(i, n)).await;
                if r.status != 201 {
                    return;
                }
                let Some(id) = r.json()["id"].as_str().map(str::to_owned) else {
                    return;
                };
                acked
                    .lock()
                    .await
                    .push((id, format!("durable-{i}-{n}@acme.example")));
            }
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    drop(server); // SIGKILL
    for t in inflight {
        // A request cut off by the kill fails on the client: that is expected.
        let _ = t.await;
    }

    let acked = acknowledged.lock().await.clone();
    assert!(
        acked.len() >= CLIENTS * CREATES,
        "{} acknowledged",
        acked.len()
    );
    let server = Server::start(&db.url()).await;
    let scim = Scim::new(server.http_addr, &token.secret);
    for (id, user_name) in &acked {
        let r = scim.get(&format!("/Users/{id}")).await;
        assert_eq!(
            r.status, 200,
            "acknowledged user {user_name} ({id}) is lost: {}",
            r.body
        );
        assert_eq!(r.json()["userName"], user_name.as_str());
    }
    // And the decision side sees them too: each is a known user now.
    let mut authz = server.authorizer().await;
    let name = &acked[0].1;
    let resp = authz
        .check(common::check_req(
            name,
            "charges.read",
            "acct_acme_main",
            true,
        ))
        .await
        .unwrap()
        .into_inner();
    let reason = resp.explanation.unwrap().deny_reason;
    assert_ne!(reason, rolecall::pb::v1::DenyReason::UnknownUser as i32);
}

/// Clients that hang up before their answer cost their own connection,
/// never the server: a write to a socket the peer closed must not kill the
/// process with SIGPIPE (a health checker that timed out during a slow
/// start-up did exactly that).
#[tokio::test]
async fn clients_hanging_up_before_their_answer_do_not_stop_the_server() {
    let db = Db::new();
    import_ok(&db.url(), &[&fixture("scim/world.yaml")]).await;
    let server = Server::start(&db.url()).await;
    // The HTTP/2 connection preface and an empty SETTINGS frame: the server
    // answers with frames of its own, after we are gone.
    let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    for addr in [server.grpc_addr, server.http_addr] {
        for _ in 0..50 {
            let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
            stream.write_all(&hello).await.unwrap();
            drop(stream);
        }
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let health = common::http_get(server.http_addr, "/healthz").await;
    assert_eq!(
        health.status,
        200,
        "the server is gone; stderr:\n{}",
        server.log()
    );
    let mut client = server.authorizer().await;
    client
        .check(common::check_req(
            "x@acme.example",
            "charges.read",
            "acct_acme_main",
            false,
        ))
        .await
        .expect("the Authorizer still answers");
}
