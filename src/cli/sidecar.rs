//! `rolecall sidecar`: the data plane next to an application — only the
//! `Authorizer` (with health and reflection) on loopback and/or a unix
//! socket, `/healthz` and `/metrics` on a small HTTP port — kept current by
//! watching a store, and serving its last good snapshot (from memory, or
//! from its cache file after a restart) while the store is away.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::serve::{bind, serve_http, shutdown_signal};
use crate::grpc::{self, AuthorizerService};
use crate::http::{self, HttpState, SidecarHealth};
use crate::refresh::Publisher;
use crate::secret;
use crate::snapshot::SnapshotHolder;
use crate::sync::follower::{Follower, FollowerOptions, OnStale};
use crate::telemetry;

#[derive(Debug, Args)]
pub struct SidecarArgs {
    /// The store's `SnapshotSync` endpoint, for example `http://rolecall-store:50052`.
    #[arg(long, env = "ROLECALL_STORE_URL")]
    pub store: String,

    /// Address of the gRPC Authorizer; `off` to serve only on `--grpc-uds`.
    #[arg(long, env = "ROLECALL_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,

    /// Also serve the Authorizer on this unix socket (replaced if it exists).
    #[arg(long, env = "ROLECALL_GRPC_UDS", value_name = "PATH")]
    pub grpc_uds: Option<PathBuf>,

    /// Address of the small HTTP listener (`/healthz`, `/metrics`).
    #[arg(long, env = "ROLECALL_HTTP_ADDR", default_value = "127.0.0.1:9090")]
    pub http_addr: SocketAddr,

    /// Where to keep the last snapshot, to serve from after a restart while
    /// the store is unreachable.
    #[arg(long, env = "ROLECALL_CACHE_FILE", value_name = "PATH")]
    pub cache_file: Option<PathBuf>,

    /// Least time between two writes of the cache file (for example `10s`;
    /// `0s` writes after every change).
    #[arg(long, env = "ROLECALL_CACHE_INTERVAL", default_value = "10s", value_parser = humantime::parse_duration)]
    pub cache_interval: Duration,

    /// How long the store may stay silent before the snapshot counts as stale
    /// (for example `30s`, `5m`).
    #[arg(long, env = "ROLECALL_MAX_STALENESS", default_value = "5m", value_parser = humantime::parse_duration)]
    pub max_staleness: Duration,

    /// What a stale sidecar does: keep answering and report it (`serve`), or
    /// deny every check with reason `stale` (`deny`).
    #[arg(long, env = "ROLECALL_ON_STALE", value_enum, default_value = "serve")]
    pub on_stale: OnStale,

    /// File holding the store's sync token (else env `ROLECALL_SYNC_TOKEN`).
    #[arg(long, value_name = "PATH")]
    pub sync_token_file: Option<PathBuf>,

    /// Name sent to the store for its logs (default: the host name).
    #[arg(long, env = "ROLECALL_CLIENT_NAME")]
    pub client_name: Option<String>,
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "sidecar".to_owned())
}

pub async fn run(args: SidecarArgs) -> anyhow::Result<()> {
    let metrics = telemetry::install_metrics()?;
    let token = secret::read_text(args.sync_token_file.as_deref(), "ROLECALL_SYNC_TOKEN")
        .context("the sync token (--sync-token-file)")?;
    anyhow::ensure!(
        args.store.starts_with("http://") || args.store.starts_with("https://"),
        "--store must be a URL such as http://rolecall-store:50052 (got `{}`)",
        args.store
    );
    let grpc_addr: Option<SocketAddr> = match args.grpc_addr.as_str() {
        "off" | "none" => None,
        a => Some(a.parse().with_context(|| {
            format!("--grpc-addr `{a}` is not an address such as 127.0.0.1:50051 (or `off`)")
        })?),
    };
    anyhow::ensure!(
        grpc_addr.is_some() || args.grpc_uds.is_some(),
        "--grpc-addr is off and no --grpc-uds is given: the Authorizer would listen nowhere"
    );
    let tcp = match grpc_addr {
        Some(addr) => Some(bind(addr, "gRPC", "--grpc-addr").await?),
        None => None,
    };
    let uds = match &args.grpc_uds {
        Some(path) => {
            if path.exists() {
                std::fs::remove_file(path)
                    .with_context(|| format!("cannot replace the old socket {}", path.display()))?;
            }
            Some(tokio::net::UnixListener::bind(path).with_context(|| {
                format!(
                    "cannot listen on the unix socket {}; pass another --grpc-uds",
                    path.display()
                )
            })?)
        }
        None => None,
    };
    let http_listener = bind(args.http_addr, "HTTP", "--http-addr").await?;

    let holder = Arc::new(SnapshotHolder::new());
    let publisher = Arc::new(Publisher::new(Arc::clone(&holder)));
    let mut options = FollowerOptions::new(args.store.clone());
    options.token = token;
    options.client = args.client_name.clone().unwrap_or_else(host_name);
    options.cache_file = args.cache_file.clone();
    options.cache_interval = args.cache_interval;
    options.max_staleness = args.max_staleness;
    options.on_stale = args.on_stale;
    let mut follower = Follower::new(options, Arc::clone(&publisher));
    let status = Arc::clone(follower.status());
    if let Err(e) = follower.load_cache().await {
        tracing::warn!(error = %format!("{e:#}"), "the cache file cannot be used");
    }

    let service = AuthorizerService::new(Arc::clone(&holder), publisher.revisions())
        .with_stale_flag(status.deny_flag());
    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let (health, grpc_tasks) = grpc::serve_both(tcp, uds, service, shutdown_rx.clone()).await;
    let watchdog = tokio::spawn(Follower::watchdog(
        Arc::clone(&status),
        Arc::clone(&publisher),
        args.max_staleness,
        args.on_stale,
        Some(health.clone()),
        Duration::from_millis(250),
    ));
    let app = http::edge(http::router(HttpState {
        holder: Arc::clone(&holder),
        status: Arc::clone(publisher.status()),
        metrics,
        sync: Some(SidecarHealth {
            status: Arc::clone(&status),
            on_stale: args.on_stale,
            max_staleness: args.max_staleness,
        }),
    }));
    let http_task = serve_http(http_listener, app, shutdown_rx.clone());
    let follow = tokio::spawn(follower.run());
    tracing::info!(
        store = %args.store,
        grpc = ?grpc_addr,
        uds = ?args.grpc_uds,
        http = %args.http_addr,
        "sidecar started"
    );

    shutdown_signal().await;
    tracing::info!("shutting down");
    health.not_serving().await;
    follow.abort();
    watchdog.abort();
    let _ = shutdown_tx.send(true);
    for t in grpc_tasks {
        t.await?.context("gRPC server failed")?;
    }
    http_task.await?.context("HTTP server failed")?;
    if let Some(path) = &args.grpc_uds {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
