#!/usr/bin/env bash
# report_vs_prometheus: how long the 7-day observation report of one component probed every second
# takes in obsmon, against getting the same figures from Prometheus with PromQL. One run, both
# tools, same data, same machine, both answering an HTTP query; ratios Prometheus / obsmon.
#
#   bench/report_vs_prometheus.sh            # REPS=10 (after one warm-up); OBSMON_BUILD_DIR=build
#
# Data (identical in both): bench/report_bench's 7 days from 2025-10-14T00:00:00Z, one health run
# a second (604,800; down 2 min a day at 10:00 UTC; 5-25 ms xorshift latencies) plus an hourly
# integration check. obsmon: `report_bench --db` writes them through the real Writer, then
# `obsmon run` serves GET /api/v1/components/carbon/report?from=...&to=...&format=json (and
# `obsmon report` is timed as a process). Prometheus: report_vs_prometheus_gen.py writes the same
# runs as probe_success / probe_duration_seconds OpenMetrics, `promtool tsdb create-blocks-from
# openmetrics` backfills them, and `prometheus` answers the PromQL below once it has compacted the
# 2h blocks, as a server that has been running for a week would have.
#
# Times are curl's time_total per request (one keep-alive connection for Prometheus' set of
# queries; the set is the sum of its requests); best and median of REPS, the tools alternating in
# each repetition so that other load on the machine hits both alike.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${OBSMON_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
REPS=${REPS:-10}

die() { echo "report_vs_prometheus: $*" >&2; exit 1; }

for tool in prometheus promtool; do
  command -v "$tool" >/dev/null || die "$tool not found: apt-get install prometheus (Debian 12: 2.42)"
done
command -v curl >/dev/null || die "curl not found: apt-get install curl"
command -v python3 >/dev/null || die "python3 not found: apt-get install python3"
for bin in bench/report_bench obsmon; do
  [ -x "$BUILD/$bin" ] || die "$BUILD/$bin is missing: build it with
  cmake -S $ROOT -B $BUILD -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo && ninja -C $BUILD report_bench obsmon
(or set OBSMON_BUILD_DIR to a build directory that has them)"
done

WORK=$(mktemp -d /tmp/report_vs_prometheus.XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# Waits until URL answers 2xx, or fails with the log of the process that should serve it.
wait_http() {
  local url=$1 pid=$2 log=$3 i
  for i in $(seq 1 300); do
    curl -sf -o /dev/null "$url" && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "process $pid exited (log above)"; }
    sleep 0.2
  done
  tail -20 "$log" >&2
  die "no answer from $url after 60 s"
}
urlq() { python3 -c 'import sys, urllib.parse; print(urllib.parse.urlencode(list(zip(sys.argv[1::2], sys.argv[2::2]))))' "$@"; }
# utime + stime of a process, in ms.
cpu_ms_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$1/stat"; }
mem_of() { awk '/^VmHWM|^VmRSS/ {printf "%s %.1f MB  ", $1, $2 / 1024}' "/proc/$1/status"; }

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

# --- Data: obsmon database (real Writer) and Prometheus TSDB (promtool backfill), in parallel.
echo "writing the obsmon database (report_bench --db) and the Prometheus blocks (promtool) ..."
"$BUILD/bench/report_bench" --db "$WORK/carbon.db" >"$WORK/report_bench.log" 2>&1 &
bench_pid=$!
PIDS+=("$bench_pid")
python3 "$ROOT/bench/report_vs_prometheus_gen.py" "$WORK/carbon.om"
promtool tsdb create-blocks-from openmetrics -q "$WORK/carbon.om" "$WORK/tsdb" >"$WORK/promtool.log" 2>&1 ||
  { cat "$WORK/promtool.log" >&2; die "promtool failed"; }
rm -f "$WORK/carbon.om"
wait "$bench_pid" || { cat "$WORK/report_bench.log" >&2; die "report_bench failed"; }
[ -s "$WORK/carbon.db" ] || die "report_bench --db left no database (built without storage/?)"
grep -E '^wrote ' "$WORK/report_bench.log" | sed 's/^/  report_bench: /'
echo "  promtool: $(find "$WORK/tsdb" -name meta.json | wc -l) blocks"

# --- Prometheus: no scrape targets; retention far beyond the 2025 data so nothing is deleted.
prom_port=$(free_port)
printf 'global:\n  evaluation_interval: 1m\n' >"$WORK/prometheus.yml"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --storage.tsdb.retention.time=10y --web.listen-address="127.0.0.1:$prom_port" \
  >"$WORK/prometheus.log" 2>&1 &
prom_pid=$!
PIDS+=("$prom_pid")
PROM=http://127.0.0.1:$prom_port
wait_http "$PROM/-/ready" "$prom_pid" "$WORK/prometheus.log"

# --- obsmon: the daemon with carbon's health probe aimed at the discard port (refused: its new
# runs are in the present, outside the 2025 window); retention long enough to keep 2025.
obs_port=$(free_port)
cat >"$WORK/obsmon.yml" <<YAML
listen: 127.0.0.1:$obs_port
storage:
  path: $WORK/carbon.db
  retention: 3650d
  rollup_retention: 3650d
components:
  - name: carbon
    probes:
      - name: health
        kind: tcp
        address: 127.0.0.1:9
        interval: 1s
        timeout: 500ms
YAML
"$BUILD/obsmon" run --config "$WORK/obsmon.yml" --log-level warn >"$WORK/obsmon.log" 2>&1 &
obs_pid=$!
PIDS+=("$obs_pid")
OBS=http://127.0.0.1:$obs_port
wait_http "$OBS/api/v1/components/carbon" "$obs_pid" "$WORK/obsmon.log"

# Prometheus compacts the 84 backfilled 2h blocks about a minute after start; wait for it so
# queries run on the blocks a week-old server has, and compaction does not run during them.
echo "waiting for Prometheus to compact the backfilled blocks ..."
prom_metric() { curl -s "$PROM/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
prev=""
for i in $(seq 1 90); do
  blocks=$(prom_metric prometheus_tsdb_blocks_loaded)
  if [ "$(prom_metric prometheus_tsdb_compactions_total)" != 0 ] && [ "$blocks" = "$prev" ]; then break; fi
  prev=$blocks
  sleep 2
done
echo "  blocks loaded: $blocks"

# --- The queries. The report's window is [2025-10-14T00:00Z, 2025-10-21T00:00Z); PromQL ranges
# include both ends (2.x), so instant queries are evaluated 1 ms before 2025-10-21T00:00:00Z and
# day ranges at 1 ms before each midnight: exactly 86,400 samples a day, 604,800 a week.
T=1761004799.999          # 2025-10-20T23:59:59.999Z
DAY1_END=1760486399.999   # 2025-10-14T23:59:59.999Z
UP='probe_success{job="carbon"}'
DUR='probe_duration_seconds{job="carbon"}'
OK_DUR="($DUR and $UP == 1)"   # durations of successful runs only, as the report counts them
NAMES=(uptime_7d p50_ok p95_ok p99_ok days_uptime days_p95_ok p50_all p95_all p99_all days_p95_all)
QUERIES=(
  "avg_over_time($UP[7d])"
  "quantile_over_time(0.5, $OK_DUR[7d:1s])"
  "quantile_over_time(0.95, $OK_DUR[7d:1s])"
  "quantile_over_time(0.99, $OK_DUR[7d:1s])"
  "avg_over_time($UP[1d])"
  "quantile_over_time(0.95, $OK_DUR[1d:1s])"
  "quantile_over_time(0.5, $DUR[7d])"
  "quantile_over_time(0.95, $DUR[7d])"
  "quantile_over_time(0.99, $DUR[7d])"
  "quantile_over_time(0.95, $DUR[1d])"
)
prom_args=()
for i in "${!NAMES[@]}"; do
  if [[ ${NAMES[$i]} == days_* ]]; then
    url="$PROM/api/v1/query_range?$(urlq query "${QUERIES[$i]}" start $DAY1_END end $T step 86400)"
  else
    url="$PROM/api/v1/query?$(urlq query "${QUERIES[$i]}" time $T)"
  fi
  prom_args+=(-o "$WORK/prom_${NAMES[$i]}.json" "$url")
done
REPORT_URL="$OBS/api/v1/components/carbon/report?from=2025-10-14T00:00:00Z&to=2025-10-21T00:00:00Z&format=json"
CLI=("$BUILD/obsmon" report carbon --config "$WORK/obsmon.yml"
  --from 2025-10-14T00:00:00Z --to 2025-10-21T00:00:00Z --format json)

# One repetition: obsmon over HTTP, obsmon as a process, then Prometheus' queries in one curl.
# Appends "name<TAB>ms" lines to times.tsv (rep 0 is the warm-up).
run_rep() {
  local rep=$1 t0 t1 i=0 t code
  read -r code t < <(curl -s -o "$WORK/obsmon_report.json" -w '%{http_code} %{time_total}\n' "$REPORT_URL")
  [ "$code" = 200 ] || { head -c 600 "$WORK/obsmon_report.json" >&2; tail -5 "$WORK/obsmon.log" >&2
    die "obsmon report request: HTTP $code (body and log above)"; }
  printf '%s\tobsmon_http\t%s\n' "$rep" "$t" >>"$WORK/times.tsv"
  t0=$(date +%s%N)
  "${CLI[@]}" >"$WORK/obsmon_cli.json" || die "obsmon report (CLI) failed"
  t1=$(date +%s%N)
  printf '%s\tobsmon_cli\t%s\n' "$rep" "$(( (t1 - t0) / 1000 ))e-6" >>"$WORK/times.tsv"
  curl -sf -w '%{time_total}\n' "${prom_args[@]}" >"$WORK/prom_times" || die "a Prometheus query failed"
  while read -r t; do
    printf '%s\t%s\t%s\n' "$rep" "${NAMES[$i]}" "$t" >>"$WORK/times.tsv"
    i=$((i + 1))
  done <"$WORK/prom_times"
}
echo "timing: 1 warm-up + $REPS repetitions ..."
run_rep 0
obs_cpu0=$(cpu_ms_of "$obs_pid") prom_cpu0=$(cpu_ms_of "$prom_pid")
for rep in $(seq 1 "$REPS"); do run_rep "$rep"; done
printf 'obsmon\t%s\t%s\nprometheus\t%s\t%s\n' "$obs_cpu0" "$(cpu_ms_of "$obs_pid")" \
  "$prom_cpu0" "$(cpu_ms_of "$prom_pid")" >"$WORK/cpu.tsv"
obs_mem=$(mem_of "$obs_pid")
prom_mem=$(mem_of "$prom_pid")
# Untimed: sample counts behind the figures.
curl -sf -o "$WORK/prom_counts.json" "$PROM/api/v1/query?$(urlq query "count_over_time($UP[7d]) or label_replace(count_over_time($OK_DUR[7d:1s]), \"what\", \"ok\", \"\", \"\")" time $T)"
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# --- Table and sanity checks.
python3 - "$WORK" "$REPS" <<'PY'
import json, statistics, sys
from collections import defaultdict

work, reps = sys.argv[1], int(sys.argv[2])
ms = defaultdict(dict)  # name -> rep -> ms
for line in open(f"{work}/times.tsv"):
    rep, name, sec = line.split("\t")
    ms[name][int(rep)] = float(sec) * 1000

def series(*names):
    """Per repetition (warm-up excluded), the sum of the named requests."""
    return [sum(ms[n][r] for n in names) for r in range(1, reps + 1)]

def best_med(xs):
    return min(xs), statistics.median(xs)

cpu = {name: float(after) - float(before)
       for name, before, after in (l.split("\t") for l in open(f"{work}/cpu.tsv"))}
obs = best_med(series("obsmon_http"))
cli = best_med(series("obsmon_cli"))
rows = [
    ("uptime, 7 days", obs, ("uptime_7d",)),
    ("p50 + p95 + p99, 7 days, successful runs (3 queries)", obs, ("p50_ok", "p95_ok", "p99_ok")),
    ("uptime per day, 7 days (1 range query)", obs, ("days_uptime",)),
    ("p95 per day, successful runs (1 range query)", obs, ("days_p95_ok",)),
    ("ALL the above (6 requests / 1 report)", obs,
     ("uptime_7d", "p50_ok", "p95_ok", "p99_ok", "days_uptime", "days_p95_ok")),
    ("p50 + p95 + p99, 7 days, all runs (3 plain queries)", obs, ("p50_all", "p95_all", "p99_all")),
    ("p95 per day, all runs (plain range query)", obs, ("days_p95_all",)),
    ("ALL, with the plain quantiles (6 requests / 1 report)", obs,
     ("uptime_7d", "p50_all", "p95_all", "p99_all", "days_uptime", "days_p95_all")),
    ("ALL; obsmon as `obsmon report` process", cli,
     ("uptime_7d", "p50_ok", "p95_ok", "p99_ok", "days_uptime", "days_p95_ok")),
]
print()
print(f"best / median of {reps} (ms); obsmon answers every figure with one report request, so its")
print("column is the whole report on every line; ratio = Prometheus / obsmon (best, median)")
print()
print("| figure | obsmon ms | Prometheus ms | ratio |")
print("|---|---|---|---|")
for label, o, names in rows:
    p = best_med(series(*names))
    print(f"| {label} | {o[0]:.1f} / {o[1]:.1f} | {p[0]:.1f} / {p[1]:.1f} "
          f"| {p[0] / o[0]:.1f}x / {p[1] / o[1]:.1f}x |")
# Per repetition (the tools alternate), for bench/compare.sh's table: Prometheus's six requests
# over obsmon's one report request.
everything = ("uptime_7d", "p50_ok", "p95_ok", "p99_ok", "days_uptime", "days_p95_ok")
pairs = sorted(p / o for p, o in zip(series(*everything), series("obsmon_http")))
print(f"RESULT report_prometheus_over_obsmon {pairs[0]:.3f} {statistics.median(pairs):.3f} {pairs[-1]:.3f}")
# CPU: each server's utime + stime over the timed repetitions (not the CLI process), per
# repetition; obsmon's includes its probe running every second, Prometheus' its idle work.
print(f"| CPU per repetition, server process: 1 report / all 10 queries (both quantile variants) | {cpu['obsmon'] / reps:.1f} "
      f"| {cpu['prometheus'] / reps:.1f} | {cpu['prometheus'] / cpu['obsmon']:.1f}x |")

# Sanity: the same figures on both sides.
def prom(name):
    r = json.load(open(f"{work}/prom_{name}.json"))["data"]["result"]
    assert len(r) == 1, (name, r)
    if "values" in r[0]:
        return [float(v) for _, v in r[0]["values"]]
    return float(r[0]["value"][1])

rep = json.load(open(f"{work}/obsmon_report.json"))
cli_rep = json.load(open(f"{work}/obsmon_cli.json"))
want_up = 1 - 120 / 86400
failures = []
def check(ok, text):
    print(("  ok    " if ok else "  FAIL  ") + text)
    if not ok:
        failures.append(text)

print()
print("sanity checks (expected uptime 1 - 120/86400 = %.6f):" % want_up)
lat, days = rep["latency"], rep["days"]
check(abs(rep["uptime"]["uptime_ratio"] - want_up) < 1e-9,
      f"obsmon uptime {rep['uptime']['uptime_ratio'] * 100:.3f} %, verdict {rep['verdict']['status']}")
check(abs(prom("uptime_7d") - want_up) < 1e-9, f"Prometheus uptime {prom('uptime_7d') * 100:.3f} %")
check(len(days) == 7 and all(abs(d["uptime"]["uptime_ratio"] - want_up) < 1e-9 for d in days),
      "obsmon: 7 days, each %.3f %%" % (want_up * 100))
pd = prom("days_uptime")
check(len(pd) == 7 and all(abs(u - want_up) < 1e-9 for u in pd), "Prometheus: 7 days, each %.3f %%" % (want_up * 100))
counts = {m["metric"].get("what", "all"): float(m["value"][1])
          for m in json.load(open(f"{work}/prom_counts.json"))["data"]["result"]}
check(lat["count"] == 603960 and counts.get("ok") == 603960 and counts.get("all") == 604800,
      f"runs: obsmon {lat['count']} successful; Prometheus {counts.get('all'):.0f} samples, "
      f"{counts.get('ok'):.0f} successful")
for q in ("50", "95", "99"):
    o, ok, al = lat[f"p{q}_seconds"], prom(f"p{q}_ok"), prom(f"p{q}_all")
    # Nearest rank (obsmon) vs linear interpolation (PromQL): within one step of the 1 us grid.
    check(abs(o - ok) <= 1.5e-6 and abs(o - al) <= 1.5e-6,
          f"p{q}: obsmon {o * 1e3:.3f} ms, Prometheus {ok * 1e3:.4f} ms (successful) / "
          f"{al * 1e3:.4f} ms (all runs)")
dp = prom("days_p95_ok")
diffs = [abs(d["latency"]["p95_seconds"] - p) for d, p in zip(days, dp)]
check(len(dp) == 7 and max(diffs) <= 1.5e-6,
      f"p95 per day agrees (largest difference {max(diffs) * 1e6:.2f} us)")
check(cli_rep["uptime"] == rep["uptime"] and cli_rep["latency"] == rep["latency"]
      and cli_rep["days"] == rep["days"], "`obsmon report` (CLI) gives the same figures as the API")
checks = rep["checks"]
print(f"  info  obsmon's report also has: {len(rep['incidents'])} incidents, integration checks "
      + ", ".join(f"{c['probe']} {c['passed']}/{c['runs']}" for c in checks)
      + f", error budget, coverage, per-day p50/p99 and incidents ({len(json.dumps(rep))} bytes)")
sys.exit(1 if failures else 0)
PY
echo
echo "memory after the queries: obsmon (daemon, probing too) $obs_mem"
echo "                          prometheus                   $prom_mem"
echo "load average after: $load_after; $(nproc) CPUs; $(prometheus --version 2>&1 | head -1)"
