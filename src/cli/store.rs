//! `rolecall store`: the control plane on its own — SCIM, the admin API and
//! metrics over HTTP, `SnapshotSync` over gRPC for sidecars — on SQLite or
//! PostgreSQL. Several store processes may share one PostgreSQL database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::serve::{ControlPlane, admin_token, bind, serve_http, shutdown_signal, sync_token};
use crate::{store, telemetry};

#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Database: `sqlite://PATH` (created if missing) or `postgres://USER@HOST/DB`.
    #[arg(
        long,
        env = "ROLECALL_DATABASE_URL",
        default_value = "sqlite://rolecall.db"
    )]
    pub database_url: String,

    /// Address of the HTTP listener (SCIM at `/scim/v2`, admin API, `/healthz`, `/metrics`).
    #[arg(long, env = "ROLECALL_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    pub http_addr: SocketAddr,

    /// Address of `SnapshotSync` (with health and reflection), which sidecars watch.
    #[arg(long, env = "ROLECALL_SYNC_ADDR", default_value = "0.0.0.0:50052")]
    pub sync_addr: SocketAddr,

    /// File holding the token sidecars must present (else env
    /// `ROLECALL_SYNC_TOKEN`); required unless `--sync-addr` is loopback.
    #[arg(long, value_name = "PATH")]
    pub sync_token_file: Option<PathBuf>,

    /// File holding the admin API's bearer token (else env `ROLECALL_ADMIN_TOKEN`);
    /// without either, the admin API at `/admin/v1` is off.
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,

    /// Public base URL of the SCIM endpoint, for `meta.location` and `$ref`.
    #[arg(long, env = "ROLECALL_PUBLIC_SCIM_URL")]
    pub public_scim_url: Option<String>,

    /// How often to look for writes made by other processes (other store
    /// replicas, `rolecall import`), in milliseconds.
    #[arg(long, env = "ROLECALL_REFRESH_INTERVAL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..))]
    pub refresh_interval_ms: u64,
}

pub async fn run(args: StoreArgs) -> anyhow::Result<()> {
    let metrics = telemetry::install_metrics()?;
    let admin_token = admin_token(args.admin_token_file.as_ref())?;
    let sync_token = sync_token(args.sync_token_file.as_ref(), args.sync_addr)?;
    let http_listener = bind(args.http_addr, "HTTP", "--http-addr").await?;
    let sync_listener = bind(args.sync_addr, "SnapshotSync", "--sync-addr").await?;
    let store = store::open(&args.database_url).await?;
    let plane = ControlPlane::new(
        Arc::clone(&store),
        metrics,
        admin_token,
        args.public_scim_url.clone(),
    )
    .await;
    let refresher = Arc::clone(&plane.refresher);
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let revision = refresher
        .refresh()
        .await
        .context("cannot build the first snapshot")?;
    let poll = Duration::from_millis(args.refresh_interval_ms);
    let http_task = serve_http(http_listener, plane.app.clone(), shutdown_rx.clone());
    let sync_task = plane
        .serve_sync(sync_listener, sync_token, poll, shutdown_rx)
        .await;
    let follow = tokio::spawn(Arc::clone(&refresher).follow(poll));
    tracing::info!(http = %args.http_addr, sync = %args.sync_addr, revision, "store serving");

    shutdown_signal().await;
    tracing::info!("shutting down");
    follow.abort();
    let _ = shutdown_tx.send(true);
    http_task.await?.context("HTTP server failed")?;
    sync_task.await?.context("SnapshotSync server failed")?;
    Ok(())
}
