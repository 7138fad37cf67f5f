//! Logs (tracing) and metrics (Prometheus): set up once at start-up, and the
//! names of the metrics rolecall reports.

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::EnvFilter;

/// Decisions answered, by RPC and outcome.
pub const DECISIONS: &str = "rolecall_decisions_total";
/// RPCs refused, by RPC and gRPC code.
pub const RPC_ERRORS: &str = "rolecall_rpc_errors_total";
/// Revision of the snapshot in place.
pub const SNAPSHOT_REVISION: &str = "rolecall_snapshot_revision";
/// Seconds since the snapshot in place was built.
pub const SNAPSHOT_AGE: &str = "rolecall_snapshot_age_seconds";
/// Seconds to read the state and compile a snapshot.
pub const SNAPSHOT_BUILD: &str = "rolecall_snapshot_build_seconds";
/// Users in the snapshot in place.
pub const SNAPSHOT_USERS: &str = "rolecall_snapshot_users";
/// Estimated heap held by the snapshot in place.
pub const SNAPSHOT_BYTES: &str = "rolecall_snapshot_heap_bytes";
/// Snapshot rebuilds that failed (the previous snapshot stays in place).
pub const SNAPSHOT_FAILURES: &str = "rolecall_snapshot_build_failures_total";

/// Deltas the store's sync feed read and broadcast.
pub const SYNC_DELTAS_READ: &str = "rolecall_sync_deltas_total";
/// Full snapshots the store sent to sidecars.
pub const SYNC_FULL_SENT: &str = "rolecall_sync_full_snapshots_sent_total";
/// Sidecars watching this store now.
pub const SYNC_WATCHERS: &str = "rolecall_sync_watchers";
/// 1 while the sidecar has a stream open to the store.
pub const SIDECAR_CONNECTED: &str = "rolecall_sidecar_store_connected";
/// Seconds since the sidecar last heard from the store (any message).
pub const SIDECAR_CONTACT_AGE: &str = "rolecall_sidecar_last_contact_age_seconds";
/// 1 while the sidecar is past `--max-staleness`.
pub const SIDECAR_STALE: &str = "rolecall_sidecar_stale";
/// Snapshots the sidecar put in place, by source (`delta`, `full`, `cache`).
pub const SIDECAR_UPDATES: &str = "rolecall_sidecar_updates_total";
/// Seconds to apply a delta or load a full snapshot, by source.
pub const SIDECAR_APPLY: &str = "rolecall_sidecar_apply_seconds";
/// Times the sidecar lost or could not open its stream to the store.
pub const SIDECAR_RECONNECTS: &str = "rolecall_sidecar_reconnects_total";

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Logs to stderr, filtered by `RUST_LOG` (default `info`).
pub fn init_tracing(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Installs the Prometheus recorder and describes the metrics.
pub fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 2.0, 5.0, 10.0])?
        .install_recorder()?;
    metrics::describe_counter!(DECISIONS, "Decisions answered, by rpc and outcome");
    metrics::describe_counter!(RPC_ERRORS, "RPCs refused, by rpc and gRPC code");
    metrics::describe_gauge!(SNAPSHOT_REVISION, "Revision of the snapshot in place");
    metrics::describe_gauge!(
        SNAPSHOT_AGE,
        "Seconds since the snapshot in place was built"
    );
    metrics::describe_histogram!(
        SNAPSHOT_BUILD,
        "Seconds to read the state and compile a snapshot"
    );
    metrics::describe_gauge!(SNAPSHOT_USERS, "Users in the snapshot in place");
    metrics::describe_gauge!(
        SNAPSHOT_BYTES,
        "Estimated heap bytes held by the snapshot in place"
    );
    metrics::describe_counter!(SNAPSHOT_FAILURES, "Snapshot rebuilds that failed");
    metrics::describe_counter!(SYNC_DELTAS_READ, "Deltas the sync feed broadcast");
    metrics::describe_counter!(SYNC_FULL_SENT, "Full snapshots sent to sidecars");
    metrics::describe_gauge!(SYNC_WATCHERS, "Sidecars watching this store");
    metrics::describe_gauge!(SIDECAR_CONNECTED, "1 while a stream to the store is open");
    metrics::describe_gauge!(
        SIDECAR_CONTACT_AGE,
        "Seconds since the sidecar last heard from the store"
    );
    metrics::describe_gauge!(SIDECAR_STALE, "1 while past --max-staleness");
    metrics::describe_counter!(SIDECAR_UPDATES, "Snapshots put in place, by source");
    metrics::describe_histogram!(
        SIDECAR_APPLY,
        "Seconds to apply a delta or load a full snapshot, by source"
    );
    metrics::describe_counter!(SIDECAR_RECONNECTS, "Lost or failed streams to the store");
    Ok(handle)
}
