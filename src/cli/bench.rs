//! `rolecall bench …`: tools to measure rolecall. `generate` writes a data
//! set of any size (and the checks to ask of it) for load tests; `load`
//! puts gRPC load on an Authorizer and reports throughput and latency;
//! `ceiling-server` serves an Authorizer that does no work, the floor to
//! read `load`'s figures against.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::bench::ceiling::CeilingAuthorizer;
use crate::bench::generate::{self, DEFAULT_SEED, Rng, Shape};
use crate::bench::load::{self, Call};
use crate::{grpc, snapshot};

#[derive(Debug, Args)]
pub struct BenchArgs {
    #[command(subcommand)]
    pub command: BenchCommand,
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Write a generated data set (a data file for `rolecall import`) and,
    /// optionally, checks to ask of it (for `rolecall bench load` and ghz).
    Generate(GenerateArgs),
    /// Put gRPC load on an Authorizer: closed loop (as fast as it answers)
    /// or open loop (`--rate`, latency from each call's intended start).
    /// Exits 0 when every call succeeded, 1 when some failed, 2 when the run
    /// could not start.
    Load(LoadArgs),
    /// Serve an Authorizer that answers every call without doing any work,
    /// exactly as `serve` serves the real one: the floor of tonic and
    /// loopback on this machine.
    CeilingServer(CeilingArgs),
}

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Authorizer address (`http://HOST:PORT` or `HOST:PORT`).
    #[arg(long, env = "ROLECALL_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// The method to call.
    #[arg(long, value_enum, default_value = "check")]
    pub call: Call,
    /// The checks to ask, cycled through: a JSON array of
    /// `{"user", "permission", "account"}` (`rolecall bench generate
    /// --requests-output`). Without it every call asks one fixed check.
    #[arg(long, value_name = "FILE")]
    pub requests: Option<PathBuf>,
    /// Checks per BatchCheck (1 to 1000).
    #[arg(long, default_value_t = 100)]
    pub batch_size: usize,
    /// HTTP/2 connections (each a channel of its own).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub connections: u64,
    /// Calls in flight at most, in total (default 16 in closed loop, 64 in open loop).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=100_000))]
    pub concurrency: Option<u64>,
    /// Open loop: calls per second, sent on a fixed schedule whatever the
    /// server does. Without it: closed loop, as fast as the server answers.
    #[arg(long, value_name = "CALLS_PER_S")]
    pub rate: Option<f64>,
    /// How long to measure (after the warm-up).
    #[arg(long, default_value = "10s")]
    pub duration: humantime::Duration,
    /// How long to load before measuring.
    #[arg(long, default_value = "2s")]
    pub warmup: humantime::Duration,
    /// A name for the run, copied into the report (`serve`, `ceiling`, …).
    #[arg(long)]
    pub label: Option<String>,
    /// Also write the report as JSON to FILE (`-`: to stdout, with the text
    /// summary on stderr).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CeilingArgs {
    /// Address of the gRPC listener (with health and reflection).
    #[arg(long, env = "ROLECALL_GRPC_ADDR", default_value = "127.0.0.1:50052")]
    pub grpc_addr: SocketAddr,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Users (at least 100). Groups, accounts and organizations follow unless given.
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Groups (default: users / 10).
    #[arg(long)]
    pub groups: Option<usize>,
    /// Accounts (default: users / 100).
    #[arg(long)]
    pub accounts: Option<usize>,
    /// Organizations, one directory each (default: accounts / 10). One large
    /// tenant holds half the users; the others share the rest.
    #[arg(long)]
    pub organizations: Option<usize>,
    /// Mean direct groups per user.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub groups_per_user: u64,
    /// Seed of the generator: the same seed and sizes give the same data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// The data file to write (JSON).
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// Also write this many checks, as a JSON array of `CheckRequest` bodies
    /// (`{"user", "permission", "account"}`), to `--requests-output`.
    #[arg(long, default_value_t = 10_000)]
    pub requests: usize,
    /// Where to write the checks (default: none are written).
    #[arg(long, value_name = "FILE")]
    pub requests_output: Option<PathBuf>,
    /// Percent of the checks that are allowed.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u64).range(0..=100))]
    pub allowed_percent: u64,
}

pub async fn run(args: BenchArgs) -> ExitCode {
    match args.command {
        BenchCommand::Generate(args) => super::report(
            tokio::task::spawn_blocking(move || generate_files(&args))
                .await
                .unwrap_or_else(|e| Err(e.into())),
        ),
        BenchCommand::Load(args) => run_load(args).await,
        BenchCommand::CeilingServer(args) => super::report(ceiling_server(args).await),
    }
}

async fn run_load(args: LoadArgs) -> ExitCode {
    let usage = |e: &dyn std::fmt::Display| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    };
    let queries = match &args.requests {
        Some(path) => match load::read_requests(path) {
            Ok(q) => q,
            Err(e) => return usage(&e),
        },
        None => Vec::new(),
    };
    let opts = load::Options {
        addr: args.addr.clone(),
        call: args.call,
        batch_size: args.batch_size,
        connections: args.connections as usize,
        concurrency: args
            .concurrency
            .map_or(if args.rate.is_some() { 64 } else { 16 }, |c| c as usize),
        rate: args.rate,
        duration: args.duration.into(),
        warmup: args.warmup.into(),
        label: args.label.clone(),
    };
    let report = match load::run(&opts, &queries).await {
        Ok(r) => r,
        Err(e) => return usage(&e),
    };
    let text = report.render();
    match args.json.as_deref() {
        Some(p) if p == Path::new("-") => {
            eprint!("{text}");
            let json = serde_json::to_string_pretty(&report).expect("a report serializes");
            println!("{json}");
        }
        Some(p) => {
            print!("{text}");
            if let Err(e) = write_json(p, &report) {
                eprintln!("error: {e:#}");
                return ExitCode::from(2);
            }
        }
        None => print!("{text}"),
    }
    if report.clean() {
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "error: {} of {} calls failed, {} unanswered",
            report.error_count,
            report.requests + report.unfinished,
            report.unfinished
        );
        ExitCode::FAILURE
    }
}

async fn ceiling_server(args: CeilingArgs) -> anyhow::Result<()> {
    let listener = super::serve::bind(args.grpc_addr, "gRPC", "--grpc-addr").await?;
    let (shutdown_tx, mut shutdown_rx) = tokio::sync::watch::channel(false);
    let (health, server) = grpc::serve(listener, CeilingAuthorizer, async move {
        let _ = shutdown_rx.wait_for(|stop| *stop).await;
    })
    .await;
    let task = tokio::spawn(server);
    health.serving().await;
    tracing::info!(grpc = %args.grpc_addr, "ceiling server listening: every call answered without work");
    super::serve::shutdown_signal().await;
    tracing::info!("shutting down");
    health.not_serving().await;
    let _ = shutdown_tx.send(true);
    task.await?.context("gRPC server failed")?;
    Ok(())
}

fn generate_files(args: &GenerateArgs) -> anyhow::Result<()> {
    let mut shape = Shape::for_users(args.users);
    if let Some(g) = args.groups {
        shape.groups = g.max(4);
    }
    if let Some(a) = args.accounts {
        shape.accounts = a.max(1);
    }
    shape.organizations = args
        .organizations
        .unwrap_or((shape.accounts / 10).max(1))
        .clamp(1, shape.accounts.max(1));
    shape.groups_per_user = args.groups_per_user as usize;
    let mut rng = Rng(args.seed);
    let state = generate::generate(&shape, &mut rng);
    write_json(&args.output, &generate::data_file(&state))?;
    let memberships = state.memberships.len();
    eprintln!(
        "wrote {}: {} users, {} groups, {memberships} memberships, {} accounts in {} organizations, {} role assignments",
        args.output.display(),
        state.users.len(),
        state.groups.len(),
        state.accounts.len(),
        state.organizations.len(),
        state.role_assignments.len(),
    );
    if let Some(path) = &args.requests_output {
        let snap = snapshot::build(&state).context("compile the generated state")?;
        let queries =
            generate::queries(&state, &snap, args.requests, args.allowed_percent, &mut rng);
        write_json(path, &queries)?;
        eprintln!(
            "wrote {}: {} checks, {}% allowed",
            path.display(),
            queries.len(),
            args.allowed_percent
        );
    }
    Ok(())
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, value).with_context(|| format!("write {}", path.display()))?;
    out.flush()
        .with_context(|| format!("write {}", path.display()))?;
    Ok(())
}
