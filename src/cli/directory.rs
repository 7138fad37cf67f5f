//! `rolecall directory …`: SCIM tokens and domain enforcement of a directory,
//! straight against the database (the admin API offers the same over HTTP).

use anyhow::Context;
use clap::{Args, Subcommand};

use crate::model::DirectoryId;
use crate::store::{self, Store};

#[derive(Debug, Args)]
pub struct DirectoryArgs {
    /// Database: `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    #[arg(
        long,
        global = true,
        env = "ROLECALL_DATABASE_URL",
        default_value = "sqlite://rolecall.db"
    )]
    pub database_url: String,

    #[command(subcommand)]
    pub command: DirectoryCommand,
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// SCIM bearer tokens of a directory.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Turn verified-domain enforcement on or off (off: users of any domain are accepted; for test tenants).
    DomainEnforcement {
        directory: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token and print it once; only its hash is stored.
    Create { directory: String },
    /// List a directory's tokens (id, prefix, created, last used, revoked).
    List { directory: String },
    /// Revoke a token: requests with it get 401 from then on.
    Revoke { directory: String, token_id: String },
}

fn directory_id(s: &str) -> anyhow::Result<DirectoryId> {
    DirectoryId::parse(s).map_err(|e| anyhow::anyhow!("directory id `{s}` {e}"))
}

async fn existing(store: &dyn Store, dir: &DirectoryId) -> anyhow::Result<()> {
    if store.directory(dir).await?.is_none() {
        anyhow::bail!(
            "directory `{dir}` does not exist: create it first (data file `directories` or the admin API)"
        );
    }
    Ok(())
}

fn time(ms: Option<i64>) -> String {
    match ms {
        None => "-".to_owned(),
        Some(ms) => crate::time::rfc3339(ms),
    }
}

pub async fn run(args: DirectoryArgs) -> anyhow::Result<()> {
    let store = store::open(&args.database_url).await?;
    match args.command {
        DirectoryCommand::Token(TokenCommand::Create { directory }) => {
            let dir = directory_id(&directory)?;
            existing(store.as_ref(), &dir).await?;
            let (token, secret) = store.create_scim_token(&dir).await?;
            eprintln!(
                "SCIM token `{}` for directory `{dir}` (shown once; store it in the IdP now):",
                token.id
            );
            println!("{secret}");
        }
        DirectoryCommand::Token(TokenCommand::List { directory }) => {
            let dir = directory_id(&directory)?;
            existing(store.as_ref(), &dir).await?;
            println!(
                "{:<24} {:<10} {:<22} {:<22} revoked",
                "id", "prefix", "created", "last used"
            );
            for t in store.list_scim_tokens(&dir).await? {
                println!(
                    "{:<24} {:<10} {:<22} {:<22} {}",
                    t.id,
                    t.prefix,
                    time(Some(t.created_ms)),
                    time(t.last_used_ms),
                    time(t.revoked_ms)
                );
            }
        }
        DirectoryCommand::Token(TokenCommand::Revoke {
            directory,
            token_id,
        }) => {
            let dir = directory_id(&directory)?;
            store
                .revoke_scim_token(&dir, &token_id)
                .await
                .with_context(|| {
                    format!("cannot revoke token `{token_id}` of directory `{dir}`")
                })?;
            println!("revoked token `{token_id}` of directory `{dir}`");
        }
        DirectoryCommand::DomainEnforcement { directory, state } => {
            let dir = directory_id(&directory)?;
            existing(store.as_ref(), &dir).await?;
            let revision = store.set_domain_enforcement(&dir, state == "on").await?;
            println!("verified-domain enforcement of `{dir}` is {state} (revision {revision})");
        }
    }
    Ok(())
}
