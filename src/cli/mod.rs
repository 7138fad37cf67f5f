//! The `rolecall` command line: one file per subcommand; `main` only parses
//! and dispatches here.

mod admin;
mod bench;
mod check;
mod directory;
mod import;
mod serve;
mod sidecar;
mod store;
mod sync_log;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::telemetry::LogFormat;

/// Role assignment for SCIM-synced groups, and microsecond authorization checks.
#[derive(Debug, Parser)]
#[command(name = "rolecall", version, about)]
pub struct Cli {
    /// Log format on stderr (filter with RUST_LOG, default `info`).
    #[arg(
        long,
        global = true,
        env = "ROLECALL_LOG_FORMAT",
        value_enum,
        default_value = "text"
    )]
    pub log_format: LogFormat,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the store and the Authorizer in one process on an embedded database.
    Serve(serve::ServeArgs),
    /// Run the control plane alone: SCIM, admin API and `SnapshotSync` for sidecars.
    Store(store::StoreArgs),
    /// Run the Authorizer next to an application, kept current from a store.
    Sidecar(sidecar::SidecarArgs),
    /// Load a data file (JSON or YAML) into the database, in one transaction.
    Import(import::ImportArgs),
    /// Ask a running Authorizer for one decision (exit 0 allowed, 1 denied, 2 error).
    Check(check::CheckArgs),
    /// Manage a directory: SCIM tokens, verified-domain enforcement.
    Directory(directory::DirectoryArgs),
    /// Show recent SCIM requests and their outcome, newest first.
    SyncLog(sync_log::SyncLogArgs),
    /// Call the admin API of a running server (exit 0 done, 1 refused, 2 usage or connection error).
    Admin(admin::AdminArgs),
    /// Measure rolecall: generate data sets, put gRPC load on an Authorizer,
    /// serve a do-nothing Authorizer as the floor to compare against.
    Bench(bench::BenchArgs),
}

impl Command {
    /// Whether the command runs a long-lived server (rather than printing an
    /// answer and exiting).
    pub fn is_server(&self) -> bool {
        matches!(
            self,
            Command::Serve(_)
                | Command::Store(_)
                | Command::Sidecar(_)
                | Command::Bench(bench::BenchArgs {
                    command: bench::BenchCommand::CeilingServer(_)
                })
        )
    }
}

/// Runs the command; the exit code follows each command's contract.
pub fn run(cli: Cli) -> ExitCode {
    crate::telemetry::init_tracing(cli.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    runtime.block_on(async {
        match cli.command {
            Command::Serve(args) => report(serve::run(args).await),
            Command::Store(args) => report(store::run(args).await),
            Command::Sidecar(args) => report(sidecar::run(args).await),
            Command::Import(args) => report(import::run(args).await),
            Command::Check(args) => check::run(args).await,
            Command::Directory(args) => report(directory::run(args).await),
            Command::SyncLog(args) => report(sync_log::run(args).await),
            Command::Admin(args) => admin::run(args).await,
            Command::Bench(args) => bench::run(args).await,
        }
    })
}

fn report(result: anyhow::Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
