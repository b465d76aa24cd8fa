#!/usr/bin/env bash
# rules_vs_prometheus: one evaluation cycle of the same 1,000 rules over the same 10,000 series,
# in obsmon (bench/rules_bench, in process) and in Prometheus (a real server scraping the series).
# Installs nothing.
#
#   bench/rules_vs_prometheus.sh       # CYCLES=8 measured cycles; OBSMON_BUILD_DIR=build
#
# The rules are rules_bench's own (`rules_bench --rules-yaml`): 10 groups of 100, interval 15s.
# Prometheus scrapes a python3 target serving the 10,000 series (m_0..m_99 x job j0..j9 x
# instance i0..i9, rules_bench's values) every 15 s, evaluates the groups every 15 s, and is
# measured once the 5-minute windows of the rules are full (after 5.5 minutes): per cycle, the
# sum over the 10 groups of prometheus_rule_group_last_duration_seconds (each group's wall time;
# Prometheus runs groups concurrently, so this is the work of a cycle, not its wall), and the
# server's CPU (utime + stime) per cycle over the same cycles, which includes its scraping and
# TSDB. obsmon's figure is rules_bench's median CPU per cycle (thread CPU, rules only) in each of
# three runs; the ratio is Prometheus's summed group time over the median of those.
# Prints the cycles, then "RESULT" lines (min median max) that bench/compare.sh gathers.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${OBSMON_BUILD_DIR:-build}
CYCLES=${CYCLES:-8}
for tool in prometheus python3 curl; do
  command -v "$tool" >/dev/null || { echo "rules_vs_prometheus: $tool not found" >&2; exit 2; }
done
[ -x "$BUILD/bench/rules_bench" ] || { echo "rules_vs_prometheus: build $BUILD/bench/rules_bench first (scripts/build.sh)" >&2; exit 2; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/rules_vs_prometheus.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

"$BUILD/bench/rules_bench" --rules-yaml "$WORK/rules.yml"
TARGET_PORT=$(free_port)
PROM_PORT=$(free_port)
cat >"$WORK/target.py" <<'PY'
import http.server, sys, time
# rules_bench's series and values: level s % 100 plus a jitter of the 15-second step.
names = [(m, j, i) for m in range(100) for j in range(10) for i in range(10)]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        step = int(time.time() * 1000) // 15000
        body = "".join(f'm_{m}{{job="j{j}",instance="i{i}"}} {s % 100 + ((step + s) % 4) * 0.25}\n'
                       for s, (m, j, i) in enumerate(names)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
python3 "$WORK/target.py" "$TARGET_PORT" &
pids+=($!)
cat >"$WORK/prometheus.yml" <<EOF
global: {scrape_interval: 15s, evaluation_interval: 15s}
rule_files: [rules.yml]
scrape_configs:
  - job_name: bench
    honor_labels: true
    static_configs: [{targets: ["127.0.0.1:$TARGET_PORT"]}]
EOF
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
  --web.listen-address="127.0.0.1:$PROM_PORT" --log.level=warn >"$WORK/prometheus.log" 2>&1 &
prom_pid=$!
pids+=("$prom_pid")
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg); $(prometheus --version 2>&1 | head -1)"

echo "obsmon: rules_bench, 3 runs of 60 cycles ..."
for run in 1 2 3; do "$BUILD/bench/rules_bench" 60 | tee -a "$WORK/obsmon.txt"; done
# The same cost with nothing for obsmon to share (rules_bench --distinct: thresholds and ranges
# that differ per rule, the same points read); Prometheus evaluates every rule either way.
echo "obsmon: rules_bench --distinct, 3 runs of 60 cycles ..."
for run in 1 2 3; do "$BUILD/bench/rules_bench" --distinct 60 | tee -a "$WORK/obsmon_distinct.txt"; done

echo "Prometheus: filling the rules' 5-minute windows (${RULES_WARM_S:-330} s) ..."
sleep "${RULES_WARM_S:-330}"
metric_sum() { curl -s "http://127.0.0.1:$PROM_PORT/metrics" | awk -v m="$1" 'index($1, m) == 1 {s += $2} END {printf "%.6f", s}'; }
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) * 1000 / hz}' "/proc/$prom_pid/stat"; }
# A cycle is over when the groups' last evaluation timestamps all moved.
last_eval() { metric_sum prometheus_rule_group_last_evaluation_timestamp_seconds; }
: >"$WORK/prom.tsv"
prev=$(last_eval)
cpu0=$(cpu_ms)
for c in $(seq 1 "$CYCLES"); do
  for _ in $(seq 1 40); do
    sleep 1
    now=$(last_eval)
    # all 10 groups evaluated again: the sum of their timestamps grew by ~10 x 15 s
    if awk -v a="$prev" -v b="$now" 'BEGIN {exit !(b - a > 140)}'; then break; fi
  done
  prev=$now
  sum=$(metric_sum prometheus_rule_group_last_duration_seconds)
  cpu1=$(cpu_ms)
  echo "cycle $c: groups' durations summed $(awk -v s="$sum" 'BEGIN {printf "%.1f", s * 1000}') ms, server CPU $(awk -v a="$cpu0" -v b="$cpu1" 'BEGIN {printf "%.0f", b - a}') ms"
  printf '%s\t%s\n' "$sum" "$((${cpu1%.*} - ${cpu0%.*}))" >>"$WORK/prom.tsv"
  cpu0=$cpu1
done
failures=$(metric_sum prometheus_rule_evaluation_failures_total)
echo "Prometheus rule evaluation failures: $failures; load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

python3 - "$WORK" <<'PY'
import re, statistics, sys
work = sys.argv[1]
text = open(f"{work}/obsmon.txt").read()
ob_cpu = sorted(float(x) for x in re.findall(r"cycle cpu  ms: median ([\d.]+)", text))
rows = [l.split("\t") for l in open(f"{work}/prom.tsv")]
prom_ms = sorted(float(a) * 1000 for a, _ in rows)
prom_cpu = sorted(float(b) for _, b in rows)
def mmm(v):
    return f"{v[0]:.3f} {statistics.median(v):.3f} {v[-1]:.3f}"
ob_c = statistics.median(ob_cpu)
ob_distinct = sorted(float(x) for x in re.findall(
    r"cycle cpu  ms: median ([\d.]+)", open(f"{work}/obsmon_distinct.txt").read()))
ob_d = statistics.median(ob_distinct)
print(f"RESULT rules_ms_obsmon_cpu {mmm(ob_cpu)}")
print(f"RESULT rules_ms_prometheus_groups {mmm(prom_ms)}")
print(f"RESULT rules_ms_prometheus_server_cpu {mmm(prom_cpu)}")
print(f"RESULT rules_prometheus_groups_over_obsmon_cpu {mmm([p / ob_c for p in prom_ms])}")
print(f"RESULT rules_ms_obsmon_cpu_distinct {mmm(ob_distinct)}")
print(f"RESULT rules_prometheus_groups_over_obsmon_cpu_distinct {mmm([p / ob_d for p in prom_ms])}")
PY
