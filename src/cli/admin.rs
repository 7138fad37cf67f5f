//! `rolecall admin …`: the admin API (`/admin/v1`) from the command line, for
//! people and scripts. Human output by default, `--json` prints the response
//! body. Exit codes: 0 done, 1 the API refused (its message on stderr),
//! 2 usage or connection error. Plain HTTP only (a local port or a tunnel).

use std::process::ExitCode;
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{Method, Request, header};
use clap::{Args, Subcommand};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Base URL of the server's HTTP listener.
    #[arg(
        long,
        global = true,
        env = "ROLECALL_ADMIN_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub url: String,

    /// The admin bearer token.
    #[arg(
        long,
        global = true,
        env = "ROLECALL_ADMIN_TOKEN",
        hide_env_values = true
    )]
    pub token: Option<String>,

    /// Print the response body as JSON instead of the human summary.
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: AdminCommand,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Organizations: list, get, create, rename.
    #[command(subcommand)]
    Organizations(OrganizationCommand),
    /// Accounts: list, get, create, rename, move into (or out of) an organization.
    #[command(subcommand)]
    Accounts(AccountCommand),
    /// Directories: list, get, create, update (domains, mode, enforcement).
    #[command(subcommand)]
    Directories(DirectoryCommand),
    /// SCIM tokens of a directory: create (secret printed once), list, revoke.
    #[command(subcommand)]
    Tokens(TokenCommand),
    /// Roles: list, get, put (create or replace a custom role), delete.
    #[command(subcommand)]
    Roles(RoleCommand),
    /// Groups of a directory: list, members, assign roles, preview.
    #[command(subcommand)]
    Groups(GroupCommand),
    /// A user's own role assignments: assign, preview.
    #[command(subcommand)]
    Users(UserCommand),
    /// One decision with its explanation.
    Check {
        user: String,
        permission: String,
        account: String,
    },
    /// Who holds a permission on an account, and through what.
    Access { account: String, permission: String },
    /// Recent SCIM requests of a directory, newest first.
    SyncLog {
        directory: String,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        before: Option<i64>,
    },
    /// Admin writes, newest first.
    AuditLog {
        /// Only actions starting with this (`group.role_assignments`).
        #[arg(long)]
        action: Option<String>,
        /// Only targets starting with this (`directories/dir_acme`).
        #[arg(long)]
        target: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        before: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrganizationCommand {
    List,
    Get { id: String },
    Create { id: String, name: String },
    Rename { id: String, name: String },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    List {
        #[arg(long)]
        organization: Option<String>,
    },
    Get {
        id: String,
    },
    Create {
        id: String,
        name: String,
        #[arg(long)]
        organization: Option<String>,
    },
    Rename {
        id: String,
        name: String,
    },
    /// Move into an organization (its org-wide role assignments cover the
    /// account at once), or out of any with `--standalone`.
    Move {
        id: String,
        #[arg(
            long,
            conflicts_with = "standalone",
            required_unless_present = "standalone"
        )]
        organization: Option<String>,
        #[arg(long)]
        standalone: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    List,
    Get {
        id: String,
    },
    Create {
        id: String,
        #[arg(long, conflicts_with = "account", required_unless_present = "account")]
        organization: Option<String>,
        #[arg(long)]
        account: Option<String>,
        /// A verified domain (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long, value_parser = ["dashboard", "saml"])]
        mode: Option<String>,
    },
    Update {
        id: String,
        /// The verified domains, replacing the current list (repeatable).
        #[arg(long = "domain")]
        domains: Vec<String>,
        #[arg(long, value_parser = ["dashboard", "saml"])]
        mode: Option<String>,
        #[arg(long)]
        enforce_domains: Option<bool>,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a token: the secret alone on stdout (shown once), the id on stderr.
    Create {
        directory: String,
    },
    List {
        directory: String,
    },
    Revoke {
        directory: String,
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum RoleCommand {
    List,
    Get {
        name: String,
    },
    /// Create or replace a custom role.
    Put {
        name: String,
        /// `resource.action`, `resource.*` or `*` (repeatable).
        #[arg(long = "permission", required = true)]
        permissions: Vec<String>,
        #[arg(long)]
        description: Option<String>,
    },
    Delete {
        name: String,
        /// Delete the role's assignments too.
        #[arg(long)]
        cascade: bool,
    },
}

/// Role assignments as flags: each `--role R` followed by its scope,
/// `--account A` or `--organization O [--accounts A,B]`; or `--file F`
/// (`{"role_assignments":[…]}` or the bare list); or `--none`.
#[derive(Debug, Args)]
pub struct AssignmentArgs {
    #[arg(
        num_args = 0..,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "--role R (--account A | --organization O [--accounts A,B]) … | --file F | --none"
    )]
    pub spec: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Groups with member counts and role assignments.
    List { directory: String },
    /// A group's direct members.
    Members {
        directory: String,
        group: String,
        #[arg(long)]
        offset: Option<u64>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Set a group's whole list of role assignments.
    Assign {
        directory: String,
        group: String,
        #[command(flatten)]
        assignments: AssignmentArgs,
    },
    /// What `assign` would change, without writing.
    Preview {
        directory: String,
        group: String,
        #[command(flatten)]
        assignments: AssignmentArgs,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Set a user's whole list of role assignments.
    Assign {
        directory: String,
        user: String,
        #[command(flatten)]
        assignments: AssignmentArgs,
    },
    /// What `assign` would change, without writing.
    Preview {
        directory: String,
        user: String,
        #[command(flatten)]
        assignments: AssignmentArgs,
    },
}

/// Why a command failed, with its exit code.
enum Failure {
    /// The API answered with an error (exit 1).
    Api(String),
    /// Bad arguments or no connection (exit 2).
    Usage(String),
}

type Outcome = Result<(), Failure>;

/// Percent-encodes one path segment or query value.
fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", enc(v))))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!("?{}", parts.join("&"))
    }
}

/// Parses the assignment flags into the request body.
pub fn assignments_body(spec: &[String]) -> Result<Value, String> {
    let mut list: Vec<Value> = Vec::new();
    let mut it = spec.iter();
    let mut none = false;
    let mut file = None;
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("`{name}` needs a value"))
        };
        match flag.as_str() {
            "--role" => list.push(json!({"role": value("--role")?, "scope": {}})),
            "--account" | "--organization" | "--accounts" => {
                let v = value(flag)?;
                let Some(last) = list.last_mut() else {
                    return Err(format!("`{flag}` comes after the `--role` it scopes"));
                };
                let key = flag.trim_start_matches("--");
                if !last["scope"][key].is_null() {
                    return Err(format!("`{flag}` twice for role `{}`", last["role"]));
                }
                last["scope"][key] = if key == "accounts" {
                    json!(
                        v.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                    )
                } else {
                    json!(v)
                };
            }
            "--file" => file = Some(value("--file")?),
            "--none" => none = true,
            other => {
                return Err(format!(
                    "unexpected `{other}`: give `--role R` followed by `--account A` or `--organization O [--accounts A,B]`, or `--file F`, or `--none`"
                ));
            }
        }
    }
    if let Some(path) = file {
        if !list.is_empty() || none {
            return Err("`--file` replaces the `--role` flags: give one or the other".into());
        }
        let text =
            std::fs::read_to_string(&path).map_err(|e| format!("cannot read {path}: {e}"))?;
        let value: Value =
            serde_json::from_str(&text).map_err(|e| format!("{path} is not JSON: {e}"))?;
        return Ok(if value.is_array() {
            json!({ "role_assignments": value })
        } else {
            value
        });
    }
    if list.is_empty() && !none {
        return Err(
            "no role assignments given: `--role R --organization O` (repeatable), `--file F`, or `--none` to remove them all".into(),
        );
    }
    if none && !list.is_empty() {
        return Err("`--none` and `--role` contradict each other".into());
    }
    for a in &list {
        if a["scope"].as_object().is_some_and(|o| o.is_empty()) {
            return Err(format!(
                "role `{}` has no scope: add `--account A` or `--organization O [--accounts A,B]` after it",
                a["role"].as_str().unwrap_or_default()
            ));
        }
    }
    Ok(json!({ "role_assignments": list }))
}

struct Api {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
    token: Option<String>,
}

struct Answer {
    status: u16,
    revision: Option<String>,
    body: Value,
}

impl Api {
    fn new(url: &str, token: Option<String>) -> Result<Self, Failure> {
        let base = url.trim_end_matches('/');
        if !base.starts_with("http://") {
            return Err(Failure::Usage(format!(
                "--url `{url}`: only `http://HOST:PORT` is supported (reach a TLS endpoint through a local tunnel)"
            )));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(10)));
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
            base: format!("{base}/admin/v1"),
            token,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Answer, Failure> {
        let uri = format!("{}{path}", self.base);
        let mut req = Request::builder().method(method.clone()).uri(&uri);
        if let Some(t) = &self.token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let bytes = match body {
            Some(b) => {
                req = req.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(b.to_string())
            }
            None => Bytes::new(),
        };
        let req = req
            .body(Full::new(bytes))
            .map_err(|e| Failure::Usage(format!("cannot build the request for {uri}: {e}")))?;
        let send = async {
            let resp = self.client.request(req).await.map_err(|e| {
                Failure::Usage(format!(
                    "cannot reach {uri}: {e}; is `rolecall serve` running there?"
                ))
            })?;
            let status = resp.status().as_u16();
            let revision = resp
                .headers()
                .get("rolecall-revision")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| Failure::Usage(format!("reading the answer of {uri}: {e}")))?
                .to_bytes();
            Ok::<_, Failure>((status, revision, body))
        };
        let (status, revision, body) = tokio::time::timeout(Duration::from_secs(120), send)
            .await
            .map_err(|_| Failure::Usage(format!("{method} {uri}: no answer within 120s")))??;
        let body = if body.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
        };
        if status >= 400 {
            let e = &body["error"];
            let message = e["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("HTTP {status}: {body}"));
            let field = e["field"]
                .as_str()
                .map(|f| format!(" (field `{f}`)"))
                .unwrap_or_default();
            return Err(Failure::Api(format!("{message}{field}")));
        }
        Ok(Answer {
            status,
            revision,
            body,
        })
    }
}

fn scope_text(scope: &Value) -> String {
    match (
        scope["account"].as_str(),
        scope["organization"].as_str(),
        scope["accounts"].as_array(),
    ) {
        (Some(a), _, _) => format!("account {a}"),
        (None, Some(o), Some(list)) => {
            let list: Vec<&str> = list.iter().filter_map(Value::as_str).collect();
            format!("organization {o} (accounts {})", list.join(", "))
        }
        (None, Some(o), None) => format!("organization {o} (all accounts)"),
        _ => scope.to_string(),
    }
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".to_owned(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Prints rows as left-aligned columns.
/// A table of `body[key]`'s items, one column per (header, field).
fn fields_table(body: &Value, key: &str, columns: &[(&str, &str)]) {
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let rows = items(body, key)
        .iter()
        .map(|item| columns.iter().map(|(_, f)| s(&item[*f])).collect())
        .collect();
    table(&header, rows);
}

fn table(header: &[&str], rows: Vec<Vec<String>>) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        let out: Vec<String> = cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                if i + 1 == n {
                    c
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect();
        println!("{}", out.join("  ").trim_end());
    };
    line(header.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        line(r);
    }
}

fn items<'v>(body: &'v Value, key: &str) -> &'v [Value] {
    body[key].as_array().map(Vec::as_slice).unwrap_or_default()
}

fn print_assignments(body: &Value) {
    let list = items(body, "role_assignments");
    if list.is_empty() {
        println!("no role assignments");
    }
    for a in list {
        println!("{} at {}", s(&a["role"]), scope_text(&a["scope"]));
    }
}

fn print_preview(body: &Value) {
    let changes = items(body, "changes");
    if changes.is_empty() {
        println!("no change: nobody gains or loses a permission");
        return;
    }
    for c in changes {
        let mut parts: Vec<String> = Vec::new();
        parts.extend(
            c["gained"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("+{}", s(p))),
        );
        parts.extend(
            c["lost"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| format!("-{}", s(p))),
        );
        println!(
            "{}  {}  {}",
            s(&c["user"]["userName"]),
            s(&c["account"]),
            parts.join(" ")
        );
    }
}

fn grant_text(g: &Value) -> String {
    let via = if g["direct"] == true {
        "directly".to_owned()
    } else {
        format!("via group `{}`", s(&g["group"]))
    };
    format!(
        "{via}: role {} ({}) at {}",
        s(&g["role"]),
        s(&g["matched_permission"]),
        scope_text(&g["scope"])
    )
}

fn print_human(path: &str, method: &Method, a: &Answer) {
    let b = &a.body;
    let done = |what: String| match &a.revision {
        Some(r) => println!("{what} (revision {r})"),
        None => println!("{what}"),
    };
    let last = path.split('?').next().unwrap_or(path);
    match (method.as_str(), last) {
        ("GET", "/organizations") => table(
            &["ID", "NAME", "ACCOUNTS", "DIRECTORY"],
            items(b, "organizations")
                .iter()
                .map(|o| {
                    vec![
                        s(&o["id"]),
                        s(&o["name"]),
                        o["accounts"].as_array().map_or(0, Vec::len).to_string(),
                        s(&o["directory"]),
                    ]
                })
                .collect(),
        ),
        ("GET", "/accounts") => fields_table(
            b,
            "accounts",
            &[
                ("ID", "id"),
                ("NAME", "name"),
                ("ORGANIZATION", "organization"),
                ("DIRECTORY", "directory"),
            ],
        ),
        ("GET", "/directories") => table(
            &["ID", "OWNER", "MODE", "DOMAINS", "SCIM"],
            items(b, "directories")
                .iter()
                .map(|d| {
                    vec![
                        s(&d["id"]),
                        scope_text(&d["owner"]),
                        s(&d["mode"]),
                        d["domains"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(s)
                            .collect::<Vec<_>>()
                            .join(","),
                        s(&d["scim"]["status"]),
                    ]
                })
                .collect(),
        ),
        ("GET", "/roles") => table(
            &["NAME", "KIND", "PERMISSIONS"],
            items(b, "roles")
                .iter()
                .map(|r| {
                    vec![
                        s(&r["name"]),
                        if r["builtin"] == true {
                            "builtin"
                        } else {
                            "custom"
                        }
                        .to_owned(),
                        r["permissions"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(s)
                            .collect::<Vec<_>>()
                            .join(" "),
                    ]
                })
                .collect(),
        ),
        ("GET", p) if p.ends_with("/scim-tokens") => fields_table(
            b,
            "tokens",
            &[
                ("ID", "id"),
                ("PREFIX", "prefix"),
                ("CREATED", "created"),
                ("LAST USED", "last_used"),
                ("REVOKED", "revoked"),
            ],
        ),
        ("GET", p) if p.ends_with("/groups") => table(
            &["ID", "DISPLAY NAME", "DIRECT", "USERS", "ROLES"],
            items(b, "groups")
                .iter()
                .map(|g| {
                    vec![
                        s(&g["id"]),
                        s(&g["displayName"]),
                        s(&g["direct_members"]),
                        s(&g["effective_users"]),
                        items(g, "role_assignments")
                            .iter()
                            .map(|a| format!("{} at {}", s(&a["role"]), scope_text(&a["scope"])))
                            .collect::<Vec<_>>()
                            .join("; "),
                    ]
                })
                .collect(),
        ),
        ("GET", p) if p.ends_with("/members") => {
            table(
                &["TYPE", "ID", "NAME", "ACTIVE"],
                items(b, "members")
                    .iter()
                    .map(|m| vec![s(&m["type"]), s(&m["id"]), s(&m["name"]), s(&m["active"])])
                    .collect(),
            );
            println!(
                "({} of {} members from offset {})",
                items(b, "members").len(),
                s(&b["total"]),
                s(&b["offset"])
            );
        }
        ("PUT", p) if p.ends_with("/role-assignments") => {
            print_assignments(b);
            done("role assignments set".to_owned());
        }
        ("POST", p) if p.ends_with(":preview") => print_preview(b),
        ("GET", "/check") => {
            let e = &b["explanation"];
            let verdict = if b["allowed"] == true {
                "allowed"
            } else {
                "denied"
            };
            println!("{verdict}: {}", s(&e["message"]));
        }
        ("GET", p) if p.ends_with("/access") => {
            let users = items(b, "users");
            if users.is_empty() {
                println!(
                    "nobody holds {} on {}",
                    s(&b["permission"]),
                    s(&b["account"])
                );
            }
            for u in users {
                for g in items(u, "grants") {
                    println!("{}  {}", s(&u["user"]["userName"]), grant_text(g));
                }
            }
        }
        ("GET", p) if p.ends_with("/sync-log") => fields_table(
            b,
            "entries",
            &[
                ("ID", "id"),
                ("AT", "at"),
                ("METHOD", "method"),
                ("PATH", "path"),
                ("STATUS", "status"),
                ("DETAIL", "detail"),
            ],
        ),
        ("GET", "/audit-log") => fields_table(
            b,
            "entries",
            &[
                ("ID", "id"),
                ("AT", "at"),
                ("ACTOR", "actor"),
                ("ACTION", "action"),
                ("TARGET", "target"),
                ("REVISION", "revision"),
            ],
        ),
        ("DELETE", _) => done(format!("deleted {last}")),
        ("POST" | "PATCH" | "PUT", _) => {
            let name = b["id"].as_str().or(b["name"].as_str()).unwrap_or(last);
            let verb = if a.status == 201 {
                "created"
            } else {
                "updated"
            };
            done(format!("{name} {verb}"));
        }
        _ => match serde_json::to_string_pretty(b) {
            Ok(text) => println!("{text}"),
            Err(_) => println!("{b}"),
        },
    }
}

/// The request a command makes: method, path (under `/admin/v1`), body.
fn request(cmd: AdminCommand) -> Result<(Method, String, Option<Value>), Failure> {
    use AdminCommand as C;
    let usage = Failure::Usage;
    Ok(match cmd {
        C::Organizations(c) => match c {
            OrganizationCommand::List => (Method::GET, "/organizations".into(), None),
            OrganizationCommand::Get { id } => {
                (Method::GET, format!("/organizations/{}", enc(&id)), None)
            }
            OrganizationCommand::Create { id, name } => (
                Method::POST,
                "/organizations".into(),
                Some(json!({"id": id, "name": name})),
            ),
            OrganizationCommand::Rename { id, name } => (
                Method::PATCH,
                format!("/organizations/{}", enc(&id)),
                Some(json!({"name": name})),
            ),
        },
        C::Accounts(c) => match c {
            AccountCommand::List { organization } => (
                Method::GET,
                format!("/accounts{}", query(&[("organization", organization)])),
                None,
            ),
            AccountCommand::Get { id } => (Method::GET, format!("/accounts/{}", enc(&id)), None),
            AccountCommand::Create {
                id,
                name,
                organization,
            } => {
                let mut body = json!({"id": id, "name": name});
                if let Some(o) = organization {
                    body["organization"] = json!(o);
                }
                (Method::POST, "/accounts".into(), Some(body))
            }
            AccountCommand::Rename { id, name } => (
                Method::PATCH,
                format!("/accounts/{}", enc(&id)),
                Some(json!({"name": name})),
            ),
            AccountCommand::Move {
                id, organization, ..
            } => (
                Method::PATCH,
                format!("/accounts/{}", enc(&id)),
                Some(json!({"organization": organization})),
            ),
        },
        C::Directories(c) => match c {
            DirectoryCommand::List => (Method::GET, "/directories".into(), None),
            DirectoryCommand::Get { id } => {
                (Method::GET, format!("/directories/{}", enc(&id)), None)
            }
            DirectoryCommand::Create {
                id,
                organization,
                account,
                domains,
                mode,
            } => {
                let owner = match (organization, account) {
                    (Some(o), _) => json!({"organization": o}),
                    (None, Some(a)) => json!({"account": a}),
                    (None, None) => return Err(usage("give --organization or --account".into())),
                };
                let mut body = json!({"id": id, "owner": owner, "domains": domains});
                if let Some(m) = mode {
                    body["mode"] = json!(m);
                }
                (Method::POST, "/directories".into(), Some(body))
            }
            DirectoryCommand::Update {
                id,
                domains,
                mode,
                enforce_domains,
            } => {
                let mut body = json!({});
                if !domains.is_empty() {
                    body["domains"] = json!(domains);
                }
                if let Some(m) = mode {
                    body["mode"] = json!(m);
                }
                if let Some(e) = enforce_domains {
                    body["enforce_domains"] = json!(e);
                }
                if body.as_object().is_some_and(|o| o.is_empty()) {
                    return Err(usage(
                        "nothing to update: give --domain, --mode or --enforce-domains".into(),
                    ));
                }
                (
                    Method::PATCH,
                    format!("/directories/{}", enc(&id)),
                    Some(body),
                )
            }
        },
        C::Tokens(c) => match c {
            TokenCommand::Create { directory } => (
                Method::POST,
                format!("/directories/{}/scim-tokens", enc(&directory)),
                None,
            ),
            TokenCommand::List { directory } => (
                Method::GET,
                format!("/directories/{}/scim-tokens", enc(&directory)),
                None,
            ),
            TokenCommand::Revoke { directory, id } => (
                Method::DELETE,
                format!("/directories/{}/scim-tokens/{}", enc(&directory), enc(&id)),
                None,
            ),
        },
        C::Roles(c) => match c {
            RoleCommand::List => (Method::GET, "/roles".into(), None),
            RoleCommand::Get { name } => (Method::GET, format!("/roles/{}", enc(&name)), None),
            RoleCommand::Put {
                name,
                permissions,
                description,
            } => {
                let mut body = json!({"permissions": permissions});
                if let Some(d) = description {
                    body["description"] = json!(d);
                }
                (Method::PUT, format!("/roles/{}", enc(&name)), Some(body))
            }
            RoleCommand::Delete { name, cascade } => (
                Method::DELETE,
                format!(
                    "/roles/{}{}",
                    enc(&name),
                    if cascade { "?cascade=true" } else { "" }
                ),
                None,
            ),
        },
        C::Groups(c) => match c {
            GroupCommand::List { directory } => (
                Method::GET,
                format!("/directories/{}/groups", enc(&directory)),
                None,
            ),
            GroupCommand::Members {
                directory,
                group,
                offset,
                limit,
            } => (
                Method::GET,
                format!(
                    "/directories/{}/groups/{}/members{}",
                    enc(&directory),
                    enc(&group),
                    query(&[
                        ("offset", offset.map(|o| o.to_string())),
                        ("limit", limit.map(|l| l.to_string()))
                    ])
                ),
                None,
            ),
            GroupCommand::Assign {
                directory,
                group,
                assignments,
            } => (
                Method::PUT,
                format!(
                    "/directories/{}/groups/{}/role-assignments",
                    enc(&directory),
                    enc(&group)
                ),
                Some(assignments_body(&assignments.spec).map_err(usage)?),
            ),
            GroupCommand::Preview {
                directory,
                group,
                assignments,
            } => (
                Method::POST,
                format!(
                    "/directories/{}/groups/{}/role-assignments:preview",
                    enc(&directory),
                    enc(&group)
                ),
                Some(assignments_body(&assignments.spec).map_err(usage)?),
            ),
        },
        C::Users(c) => match c {
            UserCommand::Assign {
                directory,
                user,
                assignments,
            } => (
                Method::PUT,
                format!(
                    "/directories/{}/users/{}/role-assignments",
                    enc(&directory),
                    enc(&user)
                ),
                Some(assignments_body(&assignments.spec).map_err(usage)?),
            ),
            UserCommand::Preview {
                directory,
                user,
                assignments,
            } => (
                Method::POST,
                format!(
                    "/directories/{}/users/{}/role-assignments:preview",
                    enc(&directory),
                    enc(&user)
                ),
                Some(assignments_body(&assignments.spec).map_err(usage)?),
            ),
        },
        C::Check {
            user,
            permission,
            account,
        } => (
            Method::GET,
            format!(
                "/check{}",
                query(&[
                    ("user", Some(user)),
                    ("permission", Some(permission)),
                    ("account", Some(account))
                ])
            ),
            None,
        ),
        C::Access {
            account,
            permission,
        } => (
            Method::GET,
            format!(
                "/accounts/{}/access{}",
                enc(&account),
                query(&[("permission", Some(permission))])
            ),
            None,
        ),
        C::SyncLog {
            directory,
            limit,
            before,
        } => (
            Method::GET,
            format!(
                "/directories/{}/sync-log{}",
                enc(&directory),
                query(&[
                    ("limit", limit.map(|l| l.to_string())),
                    ("before", before.map(|b| b.to_string()))
                ])
            ),
            None,
        ),
        C::AuditLog {
            action,
            target,
            limit,
            before,
        } => (
            Method::GET,
            format!(
                "/audit-log{}",
                query(&[
                    ("action", action),
                    ("target", target),
                    ("limit", limit.map(|l| l.to_string())),
                    ("before", before.map(|b| b.to_string())),
                ])
            ),
            None,
        ),
    })
}

/// The assignment flags swallow what follows them: take the global flags
/// (`--json`, `--url U`, `--token T`) back out of them.
fn take_globals(args: &mut AdminArgs) -> Result<(), Failure> {
    let spec = match &mut args.command {
        AdminCommand::Groups(GroupCommand::Assign { assignments, .. })
        | AdminCommand::Groups(GroupCommand::Preview { assignments, .. })
        | AdminCommand::Users(UserCommand::Assign { assignments, .. })
        | AdminCommand::Users(UserCommand::Preview { assignments, .. }) => &mut assignments.spec,
        _ => return Ok(()),
    };
    let mut rest = Vec::with_capacity(spec.len());
    let mut it = std::mem::take(spec).into_iter();
    while let Some(a) = it.next() {
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (a.clone(), None),
        };
        match flag.as_str() {
            "--json" => args.json = true,
            "--url" | "--token" => {
                let value = inline
                    .or_else(|| it.next())
                    .ok_or_else(|| Failure::Usage(format!("`{flag}` needs a value")))?;
                if flag == "--url" {
                    args.url = value;
                } else {
                    args.token = Some(value);
                }
            }
            _ => rest.push(a),
        }
    }
    *spec = rest;
    Ok(())
}

async fn execute(mut args: AdminArgs) -> Outcome {
    take_globals(&mut args)?;
    let token_create = matches!(
        args.command,
        AdminCommand::Tokens(TokenCommand::Create { .. })
    );
    let api = Api::new(&args.url, args.token.clone())?;
    let (method, path, body) = request(args.command)?;
    let answer = api.call(method.clone(), &path, body.as_ref()).await?;
    if args.json {
        let text =
            serde_json::to_string_pretty(&answer.body).unwrap_or_else(|_| answer.body.to_string());
        if !answer.body.is_null() {
            println!("{text}");
        }
    } else if token_create {
        // The secret alone on stdout, for `$(…)`; the rest on stderr.
        println!("{}", s(&answer.body["token"]));
        eprintln!(
            "SCIM token `{}` created (prefix {}); the secret above is shown once",
            s(&answer.body["id"]),
            s(&answer.body["prefix"])
        );
    } else {
        print_human(&path, &method, &answer);
    }
    Ok(())
}

pub async fn run(args: AdminArgs) -> ExitCode {
    match execute(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Api(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
        Err(Failure::Usage(message)) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn assignment_flags() {
        let body = assignments_body(&args(
            "--role developer --organization org_acme --role analyst --organization org_acme --accounts a,b --role view_only --account c",
        ))
        .unwrap();
        assert_eq!(
            body,
            json!({"role_assignments": [
                {"role": "developer", "scope": {"organization": "org_acme"}},
                {"role": "analyst", "scope": {"organization": "org_acme", "accounts": ["a", "b"]}},
                {"role": "view_only", "scope": {"account": "c"}},
            ]})
        );
        assert_eq!(
            assignments_body(&args("--none")).unwrap(),
            json!({"role_assignments": []})
        );
        assert!(assignments_body(&args("--organization o")).is_err());
        assert!(assignments_body(&args("--role r")).is_err());
        assert!(assignments_body(&args("")).is_err());
        assert!(assignments_body(&args("--role r --account")).is_err());
    }

    #[test]
    fn encodes() {
        assert_eq!(enc("a b/c"), "a%20b%2Fc");
        assert_eq!(
            query(&[("user", Some("a@b".into())), ("x", None)]),
            "?user=a%40b"
        );
    }
}
