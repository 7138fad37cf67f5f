//! The HTTP edge: `/healthz` and `/metrics` now; the SCIM service provider
//! and the admin API mount here too.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use tower_http::catch_panic::CatchPanicLayer;

use tracing::Instrument;

use axum::Json;
use axum::Router;
use axum::extract::Request;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::refresh::SnapshotStatus;
use crate::snapshot::SnapshotHolder;
use crate::sync::follower::{OnStale, SyncStatus};
use crate::telemetry;

/// What the HTTP handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub holder: Arc<SnapshotHolder>,
    pub status: Arc<SnapshotStatus>,
    pub metrics: PrometheusHandle,
    /// A sidecar's link to its store (`None` in the store's own process).
    pub sync: Option<SidecarHealth>,
}

/// What a sidecar's `/healthz` adds: its link to the store.
#[derive(Clone)]
pub struct SidecarHealth {
    pub status: Arc<SyncStatus>,
    pub on_stale: OnStale,
    pub max_staleness: std::time::Duration,
}

/// Metric: HTTP requests by surface (`scim`, `admin`, `other`), method and status class.
pub const HTTP_REQUESTS: &str = "rolecall_http_requests_total";
/// Metric: HTTP request latency by surface.
pub const HTTP_DURATION: &str = "rolecall_http_request_duration_seconds";

/// Middleware around every HTTP request: a `tracing` span (method and path,
/// never headers or query strings, which may carry secrets) and metrics.
pub async fn trace(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let surface = if path.starts_with("/scim/") {
        "scim"
    } else if path.starts_with("/admin/") {
        "admin"
    } else {
        "other"
    };
    let span = tracing::info_span!("http", %method, %path);
    let resp = next.run(req).instrument(span.clone()).await;
    let status = resp.status();
    let elapsed = started.elapsed();
    span.in_scope(|| {
        tracing::debug!(
            status = status.as_u16(),
            latency_us = elapsed.as_micros() as u64,
            "answered"
        );
    });
    let class = match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    };
    metrics::counter!(HTTP_REQUESTS, "surface" => surface, "method" => method.to_string(), "status" => class)
        .increment(1);
    metrics::histogram!(HTTP_DURATION, "surface" => surface).record(elapsed.as_secs_f64());
    resp
}

/// The layers every HTTP surface shares, outermost first: the trace span and
/// metrics, then a guard that turns a panic in a handler into a 500 answer
/// (without it the connection would close with no answer at all).
pub fn edge(app: Router) -> Router {
    app.layer(CatchPanicLayer::custom(|panic: Box<dyn Any + Send>| {
        log_panic(&*panic);
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": {
                "code": "internal",
                "message": "the request failed inside rolecall; it may or may not have been applied. The server log has the details",
            }})),
        )
            .into_response()
    }))
    .layer(axum::middleware::from_fn(trace))
}

/// Logs a handler's panic (its message, when it has one).
pub fn log_panic(panic: &(dyn Any + Send)) {
    let message = panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// 200 with the snapshot's revision and age once one is in place, else 503
/// with the reason. A sidecar adds its link to the store, and answers 503
/// while stale under `--on-stale deny`.
async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    let revision = s.holder.revision();
    let age = s.status.age().map(|a| a.as_secs_f64());
    let Some(sync) = &s.sync else {
        return match revision {
            Some(revision) => (
                StatusCode::OK,
                Json(json!({
                    "status": "serving",
                    "revision": revision,
                    "snapshot_age_seconds": age,
                })),
            ),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(json!({"status": "not_serving", "reason": "no snapshot loaded yet"})),
            ),
        };
    };
    let stale = sync.status.stale();
    let (code, status) = match revision {
        None => (StatusCode::SERVICE_UNAVAILABLE, "not_serving"),
        Some(_) if stale && sync.on_stale == OnStale::Deny => {
            (StatusCode::SERVICE_UNAVAILABLE, "stale_denying")
        }
        Some(_) if stale => (StatusCode::OK, "serving_stale"),
        Some(_) => (StatusCode::OK, "serving"),
    };
    let reason = sync.status.problem().or_else(|| {
        revision
            .is_none()
            .then(|| "waiting for the first snapshot from the store".to_owned())
    });
    (
        code,
        Json(json!({
            "status": status,
            "revision": revision,
            "snapshot_age_seconds": age,
            "store_connected": sync.status.connected(),
            "last_contact_seconds": sync.status.since_contact().map(|d| d.as_secs_f64()),
            "stale": stale,
            "max_staleness_seconds": sync.max_staleness.as_secs_f64(),
            "on_stale": match sync.on_stale { OnStale::Serve => "serve", OnStale::Deny => "deny" },
            "reason": reason,
        })),
    )
}

async fn metrics_text(State(s): State<HttpState>) -> impl IntoResponse {
    if let Some(age) = s.status.age() {
        metrics::gauge!(telemetry::SNAPSHOT_AGE).set(age.as_secs_f64());
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.metrics.render(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_with_the_error_body() {
        let app = edge(Router::new().route(
            "/boom",
            get(|| async {
                panic!("boom");
                #[allow(unreachable_code)]
                ""
            }),
        ));
        let resp = app
            .oneshot(
                Request::get("/boom")
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(resp.into_body(), 4096).await.unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal");
    }
}
