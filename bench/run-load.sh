#!/usr/bin/env bash
# rolecall's Authorizer under gRPC load, against the ceiling of tonic and
# loopback on the same machine:
#
#  1. generates a data set of USERS users and imports it into a fresh SQLite
#     file; starts `rolecall serve` on it and `rolecall bench ceiling-server`
#     (an Authorizer that does no work, served the same way), on free ports;
#  2. finds each one's maximum closed-loop Check throughput (the best of
#     CONCURRENCY_LEVELS);
#  3. runs open-loop Check at FRACTIONS percent of the ceiling's maximum
#     against both (latency from each call's intended start);
#  4. runs closed-loop BatchCheck of 100 against serve (per-decision
#     throughput against unary Check);
#  5. writes every `rolecall bench load --json` report into OUT and prints a
#     summary table (also OUT/summary.txt and OUT/summary.json), with each
#     run's server and generator CPU share and the server's CPU per call.
#
# The servers and the load generator share the machine: with taskset and 2+
# CPUs, the servers run on SERVER_CPUS (default 0) and the load generator on
# LOAD_CPUS (default 1); PIN=0 turns that off.
#
# Environment (defaults):
#   ROLECALL_BIN        a built rolecall (else `cargo build --release`)
#   USERS=100000  DURATION=10s  WARMUP=2s  CONNECTIONS=2
#   CONCURRENCY_LEVELS="4 16 64"  OPEN_CONCURRENCY=64  FRACTIONS="10 25 50 75 90"
#   BATCH_SIZE=100  BATCH_CONCURRENCY_LEVELS="2 8"
#   OUT=target/bench-load/<UTC time>  PIN=1  SERVER_CPUS=0  LOAD_CPUS=1
#   DATA_DIR            where the data set and database go (default: a
#                       temporary directory); one that already holds
#                       bench.db and requests.json is used as it is
#
# Smoke (seconds): USERS=2000 DURATION=1s WARMUP=0.2s CONCURRENCY_LEVELS=4 \
#   FRACTIONS="25 50" BATCH_CONCURRENCY_LEVELS=2 ROLECALL_BIN=target/debug/rolecall bench/run-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

USERS=${USERS:-100000}
DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-2}
CONCURRENCY_LEVELS=${CONCURRENCY_LEVELS:-"4 16 64"}
OPEN_CONCURRENCY=${OPEN_CONCURRENCY:-64}
FRACTIONS=${FRACTIONS:-"10 25 50 75 90"}
BATCH_SIZE=${BATCH_SIZE:-100}
BATCH_CONCURRENCY_LEVELS=${BATCH_CONCURRENCY_LEVELS:-"2 8"}
OUT=${OUT:-target/bench-load/$(date -u +%Y%m%dT%H%M%SZ)}
PIN=${PIN:-1}
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}

if [[ -z "${ROLECALL_BIN:-}" ]]; then
  echo "== cargo build --release"
  cargo build --release --locked
  ROLECALL_BIN=target/release/rolecall
fi
BIN=$(realpath "$ROLECALL_BIN")
mkdir -p "$OUT"
OUT=$(realpath "$OUT")
if [[ -n "${DATA_DIR:-}" ]]; then
  mkdir -p "$DATA_DIR"
  WORK=$(realpath "$DATA_DIR")
  KEEP_WORK=1
else
  WORK=$(mktemp -d)
  KEEP_WORK=0
fi
PIDS=()

cleanup() {
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${PIDS[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  if [[ $KEEP_WORK == 0 ]]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

SERVER_PIN=()
LOAD_PIN=()
if [[ "$PIN" == 1 ]] && command -v taskset >/dev/null 2>&1 && (($(nproc) >= 2)); then
  SERVER_PIN=(taskset -c "$SERVER_CPUS")
  LOAD_PIN=(taskset -c "$LOAD_CPUS")
  PINNING="servers on CPU $SERVER_CPUS, load generator on CPU $LOAD_CPUS (taskset)"
else
  PINNING="not pinned: servers and load generator share every CPU"
fi

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

if [[ -f "$WORK/bench.db" && -f "$WORK/requests.json" ]]; then
  echo "== data set: $WORK/bench.db as it is"
else
  echo "== data set: $USERS users"
  "$BIN" bench generate --users "$USERS" -o "$WORK/data.json" --requests-output "$WORK/requests.json"
  "$BIN" import --database-url "sqlite://$WORK/bench.db" "$WORK/data.json"
fi
cp "$WORK/requests.json" "$OUT/requests.json"

SERVE_ADDR=127.0.0.1:$(free_port)
CEILING_ADDR=127.0.0.1:$(free_port)
"${SERVER_PIN[@]}" "$BIN" serve --database-url "sqlite://$WORK/bench.db" \
  --grpc-addr "$SERVE_ADDR" --http-addr "127.0.0.1:$(free_port)" >"$OUT/serve.log" 2>&1 &
SERVE_PID=$!
PIDS+=("$SERVE_PID")
"${SERVER_PIN[@]}" "$BIN" bench ceiling-server --grpc-addr "$CEILING_ADDR" >"$OUT/ceiling.log" 2>&1 &
CEILING_PID=$!
PIDS+=("$CEILING_PID")

# Ready once a check is answered (allowed or denied: exit 0 or 1).
wait_ready() {
  local addr=$1 name=$2
  for _ in $(seq 1 600); do
    local code=0
    "$BIN" check --addr "http://$addr" --user user0@example.com --permission charges.read \
      --account acct_00000 >/dev/null 2>&1 || code=$?
    if ((code == 0 || code == 1)); then return 0; fi
    sleep 0.2
  done
  echo "$name on $addr did not answer within 120 s; its log:" >&2
  cat "$OUT/$name.log" >&2
  return 1
}
wait_ready "$SERVE_ADDR" serve
wait_ready "$CEILING_ADDR" ceiling
echo "== serve on $SERVE_ADDR, ceiling on $CEILING_ADDR; $PINNING"

# The CPU time (user + system, in clock ticks) process PID has used.
cpu_ticks() {
  awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# load NAME TARGET ARGS...: one run against TARGET (serve or ceiling), its
# report in $OUT/NAME.json and the server's CPU time over the run (warm-up
# included) in $OUT/NAME.cpu. Exit 1 (some calls failed or were left
# unanswered) is kept for the summary to judge; exit 2 (the run could not
# start) stops here.
load() {
  local name=$1 target=$2 addr=$SERVE_ADDR pid=$SERVE_PID
  shift 2
  if [[ $target == ceiling ]]; then addr=$CEILING_ADDR pid=$CEILING_PID; fi
  local code=0 before
  before=$(cpu_ticks "$pid")
  "${LOAD_PIN[@]}" "$BIN" bench load --addr "http://$addr" --label "$target" \
    --requests "$WORK/requests.json" --connections "$CONNECTIONS" \
    --duration "$DURATION" --warmup "$WARMUP" --json "$OUT/$name.json" "$@" || code=$?
  echo "$before $(cpu_ticks "$pid") $(getconf CLK_TCK)" >"$OUT/$name.cpu"
  if ((code >= 2)); then
    echo "rolecall bench load failed (exit $code)" >&2
    exit 1
  fi
}

# The largest value of KEY among the reports OUT/PREFIX*.json.
best() {
  python3 - "$OUT" "$1" "$2" <<'EOF'
import glob, json, os, sys
out, prefix, key = sys.argv[1:4]
print(max(json.load(open(p))[key] for p in glob.glob(os.path.join(out, prefix + "*.json"))))
EOF
}

echo "== closed loop: maximum Check throughput"
for target in ceiling serve; do
  for c in $CONCURRENCY_LEVELS; do
    load "closed-check-$target-c$c" "$target" --concurrency "$c"
  done
done
CEILING_MAX=$(best closed-check-ceiling- rps)
echo "ceiling maximum: $CEILING_MAX calls/s"

echo "== open loop: Check at fractions of the ceiling's maximum"
for pct in $FRACTIONS; do
  rate=$(python3 -c "print(max(1, round($CEILING_MAX * $pct / 100)))")
  for target in ceiling serve; do
    load "open-check-$target-p$pct" "$target" --rate "$rate" --concurrency "$OPEN_CONCURRENCY"
  done
done

echo "== closed loop: BatchCheck of $BATCH_SIZE against serve"
for c in $BATCH_CONCURRENCY_LEVELS; do
  load "closed-batch$BATCH_SIZE-serve-c$c" serve \
    --call batch-check --batch-size "$BATCH_SIZE" --concurrency "$c"
done

echo "== summary"
python3 - "$OUT" "$PINNING" "$USERS" "$BATCH_SIZE" <<'EOF'
import glob, json, os, sys

out, pinning, users, batch = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs = {}
for path in sorted(glob.glob(os.path.join(out, "*.json"))):
    name = os.path.basename(path)[:-5]
    if name.startswith(("closed-", "open-")):
        runs[name] = json.load(open(path))
        cpu = path[:-5] + ".cpu"
        if os.path.exists(cpu):
            before, after, tck = (int(x) for x in open(cpu).read().split())
            runs[name]["server_cpu_s"] = (after - before) / tck

def share(cpu_s, r):
    """CPU seconds over a run as a percentage of one core."""
    return "" if cpu_s is None else f"{100 * cpu_s / (r['warmup_s'] + r['elapsed_s']):.0f}%"

def cpu_per_call(r):
    """Server CPU µs per call over a run, warm-up included: exact in open loop
    (every scheduled call answered), estimated in closed loop (the warm-up is
    taken to run at the measured rate)."""
    if "server_cpu_s" not in r or r["unfinished"] or not r["requests"]:
        return None
    span = r["warmup_s"] + r["duration_s"]
    if r["mode"] == "open":
        calls = r["offered_rate"] * span
    else:
        calls = r["requests"] * span / r["duration_s"]
    return r["server_cpu_s"] * 1e6 / calls

def best(prefix, key):
    rs = [r for n, r in runs.items() if n.startswith(prefix)]
    return max(rs, key=lambda r: r[key]) if rs else None

failed = [n for n, r in runs.items() if r["error_count"] > 0 or (r["mode"] == "closed" and r["unfinished"] > 0)]
ceiling, serve = best("closed-check-ceiling-", "rps"), best("closed-check-serve-", "rps")
batch_best = best(f"closed-batch{batch}-serve-", "decisions_per_s")
lines = [f"rolecall under gRPC load: {users} users; {pinning}", ""]
lines.append(f"{'run':<34} {'offered/s':>10} {'calls/s':>10} {'decisions/s':>12} {'p50 µs':>9} {'p99 µs':>9} "
             f"{'p99.9 µs':>9} {'max µs':>9} {'late':>6} {'err':>5} {'unans':>6} {'srv CPU':>7} {'µs/call':>8} {'gen CPU':>7}")
for n, r in runs.items():
    lat = r["latency_us"] or {}
    per_call = cpu_per_call(r)
    lines.append(
        f"{n:<34} {r['offered_rate'] or '':>10} {r['rps']:>10.0f} {r['decisions_per_s']:>12.0f} "
        f"{lat.get('p50', 0):>9.1f} {lat.get('p99', 0):>9.1f} {lat.get('p99_9', 0):>9.1f} {lat.get('max', 0):>9.1f} "
        f"{r['late'] if r['late'] is not None else '':>6} {r['error_count']:>5} {r['unfinished']:>6} "
        f"{share(r.get('server_cpu_s'), r):>7} {f'{per_call:.1f}' if per_call else '':>8} {share(r.get('load_cpu_s'), r):>7}"
    )
summary = {"users": users, "pinning": pinning}
lines.append("")
if ceiling and serve:
    summary["check_max_rps"] = {"serve": serve["rps"], "ceiling": ceiling["rps"],
                                "serve_concurrency": serve["concurrency"], "ceiling_concurrency": ceiling["concurrency"]}
    summary["check_throughput_ratio"] = round(serve["rps"] / ceiling["rps"], 3)
    lines.append(f"Check max throughput: serve {serve['rps']:.0f}/s (concurrency {serve['concurrency']}), "
                 f"ceiling {ceiling['rps']:.0f}/s (concurrency {ceiling['concurrency']}): ratio {summary['check_throughput_ratio']:.2f}")
    sc, cc = cpu_per_call(serve), cpu_per_call(ceiling)
    if sc and cc:
        summary["check_max_per_server_core"] = {"serve": round(1e6 / sc), "ceiling": round(1e6 / cc),
                                                "ratio": round(cc / sc, 3)}
        lines.append(f"  per core of server CPU at those runs: serve {1e6 / sc:.0f}/s ({sc:.1f} µs a call), "
                     f"ceiling {1e6 / cc:.0f}/s ({cc:.1f} µs): ratio {cc / sc:.2f}  "
                     f"(the servers used {share(serve['server_cpu_s'], serve)} and {share(ceiling['server_cpu_s'], ceiling)} "
                     f"of a core, the load generator {share(serve.get('load_cpu_s'), serve)} and {share(ceiling.get('load_cpu_s'), ceiling)})")
opens = sorted({int(n.rsplit("-p", 1)[1]) for n in runs if n.startswith("open-check-")})
if opens:
    pct = min(opens, key=lambda p: abs(p - 50))
    s, c = runs.get(f"open-check-serve-p{pct}"), runs.get(f"open-check-ceiling-p{pct}")
    if s and c and s["latency_us"] and c["latency_us"]:
        summary["p99_us_at_load"] = {"percent_of_ceiling": pct, "offered_rate": s["offered_rate"],
                                    "serve": s["latency_us"]["p99"], "ceiling": c["latency_us"]["p99"]}
        lines.append(f"p99 at {pct}% of the ceiling's max ({s['offered_rate']:.0f}/s, from intended start): "
                     f"serve {s['latency_us']['p99']:.1f} µs, ceiling {c['latency_us']['p99']:.1f} µs "
                     f"(p50 {s['latency_us']['p50']:.1f} vs {c['latency_us']['p50']:.1f})")
        sc, cc = cpu_per_call(s), cpu_per_call(c)
        if sc and cc:
            summary["server_cpu_us_per_check"] = {"percent_of_ceiling": pct, "serve": round(sc, 1), "ceiling": round(cc, 1)}
            lines.append(f"server CPU per Check at {pct}% load: serve {sc:.1f} µs, ceiling {cc:.1f} µs "
                         f"(serve's own work: {sc - cc:.1f} µs a call)")
if batch_best and serve:
    ratio = batch_best["decisions_per_s"] / serve["rps"]
    summary["batch_check"] = {"batch_size": batch, "decisions_per_s": batch_best["decisions_per_s"],
                              "calls_per_s": batch_best["rps"], "concurrency": batch_best["concurrency"],
                              "per_decision_ratio_to_unary_check": round(ratio, 2)}
    lines.append(f"BatchCheck-{batch}: {batch_best['decisions_per_s']:.0f} decisions/s ({batch_best['rps']:.0f} calls/s, "
                 f"concurrency {batch_best['concurrency']}) vs unary Check {serve['rps']:.0f}/s: {ratio:.1f}x per decision")
    bc, sc = cpu_per_call(batch_best), cpu_per_call(serve)
    if bc and sc:
        summary["batch_check"]["server_cpu_us_per_decision"] = round(bc / batch, 2)
        summary["batch_check"]["unary_check_server_cpu_us"] = round(sc, 1)
        lines.append(f"  server CPU per decision: BatchCheck-{batch} {bc / batch:.2f} µs, unary Check {sc:.1f} µs "
                     f"({sc / (bc / batch):.0f}x)")
if failed:
    lines.append("runs with failed calls (or unanswered closed-loop calls): " + ", ".join(failed))
text = "\n".join(lines)
print(text)
open(os.path.join(out, "summary.txt"), "w").write(text + "\n")
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=2)
sys.exit(1 if failed else 0)
EOF
echo "reports in $OUT (plot: python3 bench/plot.py $OUT)"
