//! The PostgreSQL store rides out a server restart: a stream of writes goes
//! on while the server restarts (`ROLECALL_TEST_POSTGRES_RESTART`, a shell
//! command that returns once the server is back), writes after it succeed
//! after a bounded retry, with the same store and no manual step, and every
//! write acknowledged before, during or after the restart is there, each in
//! its own revision, with no gaps.
//!
//! Does nothing without `ROLECALL_TEST_POSTGRES_URL`; fails when that is set
//! and the restart command is not. Runs alone (`.config/nextest.toml`): the
//! restart cuts every connection of the server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use rolecall::datafile::{DataFile, Format};
use rolecall::store::StoreError;
use tokio::sync::watch;

#[path = "common/stores.rs"]
mod stores;

use stores::{Backend, TestDb};

const RESTART_VAR: &str = "ROLECALL_TEST_POSTGRES_RESTART";

/// Writes in the stream.
const WRITES: usize = 60;

/// How long one write may keep retrying.
const RETRY_FOR: Duration = Duration::from_secs(60);

fn org_file(n: usize) -> DataFile {
    DataFile::parse(
        &format!("organizations: [{{id: org_{n}, name: Org {n}}}]"),
        Format::Yaml,
        "restart.yaml",
    )
    .expect("test data parses")
}

/// When the server behind `url` started.
async fn server_start(url: &str) -> String {
    use sqlx::Connection;
    let mut conn = stores::admin_connection(url).await;
    let at: String = sqlx::query_scalar("SELECT pg_postmaster_start_time()::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    at
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_go_on_after_a_postgres_restart_and_none_is_lost() {
    if stores::postgres_url().is_none() {
        return;
    }
    let restart = std::env::var(RESTART_VAR)
        .ok()
        .filter(|c| !c.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{} is set but {RESTART_VAR} is not: give the shell command that restarts \
                 that server",
                stores::POSTGRES_URL_VAR
            )
        });

    let db = TestDb::new(Backend::Postgres).await;
    let started_before = server_start(db.url()).await;
    let store = Arc::new(db.open().await);
    let r0 = store.revision().await.unwrap();

    // The writer: one import after another, each retried until it is
    // acknowledged (for at most RETRY_FOR), reporting how many are.
    let (acked_tx, mut acked_rx) = watch::channel(0usize);
    let writer = {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let mut failures = Vec::new();
            for n in 0..WRITES {
                let started = Instant::now();
                loop {
                    match store.import(&org_file(n)).await {
                        Ok(_) => break,
                        Err(e @ StoreError::Database(_)) => {
                            assert!(
                                started.elapsed() < RETRY_FOR,
                                "write {n} still fails after {RETRY_FOR:?}: {e}"
                            );
                            failures.push(e.to_string());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                        Err(e) => panic!("write {n}: {e}"),
                    }
                }
                acked_tx.send_replace(n + 1);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            failures
        })
    };

    // Restart the server a third of the way in.
    acked_rx
        .wait_for(|n| *n >= WRITES / 3)
        .await
        .expect("the writer runs");
    let before = *acked_rx.borrow();
    let command = restart.clone();
    let status = tokio::task::spawn_blocking(move || {
        std::process::Command::new("sh")
            .arg("-c")
            .arg(&command)
            .status()
    })
    .await
    .unwrap()
    .expect("the restart command runs");
    assert!(status.success(), "`{restart}` failed: {status}");
    assert_ne!(
        server_start(db.url()).await,
        started_before,
        "`{restart}` did not restart the server"
    );

    let failures = tokio::time::timeout(Duration::from_secs(180), writer)
        .await
        .expect("the writes finish")
        .expect("the writer does not panic");
    eprintln!(
        "{} writes acknowledged before the restart; {} failed attempts, retried",
        before,
        failures.len()
    );
    for f in &failures {
        assert!(f.contains("PostgreSQL") || f.contains("connection"), "{f}");
    }

    // Every acknowledged write is there, each in one revision, no gaps.
    let state = store.load_state().await.unwrap();
    for n in 0..WRITES {
        assert!(
            state
                .organizations
                .iter()
                .any(|o| o.id.as_str() == format!("org_{n}")),
            "org_{n} was acknowledged and is lost"
        );
    }
    assert_eq!(state.organizations.len(), WRITES);
    assert_eq!(state.revision, r0 + WRITES as u64);
    let log = store.changes_since(r0, 1000).await.unwrap();
    assert_eq!(
        log.iter().map(|c| c.revision).collect::<Vec<_>>(),
        (r0 + 1..=r0 + WRITES as u64).collect::<Vec<_>>()
    );
    store.close().await;
}
