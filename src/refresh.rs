//! Keeps the published snapshot at the store's revision, in the process that
//! holds the store (`serve`, `store`): after a write, or when polling finds
//! one made by another process, it reads the delta since the revision it
//! holds and applies it to its replica off the async runtime (the whole
//! state only at start, or when the store cannot give a delta), publishes
//! the result, and tells waiters (reads that asked for `at_least_revision`)
//! the new revision. A failed update keeps the previous snapshot in place.
//!
//! [`Publisher`] is the part a sidecar shares: putting a snapshot in place
//! and announcing it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, watch};

use crate::model::{Revision, State};
use crate::snapshot::{Snapshot, SnapshotHolder};
use crate::store::Store;
use crate::sync::replica::Replica;
use crate::telemetry;

/// A delta touching more entities than this is read as the whole state.
const MAX_DELTA_ENTITIES: usize = 50_000;

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

/// Puts snapshots in place and announces their revision.
pub struct Publisher {
    holder: Arc<SnapshotHolder>,
    status: Arc<SnapshotStatus>,
    revision_tx: watch::Sender<Revision>,
}

impl Publisher {
    pub fn new(holder: Arc<SnapshotHolder>) -> Self {
        let (revision_tx, _) = watch::channel(0);
        Self {
            holder,
            status: Arc::new(SnapshotStatus::default()),
            revision_tx,
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

    /// Puts `snap` in place unless a newer one is (or, with `force`, in any
    /// case); `source` names where it came from in metrics and logs.
    pub fn publish(&self, snap: Arc<Snapshot>, source: &'static str, force: bool) -> bool {
        let revision = snap.revision();
        let stats = snap.stats();
        let bytes = snap.heap_bytes();
        let published = if force {
            self.holder.replace(snap);
            true
        } else {
            self.holder.publish(snap)
        };
        if published {
            self.status.mark_built();
            self.revision_tx.send_replace(revision);
            metrics::gauge!(telemetry::SNAPSHOT_REVISION).set(revision as f64);
            metrics::gauge!(telemetry::SNAPSHOT_USERS).set(stats.users as f64);
            metrics::gauge!(telemetry::SNAPSHOT_BYTES).set(bytes as f64);
            tracing::debug!(
                revision,
                source,
                users = stats.users,
                groups = stats.groups,
                grants = stats.grants,
                "snapshot published"
            );
        }
        published
    }
}

/// Keeps a replica of the store's state and publishes its snapshots.
pub struct Refresher {
    store: Arc<dyn Store>,
    publisher: Publisher,
    /// The newest revision known written, announced before the snapshot
    /// catches up (the sync feed wakes on it).
    written_tx: watch::Sender<Revision>,
    /// The state held, once read; one update at a time.
    replica: Mutex<Option<Replica>>,
}

impl Refresher {
    pub fn new(store: Arc<dyn Store>, holder: Arc<SnapshotHolder>) -> Self {
        let (written_tx, _) = watch::channel(0);
        Self {
            store,
            publisher: Publisher::new(holder),
            written_tx,
            replica: Mutex::new(None),
        }
    }

    pub fn holder(&self) -> &Arc<SnapshotHolder> {
        self.publisher.holder()
    }

    pub fn status(&self) -> &Arc<SnapshotStatus> {
        self.publisher.status()
    }

    /// A receiver of the published revision.
    pub fn revisions(&self) -> watch::Receiver<Revision> {
        self.publisher.revisions()
    }

    /// A receiver of the newest revision known written (ahead of the snapshot).
    pub fn writes(&self) -> watch::Receiver<Revision> {
        self.written_tx.subscribe()
    }

    /// Brings the snapshot up to the store's revision; returns the revision in place.
    #[tracing::instrument(name = "snapshot.refresh", skip(self))]
    pub async fn refresh(&self) -> anyhow::Result<Revision> {
        // Wake the sync feed at once: sidecars need not wait for this
        // process's own snapshot.
        if let Ok(stored) = self.store.revision().await {
            self.written_tx.send_if_modified(|w| {
                let newer = stored > *w;
                *w = (*w).max(stored);
                newer
            });
        }
        let mut slot = self.replica.lock().await;
        let stored = self.store.revision().await?;
        if let Some(r) = slot.as_ref()
            && r.revision() >= stored
        {
            return Ok(r.revision());
        }
        let started = Instant::now();
        let result = self.update(&mut slot).await;
        match result {
            Ok((snap, source)) => {
                let revision = snap.revision();
                self.publisher.publish(snap, source, false);
                metrics::histogram!(telemetry::SNAPSHOT_BUILD)
                    .record(started.elapsed().as_secs_f64());
                tracing::debug!(
                    revision,
                    source,
                    total_us = started.elapsed().as_micros() as u64,
                    "snapshot refreshed"
                );
                Ok(self.holder().revision().unwrap_or(revision))
            }
            Err(e) => {
                metrics::counter!(telemetry::SNAPSHOT_FAILURES).increment(1);
                Err(e.context("cannot update the snapshot; the previous one stays in place"))
            }
        }
    }

    /// Applies the delta since the replica's revision, or reads the whole
    /// state when there is no replica or no delta.
    async fn update(
        &self,
        slot: &mut Option<Replica>,
    ) -> anyhow::Result<(Arc<Snapshot>, &'static str)> {
        if let Some(held) = slot.as_ref().map(Replica::revision)
            && let Some(delta) = self.store.delta(held, MAX_DELTA_ENTITIES).await?
        {
            let mut replica = slot.take().expect("a replica is held");
            let (replica, applied) = tokio::task::spawn_blocking(move || {
                let applied = replica.apply(&delta);
                (replica, applied)
            })
            .await?;
            match applied {
                Ok(Some(snap)) => {
                    *slot = Some(replica);
                    return Ok((snap, "delta"));
                }
                Ok(None) => {
                    let snap = Arc::clone(replica.snapshot());
                    *slot = Some(replica);
                    return Ok((snap, "delta"));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "delta not applied; reading the whole state");
                }
            }
        }
        let state: State = self.store.load_state().await?;
        let replica = tokio::task::spawn_blocking(move || Replica::new(state)).await??;
        let snap = Arc::clone(replica.snapshot());
        *slot = Some(replica);
        Ok((snap, "full"))
    }

    /// Polls the store for writes made by other processes (`rolecall import`,
    /// other store replicas) every `interval`, until the task is dropped.
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
