//! `rolecall import`: apply data files to the database.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::datafile::DataFile;
use crate::store;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Database to write: `sqlite://PATH` (created if missing) or `postgres://…`.
    #[arg(
        long,
        env = "ROLECALL_DATABASE_URL",
        default_value = "sqlite://rolecall.db"
    )]
    pub database_url: String,

    /// Data files (`.json`, or YAML), applied in order, each in one transaction.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

pub async fn run(args: ImportArgs) -> anyhow::Result<()> {
    // Parse every file before touching the database.
    let files = args
        .files
        .iter()
        .map(|p| DataFile::read(p).map(|f| (p, f)))
        .collect::<Result<Vec<_>, _>>()?;
    let store = store::open(&args.database_url).await?;
    for (path, file) in files {
        let outcome = store
            .import(&file)
            .await
            .with_context(|| format!("{}", path.display()))?;
        if outcome.changed {
            println!("imported {}: revision {}", path.display(), outcome.revision);
        } else {
            println!(
                "{}: no change (revision {})",
                path.display(),
                outcome.revision
            );
        }
    }
    Ok(())
}
