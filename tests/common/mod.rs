//! Helpers shared by the end-to-end tests: the real `rolecall` binary as a
//! child process on ephemeral ports, a SQLite file in a temporary directory,
//! the CLI, and a tiny HTTP/1.1 GET.

#![allow(dead_code)]

pub mod procs;

use std::ffi::OsStr;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolecall::pb::v1 as pb;
use rolecall::pb::v1::authorizer_client::AuthorizerClient;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// How long a server may take to report SERVING.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How long one CLI invocation may take.
pub const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// Environment variables of the binary that must not leak in from the caller.
pub const ROLECALL_ENV: &[&str] = &[
    "ROLECALL_ADDR",
    "ROLECALL_DATABASE_URL",
    "ROLECALL_GRPC_ADDR",
    "ROLECALL_HTTP_ADDR",
    "ROLECALL_REFRESH_INTERVAL_MS",
    "ROLECALL_LOG_FORMAT",
    "ROLECALL_ADMIN_TOKEN",
    "ROLECALL_ADMIN_URL",
    "ROLECALL_SYNC_ADDR",
    "ROLECALL_SYNC_TOKEN",
    "ROLECALL_STORE_URL",
    "ROLECALL_GRPC_UDS",
    "ROLECALL_CACHE_FILE",
    "ROLECALL_CACHE_INTERVAL",
    "ROLECALL_MAX_STALENESS",
    "ROLECALL_ON_STALE",
    "ROLECALL_CLIENT_NAME",
    "ROLECALL_PUBLIC_SCIM_URL",
];

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rolecall")
}

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A file of the repository, relative to its root.
pub fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// An address nothing listens on (at the time of the call).
pub fn free_addr() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address")
}

/// Whether a rolecall process's stderr says it could not bind a port: another
/// process took one picked by [`free_addr`] before the child bound it.
pub fn port_taken(log: &str) -> bool {
    log.contains("cannot listen on")
}

/// A SQLite database file in its own temporary directory.
pub struct Db {
    pub path: PathBuf,
    dir: TempDir,
}

impl Db {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory");
        let path = dir.path().join("rolecall.db");
        Self { path, dir }
    }

    pub fn url(&self) -> String {
        format!("sqlite://{}", self.path.display())
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

/// The outcome of one CLI invocation.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }
}

/// Runs `rolecall ARGS` to completion (off the async runtime).
pub async fn rolecall<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let args: Vec<std::ffi::OsString> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
    let shown = format!("{args:?}");
    let task = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(bin());
        cmd.args(&args).stdin(Stdio::null());
        for var in ROLECALL_ENV {
            cmd.env_remove(var);
        }
        cmd.output()
    });
    let out = tokio::time::timeout(CLI_TIMEOUT, task)
        .await
        .unwrap_or_else(|_| panic!("`rolecall {shown}` did not finish within {CLI_TIMEOUT:?}"))
        .expect("join the CLI task")
        .expect("run the rolecall binary");
    Run {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `rolecall import --database-url URL FILES...`.
pub async fn import(db_url: &str, files: &[&Path]) -> Run {
    let mut args: Vec<std::ffi::OsString> =
        vec!["import".into(), "--database-url".into(), db_url.into()];
    args.extend(files.iter().map(|f| f.as_os_str().to_owned()));
    rolecall(args).await
}

/// Imports files that must import cleanly; returns the revision printed last.
pub async fn import_ok(db_url: &str, files: &[&Path]) -> u64 {
    let run = import(db_url, files).await;
    assert!(run.success(), "import {files:?} failed: {run:#?}");
    last_revision(&run.stdout).unwrap_or_else(|| panic!("no revision in import output: {run:#?}"))
}

/// The number after the last `revision ` in `text`.
pub fn last_revision(text: &str) -> Option<u64> {
    let at = text.rfind("revision ")?;
    let digits: String = text[at + "revision ".len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// A running `rolecall serve`, killed on drop.
pub struct Server {
    child: Child,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
    log: PathBuf,
    _logdir: TempDir,
}

enum StartError {
    /// One of the ports was taken between picking it and binding it.
    PortTaken(String),
    Failed(String),
}

impl Server {
    /// `rolecall serve --database-url URL` with `--refresh-interval-ms 50`.
    pub async fn start(db_url: &str) -> Self {
        Self::start_with(db_url, &["--refresh-interval-ms", "50"]).await
    }

    /// `rolecall serve --database-url URL EXTRA...` on ephemeral ports; waits
    /// until the health service reports SERVING.
    pub async fn start_with(db_url: &str, extra: &[&str]) -> Self {
        match Self::try_start(db_url, extra).await {
            Ok(s) => s,
            // Another process took a port we picked: once more with new ones.
            Err(StartError::PortTaken(_)) => match Self::try_start(db_url, extra).await {
                Ok(s) => s,
                Err(StartError::PortTaken(log) | StartError::Failed(log)) => {
                    panic!("rolecall serve did not start:\n{log}")
                }
            },
            Err(StartError::Failed(log)) => panic!("rolecall serve did not start:\n{log}"),
        }
    }

    async fn try_start(db_url: &str, extra: &[&str]) -> Result<Self, StartError> {
        let grpc_addr = free_addr();
        let http_addr = free_addr();
        let (child, log, logdir) = spawn_serve(db_url, grpc_addr, http_addr, extra);
        let mut server = Server {
            child,
            grpc_addr,
            http_addr,
            log,
            _logdir: logdir,
        };
        let started = Instant::now();
        loop {
            if let Some(status) = server.child.try_wait().expect("poll the server process") {
                let log = server.log();
                let report = format!("exited with {status}; stderr:\n{log}");
                return Err(if port_taken(&log) {
                    StartError::PortTaken(report)
                } else {
                    StartError::Failed(report)
                });
            }
            if server.is_serving("").await {
                return Ok(server);
            }
            if started.elapsed() > READY_TIMEOUT {
                return Err(StartError::Failed(format!(
                    "not SERVING after {READY_TIMEOUT:?}; stderr:\n{}",
                    server.log()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the health service reports `service` SERVING.
    async fn is_serving(&self, service: &str) -> bool {
        let Ok(channel) = self.try_channel().await else {
            return false;
        };
        let mut health = HealthClient::new(channel);
        let mut req = tonic::Request::new(HealthCheckRequest {
            service: service.to_owned(),
        });
        req.set_timeout(Duration::from_secs(2));
        matches!(
            health.check(req).await,
            Ok(resp) if resp.get_ref().status == ServingStatus::Serving as i32
        )
    }

    async fn try_channel(&self) -> Result<Channel, tonic::transport::Error> {
        Endpoint::from_shared(format!("http://{}", self.grpc_addr))
            .expect("a valid URI")
            .connect_timeout(Duration::from_secs(2))
            .connect()
            .await
    }

    /// A connected channel to the gRPC port.
    pub async fn channel(&self) -> Channel {
        self.try_channel().await.unwrap_or_else(|e| {
            panic!(
                "cannot connect to {}: {e}; stderr:\n{}",
                self.grpc_addr,
                self.log()
            )
        })
    }

    pub async fn authorizer(&self) -> AuthorizerClient<Channel> {
        AuthorizerClient::new(self.channel().await)
    }

    pub async fn health(&self) -> HealthClient<Channel> {
        HealthClient::new(self.channel().await)
    }

    /// `--addr` for `rolecall check`.
    pub fn addr_arg(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }

    /// What the server wrote to stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `rolecall serve` with stderr into a file; returns the child, the
/// file and the directory holding it.
pub fn spawn_serve(
    db_url: &str,
    grpc_addr: SocketAddr,
    http_addr: SocketAddr,
    extra: &[&str],
) -> (Child, PathBuf, TempDir) {
    let logdir = tempfile::tempdir().expect("create a temporary directory");
    let log = logdir.path().join("serve.log");
    let file = std::fs::File::create(&log).expect("create the log file");
    let mut cmd = Command::new(bin());
    cmd.arg("serve")
        .arg("--database-url")
        .arg(db_url)
        .arg("--grpc-addr")
        .arg(grpc_addr.to_string())
        .arg("--http-addr")
        .arg(http_addr.to_string())
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file);
    for var in ROLECALL_ENV {
        cmd.env_remove(var);
    }
    let child = cmd.spawn().expect("spawn rolecall serve");
    (child, log, logdir)
}

/// A database with `tests/fixtures/authz.yaml` imported, and a server on it.
/// Fields drop in order: the server stops before the database goes away.
pub struct Fixture {
    pub server: Server,
    /// The revision `rolecall import` printed.
    pub revision: u64,
    pub db: Db,
}

impl Fixture {
    pub async fn start() -> Self {
        let db = Db::new();
        let revision = import_ok(&db.url(), &[&fixture("authz.yaml")]).await;
        let server = Server::start(&db.url()).await;
        Self {
            server,
            revision,
            db,
        }
    }
}

/// A `CheckRequest` without consistency requirement.
pub fn check_req(user: &str, permission: &str, account: &str, explain: bool) -> pb::CheckRequest {
    pb::CheckRequest {
        user: user.to_owned(),
        permission: permission.to_owned(),
        account: account.to_owned(),
        consistency: None,
        explain,
    }
}

/// `Consistency { at_least_revision }`.
pub fn at_least(revision: u64) -> Option<pb::Consistency> {
    Some(pb::Consistency {
        requirement: Some(pb::consistency::Requirement::AtLeastRevision(revision)),
    })
}

/// An HTTP response: status code and body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: String,
    pub body: String,
}

/// `GET PATH` over HTTP/1.1 with `Connection: close`.
pub async fn http_get(addr: SocketAddr, path: &str) -> HttpResponse {
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(Duration::from_secs(10), fetch)
        .await
        .unwrap_or_else(|_| panic!("GET {path} on {addr} timed out"))
        .unwrap_or_else(|e| panic!("GET {path} on {addr}: {e}"));
    parse_http(&raw)
        .unwrap_or_else(|| panic!("malformed HTTP response: {}", String::from_utf8_lossy(&raw)))
}

fn parse_http(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let body = &raw[split + 4..];
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let status: u16 = status_line.split_whitespace().nth(1)?.parse().ok()?;
    let headers = lines.collect::<Vec<_>>().join("\n");
    let chunked = headers.lines().any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("transfer-encoding:") && l.contains("chunked")
    });
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_vec()
    };
    Some(HttpResponse {
        status,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..eol]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[eol + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

// === HTTP with any method; SCIM ===

/// How long one HTTP request may take (a 10,000-member PATCH included).
pub const HTTP_TIMEOUT: Duration = Duration::from_secs(120);

/// How long the background sync-log writer may take to record a request.
pub const SYNC_LOG_TIMEOUT: Duration = Duration::from_secs(10);

impl HttpResponse {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    /// The body as JSON (`Null` when empty).
    pub fn json(&self) -> serde_json::Value {
        if self.body.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is not JSON ({e}): {self:#?}"))
    }
}

/// `METHOD PATH` over HTTP/1.1 with `Connection: close`, extra headers and an
/// optional body (sent with its `Content-Length`).
pub async fn http_request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
) -> HttpResponse {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: */*\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        head.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    if let Some(b) = body {
        request.extend_from_slice(b);
    }
    let fetch = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream.write_all(&request).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        std::io::Result::Ok(raw)
    };
    let raw = tokio::time::timeout(HTTP_TIMEOUT, fetch)
        .await
        .unwrap_or_else(|_| panic!("{method} {path} on {addr} timed out"))
        .unwrap_or_else(|e| panic!("{method} {path} on {addr}: {e}"));
    parse_http(&raw)
        .unwrap_or_else(|| panic!("malformed HTTP response: {}", String::from_utf8_lossy(&raw)))
}

/// A SCIM client of one directory: `/scim/v2` on a server's HTTP port, with
/// its bearer token (or none).
#[derive(Debug, Clone)]
pub struct Scim {
    pub addr: SocketAddr,
    pub token: Option<String>,
    pub user_agent: String,
}

impl Scim {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Self {
            addr,
            token: Some(token.to_owned()),
            user_agent: "rolecall-tests".to_owned(),
        }
    }

    pub fn without_token(addr: SocketAddr) -> Self {
        Self {
            addr,
            token: None,
            user_agent: "rolecall-tests".to_owned(),
        }
    }

    pub fn with_user_agent(mut self, user_agent: &str) -> Self {
        self.user_agent = user_agent.to_owned();
        self
    }

    /// `METHOD /scim/v2PATH` with a JSON body (as `application/scim+json`)
    /// and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let text = body.map(|b| b.to_string());
        self.send_raw(
            method,
            path,
            text.as_deref().map(str::as_bytes),
            "application/scim+json",
            headers,
        )
        .await
    }

    /// `METHOD /scim/v2PATH` with `body` as given, of `content_type`.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        content_type: &str,
        headers: &[(&str, &str)],
    ) -> HttpResponse {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut all: Vec<(&str, &str)> = vec![("User-Agent", &self.user_agent)];
        if let Some(a) = &auth {
            all.push(("Authorization", a));
        }
        if body.is_some() {
            all.push(("Content-Type", content_type));
        }
        all.extend_from_slice(headers);
        http_request(self.addr, method, &format!("/scim/v2{path}"), &all, body).await
    }

    pub async fn get(&self, path: &str) -> HttpResponse {
        self.send("GET", path, None, &[]).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("POST", path, Some(body), &[]).await
    }

    pub async fn put(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("PUT", path, Some(body), &[]).await
    }

    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("PATCH", path, Some(body), &[]).await
    }

    pub async fn delete(&self, path: &str) -> HttpResponse {
        self.send("DELETE", path, None, &[]).await
    }
}

/// A SCIM token as `rolecall directory token create` prints it.
#[derive(Debug, Clone)]
pub struct ScimToken {
    pub id: String,
    pub secret: String,
}

/// `rolecall directory token create DIR`: the secret from stdout, the token
/// id from the note on stderr.
pub async fn scim_token(db_url: &str, directory: &str) -> ScimToken {
    let run = rolecall([
        "directory",
        "token",
        "create",
        directory,
        "--database-url",
        db_url,
    ])
    .await;
    assert!(run.success(), "token create failed: {run:#?}");
    let secret = run.stdout.trim().to_owned();
    assert!(
        !secret.is_empty() && !secret.contains(char::is_whitespace),
        "stdout should be the secret alone: {run:#?}"
    );
    let id = run
        .stderr
        .split('`')
        .nth(1)
        .unwrap_or_else(|| panic!("no token id on stderr: {run:#?}"))
        .to_owned();
    ScimToken { id, secret }
}

/// `rolecall directory token revoke DIR ID`.
pub async fn revoke_scim_token(db_url: &str, directory: &str, token_id: &str) {
    let run = rolecall([
        "directory",
        "token",
        "revoke",
        directory,
        token_id,
        "--database-url",
        db_url,
    ])
    .await;
    assert!(run.success(), "token revoke failed: {run:#?}");
}

/// `rolecall sync-log --json` (newest first): the raw output.
pub async fn sync_log_raw(db_url: &str) -> String {
    let run = rolecall([
        "sync-log",
        "--json",
        "--limit",
        "1000",
        "--database-url",
        db_url,
    ])
    .await;
    assert!(run.success(), "sync-log failed: {run:#?}");
    run.stdout
}

/// `rolecall sync-log --json` (newest first), one value per entry.
pub async fn sync_log(db_url: &str) -> Vec<serde_json::Value> {
    sync_log_raw(db_url)
        .await
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("sync-log line `{l}`: {e}")))
        .collect()
}

/// Polls the sync log (written in the background) until an entry satisfies
/// `pred`; returns it.
pub async fn wait_for_sync_log(
    db_url: &str,
    what: &str,
    pred: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let started = Instant::now();
    loop {
        let entries = sync_log(db_url).await;
        if let Some(e) = entries.iter().find(|e| pred(e)) {
            return e.clone();
        }
        if started.elapsed() > SYNC_LOG_TIMEOUT {
            panic!("no sync log entry {what} within {SYNC_LOG_TIMEOUT:?}; the log:\n{entries:#?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Writes `data` as a JSON data file named `name` next to the database and
/// imports it; returns the revision.
pub async fn import_json(db: &Db, name: &str, data: &serde_json::Value) -> u64 {
    let path = db.dir().join(name);
    std::fs::write(&path, data.to_string()).expect("write a data file");
    import_ok(&db.url(), &[&path]).await
}

/// One explained decision: whether it is allowed, and the deny reason.
/// With `min_revision`, the answer comes from a snapshot at or after it.
pub async fn decide(
    server: &Server,
    user: &str,
    permission: &str,
    account: &str,
    min_revision: Option<u64>,
) -> (bool, pb::DenyReason) {
    let mut client = server.authorizer().await;
    let mut req = tonic::Request::new(pb::CheckRequest {
        consistency: min_revision.and_then(at_least),
        ..check_req(user, permission, account, true)
    });
    req.set_timeout(Duration::from_secs(20));
    let resp = client
        .check(req)
        .await
        .unwrap_or_else(|s| panic!("check {user} {permission} {account}: {s:?}"))
        .into_inner();
    let reason = resp
        .explanation
        .map(|e| pb::DenyReason::try_from(e.deny_reason).unwrap_or(pb::DenyReason::Unspecified))
        .unwrap_or(pb::DenyReason::Unspecified);
    (resp.allowed, reason)
}

// === the admin API ===

/// The admin token the admin tests start servers with.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// `rolecall serve` with the admin API on (`--admin-token-file` next to the database).
pub async fn start_with_admin(db: &Db) -> Server {
    let file = db.dir().join("admin-token");
    std::fs::write(&file, format!("{ADMIN_TOKEN}\n")).expect("write the admin token file");
    let file = file.to_string_lossy().into_owned();
    Server::start_with(
        &db.url(),
        &["--refresh-interval-ms", "50", "--admin-token-file", &file],
    )
    .await
}

/// A client of `/admin/v1` on a server's HTTP port.
#[derive(Debug, Clone)]
pub struct Admin {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Admin {
    pub fn new(server: &Server) -> Self {
        Self {
            addr: server.http_addr,
            token: Some(ADMIN_TOKEN.to_owned()),
        }
    }

    pub fn with_token(mut self, token: Option<&str>) -> Self {
        self.token = token.map(str::to_owned);
        self
    }

    /// `METHOD /admin/v1PATH` with a raw body.
    pub async fn send_raw(&self, method: &str, path: &str, body: Option<&[u8]>) -> HttpResponse {
        let auth = self.token.as_ref().map(|t| format!("Bearer {t}"));
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(a) = &auth {
            headers.push(("Authorization", a));
        }
        if body.is_some() {
            headers.push(("Content-Type", "application/json"));
        }
        http_request(
            self.addr,
            method,
            &format!("/admin/v1{path}"),
            &headers,
            body,
        )
        .await
    }

    pub async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> HttpResponse {
        let text = body.map(|b| b.to_string());
        self.send_raw(method, path, text.as_deref().map(str::as_bytes))
            .await
    }

    pub async fn get(&self, path: &str) -> HttpResponse {
        self.send("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("POST", path, Some(body)).await
    }

    pub async fn put(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("PUT", path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: &serde_json::Value) -> HttpResponse {
        self.send("PATCH", path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> HttpResponse {
        self.send("DELETE", path, None).await
    }

    /// A request that must answer `status`; returns the JSON body.
    pub async fn expect(
        &self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> serde_json::Value {
        let resp = self.send(method, path, body).await;
        assert_eq!(resp.status, status, "{method} {path}: {resp:#?}");
        resp.json()
    }

    /// A write that must succeed with `status`; returns its `Rolecall-Revision` and body.
    pub async fn write(
        &self,
        status: u16,
        method: &str,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> (u64, serde_json::Value) {
        let resp = self.send(method, path, body).await;
        assert_eq!(resp.status, status, "{method} {path}: {resp:#?}");
        let revision = resp
            .header("rolecall-revision")
            .unwrap_or_else(|| panic!("{method} {path}: no Rolecall-Revision: {resp:#?}"))
            .parse()
            .expect("a numeric revision");
        (revision, resp.json())
    }
}
