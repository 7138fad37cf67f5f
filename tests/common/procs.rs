//! `rolecall store` and `rolecall sidecar` as child processes on ephemeral
//! ports: started, asked, killed with SIGKILL, restarted on the same ports.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rolecall::pb::v1 as pb;
use rolecall::pb::v1::authorizer_client::AuthorizerClient;
use tempfile::TempDir;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{READY_TIMEOUT, ROLECALL_ENV, bin, free_addr, http_get, port_taken};

/// A `rolecall` child process with its stderr in a file; SIGKILLed on drop.
pub struct Proc {
    child: Option<Child>,
    args: Vec<String>,
    log: PathBuf,
    _logdir: TempDir,
}

impl Proc {
    pub fn spawn(args: Vec<String>) -> Self {
        let logdir = tempfile::tempdir().expect("create a temporary directory");
        let log = logdir.path().join("stderr.log");
        let mut p = Self {
            child: None,
            args,
            log,
            _logdir: logdir,
        };
        p.respawn();
        p
    }

    /// Starts the same command again (after [`Proc::kill`]); the log goes on.
    pub fn respawn(&mut self) {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("open the log file");
        let mut cmd = Command::new(bin());
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file);
        for var in ROLECALL_ENV {
            cmd.env_remove(var);
        }
        self.child = Some(cmd.spawn().expect("spawn rolecall"));
    }

    /// The process id (0 when not running).
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The exit status, if the process ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().expect("poll the process"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

async fn channel(addr: SocketAddr) -> Result<Channel, tonic::transport::Error> {
    Endpoint::from_shared(format!("http://{addr}"))
        .expect("a valid URI")
        .connect_timeout(Duration::from_secs(2))
        .connect()
        .await
}

/// The health of `service` on the gRPC port at `addr`, if it answers.
pub async fn health_status(addr: SocketAddr, service: &str) -> Option<ServingStatus> {
    let mut client = HealthClient::new(channel(addr).await.ok()?);
    let mut req = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    req.set_timeout(Duration::from_secs(2));
    let status = client.check(req).await.ok()?.into_inner().status;
    ServingStatus::try_from(status).ok()
}

/// Waits until `ready` holds, failing with the process's log after
/// `READY_TIMEOUT` or when it exits; `Err` with the log when it exited
/// because a port was taken (see [`start_on_free_ports`]).
async fn wait_until<F, Fut>(proc: &mut Proc, what: &str, mut ready: F) -> Result<(), String>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = Instant::now();
    loop {
        if let Some(status) = proc.exited() {
            let log = proc.log();
            if port_taken(&log) {
                return Err(log);
            }
            panic!("{what}: exited with {status}; stderr:\n{log}");
        }
        if ready().await {
            return Ok(());
        }
        assert!(
            started.elapsed() < READY_TIMEOUT,
            "{what}: not ready after {READY_TIMEOUT:?}; stderr:\n{}",
            proc.log()
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// [`wait_until`] for a process that must keep the ports it has.
async fn wait_ready_on<F, Fut>(proc: &mut Proc, what: &str, ready: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    if let Err(log) = wait_until(proc, what, ready).await {
        panic!("{what}: a port it needs is taken; stderr:\n{log}");
    }
}

/// Spawns `rolecall ARGS(ports)` on `N` fresh loopback ports and waits until
/// `ready(ports)` holds. Another process may take a port between its choice
/// and the child's bind; then the child exits saying so, and it is started
/// again on new ports (three tries in all).
async fn start_on_free_ports<const N: usize, F, Fut>(
    what: &str,
    args: impl Fn(&[SocketAddr; N]) -> Vec<String>,
    ready: F,
) -> (Proc, [SocketAddr; N])
where
    F: Fn([SocketAddr; N]) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        let ports: [SocketAddr; N] = std::array::from_fn(|_| free_addr());
        let mut proc = Proc::spawn(args(&ports));
        match wait_until(&mut proc, what, || ready(ports)).await {
            Ok(()) => return (proc, ports),
            Err(log) if tries == 3 => panic!("{what}: ports taken {tries} times; stderr:\n{log}"),
            Err(_) => {}
        }
    }
}

/// Whether the store's sync port reports SERVING.
async fn store_serving(sync_addr: SocketAddr) -> bool {
    health_status(sync_addr, "rolecall.v1.SnapshotSync").await == Some(ServingStatus::Serving)
}

/// A running `rolecall store`.
pub struct StoreProc {
    pub proc: Proc,
    pub http_addr: SocketAddr,
    pub sync_addr: SocketAddr,
}

impl StoreProc {
    /// `rolecall store --database-url URL EXTRA...` on loopback ports; waits
    /// until its sync port reports SERVING.
    pub async fn start(db_url: &str, extra: &[&str]) -> Self {
        let args = |[http_addr, sync_addr]: &[SocketAddr; 2]| {
            let mut args: Vec<String> = [
                "store",
                "--database-url",
                db_url,
                "--http-addr",
                &http_addr.to_string(),
                "--sync-addr",
                &sync_addr.to_string(),
                "--refresh-interval-ms",
                "50",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        let (proc, [http_addr, sync_addr]) =
            start_on_free_ports("rolecall store", args, |[_, sync]| store_serving(sync)).await;
        Self {
            proc,
            http_addr,
            sync_addr,
        }
    }

    pub async fn wait_ready(&mut self) {
        let addr = self.sync_addr;
        wait_ready_on(&mut self.proc, "rolecall store", || store_serving(addr)).await;
    }

    /// `--store` for a sidecar.
    pub fn url(&self) -> String {
        format!("http://{}", self.sync_addr)
    }

    /// SIGKILL the store.
    pub fn kill(&mut self) {
        self.proc.kill();
    }

    /// Starts the store again on the same ports and waits until it serves.
    pub async fn restart(&mut self) {
        self.proc.respawn();
        self.wait_ready().await;
    }
}

/// A running `rolecall sidecar`.
pub struct SidecarProc {
    pub proc: Proc,
    pub grpc_addr: SocketAddr,
    pub http_addr: SocketAddr,
}

impl SidecarProc {
    /// `rolecall sidecar --store URL EXTRA...` on loopback ports; waits until
    /// its HTTP port answers (serving or not).
    pub async fn start(store_url: &str, extra: &[&str]) -> Self {
        let args = |[grpc_addr, http_addr]: &[SocketAddr; 2]| {
            let mut args: Vec<String> = [
                "sidecar",
                "--store",
                store_url,
                "--http-addr",
                &http_addr.to_string(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            // `extra` may choose its own `--grpc-addr` (`off`, for a socket alone).
            if !extra.contains(&"--grpc-addr") {
                args.extend(["--grpc-addr".to_owned(), grpc_addr.to_string()]);
            }
            args.extend(extra.iter().map(|s| s.to_string()));
            args
        };
        let (proc, [grpc_addr, http_addr]) =
            start_on_free_ports("rolecall sidecar", args, |[_, http]| async move {
                tokio::net::TcpStream::connect(http).await.is_ok()
            })
            .await;
        Self {
            proc,
            grpc_addr,
            http_addr,
        }
    }

    /// Waits until the Authorizer reports SERVING.
    pub async fn wait_serving(&mut self) {
        let addr = self.grpc_addr;
        wait_ready_on(&mut self.proc, "rolecall sidecar serving", || async move {
            health_status(addr, "rolecall.v1.Authorizer").await == Some(ServingStatus::Serving)
        })
        .await;
    }

    pub async fn health(&self) -> Option<ServingStatus> {
        health_status(self.grpc_addr, "rolecall.v1.Authorizer").await
    }

    /// `/healthz` as JSON, and its status code.
    pub async fn healthz(&self) -> (u16, serde_json::Value) {
        let r = http_get(self.http_addr, "/healthz").await;
        (r.status, r.json())
    }

    pub async fn authorizer(&self) -> AuthorizerClient<Channel> {
        AuthorizerClient::new(channel(self.grpc_addr).await.unwrap_or_else(|e| {
            panic!("connect to the sidecar: {e}; stderr:\n{}", self.proc.log())
        }))
    }

    /// One explained check, waiting up to 20 s for `min_revision` if given.
    pub async fn check(
        &self,
        user: &str,
        permission: &str,
        account: &str,
        min_revision: Option<u64>,
    ) -> Result<pb::CheckResponse, tonic::Status> {
        let mut client = self.authorizer().await;
        let mut req = tonic::Request::new(pb::CheckRequest {
            user: user.to_owned(),
            permission: permission.to_owned(),
            account: account.to_owned(),
            consistency: min_revision.and_then(super::at_least),
            explain: true,
        });
        req.set_timeout(Duration::from_secs(20));
        client.check(req).await.map(tonic::Response::into_inner)
    }
}

/// The deny reason of an explained answer.
pub fn reason(resp: &pb::CheckResponse) -> pb::DenyReason {
    resp.explanation
        .as_ref()
        .and_then(|e| pb::DenyReason::try_from(e.deny_reason).ok())
        .unwrap_or(pb::DenyReason::Unspecified)
}

/// A running `rolecall bench ceiling-server`: the Authorizer that does no work.
pub struct CeilingProc {
    pub proc: Proc,
    pub grpc_addr: SocketAddr,
}

impl CeilingProc {
    /// `rolecall bench ceiling-server` on a loopback port; waits until the
    /// Authorizer reports SERVING.
    pub async fn start() -> Self {
        let args = |[grpc_addr]: &[SocketAddr; 1]| {
            vec![
                "bench".to_owned(),
                "ceiling-server".to_owned(),
                "--grpc-addr".to_owned(),
                grpc_addr.to_string(),
            ]
        };
        let (proc, [grpc_addr]) =
            start_on_free_ports("rolecall bench ceiling-server", args, |[grpc]| async move {
                health_status(grpc, "rolecall.v1.Authorizer").await == Some(ServingStatus::Serving)
            })
            .await;
        Self { proc, grpc_addr }
    }

    /// `--addr` for `rolecall bench load`.
    pub fn url(&self) -> String {
        format!("http://{}", self.grpc_addr)
    }
}
