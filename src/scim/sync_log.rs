//! The sync log: every SCIM request — time, directory, method, path, status,
//! `scimType`/detail, latency, the IdP's user agent and what changed — handed
//! to a background writer so that recording it never holds up the IdP.

use std::sync::Arc;
use std::time::Instant;

use crate::time::now_ms;

use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;
use tokio::sync::mpsc;
use tracing::Instrument;

use super::error::ErrorDetail;
use crate::model::{DirectoryId, Revision};
use crate::store::Store;
use crate::store::scim::SyncLogEntry;

/// Entries waiting to be written; past this, new entries are counted and dropped.
const QUEUE: usize = 4096;

/// Metric: sync log entries dropped because the writer fell behind.
pub const SYNC_LOG_DROPPED: &str = "rolecall_scim_sync_log_dropped_total";
/// Metric: SCIM requests, by method and status.
pub const SCIM_REQUESTS: &str = "rolecall_scim_requests_total";

/// What a handler tells the sync log about a request (response extensions).
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub directory: Option<DirectoryId>,
    pub token_id: Option<String>,
    pub changes: Option<Value>,
    pub revision: Option<Revision>,
}

/// Sends entries to the background writer.
#[derive(Clone)]
pub struct SyncLog {
    tx: mpsc::Sender<SyncLogEntry>,
}

impl SyncLog {
    /// Starts the writer task on the current runtime.
    pub fn start(store: Arc<dyn Store>) -> Self {
        let (tx, mut rx) = mpsc::channel::<SyncLogEntry>(QUEUE);
        tokio::spawn(async move {
            while let Some(entry) = rx.recv().await {
                if let Err(e) = store.append_sync_log(entry).await {
                    tracing::warn!(error = %e, "cannot write a sync log entry");
                }
            }
        });
        Self { tx }
    }

    pub fn record(&self, entry: SyncLogEntry) {
        if self.tx.try_send(entry).is_err() {
            metrics::counter!(SYNC_LOG_DROPPED).increment(1);
        }
    }
}

/// Middleware around every SCIM route: times the request and records it.
pub async fn record(State(log): State<SyncLog>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let at_ms = now_ms();
    let method = req.method().to_string();
    // The full path the IdP asked for (`/scim/v2/Users/…`), not the one
    // inside the nested router.
    let uri = req
        .extensions()
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| req.uri().clone());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let span = tracing::info_span!("scim", %method, %path);
    let resp = next.run(req).instrument(span).await;
    let status = resp.status().as_u16();
    let outcome = resp
        .extensions()
        .get::<Outcome>()
        .cloned()
        .unwrap_or_default();
    let error = resp.extensions().get::<ErrorDetail>().cloned();
    metrics::counter!(SCIM_REQUESTS, "method" => method.clone(), "status" => status.to_string())
        .increment(1);
    log.record(SyncLogEntry {
        id: 0,
        at_ms,
        directory: outcome.directory,
        token_id: outcome.token_id,
        method,
        path,
        status,
        scim_type: error.as_ref().and_then(|e| e.scim_type.map(str::to_owned)),
        detail: error.map(|e| e.detail),
        latency_us: started.elapsed().as_micros() as u64,
        user_agent,
        changes: outcome.changes,
        revision: outcome.revision,
    });
    resp
}
