//! Keeps the published snapshot at the store's revision: reads the state,
//! compiles it off the async runtime, publishes it, and tells waiters (reads
//! that asked for `at_least_revision`) the new revision. A failed rebuild keeps
//! the previous snapshot in place.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use crate::model::Revision;
use crate::snapshot::{self, SnapshotHolder};
use crate::store::Store;
use crate::telemetry;

/// Where the snapshot in place came from and when.
#[derive(Debug, Default)]
pub struct SnapshotStatus {
    /// Unix milliseconds when the snapshot in place was built (0: none yet).
    built_at_ms: AtomicU64,
}

impl SnapshotStatus {
    fn mark_built(&self) {
        self.built_at_ms.store(now_ms(), Ordering::Relaxed);
    }

    /// Seconds since the snapshot in place was built, if there is one.
    pub fn age(&self) -> Option<Duration> {
        match self.built_at_ms.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Duration::from_millis(now_ms().saturating_sub(at))),
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(crate::time::now_ms()).unwrap_or(0)
}

/// Rebuilds and publishes snapshots from a store.
pub struct Refresher {
    store: Arc<dyn Store>,
    holder: Arc<SnapshotHolder>,
    status: Arc<SnapshotStatus>,
    revision_tx: watch::Sender<Revision>,
    /// One rebuild at a time.
    rebuilding: Mutex<()>,
}

impl Refresher {
    pub fn new(store: Arc<dyn Store>, holder: Arc<SnapshotHolder>) -> Self {
        let (revision_tx, _) = watch::channel(0);
        Self {
            store,
            holder,
            status: Arc::new(SnapshotStatus::default()),
            revision_tx,
            rebuilding: Mutex::new(()),
        }
    }

    pub fn holder(&self) -> &Arc<SnapshotHolder> {
        &self.holder
    }

    pub fn status(&self) -> &Arc<SnapshotStatus> {
        &self.status
    }

    /// A receiver of the published revision.
    pub fn revisions(&self) -> watch::Receiver<Revision> {
        self.revision_tx.subscribe()
    }

    /// Brings the snapshot up to the store's revision; returns the revision in place.
    #[tracing::instrument(name = "snapshot.refresh", skip(self))]
    pub async fn refresh(&self) -> anyhow::Result<Revision> {
        let _one = self.rebuilding.lock().await;
        let stored = self.store.revision().await?;
        if let Some(current) = self.holder.revision()
            && current >= stored
        {
            return Ok(current);
        }
        let started = Instant::now();
        let mut load_ms = 0;
        let result = async {
            let state = self.store.load_state().await?;
            load_ms = started.elapsed().as_millis() as u64;
            let snap = tokio::task::spawn_blocking(move || snapshot::build(&state)).await??;
            anyhow::Ok(snap)
        }
        .await;
        let snap = match result {
            Ok(snap) => Arc::new(snap),
            Err(e) => {
                metrics::counter!(telemetry::SNAPSHOT_FAILURES).increment(1);
                return Err(e.context("cannot build a snapshot; the previous one stays in place"));
            }
        };
        let revision = snap.revision();
        let stats = snap.stats();
        let bytes = snap.heap_bytes();
        if self.holder.publish(snap) {
            self.status.mark_built();
            self.revision_tx.send_replace(revision);
            metrics::histogram!(telemetry::SNAPSHOT_BUILD).record(started.elapsed().as_secs_f64());
            metrics::gauge!(telemetry::SNAPSHOT_REVISION).set(revision as f64);
            metrics::gauge!(telemetry::SNAPSHOT_USERS).set(stats.users as f64);
            metrics::gauge!(telemetry::SNAPSHOT_BYTES).set(bytes as f64);
            tracing::info!(
                revision,
                users = stats.users,
                groups = stats.groups,
                grants = stats.grants,
                load_ms,
                total_ms = started.elapsed().as_millis() as u64,
                "snapshot published"
            );
        }
        Ok(self.holder.revision().unwrap_or(revision))
    }

    /// Polls the store for writes made by other processes (`rolecall import`)
    /// every `interval`, until the task is dropped.
    pub async fn follow(self: Arc<Self>, interval: Duration) {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(e) = self.refresh().await {
                tracing::warn!(error = %format!("{e:#}"), "snapshot refresh failed");
            }
        }
    }
}
