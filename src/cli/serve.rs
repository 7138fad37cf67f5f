//! `rolecall serve`: the store and the Authorizer in one process, on an
//! embedded SQLite database by default. The quickstart and small installs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;

use metrics_exporter_prometheus::PrometheusHandle;
use tonic::codec::CompressionEncoding;
use tonic::service::interceptor::InterceptedService;

use crate::admin::{self, AdminState, AdminToken};
use crate::datafile::{DataFile, Format};
use crate::grpc::{self, AuthorizerService};
use crate::http::{self, HttpState};
use crate::pb::v1::snapshot_sync_server::SnapshotSyncServer;
use crate::refresh::Refresher;
use crate::scim::{self, routes::ScimState};
use crate::secret::{self, Secret};
use crate::snapshot::SnapshotHolder;
use crate::sync::server::{Feed, FeedOptions, SyncAuth, SyncService};
use crate::{store, telemetry};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Database: `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "ROLECALL_DATABASE_URL",
        default_value = "sqlite://rolecall.db"
    )]
    pub database_url: String,

    /// Address of the gRPC Authorizer (with health and reflection).
    #[arg(long, env = "ROLECALL_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,

    /// Address of the HTTP listener (SCIM at `/scim/v2`, `/healthz`, `/metrics`).
    #[arg(long, env = "ROLECALL_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,

    /// Load the demo data set (`data/demo.yaml`) if the database has no organizations yet.
    #[arg(long)]
    pub demo: bool,

    /// Public base URL of the SCIM endpoint (`https://rolecall.example.com/scim/v2`),
    /// for `meta.location` and `$ref`; by default it is built from the request's `Host`.
    #[arg(long, env = "ROLECALL_PUBLIC_SCIM_URL")]
    pub public_scim_url: Option<String>,

    /// How often to look for writes made by other processes (`rolecall import`), in milliseconds.
    #[arg(long, env = "ROLECALL_REFRESH_INTERVAL_MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(10..))]
    pub refresh_interval_ms: u64,

    /// File holding the admin API's bearer token (else env `ROLECALL_ADMIN_TOKEN`);
    /// without either, the admin API at `/admin/v1` is off.
    #[arg(long, value_name = "PATH")]
    pub admin_token_file: Option<PathBuf>,

    /// Also serve `SnapshotSync` (for sidecars) on this address; off by default.
    #[arg(long, env = "ROLECALL_SYNC_ADDR")]
    pub sync_addr: Option<SocketAddr>,

    /// File holding the token sidecars must present (else env `ROLECALL_SYNC_TOKEN`).
    #[arg(long, value_name = "PATH")]
    pub sync_token_file: Option<PathBuf>,
}

/// The admin token from `--admin-token-file` or `ROLECALL_ADMIN_TOKEN`; never logged.
pub(super) fn admin_token(file: Option<&PathBuf>) -> anyhow::Result<Option<AdminToken>> {
    let text = secret::read_text(file.map(PathBuf::as_path), "ROLECALL_ADMIN_TOKEN")
        .context("the admin token (--admin-token-file)")?;
    match text.as_deref().and_then(Secret::new) {
        Some(token) => {
            let from = if file.is_some() {
                "--admin-token-file"
            } else {
                "ROLECALL_ADMIN_TOKEN"
            };
            tracing::info!("admin API on at /admin/v1 (token from {from})");
            Ok(Some(token))
        }
        None => {
            tracing::warn!(
                "the admin API is off: set ROLECALL_ADMIN_TOKEN or pass --admin-token-file to turn it on"
            );
            Ok(None)
        }
    }
}

/// The sync token from `--sync-token-file` or `ROLECALL_SYNC_TOKEN`. A sync
/// port that other hosts can reach must have one.
pub(super) fn sync_token(
    file: Option<&PathBuf>,
    addr: SocketAddr,
) -> anyhow::Result<Option<Secret>> {
    let text = secret::read_text(file.map(PathBuf::as_path), "ROLECALL_SYNC_TOKEN")
        .context("the sync token (--sync-token-file)")?;
    let token = text.as_deref().and_then(Secret::new);
    if token.is_none() && !addr.ip().is_loopback() {
        anyhow::bail!(
            "the sync port {addr} is reachable from other hosts but has no token: set \
             ROLECALL_SYNC_TOKEN or --sync-token-file (and the same on every sidecar), \
             or listen on loopback with --sync-addr 127.0.0.1:{}",
            addr.port()
        );
    }
    Ok(token)
}

pub(super) async fn bind(addr: SocketAddr, what: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for {what}; pass another address with {flag}")
    })
}

/// The store's side of a process: its HTTP surfaces over one store and the
/// snapshot kept current from it.
pub(super) struct ControlPlane {
    pub store: Arc<dyn store::Store>,
    pub refresher: Arc<Refresher>,
    pub app: axum::Router,
}

impl ControlPlane {
    pub async fn new(
        store: Arc<dyn store::Store>,
        metrics: PrometheusHandle,
        admin_token: Option<AdminToken>,
        public_scim_url: Option<String>,
    ) -> Self {
        let holder = Arc::new(SnapshotHolder::new());
        let refresher = Arc::new(Refresher::new(Arc::clone(&store), Arc::clone(&holder)));
        let scim = scim::routes::router(ScimState {
            store: Arc::clone(&store),
            refresher: Arc::clone(&refresher),
            public_url: public_scim_url,
        });
        let admin = admin::router(
            AdminState {
                store: Arc::clone(&store),
                refresher: Arc::clone(&refresher),
            },
            admin_token,
        );
        let app = http::edge(
            http::router(HttpState {
                holder,
                status: Arc::clone(refresher.status()),
                metrics,
                sync: None,
            })
            .nest("/scim/v2", scim)
            .nest(admin::PREFIX, admin),
        );
        Self {
            store,
            refresher,
            app,
        }
    }

    /// Serves `SnapshotSync` (with health and reflection) on `listener`:
    /// the feed wakes on this process's writes and polls for others'.
    pub async fn serve_sync(
        &self,
        listener: TcpListener,
        token: Option<Secret>,
        poll: Duration,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<Result<(), tonic::transport::Error>> {
        let feed = Feed::new(
            Arc::clone(&self.store),
            FeedOptions {
                poll,
                ..FeedOptions::default()
            },
        );
        let feed_task = tokio::spawn(Arc::clone(&feed).run(self.refresher.writes()));
        let (health, health_service) = grpc::health().await;
        health.serving_sync().await;
        let service = SnapshotSyncServer::new(SyncService::new(feed))
            .send_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Gzip)
            .accept_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Gzip);
        let router = grpc::base_router(health_service)
            .add_service(InterceptedService::new(service, SyncAuth::new(token)));
        tokio::spawn(async move {
            let result = router
                .serve_with_incoming_shutdown(grpc::incoming(listener), async move {
                    let _ = shutdown.wait_for(|stop| *stop).await;
                })
                .await;
            feed_task.abort();
            result
        })
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let metrics = telemetry::install_metrics()?;
    let admin_token = admin_token(args.admin_token_file.as_ref())?;
    let sync_token = match args.sync_addr {
        Some(addr) => sync_token(args.sync_token_file.as_ref(), addr)?,
        None => None,
    };
    let grpc_listener = bind(args.grpc_addr, "gRPC", "--grpc-addr").await?;
    let http_listener = bind(args.http_addr, "HTTP", "--http-addr").await?;
    let sync_listener = match args.sync_addr {
        Some(addr) => Some(bind(addr, "SnapshotSync", "--sync-addr").await?),
        None => None,
    };
    let store = store::open(&args.database_url).await?;

    if args.demo {
        if store.list_organizations().await?.is_empty() {
            let demo = DataFile::parse(store::DEMO_DATA, Format::Yaml, "data/demo.yaml")?;
            let outcome = store.import(&demo).await.context("data/demo.yaml")?;
            tracing::info!(revision = outcome.revision, "demo data loaded");
        } else {
            tracing::info!("the database already holds organizations; demo data not loaded");
        }
    }

    let plane = ControlPlane::new(
        Arc::clone(&store),
        metrics,
        admin_token,
        args.public_scim_url.clone(),
    )
    .await;
    let refresher = Arc::clone(&plane.refresher);
    let service = AuthorizerService::new(Arc::clone(refresher.holder()), refresher.revisions());

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let grpc_shutdown = {
        let mut rx = shutdown_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let (health, grpc_server) = grpc::serve(grpc_listener, service, grpc_shutdown).await;
    let grpc_task = tokio::spawn(grpc_server);
    let http_task = serve_http(http_listener, plane.app.clone(), shutdown_rx.clone());
    let revision = refresher
        .refresh()
        .await
        .context("cannot build the first snapshot")?;
    let sync_task = match sync_listener {
        Some(l) => Some(
            plane
                .serve_sync(
                    l,
                    sync_token,
                    Duration::from_millis(args.refresh_interval_ms),
                    shutdown_rx.clone(),
                )
                .await,
        ),
        None => None,
    };
    tracing::info!(grpc = %args.grpc_addr, http = %args.http_addr, sync = ?args.sync_addr, "listening");
    health.serving().await;
    tracing::info!(revision, "serving");
    let follow = tokio::spawn(
        Arc::clone(&refresher).follow(Duration::from_millis(args.refresh_interval_ms)),
    );

    shutdown_signal().await;
    tracing::info!("shutting down");
    health.not_serving().await;
    follow.abort();
    let _ = shutdown_tx.send(true);
    grpc_task.await?.context("gRPC server failed")?;
    http_task.await?.context("HTTP server failed")?;
    if let Some(t) = sync_task {
        t.await?.context("SnapshotSync server failed")?;
    }
    Ok(())
}

/// Serves `app` on `listener` until `shutdown` turns true.
pub(super) fn serve_http(
    listener: TcpListener,
    app: axum::Router,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<std::io::Result<()>> {
    use axum::serve::ListenerExt;
    // Answers go out at once, not after the peer's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|stop| *stop).await;
            })
            .await
    })
}

pub(super) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}
