//! The HTTP edge: `/healthz` and `/metrics` now; the SCIM service provider
//! and the admin API mount here too.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::refresh::SnapshotStatus;
use crate::snapshot::SnapshotHolder;
use crate::telemetry;

/// What the HTTP handlers read.
#[derive(Clone)]
pub struct HttpState {
    pub holder: Arc<SnapshotHolder>,
    pub status: Arc<SnapshotStatus>,
    pub metrics: PrometheusHandle,
}

pub fn router(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_text))
        .with_state(state)
}

/// 200 with the snapshot's revision and age once one is in place, else 503.
async fn healthz(State(s): State<HttpState>) -> impl IntoResponse {
    match (s.holder.revision(), s.status.age()) {
        (Some(revision), age) => (
            StatusCode::OK,
            Json(json!({
                "status": "serving",
                "revision": revision,
                "snapshot_age_seconds": age.map(|a| a.as_secs_f64()),
            })),
        ),
        (None, _) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "not_serving", "reason": "no snapshot loaded yet"})),
        ),
    }
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
