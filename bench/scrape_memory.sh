#!/usr/bin/env bash
# scrape_memory: the memory of scraping large targets, obsmon beside Prometheus, in one run on
# one machine. Installs nothing (python3, sqlite3, curl and Debian's prometheus).
#
#   bench/scrape_memory.sh                 # SERIES=40000 TARGETS=2 INTERVAL=5 MINUTES=10
#   OBSMON_BINARIES="/tmp/old/obsmon build/obsmon" bench/scrape_memory.sh   # two builds at once
#   RULE_RANGE=1h HEAD_BOUNDS="1TiB 128MiB" OBSMON_BINARIES="build/obsmon build/obsmon" \
#     MINUTES=30 bench/scrape_memory.sh    # the rules' head: an hour of every series, bounded
#
# Set-up (127.0.0.1, free ports): TARGETS python3 targets, each exposing SERIES gauges
# `bench_metric{i,pod,code}` whose values change at every request (so no store keeps them as one
# repeated value); each obsmon of OBSMON_BINARIES (default: this tree's build/obsmon) scrapes every
# target every INTERVAL seconds with one `scrape` probe per target into its own fresh database,
# and a Prometheus scrapes the same targets at the same interval into its own fresh TSDB.
#
# RULE_RANGE (a PromQL range such as 1h; default none): every obsmon and the Prometheus evaluate
# `max_over_time(bench_metric{i="0"}[RULE_RANGE])` every INTERVAL, which makes obsmon's rules'
# head keep that range of every bench_metric series (it keeps a metric's history by name).
# VALUES=counter: the targets expose counters instead (each series a whole number that grows by
# its own step at every request, as most scraped series are); default: a float that changes in
# all its bits (the time of the request plus the series' number).
# HEAD_BOUNDS: each obsmon's alerting.head.max_point_bytes, in the order of OBSMON_BINARIES
# (default: unset, 256MiB); obsmon_rule_head_point_bytes is printed beside each RSS.
#
# Every 30 s: each process's RSS (VmRSS, /proc). At the end: each one's kernel high-water mark
# (VmHWM, which sees the peaks between samples) and RSS as ratios to Prometheus's, and the
# independent check that each stored what the targets exposed: obsmon's `series` table (sqlite3)
# and Prometheus's `count(bench_metric)` against SERIES x TARGETS.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SERIES=${SERIES:-40000}
TARGETS=${TARGETS:-2}
INTERVAL=${INTERVAL:-5}
MINUTES=${MINUTES:-10}
read -r -a BINARIES <<< "${OBSMON_BINARIES:-$ROOT/build/obsmon}"
RULE_RANGE=${RULE_RANGE:-}
read -r -a HEAD_BOUNDS <<< "${HEAD_BOUNDS:-}"
for b in "${BINARIES[@]}"; do [ -x "$b" ] || { echo "not executable: $b" >&2; exit 2; }; done
command -v prometheus > /dev/null || { echo "needs prometheus (apt-get install prometheus)" >&2; exit 2; }

dir=$(mktemp -d /tmp/scrape-memory.XXXXXX)
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
ready() {  # URL: waits up to 10 s for it to answer
  for _ in $(seq 100); do curl -sf -o /dev/null "$1" && return 0; sleep 0.1; done
  echo "no answer from $1" >&2; exit 1
}

cat > "$dir/target.py" <<'PY'
import http.server, sys, time
series = int(sys.argv[2])
counters = sys.argv[3] == "counter"
requests = [0]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        t = time.time()
        requests[0] += 1
        n = requests[0]
        lines = ["# TYPE bench_metric " + ("counter" if counters else "gauge") + "\n"]
        lines += [f'bench_metric{{i="{i}",pod="pod-{i % 97}",code="{200 + i % 5}"}} '
                  f'{n * (i % 7 + 1) if counters else t + i}\n' for i in range(series)]
        body = "".join(lines).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
PY
target_ports=()
for ((t = 0; t < TARGETS; t++)); do
  p=$(free_port)
  python3 "$dir/target.py" "$p" "$SERIES" "${VALUES:-float}" &
  pids+=($!)
  target_ports+=("$p")
done
for p in "${target_ports[@]}"; do ready "127.0.0.1:$p/metrics"; done

if [ -n "$RULE_RANGE" ]; then
  cat > "$dir/rules.yml" <<YML
groups:
  - name: head
    rules:
      - record: bench:first:max
        expr: max_over_time(bench_metric{i="0"}[$RULE_RANGE])
YML
fi

# obsmon: one scrape probe per target, each daemon in its own directory.
names=() obsmon_pids=() obsmon_dbs=() obsmon_ports=()
for ((k = 0; k < ${#BINARIES[@]}; k++)); do
  d="$dir/obsmon$k"
  mkdir -p "$d"
  port=$(free_port)
  obsmon_ports+=("$port")
  {
    echo "listen: 127.0.0.1:$port"
    echo "storage: {path: $d/obsmon.db}"
    if [ -n "$RULE_RANGE" ]; then
      echo "rule_files: [$dir/rules.yml]"
      echo "alerting:"
      echo "  evaluation_interval: ${INTERVAL}s"
      echo "  slo_alerts: false"
      if [ -n "${HEAD_BOUNDS[$k]:-}" ]; then
        echo "  head: {max_point_bytes: ${HEAD_BOUNDS[$k]}}"
      fi
    fi
    echo "components:"
    echo "  - name: bench"
    echo "    labels: {job: bench}"
    echo "    probes:"
    for p in "${target_ports[@]}"; do
      echo "      - {name: t$p, kind: scrape, url: \"http://127.0.0.1:$p/metrics\"," \
           "interval: ${INTERVAL}s, timeout: $((INTERVAL - 1))s, sample_limit: $((SERIES + 10))}"
    done
  } > "$d/obsmon.yml"
  "${BINARIES[$k]}" run --config "$d/obsmon.yml" --log-level warn > "$d/obsmon.log" 2>&1 &
  obsmon_pids+=($!)
  pids+=($!)
  obsmon_dbs+=("$d/obsmon.db")
  names+=("obsmon$k")
  ready "127.0.0.1:$port/healthz"
done

# Prometheus: the same targets, the same interval.
prom_port=$(free_port)
{
  echo "global: {scrape_interval: ${INTERVAL}s, scrape_timeout: $((INTERVAL - 1))s," \
       "evaluation_interval: ${INTERVAL}s}"
  if [ -n "$RULE_RANGE" ]; then echo "rule_files: [$dir/rules.yml]"; fi
  echo "scrape_configs:"
  echo "  - job_name: bench"
  echo "    static_configs:"
  echo "      - targets: [$(printf '"127.0.0.1:%s",' "${target_ports[@]}" | sed 's/,$//')]"
} > "$dir/prometheus.yml"
prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
  --web.listen-address="127.0.0.1:$prom_port" --log.level=warn > "$dir/prometheus.log" 2>&1 &
prom_pid=$!
pids+=("$prom_pid")
ready "127.0.0.1:$prom_port/-/ready"

all_pids=("${obsmon_pids[@]}" "$prom_pid")
all_names=("${names[@]}" prometheus)
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

echo "$TARGETS targets x $SERIES series every ${INTERVAL}s for $MINUTES min; $(nproc) cores"
for ((k = 0; k < ${#BINARIES[@]}; k++)); do echo "obsmon$k: ${BINARIES[$k]}"; done
echo "prometheus: $(prometheus --version 2>&1 | head -1)"
printf '%8s' "minute"
for n in "${all_names[@]}"; do printf ' %14s' "$n RSS MB"; done
for n in "${names[@]}"; do printf ' %16s' "$n head MB"; done
echo
head_mb() {  # obsmon's obsmon_rule_head_point_bytes in MB
  curl -s "127.0.0.1:$1/metrics" |
    awk '$1 == "obsmon_rule_head_point_bytes" {printf "%.1f", $2 / 1048576; f = 1}
         END {if (!f) printf "-"}'
}
end=$(($(date +%s) + MINUTES * 60))
start=$(date +%s)
while :; do
  printf '%8.1f' "$(echo "($(date +%s) - $start) / 60" | bc -l)"
  for p in "${all_pids[@]}"; do printf ' %14.1f' "$(echo "$(status_kb "$p" VmRSS) / 1024" | bc -l)"; done
  for p in "${obsmon_ports[@]}"; do printf ' %16s' "$(head_mb "$p")"; done
  echo
  [ "$(date +%s)" -ge "$end" ] && break
  sleep 30
done

prom_hwm=$(status_kb "$prom_pid" VmHWM)
prom_rss=$(status_kb "$prom_pid" VmRSS)
echo "high-water mark (VmHWM) and last RSS, and their ratios to Prometheus's:"
for ((k = 0; k < ${#all_pids[@]}; k++)); do
  hwm=$(status_kb "${all_pids[$k]}" VmHWM)
  rss=$(status_kb "${all_pids[$k]}" VmRSS)
  printf '  %-10s high-water mark %7.1f MB (%.2fx)   RSS %7.1f MB (%.2fx)\n' "${all_names[$k]}" \
    "$(echo "$hwm / 1024" | bc -l)" "$(echo "$hwm / $prom_hwm" | bc -l)" \
    "$(echo "$rss / 1024" | bc -l)" "$(echo "$rss / $prom_rss" | bc -l)"
done

# What each stored, against what the targets exposed.
want=$((SERIES * TARGETS))
for ((k = 0; k < ${#BINARIES[@]}; k++)); do
  got=$(sqlite3 "file:${obsmon_dbs[$k]}?mode=ro" \
    "SELECT count(*) FROM series WHERE name = 'bench_metric'")
  scrapes=$(curl -s "$(grep -o '127.0.0.1:[0-9]*' "$dir/obsmon$k/obsmon.yml" | head -1)/metrics" |
    awk '/^obsmon_probe_runs_total/ && /result="failure"/ {s += $NF} END {printf "%d", s}')
  echo "obsmon$k: $got of $want series stored; failed scrapes: $scrapes"
  if [ -n "$RULE_RANGE" ]; then
    curl -s "127.0.0.1:${obsmon_ports[$k]}/metrics" | awk -v n="obsmon$k" '
      $1 ~ /^obsmon_rule_head_(points|point_bytes|max_point_bytes)$/ ||
      $1 ~ /^obsmon_rule_head_size_(retentions_total|floor_timestamp_seconds)$/ {
        printf "  %s %s %s\n", n, $1, $2 }'
  fi
done
got=$(curl -s "127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=count(bench_metric)' |
  python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else 0)')
echo "prometheus: $got of $want series in its head"
