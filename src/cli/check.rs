//! `rolecall check`: one decision from a running Authorizer, for people and scripts.

use std::process::ExitCode;

use clap::Args;

use crate::pb::v1 as pb;
use crate::pb::v1::authorizer_client::AuthorizerClient;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Authorizer address (`http://HOST:PORT` or `HOST:PORT`).
    #[arg(long, env = "ROLECALL_ADDR", default_value = "http://127.0.0.1:50051")]
    pub addr: String,
    /// userName or SCIM id.
    #[arg(long)]
    pub user: String,
    /// `resource.action`, for example `refunds.create`.
    #[arg(long)]
    pub permission: String,
    /// Account id.
    #[arg(long)]
    pub account: String,
    /// Print why: the granting group, role and scope, or the deny reason.
    #[arg(long)]
    pub explain: bool,
    /// Answer only from a snapshot at or after this revision.
    #[arg(long)]
    pub at_least_revision: Option<u64>,
    /// Print the response as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: CheckArgs) -> ExitCode {
    match ask(&args).await {
        Ok(resp) => {
            print(&args, &resp);
            if resp.allowed {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

async fn ask(args: &CheckArgs) -> anyhow::Result<pb::CheckResponse> {
    let addr = if args.addr.contains("://") {
        args.addr.clone()
    } else {
        format!("http://{}", args.addr)
    };
    let mut client = AuthorizerClient::connect(addr.clone())
        .await
        .map_err(|e| anyhow::anyhow!("cannot connect to `{addr}`: {e}"))?;
    let consistency = args.at_least_revision.map(|r| pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(r)),
    });
    let resp = client
        .check(pb::CheckRequest {
            user: args.user.clone(),
            permission: args.permission.clone(),
            account: args.account.clone(),
            consistency,
            explain: args.explain,
        })
        .await
        .map_err(|s| anyhow::anyhow!("{:?}: {}", s.code(), s.message()))?;
    Ok(resp.into_inner())
}

fn print(args: &CheckArgs, resp: &pb::CheckResponse) {
    if args.json {
        let explanation = resp.explanation.as_ref().map(|e| {
            serde_json::json!({
                "message": e.message,
                "directory": e.directory,
                "deny_reason": pb::DenyReason::try_from(e.deny_reason)
                    .map(|r| r.as_str_name())
                    .unwrap_or("DENY_REASON_UNSPECIFIED"),
                "grant": e.grant.as_ref().map(|g| serde_json::json!({
                    "group": g.group, "group_id": g.group_id, "direct": g.direct,
                    "role": g.role, "matched_permission": g.matched_permission,
                })),
            })
        });
        println!(
            "{}",
            serde_json::json!({
                "allowed": resp.allowed,
                "revision": resp.revision,
                "explanation": explanation,
            })
        );
        return;
    }
    let word = if resp.allowed { "allowed" } else { "denied" };
    println!("{word} (revision {})", resp.revision);
    if let Some(e) = &resp.explanation {
        println!("{}", e.message);
    }
}
