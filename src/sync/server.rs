//! The store's side of `SnapshotSync.Watch`.
//!
//! One [`Feed`] per store process follows the store's revision (woken by the
//! process's own writes, and polling for writes by other processes sharing
//! the database), reads each delta from the store once and broadcasts it,
//! encoded, to every watcher. A watcher first catches up from the store —
//! the delta since its revision, or the full state in chunks when the store
//! cannot give one — and then forwards broadcasts, catching up again
//! whenever it falls behind the broadcast (or the feed had to skip). Between
//! messages it sends heartbeats.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;
use tokio::sync::{Mutex, broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::model::Revision;
use crate::pb::v1 as pb;
use crate::pb::v1::snapshot_sync_server::SnapshotSync;
use crate::secret::Secret;
use crate::store::{Store, StoreError};
use crate::telemetry;

use super::convert;

/// How the feed and its watchers behave.
#[derive(Debug, Clone)]
pub struct FeedOptions {
    /// How often to look for writes made by other processes.
    pub poll: Duration,
    /// A heartbeat goes out after this long without another message.
    pub heartbeat: Duration,
    /// A delta touching more entities than this is sent as a full snapshot.
    pub max_delta_entities: usize,
    /// Size of the chunks of a full snapshot.
    pub chunk_bytes: usize,
}

impl Default for FeedOptions {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(500),
            heartbeat: Duration::from_secs(5),
            max_delta_entities: 50_000,
            chunk_bytes: 1 << 20,
        }
    }
}

/// What the feed broadcasts.
#[derive(Debug, Clone)]
enum Item {
    Delta(Arc<pb::StateDelta>),
    /// The feed moved to `revision` without a delta (too big, or the store
    /// could not give one): watchers catch up from the store.
    Skip,
}

/// An encoded full snapshot.
struct Full {
    revision: Revision,
    bytes: Arc<Vec<u8>>,
    crc: u32,
}

/// Follows the store and broadcasts its deltas.
pub struct Feed {
    store: Arc<dyn Store>,
    options: FeedOptions,
    items: broadcast::Sender<Item>,
    /// The last full snapshot encoded, reused while the revision holds.
    full: Mutex<Option<Full>>,
}

impl Feed {
    pub fn new(store: Arc<dyn Store>, options: FeedOptions) -> Arc<Self> {
        let (items, _) = broadcast::channel(1024);
        Arc::new(Self {
            store,
            options,
            items,
            full: Mutex::new(None),
        })
    }

    /// Follows the store until the task is dropped: wakes on `wake` (this
    /// process's writes) or every `poll`, and broadcasts what changed.
    pub async fn run(self: Arc<Self>, mut wake: watch::Receiver<Revision>) {
        let mut at = loop {
            match self.store.revision().await {
                Ok(r) => break r,
                Err(e) => {
                    tracing::warn!(error = %e, "sync feed cannot read the revision; retrying");
                    tokio::time::sleep(self.options.poll).await;
                }
            }
        };
        loop {
            tokio::select! {
                changed = wake.changed() => {
                    if changed.is_err() {
                        // No more local writes; keep polling.
                        wake = watch::channel(at).1;
                    }
                }
                () = tokio::time::sleep(self.options.poll) => {}
            }
            match self.advance(at).await {
                Ok(next) => at = next,
                Err(e) => tracing::warn!(error = %e, "sync feed cannot read the store; retrying"),
            }
        }
    }

    async fn advance(&self, at: Revision) -> Result<Revision, StoreError> {
        if self.store.revision().await? <= at {
            return Ok(at);
        }
        let item = match self
            .store
            .delta(at, self.options.max_delta_entities)
            .await?
        {
            Some(d) if d.revision <= at => return Ok(at),
            Some(d) => {
                let next = d.revision;
                let msg = convert::encode(&d);
                metrics::counter!(telemetry::SYNC_DELTAS_READ).increment(1);
                let _ = self.items.send(Item::Delta(Arc::new(msg)));
                return Ok(next);
            }
            None => Item::Skip,
        };
        let next = self.store.revision().await?;
        let _ = self.items.send(item);
        Ok(next)
    }

    /// The full state at the store's revision, encoded (cached per revision).
    async fn full(&self) -> Result<(Revision, Arc<Vec<u8>>, u32), StoreError> {
        let mut slot = self.full.lock().await;
        let current = self.store.revision().await?;
        if let Some(f) = slot.as_ref()
            && f.revision == current
        {
            return Ok((f.revision, Arc::clone(&f.bytes), f.crc));
        }
        let state = self.store.load_state().await?;
        let revision = state.revision;
        let (bytes, crc) = tokio::task::spawn_blocking(move || {
            let bytes = convert::encode(&convert::full_delta(&state)).encode_to_vec();
            let crc = crc32c::crc32c(&bytes);
            (bytes, crc)
        })
        .await
        .map_err(|e| StoreError::Database(format!("cannot encode the snapshot: {e}")))?;
        let bytes = Arc::new(bytes);
        *slot = Some(Full {
            revision,
            bytes: Arc::clone(&bytes),
            crc,
        });
        Ok((revision, bytes, crc))
    }
}

/// The `SnapshotSync` service over a [`Feed`].
#[derive(Clone)]
pub struct SyncService {
    feed: Arc<Feed>,
}

impl SyncService {
    pub fn new(feed: Arc<Feed>) -> Self {
        Self { feed }
    }
}

type Out = mpsc::Sender<Result<pb::WatchResponse, Status>>;

/// A watcher's stream ended (the caller went away).
struct Gone;

async fn send(out: &Out, event: pb::watch_response::Event) -> Result<(), Gone> {
    out.send(Ok(pb::WatchResponse { event: Some(event) }))
        .await
        .map_err(|_| Gone)
}

fn unavailable(e: &StoreError) -> Status {
    Status::unavailable(format!("the store cannot read its database: {e}"))
}

/// Brings a watcher at `at` up to the store: a delta, or a full snapshot.
/// Returns the revision it is at.
async fn catch_up(feed: &Feed, out: &Out, at: Revision) -> Result<Result<Revision, Status>, Gone> {
    // A caller that holds nothing gets the state, not the history.
    let delta = if at == 0 {
        Ok(None)
    } else {
        feed.store.delta(at, feed.options.max_delta_entities).await
    };
    match delta {
        Ok(Some(d)) => {
            if d.revision > at && !d.is_empty() {
                send(out, pb::watch_response::Event::Delta(convert::encode(&d))).await?;
            }
            Ok(Ok(d.revision.max(at)))
        }
        Ok(None) => {
            let (revision, bytes, crc) = match feed.full().await {
                Ok(f) => f,
                Err(e) => return Ok(Err(unavailable(&e))),
            };
            let chunk = feed.options.chunk_bytes.max(1);
            let count = bytes.len().div_ceil(chunk).max(1);
            let Ok(count32) = u32::try_from(count) else {
                return Ok(Err(Status::internal("the snapshot is too large to send")));
            };
            for index in 0..count {
                let data = bytes[index * chunk..((index + 1) * chunk).min(bytes.len())].to_vec();
                send(
                    out,
                    pb::watch_response::Event::SnapshotChunk(pb::SnapshotChunk {
                        revision,
                        index: index as u32,
                        count: count32,
                        total_bytes: bytes.len() as u64,
                        crc32c: crc,
                        data,
                    }),
                )
                .await?;
            }
            metrics::counter!(telemetry::SYNC_FULL_SENT).increment(1);
            Ok(Ok(revision))
        }
        Err(e) => Ok(Err(unavailable(&e))),
    }
}

async fn watch_loop(feed: Arc<Feed>, out: Out, from: Revision) -> Result<(), Gone> {
    // Subscribe before catching up, so nothing falls between the two.
    let mut items = feed.items.subscribe();
    let mut at = match catch_up(&feed, &out, from).await? {
        Ok(r) => r,
        Err(status) => return out.send(Err(status)).await.map_err(|_| Gone),
    };
    let heartbeat = feed.options.heartbeat;
    let mut quiet_until = Instant::now() + heartbeat;
    loop {
        let resync = tokio::select! {
            item = items.recv() => match item {
                Ok(Item::Delta(d)) if d.revision <= at => false,
                Ok(Item::Delta(d)) if d.from_revision <= at => {
                    at = d.revision;
                    send(&out, pb::watch_response::Event::Delta((*d).clone())).await?;
                    quiet_until = Instant::now() + heartbeat;
                    false
                }
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => true,
                Err(broadcast::error::RecvError::Closed) => return Ok(()),
            },
            () = tokio::time::sleep_until(quiet_until) => {
                send(&out, pb::watch_response::Event::Heartbeat(pb::Heartbeat {
                    revision: at,
                    at_unix_ms: crate::time::now_ms(),
                })).await?;
                quiet_until = Instant::now() + heartbeat;
                false
            }
            () = out.closed() => return Err(Gone),
        };
        if resync {
            at = match catch_up(&feed, &out, at).await? {
                Ok(r) => r,
                Err(status) => return out.send(Err(status)).await.map_err(|_| Gone),
            };
            quiet_until = Instant::now() + heartbeat;
        }
    }
}

#[tonic::async_trait]
impl SnapshotSync for SyncService {
    type WatchStream =
        Pin<Box<dyn tokio_stream::Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

    async fn watch(
        &self,
        request: Request<pb::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let req = request.into_inner();
        let client = if req.client.is_empty() {
            "unnamed".to_owned()
        } else {
            req.client.chars().take(128).collect()
        };
        let (tx, rx) = mpsc::channel(16);
        let feed = Arc::clone(&self.feed);
        let from = req.from_revision;
        tracing::info!(client, from, "sidecar watching");
        metrics::gauge!(telemetry::SYNC_WATCHERS).increment(1.0);
        tokio::spawn(async move {
            let _ = watch_loop(feed, tx, from).await;
            metrics::gauge!(telemetry::SYNC_WATCHERS).decrement(1.0);
            tracing::info!(client, "sidecar stopped watching");
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// Checks `authorization: Bearer <sync token>` when a token is configured.
#[derive(Clone)]
pub struct SyncAuth {
    token: Option<Secret>,
}

impl SyncAuth {
    pub fn new(token: Option<Secret>) -> Self {
        Self { token }
    }
}

impl tonic::service::Interceptor for SyncAuth {
    fn call(&mut self, req: Request<()>) -> Result<Request<()>, Status> {
        let Some(token) = &self.token else {
            return Ok(req);
        };
        let presented = req
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        match presented {
            Some(t) if token.matches(t) => Ok(req),
            Some(_) => Err(Status::unauthenticated(
                "the bearer token is not the sync token",
            )),
            None => Err(Status::unauthenticated(
                "missing sync token: send `authorization: Bearer <token>` (rolecall sidecar --sync-token-file)",
            )),
        }
    }
}
