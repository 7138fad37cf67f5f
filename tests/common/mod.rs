//! Helpers shared by the end-to-end tests: the real `rolecall` binary as a
//! child process on ephemeral ports, a SQLite file in a temporary directory,
//! the CLI, and a tiny HTTP/1.1 GET.

#![allow(dead_code)]

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
const ROLECALL_ENV: &[&str] = &[
    "ROLECALL_ADDR",
    "ROLECALL_DATABASE_URL",
    "ROLECALL_GRPC_ADDR",
    "ROLECALL_HTTP_ADDR",
    "ROLECALL_REFRESH_INTERVAL_MS",
    "ROLECALL_LOG_FORMAT",
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
                return Err(if log.contains("cannot listen on") {
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
