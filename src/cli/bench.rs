//! `rolecall bench …`: tools to measure rolecall. `generate` writes a data
//! set of any size (and the checks to ask of it) for load tests.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::bench::generate::{self, DEFAULT_SEED, Rng, Shape};
use crate::snapshot;

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

pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    match args.command {
        BenchCommand::Generate(args) => {
            tokio::task::spawn_blocking(move || generate_files(&args)).await?
        }
    }
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
