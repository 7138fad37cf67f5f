//! `rolecall bench load`: a gRPC load generator for the `Authorizer`.
//!
//! Two modes:
//!
//! - **Closed loop** (no rate): `concurrency` tasks each send a call, wait
//!   for its answer and send the next, as fast as the server answers. This
//!   finds the maximum throughput; latency is each call's service time.
//! - **Open loop** (`rate`): calls are due at fixed times `t0 + i / rate`
//!   ([`Schedule`]), whatever the server does. One thread with a runtime of
//!   its own releases each call when it is due (up to `concurrency` in
//!   flight), sends it and takes its answer: no call wakes another thread.
//!   Between calls it spins, so it keeps one core busy whatever the rate.
//!   Latency is measured from the call's *intended* start, not from when it
//!   was sent, so a server that stalls delays every call due during the
//!   stall and they all show in the percentiles (no coordinated omission).
//!   Calls sent more than [`LATE_AFTER`] after their intended start are
//!   counted as late, with the largest lag; the service time (from the
//!   actual send) is reported too.
//!
//! Requests are encoded once before the run ([`encode_requests`]) and sent as
//! bytes through a tonic client with a pass-through codec, so a call costs
//! the generator no message building or encoding. Each task keeps its own
//! histograms; they are merged once at the end ([`Summary`]).

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use prost::Message;
use prost::bytes::{BufMut, Bytes};
use tonic::client::Grpc;
use tonic::codec::{BufferSettings, Codec, EncodeBuf, Encoder};
use tonic::codegen::http::uri::PathAndQuery;
use tonic::transport::{Channel, Endpoint};
use tonic::{Code, Request, Status};

use crate::bench::generate::Query;
use crate::engine;
use crate::grpc::MAX_BATCH;
use crate::pb::v1 as pb;

/// An open-loop call sent later than this after its intended start is late.
pub const LATE_AFTER: Duration = Duration::from_millis(1);

/// How long a connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Latencies are recorded in nanoseconds, to 3 significant digits (0.1%),
/// up to 100 s (longer ones count as 100 s).
const HIST_HIGH_NS: u64 = 100_000_000_000;

/// The check every call asks when no requests file is given.
pub const DEFAULT_QUERY: (&str, &str, &str) = ("user0@example.com", "charges.read", "acct_00000");

// === what to call ===

/// The `Authorizer` method under load (`--call`, named as [`Call::name`] says).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Call {
    Check,
    BatchCheck,
    ListPermissions,
}

impl Call {
    /// The name `--call` takes and reports show.
    pub fn name(self) -> &'static str {
        match self {
            Call::Check => "check",
            Call::BatchCheck => "batch-check",
            Call::ListPermissions => "list-permissions",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Call::Check => "/rolecall.v1.Authorizer/Check",
            Call::BatchCheck => "/rolecall.v1.Authorizer/BatchCheck",
            Call::ListPermissions => "/rolecall.v1.Authorizer/ListPermissions",
        }
    }
}

/// What one run does.
#[derive(Debug, Clone)]
pub struct Options {
    /// `http://HOST:PORT` (or `HOST:PORT`).
    pub addr: String,
    pub call: Call,
    /// Checks per `BatchCheck` (ignored by the other calls).
    pub batch_size: usize,
    /// HTTP/2 connections, each its own channel; tasks share them round-robin.
    pub connections: usize,
    /// Calls in flight at most (closed loop: the number of sending tasks).
    pub concurrency: usize,
    /// Calls per second (open loop); `None` runs closed loop.
    pub rate: Option<f64>,
    /// How long to measure, after the warm-up.
    pub duration: Duration,
    /// How long to send before measuring (same load, not recorded).
    pub warmup: Duration,
    /// A name for the run, copied into the report (`serve`, `ceiling`, …).
    pub label: Option<String>,
}

impl Options {
    fn batch_size(&self) -> usize {
        if self.call == Call::BatchCheck {
            self.batch_size
        } else {
            1
        }
    }
}

/// Why a run could not start (the CLI exits 2 on these).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read the requests file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "the requests file {path} is not a JSON array of checks ({{\"user\", \"permission\", \"account\"}}, as `rolecall bench generate --requests-output` writes): {message}"
    )]
    Parse { path: String, message: String },
    #[error("the requests file {path} holds no checks")]
    Empty { path: String },
    #[error("the requests file {path}: [{index}].{field}: {message}")]
    Invalid {
        path: String,
        index: usize,
        field: &'static str,
        message: String,
    },
    #[error("{0}")]
    Usage(String),
    #[error("cannot connect to `{addr}`: {message}")]
    Connect { addr: String, message: String },
}

/// Reads the checks of a requests file: a JSON array of
/// `{"user", "permission", "account"}`, each valid as a `CheckRequest`.
pub fn read_requests(path: &Path) -> Result<Vec<Query>, LoadError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: shown.clone(),
        source,
    })?;
    parse_requests(&text, &shown)
}

/// Parses the text of a requests file named `path` (for messages).
pub fn parse_requests(text: &str, path: &str) -> Result<Vec<Query>, LoadError> {
    let mut de = serde_json::Deserializer::from_str(text);
    let queries: Vec<Query> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| LoadError::Parse {
            path: path.to_owned(),
            message: if e.path().to_string() == "." {
                e.inner().to_string()
            } else {
                format!("at {}: {}", e.path(), e.inner())
            },
        })?;
    if queries.is_empty() {
        return Err(LoadError::Empty {
            path: path.to_owned(),
        });
    }
    for (index, q) in queries.iter().enumerate() {
        engine::validate_check(&q.user, &q.permission, &q.account).map_err(|e| {
            LoadError::Invalid {
                path: path.to_owned(),
                index,
                field: e.field,
                message: e.message,
            }
        })?;
    }
    Ok(queries)
}

/// The one check asked when no requests file is given.
fn default_requests() -> Vec<Query> {
    let (user, permission, account) = DEFAULT_QUERY;
    vec![Query {
        user: user.to_owned(),
        permission: permission.to_owned(),
        account: account.to_owned(),
    }]
}

fn check_request(q: &Query) -> pb::CheckRequest {
    pb::CheckRequest {
        user: q.user.clone(),
        permission: q.permission.clone(),
        account: q.account.clone(),
        consistency: None,
        explain: false,
    }
}

/// The request messages of a run, each encoded once. `Check` and
/// `ListPermissions` send one message per query; `BatchCheck` sends
/// `max(1, queries / batch_size)` batches of `batch_size` checks, taking the
/// queries in order and wrapping around. Calls cycle through the messages.
pub fn encode_requests(call: Call, queries: &[Query], batch_size: usize) -> Vec<Bytes> {
    match call {
        Call::Check => queries.iter().map(|q| encode(&check_request(q))).collect(),
        Call::ListPermissions => queries
            .iter()
            .map(|q| {
                encode(&pb::ListPermissionsRequest {
                    user: q.user.clone(),
                    account: q.account.clone(),
                    consistency: None,
                })
            })
            .collect(),
        Call::BatchCheck => {
            let batch_size = batch_size.max(1);
            let batches = (queries.len() / batch_size).max(1);
            (0..batches)
                .map(|b| {
                    let items = (0..batch_size)
                        .map(|j| check_request(&queries[(b * batch_size + j) % queries.len()]))
                        .collect();
                    encode(&pb::BatchCheckRequest {
                        items,
                        consistency: None,
                    })
                })
                .collect()
        }
    }
}

fn encode(m: &impl Message) -> Bytes {
    Bytes::from(m.encode_to_vec())
}

// === the schedule (pure) ===

/// Intended start times of open-loop calls: call `i` is due `i / rate`
/// seconds after the start. Kept in integer picoseconds per call, so the
/// times and the counts below agree exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    interval_ps: u64,
}

impl Schedule {
    /// `rate` calls per second (> 0).
    pub fn new(rate: f64) -> Self {
        assert!(rate > 0.0 && rate.is_finite(), "a positive rate");
        Self {
            interval_ps: (1e12 / rate).round().max(1.0) as u64,
        }
    }

    /// The rate the schedule keeps (the asked one, to within a picosecond
    /// per call).
    pub fn rate(&self) -> f64 {
        1e12 / self.interval_ps as f64
    }

    /// When call `i` is due, from the start.
    pub fn at(&self, i: u64) -> Duration {
        let ns = u128::from(i) * u128::from(self.interval_ps) / 1000;
        Duration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }

    /// How many calls are due before `t` (those with `at(i) < t`).
    pub fn count_before(&self, t: Duration) -> u64 {
        let ps = t.as_nanos() * 1000;
        let n = ps.div_ceil(u128::from(self.interval_ps));
        u64::try_from(n).unwrap_or(u64::MAX)
    }

    /// How many calls are due by `t` (those with `at(i) <= t`).
    pub fn due_by(&self, t: Duration) -> u64 {
        self.count_before(t + Duration::from_nanos(1))
    }
}

// === the summary (pure) ===

/// A new latency histogram (nanoseconds).
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIST_HIGH_NS, 3).expect("valid histogram bounds")
}

/// Records `d` in a histogram made by [`new_histogram`].
pub fn record(h: &mut Histogram<u64>, d: Duration) {
    let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    h.saturating_record(ns);
}

/// Latency percentiles in microseconds (to 0.1 µs).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p99_9: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// The percentiles of `h` (nanoseconds); `None` when it is empty.
    pub fn of(h: &Histogram<u64>) -> Option<Self> {
        if h.is_empty() {
            return None;
        }
        let us = |ns: u64| round1(ns as f64 / 1000.0);
        Some(Self {
            p50: us(h.value_at_quantile(0.50)),
            p90: us(h.value_at_quantile(0.90)),
            p99: us(h.value_at_quantile(0.99)),
            p99_9: us(h.value_at_quantile(0.999)),
            max: us(h.max()),
            mean: round1(h.mean() / 1000.0),
        })
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The canonical name of a gRPC status code (`UNAVAILABLE`, …).
pub fn code_name(code: Code) -> &'static str {
    match code {
        Code::Ok => "OK",
        Code::Cancelled => "CANCELLED",
        Code::Unknown => "UNKNOWN",
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::OutOfRange => "OUT_OF_RANGE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::Internal => "INTERNAL",
        Code::Unavailable => "UNAVAILABLE",
        Code::DataLoss => "DATA_LOSS",
        Code::Unauthenticated => "UNAUTHENTICATED",
    }
}

// === the report ===

/// The outcome of a run, as printed and as `--json` writes it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Report {
    /// The run's name, when given.
    pub label: Option<String>,
    pub call: String,
    /// `closed` (as fast as answered) or `open` (at `offered_rate`).
    pub mode: String,
    pub addr: String,
    /// Checks per call (1 except for `batch-check`).
    pub batch_size: usize,
    pub connections: usize,
    pub concurrency: usize,
    pub warmup_s: f64,
    pub duration_s: f64,
    /// From the end of the warm-up to the last recorded answer.
    pub elapsed_s: f64,
    /// Calls per second asked for (open loop); null in closed loop.
    pub offered_rate: Option<f64>,
    /// Calls per second actually sent during the measured window.
    pub achieved_rate: f64,
    /// Calls answered (successfully or not) of those the window counts:
    /// sent in it (closed loop) or due in it (open loop).
    pub requests: u64,
    pub ok: u64,
    /// Failed calls by gRPC code.
    pub errors: BTreeMap<String, u64>,
    pub error_count: u64,
    /// Calls counted by the window but not answered when the run gave up on
    /// them (the window's end plus max(5 s, duration)).
    pub unfinished: u64,
    /// `requests` per second of `elapsed_s`.
    pub rps: f64,
    /// Decisions answered (a `BatchCheck` answers `batch_size`; a
    /// `ListPermissions` counts one).
    pub decisions: u64,
    /// Decisions that allowed (`list-permissions`: answers with at least
    /// one permission).
    pub allowed: u64,
    pub decisions_per_s: f64,
    /// Open loop: from each call's intended start to its answer. Closed
    /// loop: from its send to its answer.
    pub latency_us: Option<Summary>,
    /// Open loop: from each call's actual send to its answer.
    pub service_time_us: Option<Summary>,
    /// Open loop: calls sent more than `late_threshold_us` after their
    /// intended start.
    pub late: Option<u64>,
    pub late_threshold_us: Option<f64>,
    /// Open loop: the largest delay between a call's intended start and its send.
    pub max_lag_us: Option<f64>,
    /// CPU time (user + system) the load generator itself used over the
    /// run, warm-up included. Closed loop: near `warmup_s + elapsed_s` times
    /// its cores means the generator, not the server, set the pace. Open
    /// loop: about one core, as it spins between calls; `late` and
    /// `max_lag_us` say whether it kept to the schedule.
    pub load_cpu_s: Option<f64>,
}

impl Report {
    /// Whether every counted call was answered without error.
    pub fn clean(&self) -> bool {
        self.error_count == 0 && self.unfinished == 0
    }

    /// The human-readable summary.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let how = match self.offered_rate {
            Some(r) => format!("open loop at {} calls/s", thousands(r)),
            None => "closed loop".to_owned(),
        };
        let batch = if self.call == Call::BatchCheck.name() {
            format!(" of {}", self.batch_size)
        } else {
            String::new()
        };
        let label = self
            .label
            .as_ref()
            .map(|l| format!("[{l}] "))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "{label}{}{batch}, {how}: at most {} in flight over {} connection(s) to {}, {} s measured after {} s of warm-up",
            self.call,
            self.concurrency,
            self.connections,
            self.addr,
            self.duration_s,
            self.warmup_s
        );
        let _ = writeln!(
            s,
            "  calls      {} in {:.2} s: {} calls/s, {} ok, {} errors{}",
            thousands(self.requests as f64),
            self.elapsed_s,
            thousands(self.rps),
            thousands(self.ok as f64),
            self.error_count,
            if self.unfinished > 0 {
                format!(", {} unfinished", self.unfinished)
            } else {
                String::new()
            }
        );
        if !self.errors.is_empty() {
            let list: Vec<String> = self
                .errors
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect();
            let _ = writeln!(s, "  errors     {}", list.join(", "));
        }
        if self.call != Call::ListPermissions.name() {
            let _ = writeln!(
                s,
                "  decisions  {} ({} /s), {} allowed",
                thousands(self.decisions as f64),
                thousands(self.decisions_per_s),
                thousands(self.allowed as f64)
            );
        }
        if let Some(offered) = self.offered_rate {
            let _ = writeln!(
                s,
                "  rate       offered {} /s, sent {} /s; {} calls sent > {} µs late (max lag {:.1} µs)",
                thousands(offered),
                thousands(self.achieved_rate),
                self.late.unwrap_or(0),
                self.late_threshold_us.unwrap_or(0.0),
                self.max_lag_us.unwrap_or(0.0)
            );
        }
        if let Some(cpu) = self.load_cpu_s {
            let span = self.warmup_s + self.elapsed_s;
            let _ = writeln!(
                s,
                "  generator  {cpu:.2} s of CPU over {span:.2} s ({:.0}% of one core)",
                100.0 * cpu / span
            );
        }
        let line = |name: &str, p: &Option<Summary>| match p {
            Some(p) => format!(
                "  {name:<10} µs  p50 {:.1}  p90 {:.1}  p99 {:.1}  p99.9 {:.1}  max {:.1}  (mean {:.1})\n",
                p.p50, p.p90, p.p99, p.p99_9, p.max, p.mean
            ),
            None => format!("  {name:<10} no calls answered\n"),
        };
        if self.offered_rate.is_some() {
            s.push_str(&line("latency", &self.latency_us));
            s.push_str(
                "             (from each call's intended start: coordinated omission corrected)\n",
            );
            s.push_str(&line("service", &self.service_time_us));
            s.push_str("             (from each call's actual send)\n");
        } else {
            s.push_str(&line("latency", &self.latency_us));
        }
        s
    }
}

/// `1234567.8` as `1,234,568`.
fn thousands(x: f64) -> String {
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

// === the wire ===

/// Sends pre-encoded request bytes as they are; decodes answers with prost.
struct PreEncoded<R>(PhantomData<R>);

impl<R> Default for PreEncoded<R> {
    fn default() -> Self {
        Self(PhantomData)
    }
}

struct BytesEncoder;

impl Encoder for BytesEncoder {
    type Item = Bytes;
    type Error = Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl<R: Message + Default + Send + 'static> Codec for PreEncoded<R> {
    type Encode = Bytes;
    type Decode = R;
    type Encoder = BytesEncoder;
    type Decoder = tonic_prost::ProstDecoder<R>;

    fn encoder(&mut self) -> Self::Encoder {
        BytesEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic_prost::ProstCodec::<Bytes, R>::raw_decoder(BufferSettings::default())
    }
}

/// One `Authorizer` method's answer, and what it decided.
trait Rpc: Send + Sync + 'static {
    type Resp: Message + Default + Send + Sync + 'static;
    /// (decisions, allowed) in an answer.
    fn tally(resp: &Self::Resp) -> (u64, u64);
}

struct CheckRpc;
impl Rpc for CheckRpc {
    type Resp = pb::CheckResponse;
    fn tally(resp: &pb::CheckResponse) -> (u64, u64) {
        (1, u64::from(resp.allowed))
    }
}

struct BatchCheckRpc;
impl Rpc for BatchCheckRpc {
    type Resp = pb::BatchCheckResponse;
    fn tally(resp: &pb::BatchCheckResponse) -> (u64, u64) {
        let allowed = resp.results.iter().filter(|r| r.allowed).count();
        (resp.results.len() as u64, allowed as u64)
    }
}

struct ListPermissionsRpc;
impl Rpc for ListPermissionsRpc {
    type Resp = pb::ListPermissionsResponse;
    fn tally(resp: &pb::ListPermissionsResponse) -> (u64, u64) {
        (1, u64::from(!resp.permissions.is_empty()))
    }
}

/// One call: the answer's (decisions, allowed), or its status.
async fn call<R: Rpc>(
    client: &mut Grpc<Channel>,
    path: &PathAndQuery,
    msg: Bytes,
) -> Result<(u64, u64), Status> {
    client
        .ready()
        .await
        .map_err(|e| Status::unavailable(format!("the channel is not ready: {e}")))?;
    let resp = client
        .unary(
            Request::new(msg),
            path.clone(),
            PreEncoded::<R::Resp>::default(),
        )
        .await?;
    Ok(R::tally(resp.get_ref()))
}

// === the run ===

/// What one task saw.
struct Stats {
    latency: Histogram<u64>,
    service: Option<Histogram<u64>>,
    requests: u64,
    ok: u64,
    errors: [u64; 17],
    decisions: u64,
    allowed: u64,
    /// Calls sent during the measured window.
    sent_in_window: u64,
    late: u64,
    max_lag: Duration,
    last_answer: Option<Instant>,
}

impl Stats {
    fn new(open: bool) -> Self {
        Self {
            latency: new_histogram(),
            service: open.then(new_histogram),
            requests: 0,
            ok: 0,
            errors: [0; 17],
            decisions: 0,
            allowed: 0,
            sent_in_window: 0,
            late: 0,
            max_lag: Duration::ZERO,
            last_answer: None,
        }
    }

    fn answered(&mut self, outcome: &Result<(u64, u64), Status>, done: Instant) {
        self.requests += 1;
        match outcome {
            Ok((decisions, allowed)) => {
                self.ok += 1;
                self.decisions += decisions;
                self.allowed += allowed;
            }
            Err(status) => self.errors[status.code() as usize % 17] += 1,
        }
        self.last_answer = Some(self.last_answer.map_or(done, |t| t.max(done)));
    }

    fn merge(&mut self, other: &Stats) {
        let _ = self.latency.add(&other.latency);
        if let (Some(a), Some(b)) = (&mut self.service, &other.service) {
            let _ = a.add(b);
        }
        self.requests += other.requests;
        self.ok += other.ok;
        for (a, b) in self.errors.iter_mut().zip(other.errors) {
            *a += b;
        }
        self.decisions += other.decisions;
        self.allowed += other.allowed;
        self.sent_in_window += other.sent_in_window;
        self.late += other.late;
        self.max_lag = self.max_lag.max(other.max_lag);
        self.last_answer = match (self.last_answer, other.last_answer) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
    }
}

/// A task's stats and how many counted calls it sent, readable after the
/// task is aborted.
struct Slot {
    stats: Mutex<Stats>,
    /// Counted calls sent (closed loop; open loop counts by schedule).
    sent_counted: AtomicU64,
}

impl Slot {
    fn with<T>(&self, f: impl FnOnce(&mut Stats) -> T) -> T {
        f(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// The measured window: `[start, end)`.
#[derive(Clone, Copy)]
struct Window {
    t0: Instant,
    start: Instant,
    end: Instant,
}

impl Window {
    /// The warm-up starts now; the window follows it.
    fn starting_now(opts: &Options) -> Self {
        let t0 = Instant::now();
        Self {
            t0,
            start: t0 + opts.warmup,
            end: t0 + opts.warmup + opts.duration,
        }
    }

    /// Answers still missing this long after the window are given up on.
    fn give_up(&self, opts: &Options) -> Instant {
        self.end + opts.duration.max(Duration::from_secs(5))
    }
}

/// Everything a sending task needs.
struct Task {
    client: Grpc<Channel>,
    path: PathAndQuery,
    msgs: Arc<[Bytes]>,
    slot: Arc<Slot>,
    window: Window,
}

async fn closed_task<R: Rpc>(mut t: Task, first: usize, step: usize) {
    let n = t.msgs.len();
    let mut k = first % n;
    loop {
        let sent = Instant::now();
        if sent >= t.window.end {
            break;
        }
        let msg = t.msgs[k].clone();
        k = (k + step) % n;
        let counted = sent >= t.window.start;
        if counted {
            t.slot.sent_counted.fetch_add(1, Ordering::Relaxed);
        }
        let outcome = call::<R>(&mut t.client, &t.path, msg).await;
        let done = Instant::now();
        if counted {
            t.slot.with(|s| {
                s.sent_in_window += 1;
                record(&mut s.latency, done - sent);
                s.answered(&outcome, done);
            });
        }
    }
}

/// While the next open-loop call is due within this, the loop spins
/// (yielding to the connections' tasks) rather than sleeping: the runtime's
/// timers tick in milliseconds, too coarse for calls microseconds apart.
const SPIN_WITHIN: Duration = Duration::from_millis(2);

/// One open-loop call's outcome: its index, when it was due, sent and
/// answered, and the answer.
type OpenOutcome = (u64, Instant, Instant, Instant, Result<(u64, u64), Status>);

/// The open loop, on the single-threaded runtime [`run`] gives it: the
/// connections' tasks, the calls and this loop all run on one thread, so
/// releasing a call and seeing its answer wake no other thread. Each call
/// is released when due (while fewer than `concurrency` are in flight) and
/// its latency counted from when it was due. Returns the stats and how many
/// calls the window counts.
async fn open_loop<R: Rpc>(
    clients: Vec<Grpc<Channel>>,
    path: PathAndQuery,
    msgs: Arc<[Bytes]>,
    concurrency: usize,
    schedule: Schedule,
    window: Window,
    give_up: Instant,
) -> (Stats, u64) {
    use futures_util::FutureExt;
    use futures_util::stream::{FuturesUnordered, StreamExt};

    let total = schedule.count_before(window.end - window.t0);
    let first_counted = schedule.count_before(window.start - window.t0);
    let n = msgs.len() as u64;
    let mut stats = Stats::new(true);
    let mut tally = |(i, intended, sent, done, outcome): OpenOutcome| {
        if sent >= window.start && sent < window.end {
            stats.sent_in_window += 1;
        }
        if i >= first_counted {
            let lag = sent.saturating_duration_since(intended);
            if lag > LATE_AFTER {
                stats.late += 1;
            }
            stats.max_lag = stats.max_lag.max(lag);
            record(&mut stats.latency, done.saturating_duration_since(intended));
            if let Some(h) = &mut stats.service {
                record(h, done - sent);
            }
            stats.answered(&outcome, done);
        }
    };
    let mut in_flight = FuturesUnordered::new();
    let mut next = 0u64;
    loop {
        let now = Instant::now();
        if now >= give_up || (next >= total && in_flight.is_empty()) {
            break;
        }
        let due = schedule.due_by(now - window.t0).min(total);
        while next < due && in_flight.len() < concurrency {
            let i = next;
            next += 1;
            let mut client = clients[(i % clients.len() as u64) as usize].clone();
            let msg = msgs[(i % n) as usize].clone();
            let path = path.clone();
            in_flight.push(async move {
                let sent = Instant::now();
                let outcome = call::<R>(&mut client, &path, msg).await;
                (i, window.t0 + schedule.at(i), sent, Instant::now(), outcome)
            });
        }
        // Sends what was just released and takes in what has been answered.
        while let Some(Some(answer)) = in_flight.next().now_or_never() {
            tally(answer);
        }
        let next_at = window.t0 + schedule.at(next);
        if next < total && in_flight.len() < concurrency && next_at <= now + SPIN_WITHIN {
            tokio::task::yield_now().await;
            continue;
        }
        // Nothing to send for a while (or no room to): sleep until an
        // answer comes or the next call is nearly due.
        let wake = if next < total && in_flight.len() < concurrency {
            (next_at - SPIN_WITHIN).min(give_up)
        } else {
            give_up
        };
        tokio::select! {
            Some(answer) = in_flight.next(), if !in_flight.is_empty() => tally(answer),
            () = tokio::time::sleep_until(wake.into()) => {}
        }
    }
    (stats, total - first_counted)
}

/// Normalises `HOST:PORT` to `http://HOST:PORT`.
pub fn endpoint_uri(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_owned()
    } else {
        format!("http://{addr}")
    }
}

/// `connections` channels to `addr`, each its own HTTP/2 connection.
async fn connect(addr: &str, connections: usize) -> Result<Vec<Channel>, LoadError> {
    let uri = endpoint_uri(addr);
    let err = |message: String| LoadError::Connect {
        addr: uri.clone(),
        message,
    };
    let endpoint = Endpoint::from_shared(uri.clone())
        .map_err(|e| err(e.to_string()))?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true);
    let mut channels = Vec::with_capacity(connections);
    for _ in 0..connections {
        channels.push(endpoint.connect().await.map_err(|e| {
            let mut message = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                message.push_str(&format!(": {s}"));
                source = s.source();
            }
            err(message)
        })?);
    }
    Ok(channels)
}

/// Runs the load described by `opts`, cycling through `queries` (the
/// [`DEFAULT_QUERY`] alone when there are none).
pub async fn run(opts: &Options, queries: &[Query]) -> Result<Report, LoadError> {
    if opts.connections == 0 || opts.concurrency == 0 {
        return Err(LoadError::Usage(
            "--connections and --concurrency must be at least 1".into(),
        ));
    }
    if opts.call == Call::BatchCheck && !(1..=MAX_BATCH).contains(&opts.batch_size) {
        return Err(LoadError::Usage(format!(
            "--batch-size must be 1 to {MAX_BATCH} (the most one BatchCheck may carry)"
        )));
    }
    if let Some(rate) = opts.rate
        && !(rate > 0.0 && rate.is_finite())
    {
        return Err(LoadError::Usage("--rate must be a positive number".into()));
    }
    if opts.duration.is_zero() {
        return Err(LoadError::Usage("--duration must be more than 0".into()));
    }
    let queries = if queries.is_empty() {
        default_requests()
    } else {
        queries.to_vec()
    };
    let msgs: Arc<[Bytes]> = encode_requests(opts.call, &queries, opts.batch_size()).into();
    let Some(rate) = opts.rate else {
        return run_closed(opts, msgs).await;
    };
    // The open loop gets a thread and a single-threaded runtime of its own.
    let opts = opts.clone();
    tokio::task::spawn_blocking(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| LoadError::Usage(format!("cannot start the load's runtime: {e}")))?
            .block_on(run_open(&opts, msgs, Schedule::new(rate)))
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The closed loop: `concurrency` tasks on the caller's runtime, each
/// sending its next call when the last is answered.
async fn run_closed(opts: &Options, msgs: Arc<[Bytes]>) -> Result<Report, LoadError> {
    let channels = connect(&opts.addr, opts.connections).await?;
    let path = PathAndQuery::from_static(opts.call.path());
    let cpu_at_start = process_cpu();
    let window = Window::starting_now(opts);
    let slots: Vec<Arc<Slot>> = (0..opts.concurrency)
        .map(|_| {
            Arc::new(Slot {
                stats: Mutex::new(Stats::new(false)),
                sent_counted: AtomicU64::new(0),
            })
        })
        .collect();
    let mut handles = Vec::with_capacity(opts.concurrency);
    for (w, slot) in slots.iter().enumerate() {
        let task = Task {
            client: Grpc::new(channels[w % channels.len()].clone()),
            path: path.clone(),
            msgs: Arc::clone(&msgs),
            slot: Arc::clone(slot),
            window,
        };
        let concurrency = opts.concurrency;
        handles.push(match opts.call {
            Call::Check => tokio::spawn(closed_task::<CheckRpc>(task, w, concurrency)),
            Call::BatchCheck => tokio::spawn(closed_task::<BatchCheckRpc>(task, w, concurrency)),
            Call::ListPermissions => {
                tokio::spawn(closed_task::<ListPermissionsRpc>(task, w, concurrency))
            }
        });
    }

    let give_up = window.give_up(opts);
    for h in &mut handles {
        let left = give_up.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, &mut *h).await.is_err() {
            break;
        }
    }
    for h in &handles {
        h.abort();
    }

    let mut all = Stats::new(false);
    let mut sent_counted = 0;
    for slot in &slots {
        slot.with(|s| all.merge(s));
        sent_counted += slot.sent_counted.load(Ordering::Relaxed);
    }
    let mut report = report(opts, &all, sent_counted, window);
    report.load_cpu_s = cpu_used_since(cpu_at_start);
    Ok(report)
}

/// The open loop at `schedule`'s rate (see [`open_loop`]).
async fn run_open(
    opts: &Options,
    msgs: Arc<[Bytes]>,
    schedule: Schedule,
) -> Result<Report, LoadError> {
    let clients: Vec<_> = connect(&opts.addr, opts.connections)
        .await?
        .into_iter()
        .map(Grpc::new)
        .collect();
    let path = PathAndQuery::from_static(opts.call.path());
    let cpu_at_start = process_cpu();
    let window = Window::starting_now(opts);
    let give_up = window.give_up(opts);
    let (c, w) = (opts.concurrency, window);
    let (all, scheduled) = match opts.call {
        Call::Check => open_loop::<CheckRpc>(clients, path, msgs, c, schedule, w, give_up).await,
        Call::BatchCheck => {
            open_loop::<BatchCheckRpc>(clients, path, msgs, c, schedule, w, give_up).await
        }
        Call::ListPermissions => {
            open_loop::<ListPermissionsRpc>(clients, path, msgs, c, schedule, w, give_up).await
        }
    };
    let mut report = report(opts, &all, scheduled, window);
    report.load_cpu_s = cpu_used_since(cpu_at_start);
    Ok(report)
}

/// The CPU time used since `start` (a [`process_cpu`] reading), in seconds.
fn cpu_used_since(start: Option<Duration>) -> Option<f64> {
    start
        .zip(process_cpu())
        .map(|(a, b)| round3(b.saturating_sub(a).as_secs_f64()))
}

/// The CPU time (user + system) this process has used so far.
fn process_cpu() -> Option<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a `rusage` into the pointer it is given,
    // which points at one; the value is read only when the call succeeded.
    let usage = unsafe {
        if libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr()) != 0 {
            return None;
        }
        usage.assume_init()
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    Some(tv(usage.ru_utime) + tv(usage.ru_stime))
}

fn report(opts: &Options, all: &Stats, scheduled: u64, window: Window) -> Report {
    let duration = opts.duration.as_secs_f64();
    let elapsed = all
        .last_answer
        .map_or(duration, |t| {
            t.saturating_duration_since(window.start).as_secs_f64()
        })
        .max(duration);
    let errors: BTreeMap<String, u64> = all
        .errors
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| (code_name(Code::from_i32(code as i32)).to_owned(), *n))
        .collect();
    let open = opts.rate.is_some();
    Report {
        label: opts.label.clone(),
        call: opts.call.name().to_owned(),
        mode: if open { "open" } else { "closed" }.to_owned(),
        addr: endpoint_uri(&opts.addr),
        batch_size: opts.batch_size(),
        connections: opts.connections,
        concurrency: opts.concurrency,
        warmup_s: opts.warmup.as_secs_f64(),
        duration_s: duration,
        elapsed_s: round3(elapsed),
        offered_rate: opts.rate.map(|r| round1(Schedule::new(r).rate())),
        achieved_rate: round1(all.sent_in_window as f64 / duration),
        requests: all.requests,
        ok: all.ok,
        error_count: all.requests - all.ok,
        errors,
        unfinished: scheduled.saturating_sub(all.requests),
        rps: round1(all.requests as f64 / elapsed),
        decisions: all.decisions,
        allowed: all.allowed,
        decisions_per_s: round1(all.decisions as f64 / elapsed),
        latency_us: Summary::of(&all.latency),
        service_time_us: all.service.as_ref().and_then(Summary::of),
        late: open.then_some(all.late),
        late_threshold_us: open.then(|| LATE_AFTER.as_secs_f64() * 1e6),
        max_lag_us: open.then(|| round1(all.max_lag.as_secs_f64() * 1e6)),
        load_cpu_s: None,
    }
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_spaces_calls_evenly() {
        let s = Schedule::new(1000.0);
        assert_eq!(s.at(0), Duration::ZERO);
        assert_eq!(s.at(1), Duration::from_millis(1));
        assert_eq!(s.at(2500), Duration::from_millis(2500));
        assert_eq!(s.rate(), 1000.0);
        // Three calls a second: a third of a second apart, to the nanosecond.
        let s = Schedule::new(3.0);
        assert_eq!(s.at(1), Duration::from_nanos(333_333_333));
        assert_eq!(s.at(3), Duration::from_nanos(999_999_999));
        assert_eq!(s.at(300), Duration::from_nanos(99_999_999_999));
    }

    #[test]
    fn the_schedule_counts_calls_due_before_and_by_a_time() {
        let s = Schedule::new(1000.0);
        assert_eq!(s.count_before(Duration::ZERO), 0);
        assert_eq!(s.due_by(Duration::ZERO), 1, "call 0 is due at once");
        assert_eq!(s.count_before(Duration::from_secs(1)), 1000);
        assert_eq!(s.due_by(Duration::from_secs(1)), 1001);
        assert_eq!(s.count_before(Duration::from_micros(1500)), 2);
        // A warm-up of 2 s then 10 s measured: calls 2000..12000 are counted.
        assert_eq!(s.count_before(Duration::from_secs(2)), 2000);
        assert_eq!(s.count_before(Duration::from_secs(12)), 12000);
    }

    #[test]
    fn due_by_is_the_inverse_of_at() {
        for rate in [1.0, 3.0, 7.5, 999.0, 33_333.0, 123_456.7, 2_000_000.0] {
            let s = Schedule::new(rate);
            let mut t = 0u64;
            for step in 0..2_000u64 {
                t += step * 7_919 + 13;
                let t = Duration::from_nanos(t);
                let n = s.due_by(t);
                assert!(n >= 1);
                assert!(
                    s.at(n - 1) <= t,
                    "rate {rate}: call {} due after {t:?}",
                    n - 1
                );
                assert!(s.at(n) > t, "rate {rate}: call {n} due by {t:?}");
                let m = s.count_before(t);
                assert!(m == 0 || s.at(m - 1) < t);
                assert!(s.at(m) >= t);
            }
        }
    }

    #[test]
    fn the_schedule_keeps_the_rate_over_long_runs() {
        for rate in [3.0, 7_000.0, 33_333.0, 250_000.0] {
            let s = Schedule::new(rate);
            let n = s.count_before(Duration::from_secs(100));
            let want = rate * 100.0;
            assert!(
                (n as f64 - want).abs() <= 1.0,
                "rate {rate}: {n} calls in 100 s"
            );
        }
    }

    #[test]
    fn percentiles_of_a_uniform_spread() {
        let mut h = new_histogram();
        for us in 1..=10_000u64 {
            record(&mut h, Duration::from_micros(us));
        }
        let p = Summary::of(&h).expect("values were recorded");
        let near = |got: f64, want: f64| (got - want).abs() <= want * 0.002 + 0.1;
        assert!(near(p.p50, 5_000.0), "{p:?}");
        assert!(near(p.p90, 9_000.0), "{p:?}");
        assert!(near(p.p99, 9_900.0), "{p:?}");
        assert!(near(p.p99_9, 9_990.0), "{p:?}");
        assert!(near(p.max, 10_000.0), "{p:?}");
        assert!(near(p.mean, 5_000.5), "{p:?}");
        assert!(p.p50 <= p.p90 && p.p90 <= p.p99 && p.p99 <= p.p99_9 && p.p99_9 <= p.max);
    }

    #[test]
    fn a_stall_shows_in_the_tail_and_merging_adds_counts() {
        // 99.5% of calls take 50 µs; 0.5% waited out a 20 ms stall.
        let mut fast = new_histogram();
        let mut slow = new_histogram();
        for _ in 0..9_950 {
            record(&mut fast, Duration::from_micros(50));
        }
        for _ in 0..50 {
            record(&mut slow, Duration::from_millis(20));
        }
        fast.add(&slow).expect("same bounds");
        assert_eq!(fast.len(), 10_000);
        let p = Summary::of(&fast).expect("values were recorded");
        assert!((p.p50 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99 - 50.0).abs() < 0.1, "{p:?}");
        assert!((p.p99_9 - 20_000.0).abs() < 20.0, "{p:?}");
        assert!((p.max - 20_000.0).abs() < 20.0, "{p:?}");
    }

    #[test]
    fn out_of_range_latencies_are_clamped() {
        let mut h = new_histogram();
        record(&mut h, Duration::from_nanos(10));
        record(&mut h, Duration::from_secs(1_000));
        assert_eq!(h.len(), 2);
        let p = Summary::of(&h).expect("values were recorded");
        assert!(p.p50 < 0.1, "{p:?}");
        assert!(p.max >= 99_000_000.0, "{p:?}");
        assert!(Summary::of(&new_histogram()).is_none());
    }

    fn q(i: usize) -> Query {
        Query {
            user: format!("user{i}@example.com"),
            permission: "charges.read".into(),
            account: format!("acct_{i:05}"),
        }
    }

    #[test]
    fn checks_are_encoded_once_each() {
        let queries: Vec<Query> = (0..5).map(q).collect();
        let msgs = encode_requests(Call::Check, &queries, 1);
        assert_eq!(msgs.len(), 5);
        let back = pb::CheckRequest::decode(msgs[3].clone()).expect("a CheckRequest");
        assert_eq!(back, check_request(&queries[3]));
        let msgs = encode_requests(Call::ListPermissions, &queries, 1);
        let back = pb::ListPermissionsRequest::decode(msgs[4].clone()).expect("a request");
        assert_eq!(
            (back.user.as_str(), back.account.as_str()),
            ("user4@example.com", "acct_00004")
        );
    }

    #[test]
    fn batches_take_the_queries_in_order_and_wrap_around() {
        let queries: Vec<Query> = (0..25).map(q).collect();
        let msgs = encode_requests(Call::BatchCheck, &queries, 10);
        assert_eq!(msgs.len(), 2, "25 queries make two full batches of 10");
        let second = pb::BatchCheckRequest::decode(msgs[1].clone()).expect("a batch");
        assert_eq!(second.items.len(), 10);
        assert_eq!(second.items[0], check_request(&queries[10]));
        assert_eq!(second.items[9], check_request(&queries[19]));
        // Fewer queries than a batch: one batch, cycling through them.
        let msgs = encode_requests(Call::BatchCheck, &queries[..3], 100);
        assert_eq!(msgs.len(), 1);
        let only = pb::BatchCheckRequest::decode(msgs[0].clone()).expect("a batch");
        assert_eq!(only.items.len(), 100);
        assert_eq!(only.items[99], check_request(&queries[0]));
    }

    #[test]
    fn requests_files_are_checked_with_clear_errors() {
        let ok = parse_requests(
            r#"[{"user":"a@example.com","permission":"charges.read","account":"acct_1"}]"#,
            "r.json",
        )
        .expect("a valid file");
        assert_eq!(ok.len(), 1);
        let err = |text: &str| parse_requests(text, "r.json").unwrap_err().to_string();
        assert!(
            err("{}").contains("not a JSON array of checks"),
            "{}",
            err("{}")
        );
        let missing = err(r#"[{"user":"a@example.com","account":"acct_1"}]"#);
        assert!(
            missing.contains("[0]") && missing.contains("permission"),
            "{missing}"
        );
        assert!(err("[]").contains("holds no checks"));
        let bad = err(
            r#"[{"user":"a@example.com","permission":"charges.read","account":"acct_1"},
                {"user":"b@example.com","permission":"Not A Permission","account":"acct_1"}]"#,
        );
        assert!(bad.contains("[1].permission"), "{bad}");
    }

    #[test]
    fn calls_are_named_in_reports_as_on_the_command_line() {
        use clap::ValueEnum;
        for c in Call::value_variants() {
            let v = c.to_possible_value().expect("every call is a value");
            assert_eq!(v.get_name(), c.name());
        }
    }

    #[test]
    fn code_names_follow_grpc() {
        assert_eq!(code_name(Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(Code::from_i32(4)), "DEADLINE_EXCEEDED");
        assert_eq!(code_name(Code::from_i32(16)), "UNAUTHENTICATED");
    }

    #[test]
    fn counts_print_with_thousands_separators() {
        assert_eq!(thousands(0.0), "0");
        assert_eq!(thousands(999.4), "999");
        assert_eq!(thousands(1234567.8), "1,234,568");
    }
}
