//! `rolecall sync-log`: recent SCIM requests with their outcome, newest first.

use clap::Args;

use crate::model::DirectoryId;
use crate::store;

#[derive(Debug, Args)]
pub struct SyncLogArgs {
    /// Database: `sqlite://PATH` or `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`.
    #[arg(
        long,
        env = "ROLECALL_DATABASE_URL",
        default_value = "sqlite://rolecall.db"
    )]
    pub database_url: String,
    /// Only this directory's requests.
    #[arg(long)]
    pub directory: Option<String>,
    /// How many entries.
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Entries older than this entry id (paging).
    #[arg(long)]
    pub before: Option<i64>,
    /// One JSON object per line.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: SyncLogArgs) -> anyhow::Result<()> {
    let store = store::open(&args.database_url).await?;
    let dir = args
        .directory
        .as_deref()
        .map(DirectoryId::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--directory {e}"))?;
    let entries = store
        .sync_log(dir.as_ref(), args.limit, args.before)
        .await?;
    for e in entries {
        let at = crate::time::rfc3339(e.at_ms);
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "id": e.id, "at": at.to_string(), "directory": e.directory.as_ref().map(|d| d.as_str()),
                    "token_id": e.token_id, "method": e.method, "path": e.path, "status": e.status,
                    "scimType": e.scim_type, "detail": e.detail, "latency_us": e.latency_us,
                    "user_agent": e.user_agent, "changes": e.changes, "revision": e.revision,
                })
            );
        } else {
            println!(
                "{:>6} {at} {:<14} {:<6} {} {} {:>6}µs{}{}",
                e.id,
                e.directory.as_ref().map(|d| d.as_str()).unwrap_or("-"),
                e.method,
                e.status,
                e.path,
                e.latency_us,
                e.scim_type.map(|t| format!(" {t}")).unwrap_or_default(),
                e.detail.map(|d| format!(": {d}")).unwrap_or_default(),
            );
        }
    }
    Ok(())
}
