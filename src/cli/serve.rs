//! `rolecall serve`: the store and the Authorizer in one process, on an
//! embedded SQLite database by default. The quickstart and small installs.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;

use crate::admin::{self, AdminState, AdminToken};
use crate::datafile::{DataFile, Format};
use crate::grpc::{self, AuthorizerService};
use crate::http::{self, HttpState};
use crate::refresh::Refresher;
use crate::scim::{self, routes::ScimState};
use crate::snapshot::SnapshotHolder;
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
}

/// The admin token from `--admin-token-file` or `ROLECALL_ADMIN_TOKEN`; never logged.
fn admin_token(file: Option<&PathBuf>) -> anyhow::Result<Option<AdminToken>> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the admin token file {}", path.display()))?;
        let token = AdminToken::new(&text)
            .with_context(|| format!("the admin token file {} is empty", path.display()))?;
        tracing::info!(file = %path.display(), "admin API on at /admin/v1 (token from --admin-token-file)");
        return Ok(Some(token));
    }
    match std::env::var("ROLECALL_ADMIN_TOKEN")
        .ok()
        .as_deref()
        .and_then(AdminToken::new)
    {
        Some(token) => {
            tracing::info!("admin API on at /admin/v1 (token from ROLECALL_ADMIN_TOKEN)");
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

async fn bind(addr: SocketAddr, what: &str, flag: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.with_context(|| {
        format!("cannot listen on {addr} for {what}; pass another address with {flag}")
    })
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let metrics = telemetry::install_metrics()?;
    let admin_token = admin_token(args.admin_token_file.as_ref())?;
    let grpc_listener = bind(args.grpc_addr, "gRPC", "--grpc-addr").await?;
    let http_listener = bind(args.http_addr, "HTTP", "--http-addr").await?;
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

    let holder = Arc::new(SnapshotHolder::new());
    let refresher = Arc::new(Refresher::new(Arc::clone(&store), Arc::clone(&holder)));
    let service = AuthorizerService::new(Arc::clone(&holder), refresher.revisions());

    let (shutdown_tx, shutdown_rx) = tokio::sync::watch::channel(false);
    let grpc_shutdown = {
        let mut rx = shutdown_rx.clone();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    };
    let (health, grpc_server) = grpc::serve(grpc_listener, service, grpc_shutdown).await;
    let grpc_task = tokio::spawn(grpc_server);

    let scim = scim::routes::router(ScimState {
        store: Arc::clone(&store),
        refresher: Arc::clone(&refresher),
        public_url: args.public_scim_url.clone(),
    });
    let admin = admin::router(
        AdminState {
            store: Arc::clone(&store),
            refresher: Arc::clone(&refresher),
        },
        admin_token,
    );
    let app = http::router(HttpState {
        holder: Arc::clone(&holder),
        status: Arc::clone(refresher.status()),
        metrics,
    })
    .nest("/scim/v2", scim)
    .nest(admin::PREFIX, admin)
    .layer(axum::middleware::from_fn(http::trace));
    let http_task = {
        let mut rx = shutdown_rx.clone();
        tokio::spawn(async move {
            axum::serve(http_listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.wait_for(|stop| *stop).await;
                })
                .await
        })
    };
    tracing::info!(grpc = %args.grpc_addr, http = %args.http_addr, "listening");

    let revision = refresher
        .refresh()
        .await
        .context("cannot build the first snapshot")?;
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
    Ok(())
}

async fn shutdown_signal() {
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
