//! The sidecar's side of `SnapshotSync.Watch`: holds a replica of the
//! store's state, applies what the stream brings (a full snapshot in chunks,
//! then deltas) off the async runtime, publishes each new snapshot, and
//! keeps a cache file of the state so that a restart while the store is away
//! still serves. It reconnects with jittered exponential backoff and resumes
//! from the revision it holds. A watchdog marks the sidecar stale when the
//! store has been silent for longer than `max_staleness`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prost::Message;
use tonic::codec::CompressionEncoding;
use tonic::transport::Endpoint;

use crate::model::Revision;
use crate::pb::v1 as pb;
use crate::pb::v1::snapshot_sync_client::SnapshotSyncClient;
use crate::refresh::Publisher;
use crate::telemetry;

use super::cache;
use super::convert;
use super::replica::Replica;

/// How long the stream must stay quiet before a pending cache write.
const CACHE_QUIET: Duration = Duration::from_millis(500);

/// Longest a change waits for the cache file under a steady stream of changes.
const CACHE_MAX_DELAY: Duration = Duration::from_secs(300);

/// What to do once the store has been silent for longer than allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnStale {
    /// Keep answering from the last snapshot; report it in health and metrics.
    Serve,
    /// Deny every check with reason `stale` (and report NOT_SERVING).
    Deny,
}

#[derive(Debug, Clone)]
pub struct FollowerOptions {
    /// The store's sync endpoint, `http://HOST:PORT`.
    pub store: String,
    pub token: Option<String>,
    /// Name sent to the store for its logs.
    pub client: String,
    pub cache_file: Option<PathBuf>,
    /// Least time between two cache file writes.
    pub cache_interval: Duration,
    pub max_staleness: Duration,
    pub on_stale: OnStale,
    /// The stream is given up when nothing (not even a heartbeat) came for this long.
    pub silence_timeout: Duration,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
}

impl FollowerOptions {
    pub fn new(store: impl Into<String>) -> Self {
        Self {
            store: store.into(),
            token: None,
            client: "sidecar".to_owned(),
            cache_file: None,
            cache_interval: Duration::from_secs(10),
            max_staleness: Duration::from_secs(300),
            on_stale: OnStale::Serve,
            silence_timeout: Duration::from_secs(15),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
        }
    }
}

/// What the sidecar knows about its link to the store, for health and metrics.
#[derive(Debug, Default)]
pub struct SyncStatus {
    connected: AtomicBool,
    /// Unix milliseconds of the last message from the store (0: never).
    last_contact_ms: AtomicU64,
    stale: AtomicBool,
    /// Set while checks must be denied (stale under `OnStale::Deny`).
    deny: Arc<AtomicBool>,
    /// Why the sidecar is not serving or not current, for people.
    problem: Mutex<Option<String>>,
}

fn now_ms() -> u64 {
    u64::try_from(crate::time::now_ms()).unwrap_or(0)
}

impl SyncStatus {
    pub fn connected(&self) -> bool {
        self.connected.load(Ordering::Relaxed)
    }

    pub fn stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// The flag the Authorizer reads to deny while stale.
    pub fn deny_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.deny)
    }

    /// Time since the store was last heard from.
    pub fn since_contact(&self) -> Option<Duration> {
        match self.last_contact_ms.load(Ordering::Relaxed) {
            0 => None,
            at => Some(Duration::from_millis(now_ms().saturating_sub(at))),
        }
    }

    pub fn problem(&self) -> Option<String> {
        self.problem.lock().ok().and_then(|p| p.clone())
    }

    fn set_problem(&self, p: Option<String>) {
        if let Ok(mut slot) = self.problem.lock() {
            *slot = p;
        }
    }

    fn contact(&self) {
        self.contact_at(now_ms());
    }

    fn contact_at(&self, ms: u64) {
        self.last_contact_ms.fetch_max(ms, Ordering::Relaxed);
    }

    fn set_connected(&self, yes: bool) {
        self.connected.store(yes, Ordering::Relaxed);
        metrics::gauge!(telemetry::SIDECAR_CONNECTED).set(if yes { 1.0 } else { 0.0 });
    }
}

/// Follows a store, publishing what it receives.
pub struct Follower {
    options: FollowerOptions,
    publisher: Arc<Publisher>,
    status: Arc<SyncStatus>,
    replica: Option<Replica>,
    /// When the cache file was last written, and at which revision.
    cached: Option<(Instant, Revision)>,
    /// Since when a change has been waiting for the cache file.
    dirty_since: Option<Instant>,
}

/// A full snapshot being received.
#[derive(Debug)]
struct Assembly {
    revision: Revision,
    count: u32,
    total: u64,
    crc: u32,
    bytes: Vec<u8>,
}

impl Follower {
    pub fn new(options: FollowerOptions, publisher: Arc<Publisher>) -> Self {
        Self {
            options,
            publisher,
            status: Arc::new(SyncStatus::default()),
            replica: None,
            cached: None,
            dirty_since: None,
        }
    }

    pub fn status(&self) -> &Arc<SyncStatus> {
        &self.status
    }

    /// Loads the cache file, if there is a usable one, and publishes it.
    /// Its modification time counts as the last contact with the store.
    pub async fn load_cache(&mut self) -> anyhow::Result<Option<Revision>> {
        let Some(path) = self.options.cache_file.clone() else {
            return Ok(None);
        };
        let started = Instant::now();
        let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
            let written = std::fs::metadata(&path)
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_millis() as u64);
            match cache::read(&path) {
                Ok(Some(state)) => Ok(Some((Replica::new(state)?, written))),
                Ok(None) => Ok(None),
                Err(e) => {
                    tracing::warn!(error = %e, "cache file not used");
                    Ok(None)
                }
            }
        })
        .await??;
        let Some((replica, written)) = loaded else {
            return Ok(None);
        };
        let revision = replica.revision();
        self.publisher
            .publish(Arc::clone(replica.snapshot()), "cache", false);
        if let Some(ms) = written {
            self.status.contact_at(ms);
        }
        self.cached = Some((Instant::now(), revision));
        self.replica = Some(replica);
        record("cache", started);
        tracing::info!(
            revision,
            ms = started.elapsed().as_millis() as u64,
            "serving from the cache file until the store answers"
        );
        Ok(Some(revision))
    }

    /// Watches the staleness of the snapshot, every `period`, until dropped.
    pub async fn watchdog(
        status: Arc<SyncStatus>,
        publisher: Arc<Publisher>,
        max_staleness: Duration,
        on_stale: OnStale,
        health: Option<crate::grpc::Health>,
        period: Duration,
    ) {
        let mut was_serving = None;
        loop {
            let has_snapshot = publisher.holder().revision().is_some();
            let since = status.since_contact();
            let stale = has_snapshot && since.is_none_or(|s| s > max_staleness);
            if stale != status.stale() {
                if stale {
                    tracing::warn!(
                        since_contact_s = since.map(|s| s.as_secs()),
                        max_staleness_s = max_staleness.as_secs(),
                        policy = ?on_stale,
                        "the snapshot is stale: the store has been out of reach too long"
                    );
                } else {
                    tracing::info!("the snapshot is current again");
                }
            }
            status.stale.store(stale, Ordering::Relaxed);
            let deny = stale && on_stale == OnStale::Deny;
            status.deny.store(deny, Ordering::Relaxed);
            metrics::gauge!(telemetry::SIDECAR_STALE).set(if stale { 1.0 } else { 0.0 });
            if let Some(s) = since {
                metrics::gauge!(telemetry::SIDECAR_CONTACT_AGE).set(s.as_secs_f64());
            }
            if let Some(age) = publisher.status().age() {
                metrics::gauge!(telemetry::SNAPSHOT_AGE).set(age.as_secs_f64());
            }
            let serving = has_snapshot && !deny;
            if let Some(h) = &health
                && was_serving != Some(serving)
            {
                if serving {
                    h.serving().await;
                } else {
                    h.not_serving().await;
                }
                was_serving = Some(serving);
            }
            tokio::time::sleep(period).await;
        }
    }

    /// Follows the store until the task is dropped.
    pub async fn run(mut self) {
        let mut backoff = self.options.backoff_min;
        loop {
            let started = Instant::now();
            let result = self.stream_once().await;
            self.status.set_connected(false);
            metrics::counter!(telemetry::SIDECAR_RECONNECTS).increment(1);
            let why = match result {
                Ok(()) => "the store ended the stream".to_owned(),
                Err(e) => format!("{e:#}"),
            };
            let serving = self.publisher.holder().revision().is_some();
            let problem = if serving {
                format!("store out of reach ({why}); serving the last snapshot")
            } else {
                format!("no snapshot yet: store out of reach ({why}) and no usable cache file")
            };
            self.status.set_problem(Some(problem.clone()));
            // A stream that lived a while resets the backoff.
            if started.elapsed() > Duration::from_secs(10) {
                backoff = self.options.backoff_min;
            }
            let wait = jitter(backoff);
            tracing::warn!(
                store = %self.options.store,
                retry_in_ms = wait.as_millis() as u64,
                "{problem}"
            );
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(self.options.backoff_max);
        }
    }

    async fn stream_once(&mut self) -> anyhow::Result<()> {
        let endpoint = Endpoint::from_shared(self.options.store.clone())
            .map_err(|e| anyhow::anyhow!("bad --store URL `{}`: {e}", self.options.store))?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5));
        let channel = endpoint.connect().await.map_err(|e| {
            anyhow::anyhow!("cannot connect to {}: {}", self.options.store, chain(&e))
        })?;
        let mut client = SnapshotSyncClient::new(channel)
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(256 << 20);
        let from = self.replica.as_ref().map_or(0, Replica::revision);
        let mut request = tonic::Request::new(pb::WatchRequest {
            from_revision: from,
            client: self.options.client.clone(),
        });
        if let Some(token) = &self.options.token {
            let value = format!("Bearer {token}")
                .parse()
                .map_err(|_| anyhow::anyhow!("the sync token holds characters a header cannot"))?;
            request.metadata_mut().insert("authorization", value);
        }
        let mut stream = client
            .watch(request)
            .await
            .map_err(|s| anyhow::anyhow!("the store refused the watch: {}", s.message()))?
            .into_inner();
        self.status.set_connected(true);
        self.status.contact();
        tracing::info!(store = %self.options.store, from, "watching the store");
        let mut assembly: Option<Assembly> = None;
        let mut last_message = Instant::now();
        loop {
            // While a change awaits the cache file, wake after a short quiet
            // spell to write it: exporting a large state takes seconds, and
            // doing it between two deltas of a burst would hold the second.
            let silence = self.options.silence_timeout;
            let wait = if self.cache_pending() {
                CACHE_QUIET.min(silence.saturating_sub(last_message.elapsed()))
            } else {
                silence.saturating_sub(last_message.elapsed())
            };
            let msg = match tokio::time::timeout(wait, stream.message()).await {
                Err(_) if last_message.elapsed() >= silence => {
                    anyhow::bail!("the store sent nothing for {} s", silence.as_secs())
                }
                Err(_) => {
                    self.write_cache(true).await;
                    continue;
                }
                Ok(Err(status)) => anyhow::bail!("the stream failed: {}", status.message()),
                Ok(Ok(None)) => return Ok(()),
                Ok(Ok(Some(m))) => m,
            };
            last_message = Instant::now();
            self.status.contact();
            match msg.event {
                Some(pb::watch_response::Event::SnapshotChunk(chunk)) => {
                    if let Some(whole) = receive_chunk(&mut assembly, chunk)? {
                        self.load_full(whole).await?;
                    }
                }
                Some(pb::watch_response::Event::Delta(delta)) => self.apply(delta).await?,
                // A heartbeat is a quiet moment too.
                Some(pb::watch_response::Event::Heartbeat(_)) | None => {
                    self.write_cache(true).await
                }
            }
            // Under a steady stream of changes, write anyway now and then.
            if self
                .dirty_since
                .is_some_and(|d| d.elapsed() >= CACHE_MAX_DELAY)
            {
                self.write_cache(true).await;
            }
            if self.publisher.holder().revision().is_some() {
                self.status.set_problem(None);
            }
        }
    }

    async fn load_full(&mut self, whole: Assembly) -> anyhow::Result<()> {
        let started = Instant::now();
        let replica = tokio::task::spawn_blocking(move || -> anyhow::Result<Replica> {
            // Each copy of the state goes as soon as the next is made.
            let msg = pb::StateDelta::decode(whole.bytes.as_slice())?;
            let revision = whole.revision;
            drop(whole);
            let delta = convert::decode(msg)?;
            anyhow::ensure!(
                delta.revision == revision,
                "the snapshot's chunks say revision {revision} but its body {}",
                delta.revision
            );
            let state = convert::state_of_full(&delta);
            drop(delta);
            Ok(Replica::new(state)?)
        })
        .await??;
        let revision = replica.revision();
        let held = self.publisher.holder().revision();
        let older = held.is_some_and(|h| h > revision);
        if older {
            tracing::warn!(
                held,
                revision,
                "the store sent an older state than the one held (its database was replaced?); taking it"
            );
        }
        self.publisher
            .publish(Arc::clone(replica.snapshot()), "full", older);
        record("full", started);
        tracing::info!(
            revision,
            ms = started.elapsed().as_millis() as u64,
            "full snapshot loaded"
        );
        self.replica = Some(replica);
        self.mark_dirty();
        Ok(())
    }

    async fn apply(&mut self, msg: pb::StateDelta) -> anyhow::Result<()> {
        let started = Instant::now();
        let Some(mut replica) = self.replica.take() else {
            anyhow::bail!("the store sent a delta before any snapshot");
        };
        let (replica, applied) = tokio::task::spawn_blocking(move || {
            let applied = convert::decode(msg)
                .map_err(anyhow::Error::from)
                .and_then(|d| replica.apply(&d).map_err(anyhow::Error::from));
            (replica, applied)
        })
        .await?;
        match applied {
            Ok(Some(snap)) => {
                self.publisher.publish(snap, "delta", false);
                record("delta", started);
                self.replica = Some(replica);
                self.mark_dirty();
                Ok(())
            }
            Ok(None) => {
                self.replica = Some(replica);
                Ok(())
            }
            Err(e) => {
                // Resume from nothing: the next stream starts with a full
                // snapshot. The snapshot in place keeps serving meanwhile.
                Err(e.context("cannot apply a delta; asking the store for a full snapshot"))
            }
        }
    }

    fn mark_dirty(&mut self) {
        self.dirty_since.get_or_insert_with(Instant::now);
    }

    /// Whether a change awaits the cache file.
    fn cache_pending(&self) -> bool {
        self.options.cache_file.is_some() && self.dirty_since.is_some()
    }

    /// Writes the cache file when a change awaits it and `--cache-interval`
    /// has passed since the last write (`quiet`: called in a quiet moment).
    /// The state is exported and written off the runtime.
    async fn write_cache(&mut self, quiet: bool) {
        let Some(path) = self.options.cache_file.clone() else {
            return;
        };
        let Some(dirty) = self.dirty_since else {
            return;
        };
        let interval_passed = self
            .cached
            .is_none_or(|(at, _)| at.elapsed() >= self.options.cache_interval);
        if !interval_passed || !(quiet || dirty.elapsed() >= CACHE_MAX_DELAY) {
            return;
        }
        let Some(replica) = self.replica.take() else {
            return;
        };
        let revision = replica.revision();
        let started = Instant::now();
        let (replica, written) = match tokio::task::spawn_blocking(move || {
            let written = cache::write(&path, &replica.state());
            // The exported state and its encoding are freed by now.
            super::replica::return_freed_memory();
            (replica, written)
        })
        .await
        {
            Ok(done) => done,
            Err(e) => {
                tracing::warn!(error = %e, "cache file not written");
                return;
            }
        };
        self.replica = Some(replica);
        self.cached = Some((Instant::now(), revision));
        self.dirty_since = None;
        match written {
            Ok(()) => tracing::debug!(
                revision,
                ms = started.elapsed().as_millis() as u64,
                "cache file written"
            ),
            Err(e) => tracing::warn!(error = %e, "cache file not written"),
        }
    }
}

/// An error and its sources, `: `-separated (tonic's transport errors say
/// little at the top).
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(s) = next {
        out.push_str(": ");
        out.push_str(&s.to_string());
        next = s.source();
    }
    out
}

fn record(source: &'static str, started: Instant) {
    metrics::counter!(telemetry::SIDECAR_UPDATES, "source" => source).increment(1);
    metrics::histogram!(telemetry::SIDECAR_APPLY, "source" => source)
        .record(started.elapsed().as_secs_f64());
}

/// Adds a chunk; returns the whole snapshot when it is complete and intact.
fn receive_chunk(
    assembly: &mut Option<Assembly>,
    chunk: pb::SnapshotChunk,
) -> anyhow::Result<Option<Assembly>> {
    if chunk.index == 0 {
        anyhow::ensure!(chunk.count > 0, "a snapshot of zero chunks");
        *assembly = Some(Assembly {
            revision: chunk.revision,
            count: chunk.count,
            total: chunk.total_bytes,
            crc: chunk.crc32c,
            bytes: Vec::with_capacity(usize::try_from(chunk.total_bytes).unwrap_or(0).min(1 << 30)),
        });
    }
    let Some(a) = assembly.as_mut() else {
        anyhow::bail!("a snapshot chunk arrived out of order");
    };
    anyhow::ensure!(
        chunk.revision == a.revision && chunk.count == a.count,
        "snapshot chunks of two snapshots were mixed"
    );
    a.bytes.extend_from_slice(&chunk.data);
    if chunk.index + 1 < a.count {
        return Ok(None);
    }
    let a = assembly.take().expect("checked above");
    anyhow::ensure!(
        a.bytes.len() as u64 == a.total,
        "the snapshot is {} bytes, its chunks said {}",
        a.bytes.len(),
        a.total
    );
    anyhow::ensure!(
        crc32c::crc32c(&a.bytes) == a.crc,
        "the snapshot's checksum does not match"
    );
    Ok(Some(a))
}

/// A random duration in [d/2, d] ("equal jitter"), so sidecars that lost the
/// store together do not come back in step.
fn jitter(d: Duration) -> Duration {
    let mut b = [0u8; 8];
    let r = if getrandom::fill(&mut b).is_ok() {
        u64::from_le_bytes(b)
    } else {
        now_ms()
    };
    let half = d / 2;
    let extra = half.as_nanos() as u64;
    half + Duration::from_nanos(if extra == 0 { 0 } else { r % extra })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(800));
            assert!(j >= Duration::from_millis(400) && j <= Duration::from_millis(800));
        }
        assert_eq!(jitter(Duration::ZERO), Duration::ZERO);
    }

    #[test]
    fn chunks_assemble_and_damage_is_refused() {
        let body = b"hello snapshot".to_vec();
        let crc = crc32c::crc32c(&body);
        let chunk = |index: u32, data: &[u8]| pb::SnapshotChunk {
            revision: 7,
            index,
            count: 2,
            total_bytes: body.len() as u64,
            crc32c: crc,
            data: data.to_vec(),
        };
        let mut a = None;
        assert!(
            receive_chunk(&mut a, chunk(0, &body[..5]))
                .unwrap()
                .is_none()
        );
        let whole = receive_chunk(&mut a, chunk(1, &body[5..]))
            .unwrap()
            .unwrap();
        assert_eq!(whole.bytes, body);

        let mut a = None;
        receive_chunk(&mut a, chunk(0, &body[..5])).unwrap();
        let e = receive_chunk(&mut a, chunk(1, b"HELLO SNAPSHOT"[5..].as_ref())).unwrap_err();
        assert!(e.to_string().contains("checksum"), "{e}");

        let mut a = None;
        let e = receive_chunk(&mut a, chunk(1, &body[5..])).unwrap_err();
        assert!(e.to_string().contains("out of order"), "{e}");
    }
}
