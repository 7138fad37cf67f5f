//! The gRPC edge: the `rolecall.v1.Authorizer` service over the published
//! snapshot, plus `grpc.health.v1` and server reflection on the same port.
//! Inputs are validated here; the engine answers; errors map to gRPC codes.

pub(crate) mod convert;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tonic::transport::server::Router;
use tonic::{Request, Response, Status};

use crate::engine::{self, InputError};
use crate::model::Revision;
use crate::pb::v1 as pb;
use crate::pb::v1::authorizer_server::{Authorizer, AuthorizerServer};
use crate::snapshot::{Snapshot, SnapshotHolder};
use crate::telemetry;

/// Most checks one `BatchCheck` may carry.
pub const MAX_BATCH: usize = 1000;

/// How long a read waits for `at_least_revision` when the call has no deadline.
pub const DEFAULT_CONSISTENCY_WAIT: Duration = Duration::from_secs(5);

/// The `Authorizer` service: answers from whatever snapshot the holder has.
#[derive(Clone)]
pub struct AuthorizerService {
    holder: Arc<SnapshotHolder>,
    revisions: watch::Receiver<Revision>,
    counters: DecisionCounters,
    /// Set while the snapshot is too old to answer from (a sidecar past
    /// `--max-staleness` with `--on-stale deny`): checks are denied with
    /// reason `stale`, lookups fail with UNAVAILABLE.
    deny_stale: Arc<AtomicBool>,
}

/// Decision counters, registered once: incrementing a held handle spares
/// every check the recorder's lookup of the metric by name and labels.
#[derive(Clone)]
struct DecisionCounters {
    check_allowed: metrics::Counter,
    check_denied: metrics::Counter,
    batch_allowed: metrics::Counter,
    batch_denied: metrics::Counter,
}

impl DecisionCounters {
    fn register() -> Self {
        let counter = |rpc: &'static str, outcome: &'static str| metrics::counter!(telemetry::DECISIONS, "rpc" => rpc, "outcome" => outcome);
        Self {
            check_allowed: counter("check", "allowed"),
            check_denied: counter("check", "denied"),
            batch_allowed: counter("batch_check", "allowed"),
            batch_denied: counter("batch_check", "denied"),
        }
    }
}

impl AuthorizerService {
    /// Registers the decision metrics with the recorder installed now.
    pub fn new(holder: Arc<SnapshotHolder>, revisions: watch::Receiver<Revision>) -> Self {
        Self {
            holder,
            revisions,
            counters: DecisionCounters::register(),
            deny_stale: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Answers stale-aware: while `flag` is set, checks are denied with
    /// reason `stale` and lookups fail with UNAVAILABLE.
    #[must_use]
    pub fn with_stale_flag(mut self, flag: Arc<AtomicBool>) -> Self {
        self.deny_stale = flag;
        self
    }

    #[inline]
    fn stale(&self) -> bool {
        self.deny_stale.load(Ordering::Relaxed)
    }

    fn refuse_stale(&self, rpc: &'static str) -> Result<(), Status> {
        if self.stale() {
            return Err(refused(
                rpc,
                Status::unavailable(
                    "the snapshot is older than --max-staleness allows (the store has been out of reach); retry later",
                ),
            ));
        }
        Ok(())
    }

    /// Waits, if asked, until the snapshot in place is at `at_least_revision`.
    async fn await_consistency(
        &self,
        consistency: Option<&pb::Consistency>,
        deadline: Option<Duration>,
    ) -> Result<(), Status> {
        let Some(pb::consistency::Requirement::AtLeastRevision(wanted)) =
            consistency.and_then(|c| c.requirement)
        else {
            return Ok(());
        };
        if self.holder.revision().is_some_and(|r| r >= wanted) {
            return Ok(());
        }
        // Answer a little before the caller's deadline, so the caller sees
        // UNAVAILABLE with the revision rather than its own DEADLINE_EXCEEDED.
        let wait = match deadline {
            Some(d) => d.saturating_sub((d / 5).min(Duration::from_millis(200))),
            None => DEFAULT_CONSISTENCY_WAIT,
        };
        let mut rx = self.revisions.clone();
        let reached = tokio::time::timeout(wait, rx.wait_for(|r| *r >= wanted)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => {
                let have = self.holder.revision().unwrap_or(0);
                Err(Status::unavailable(format!(
                    "snapshot is at revision {have}; revision {wanted} was not reached within {} ms",
                    wait.as_millis()
                )))
            }
        }
    }
}

fn invalid(rpc: &'static str, e: InputError) -> Status {
    refused(rpc, Status::invalid_argument(e.to_string()))
}

fn refused(rpc: &'static str, status: Status) -> Status {
    metrics::counter!(telemetry::RPC_ERRORS, "rpc" => rpc, "code" => code_name(status.code()))
        .increment(1);
    status
}

fn code_name(code: tonic::Code) -> &'static str {
    match code {
        tonic::Code::InvalidArgument => "invalid_argument",
        tonic::Code::Unavailable => "unavailable",
        _ => "other",
    }
}

fn no_snapshot() -> Status {
    Status::unavailable("no snapshot loaded yet; retry shortly")
}

/// How long a read may wait for its revision: the call's deadline, looked up
/// only when the read asks for a revision at all.
fn wait_budget<T>(req: &Request<T>, consistency: Option<&pb::Consistency>) -> Option<Duration> {
    consistency.and_then(|_| deadline(req))
}

/// The call's deadline, from the `grpc-timeout` header.
fn deadline<T>(req: &Request<T>) -> Option<Duration> {
    let v = req.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

/// The answer while the snapshot is too old to answer from.
fn stale_deny(snap: &Snapshot, req: &pb::CheckRequest) -> pb::CheckResponse {
    pb::CheckResponse {
        allowed: false,
        revision: snap.revision(),
        explanation: req.explain.then(|| pb::Explanation {
            grant: None,
            deny_reason: pb::DenyReason::Stale as i32,
            message: format!(
                "denied: the snapshot (revision {}) is older than the sidecar's --max-staleness allows",
                snap.revision()
            ),
            directory: String::new(),
        }),
    }
}

fn decide(snap: &Snapshot, req: &pb::CheckRequest, stale: bool) -> pb::CheckResponse {
    if stale {
        return stale_deny(snap, req);
    }
    if req.explain {
        let d = engine::explain(snap, &req.user, &req.permission, &req.account);
        pb::CheckResponse {
            allowed: d.allowed(),
            revision: snap.revision(),
            explanation: Some(convert::explanation(
                &d,
                &req.user,
                &req.permission,
                &req.account,
            )),
        }
    } else {
        pb::CheckResponse {
            allowed: engine::check(snap, &req.user, &req.permission, &req.account),
            revision: snap.revision(),
            explanation: None,
        }
    }
}

#[tonic::async_trait]
impl Authorizer for AuthorizerService {
    async fn check(
        &self,
        request: Request<pb::CheckRequest>,
    ) -> Result<Response<pb::CheckResponse>, Status> {
        let wait = wait_budget(&request, request.get_ref().consistency.as_ref());
        let req = request.into_inner();
        engine::validate_check(&req.user, &req.permission, &req.account)
            .map_err(|e| invalid("check", e))?;
        self.await_consistency(req.consistency.as_ref(), wait)
            .await
            .map_err(|s| refused("check", s))?;
        let guard = self.holder.load();
        let snap = guard
            .as_deref()
            .ok_or_else(|| refused("check", no_snapshot()))?;
        let resp = decide(snap, &req, self.stale());
        if resp.allowed {
            self.counters.check_allowed.increment(1);
        } else {
            self.counters.check_denied.increment(1);
        }
        Ok(Response::new(resp))
    }

    async fn batch_check(
        &self,
        request: Request<pb::BatchCheckRequest>,
    ) -> Result<Response<pb::BatchCheckResponse>, Status> {
        let wait = wait_budget(&request, request.get_ref().consistency.as_ref());
        let req = request.into_inner();
        if req.items.len() > MAX_BATCH {
            return Err(refused(
                "batch_check",
                Status::invalid_argument(format!(
                    "items: {} checks in one batch; at most {MAX_BATCH} are allowed",
                    req.items.len()
                )),
            ));
        }
        for (i, item) in req.items.iter().enumerate() {
            engine::validate_check(&item.user, &item.permission, &item.account).map_err(|e| {
                refused(
                    "batch_check",
                    Status::invalid_argument(format!("items[{i}].{}: {}", e.field, e.message)),
                )
            })?;
        }
        self.await_consistency(req.consistency.as_ref(), wait)
            .await
            .map_err(|s| refused("batch_check", s))?;
        let guard = self.holder.load();
        let snap = guard
            .as_deref()
            .ok_or_else(|| refused("batch_check", no_snapshot()))?;
        let stale = self.stale();
        let results: Vec<_> = req
            .items
            .iter()
            .map(|item| decide(snap, item, stale))
            .collect();
        let allowed = results.iter().filter(|r| r.allowed).count() as u64;
        self.counters.batch_allowed.increment(allowed);
        self.counters
            .batch_denied
            .increment(results.len() as u64 - allowed);
        Ok(Response::new(pb::BatchCheckResponse {
            results,
            revision: snap.revision(),
        }))
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        let wait = wait_budget(&request, request.get_ref().consistency.as_ref());
        let req = request.into_inner();
        let rpc = "list_permissions";
        self.refuse_stale(rpc)?;
        engine::validate_user(&req.user).map_err(|e| invalid(rpc, e))?;
        engine::validate_account(&req.account).map_err(|e| invalid(rpc, e))?;
        self.await_consistency(req.consistency.as_ref(), wait)
            .await
            .map_err(|s| refused(rpc, s))?;
        let guard = self.holder.load();
        let snap = guard
            .as_deref()
            .ok_or_else(|| refused(rpc, no_snapshot()))?;
        let permissions = engine::list_permissions(snap, &req.user, &req.account)
            .into_iter()
            .map(ToString::to_string)
            .collect();
        Ok(Response::new(pb::ListPermissionsResponse {
            permissions,
            revision: snap.revision(),
        }))
    }

    async fn lookup_accounts(
        &self,
        request: Request<pb::LookupAccountsRequest>,
    ) -> Result<Response<pb::LookupAccountsResponse>, Status> {
        let wait = wait_budget(&request, request.get_ref().consistency.as_ref());
        let req = request.into_inner();
        let rpc = "lookup_accounts";
        self.refuse_stale(rpc)?;
        engine::validate_user(&req.user).map_err(|e| invalid(rpc, e))?;
        engine::validate_permission(&req.permission).map_err(|e| invalid(rpc, e))?;
        self.await_consistency(req.consistency.as_ref(), wait)
            .await
            .map_err(|s| refused(rpc, s))?;
        let guard = self.holder.load();
        let snap = guard
            .as_deref()
            .ok_or_else(|| refused(rpc, no_snapshot()))?;
        let accounts = engine::lookup_accounts(snap, &req.user, &req.permission)
            .into_iter()
            .map(str::to_owned)
            .collect();
        Ok(Response::new(pb::LookupAccountsResponse {
            accounts,
            revision: snap.revision(),
        }))
    }

    async fn lookup_users(
        &self,
        request: Request<pb::LookupUsersRequest>,
    ) -> Result<Response<pb::LookupUsersResponse>, Status> {
        let wait = wait_budget(&request, request.get_ref().consistency.as_ref());
        let req = request.into_inner();
        let rpc = "lookup_users";
        self.refuse_stale(rpc)?;
        engine::validate_permission(&req.permission).map_err(|e| invalid(rpc, e))?;
        engine::validate_account(&req.account).map_err(|e| invalid(rpc, e))?;
        self.await_consistency(req.consistency.as_ref(), wait)
            .await
            .map_err(|s| refused(rpc, s))?;
        let guard = self.holder.load();
        let snap = guard
            .as_deref()
            .ok_or_else(|| refused(rpc, no_snapshot()))?;
        let users = engine::lookup_users(snap, &req.permission, &req.account)
            .iter()
            .map(convert::user_access)
            .collect();
        Ok(Response::new(pb::LookupUsersResponse {
            users,
            revision: snap.revision(),
        }))
    }
}

/// Sets the health of the Authorizer (and of the server as a whole).
#[derive(Clone)]
pub struct Health {
    reporter: tonic_health::server::HealthReporter,
}

impl Health {
    pub async fn serving(&self) {
        self.reporter
            .set_serving::<AuthorizerServer<AuthorizerService>>()
            .await;
        self.reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    }

    /// Marks the `SnapshotSync` service (and the port) serving.
    pub async fn serving_sync(&self) {
        self.reporter
            .set_serving::<crate::pb::v1::snapshot_sync_server::SnapshotSyncServer<
                crate::sync::server::SyncService,
            >>()
            .await;
        self.reporter
            .set_service_status("", tonic_health::ServingStatus::Serving)
            .await;
    }

    pub async fn not_serving(&self) {
        self.reporter
            .set_not_serving::<AuthorizerServer<AuthorizerService>>()
            .await;
        self.reporter
            .set_service_status("", tonic_health::ServingStatus::NotServing)
            .await;
    }
}

/// Connections accepted on `listener`, with Nagle's algorithm off (the
/// server's own `tcp_nodelay` only reaches listeners it binds itself; without
/// it a small answer can wait out the peer's delayed ACK, about 40 ms).
pub fn incoming(listener: TcpListener) -> tonic::transport::server::TcpIncoming {
    tonic::transport::server::TcpIncoming::from(listener).with_nodelay(Some(true))
}

/// The health service of a gRPC port, NOT_SERVING until told otherwise.
pub async fn health() -> (
    Health,
    tonic_health::pb::health_server::HealthServer<impl tonic_health::pb::health_server::Health>,
) {
    let (reporter, service) = tonic_health::server::health_reporter();
    let health = Health { reporter };
    health.not_serving().await;
    (health, service)
}

/// A server with what every rolecall gRPC port has: health (`health`) and
/// reflection (v1 and v1alpha) over all of rolecall's services.
pub fn base_router<H>(health: tonic_health::pb::health_server::HealthServer<H>) -> Router
where
    H: tonic_health::pb::health_server::Health,
{
    let reflection_v1 = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .expect("embedded descriptor sets are valid");
    let reflection_v1alpha = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(crate::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1alpha()
        .expect("embedded descriptor sets are valid");
    tonic::transport::Server::builder()
        .tcp_nodelay(true)
        // A debug-level span per call: free unless RUST_LOG asks for it.
        .trace_fn(|req| tracing::debug_span!("grpc", path = %req.uri().path()))
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
}

/// Serves an Authorizer (rolecall's [`AuthorizerService`], or any other
/// implementation, served the same way), health (NOT_SERVING until told
/// otherwise) and reflection on `listener` until `shutdown` completes.
pub async fn serve<A: Authorizer>(
    listener: TcpListener,
    service: A,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> (
    Health,
    impl Future<Output = Result<(), tonic::transport::Error>>,
) {
    let (health, health_service) = health().await;
    let server = base_router(health_service)
        .add_service(AuthorizerServer::new(service))
        .serve_with_incoming_shutdown(incoming(listener), shutdown);
    (health, server)
}

/// Serves the Authorizer, health and reflection on a unix socket (and on
/// `tcp` too when given), sharing one health status, until `shutdown`.
pub async fn serve_both(
    tcp: Option<TcpListener>,
    uds: Option<tokio::net::UnixListener>,
    service: AuthorizerService,
    shutdown: watch::Receiver<bool>,
) -> (
    Health,
    Vec<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>>,
) {
    let (health, health_service) = health().await;
    let mut tasks = Vec::new();
    let stop = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|s| *s).await;
    };
    if let Some(l) = tcp {
        let router =
            base_router(health_service.clone()).add_service(AuthorizerServer::new(service.clone()));
        tasks.push(tokio::spawn(
            router.serve_with_incoming_shutdown(incoming(l), stop(shutdown.clone())),
        ));
    }
    if let Some(l) = uds {
        let router = base_router(health_service).add_service(AuthorizerServer::new(service));
        tasks.push(tokio::spawn(router.serve_with_incoming_shutdown(
            tokio_stream::wrappers::UnixListenerStream::new(l),
            stop(shutdown),
        )));
    }
    (health, tasks)
}
