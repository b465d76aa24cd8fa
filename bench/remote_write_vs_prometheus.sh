#!/usr/bin/env bash
# remote_write_vs_prometheus: samples/s and CPU per sample through obsmon's remote_write, to
# VictoriaMetrics and to Prometheus, beside Prometheus's own remote_write of the same series, in
# one run on one machine. Installs nothing.
#
#   bench/remote_write_vs_prometheus.sh      # SERIES=2000 STEADY=30 (seconds); OBSMON_BUILD_DIR=build
#
# Set-up (all on 127.0.0.1, free ports): a target serving SERIES gauges on /metrics (python3),
# VictoriaMetrics single node and a Prometheus with --web.enable-remote-write-receiver as
# receivers; obsmon scrapes the target every second (one `scrape` probe) and remote-writes to
# both; a second Prometheus (the "forwarder") scrapes the same target every second and
# remote-writes to the same VictoriaMetrics, as a Prometheus forwarding what it scrapes would.
#
# Steady state (STEADY seconds): samples sent per second and CPU seconds (utime + stime from
# /proc) of each sending process over the same interval, per sample sent. obsmon's CPU includes
# its scraping and storing; the forwarder's its scraping, TSDB and WAL: both are the whole cost
# of "scrape and forward".
# Catch-up: obsmon is stopped, a third destination `drain` (VictoriaMetrics) is given a cursor at
# the start of the run (a receiver that was down all along), and obsmon is started again: the
# time and CPU to send that backlog is remote_write's throughput when it is not waiting for
# new samples. Prometheus has no such figure (its queue is its WAL, read at the scrape's pace).
# Baseline: obsmon again with no remote_write, to tell remote_write's CPU from scraping and
# storing.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${OBSMON_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
SERIES=${SERIES:-2000}
STEADY=${STEADY:-30}

die() { echo "remote_write_vs_prometheus: $*" >&2; exit 1; }
for tool in prometheus victoria-metrics sqlite3 curl python3; do
  command -v "$tool" >/dev/null || die "$tool not found (scripts/install-deps.sh --with-test-tools)"
done
[ -x "$BUILD/obsmon" ] || die "$BUILD/obsmon is missing: scripts/build.sh"

WORK=$(mktemp -d /tmp/remote_write_bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
cpu_seconds() {  # utime + stime of a pid, in seconds
  awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"
}
metric_sum() {  # sum of the samples of metric $2 (with label text containing $3) at url $1
  curl -s "$1" | awk -v m="$2" -v l="${3:-}" '$1 ~ "^"m"({|$)" && index($1, l) {s += $NF} END {printf "%.0f\n", s}'
}
wait_http() { for _ in $(seq 200); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; die "$1 never answered"; }

TARGET_PORT=$(free_port); VM_PORT=$(free_port); PROM_PORT=$(free_port); FWD_PORT=$(free_port)
OBSMON_PORT=$(free_port)

# The target: SERIES gauges whose values change every scrape.
cat > "$WORK/target.py" <<PY
import http.server, itertools
n = itertools.count()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        k = next(n)
        body = "".join(f'bench_gauge{{i="{i}"}} {k + i * 0.5}\n' for i in range($SERIES)).encode()
        self.send_response(200); self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
http.server.ThreadingHTTPServer(("127.0.0.1", $TARGET_PORT), H).serve_forever()
PY
python3 "$WORK/target.py" & PIDS+=($!)

victoria-metrics -storageDataPath="$WORK/vm" -httpListenAddr=127.0.0.1:$VM_PORT \
  -retentionPeriod=1d -loggerLevel=ERROR >"$WORK/vm.log" 2>&1 & PIDS+=($!)
printf 'global: {scrape_interval: 1m}\n' > "$WORK/receiver.yml"
prometheus --config.file="$WORK/receiver.yml" --storage.tsdb.path="$WORK/prom" \
  --web.enable-remote-write-receiver --web.listen-address=127.0.0.1:$PROM_PORT \
  --log.level=error >"$WORK/prom.log" 2>&1 & PIDS+=($!)
cat > "$WORK/forwarder.yml" <<YML
global: {scrape_interval: 1s, external_labels: {sender: prometheus}}
scrape_configs:
  - job_name: target
    static_configs: [{targets: ['127.0.0.1:$TARGET_PORT']}]
remote_write:
  - url: http://127.0.0.1:$VM_PORT/api/v1/write
YML
prometheus --config.file="$WORK/forwarder.yml" --storage.tsdb.path="$WORK/fwd" \
  --web.listen-address=127.0.0.1:$FWD_PORT --log.level=error >"$WORK/fwd.log" 2>&1 & FWD_PID=$!
PIDS+=($FWD_PID)
wait_http "http://127.0.0.1:$VM_PORT/health"
wait_http "http://127.0.0.1:$PROM_PORT/-/ready"
wait_http "http://127.0.0.1:$FWD_PORT/-/ready"

write_config() {  # $1: extra remote_write entries
  cat > "$WORK/obsmon.yml" <<YML
listen: 127.0.0.1:$OBSMON_PORT
storage: {path: $WORK/obsmon.db}
external_labels: {sender: obsmon}
remote_write:
  - {name: vm, url: 'http://127.0.0.1:$VM_PORT/api/v1/write', queue_config: {batch_send_deadline: 1s}}
  - {name: prom, url: 'http://127.0.0.1:$PROM_PORT/api/v1/write', queue_config: {batch_send_deadline: 1s}}
$1
components:
  - name: bench
    probes:
      - {name: target, kind: scrape, url: 'http://127.0.0.1:$TARGET_PORT/metrics', interval: 1s, timeout: 900ms}
YML
}
write_config ""
RUN_START_MS=$(($(date +%s%N) / 1000000))
"$BUILD/obsmon" run --config "$WORK/obsmon.yml" >"$WORK/obsmon.log" 2>&1 & OBSMON_PID=$!
PIDS+=($OBSMON_PID)
wait_http "http://127.0.0.1:$OBSMON_PORT/healthz"
sleep 10  # warm-up: both senders caught up, the forwarder's queue running

OM="http://127.0.0.1:$OBSMON_PORT/metrics"; FM="http://127.0.0.1:$FWD_PORT/metrics"
o_vm0=$(metric_sum "$OM" obsmon_remote_write_samples_sent_total 'remote="vm"')
o_pr0=$(metric_sum "$OM" obsmon_remote_write_samples_sent_total 'remote="prom"')
f0=$(metric_sum "$FM" prometheus_remote_storage_samples_total)
oc0=$(cpu_seconds $OBSMON_PID); fc0=$(cpu_seconds $FWD_PID); t0=$(date +%s.%N)
sleep "$STEADY"
o_vm1=$(metric_sum "$OM" obsmon_remote_write_samples_sent_total 'remote="vm"')
o_pr1=$(metric_sum "$OM" obsmon_remote_write_samples_sent_total 'remote="prom"')
f1=$(metric_sum "$FM" prometheus_remote_storage_samples_total)
oc1=$(cpu_seconds $OBSMON_PID); fc1=$(cpu_seconds $FWD_PID); t1=$(date +%s.%N)

# Catch-up: a destination whose receiver "was down" since the start of the run.
kill -TERM $OBSMON_PID; wait $OBSMON_PID || true
backlog=$(sqlite3 "$WORK/obsmon.db" "SELECT count(*) FROM samples WHERE ts_ms >= $RUN_START_MS")
sqlite3 "$WORK/obsmon.db" "INSERT INTO remote_write_cursors (remote, cursor_ms, active) VALUES ('drain', $RUN_START_MS, 1)"
write_config "  - {name: drain, url: 'http://127.0.0.1:$VM_PORT/api/v1/write', queue_config: {max_samples_per_send: 10000}}"
stop_ms=$(($(date +%s%N) / 1000000))
"$BUILD/obsmon" run --config "$WORK/obsmon.yml" >>"$WORK/obsmon.log" 2>&1 & OBSMON_PID=$!
PIDS+=($OBSMON_PID)
d0=$(date +%s.%N)
for _ in $(seq 1200); do
  c=$(sqlite3 "$WORK/obsmon.db" "SELECT cursor_ms FROM remote_write_cursors WHERE remote = 'drain'" 2>/dev/null || echo 0)
  [ "${c:-0}" -ge "$stop_ms" ] && break
  sleep 0.05
done
d1=$(date +%s.%N); dc=$(cpu_seconds $OBSMON_PID)
drained=$(metric_sum "$OM" obsmon_remote_write_samples_sent_total 'remote="drain"')

# Baseline: the same obsmon scraping and storing, no remote_write, over STEADY seconds: what
# remote_write itself costs is the difference.
kill -TERM $OBSMON_PID; wait $OBSMON_PID || true
write_config ""
sed -i '/^remote_write:/,/^components:/{/^components:/!d}' "$WORK/obsmon.yml"
"$BUILD/obsmon" run --config "$WORK/obsmon.yml" >>"$WORK/obsmon.log" 2>&1 & OBSMON_PID=$!
PIDS+=($OBSMON_PID)
wait_http "http://127.0.0.1:$OBSMON_PORT/healthz"
sleep 5
bc0=$(cpu_seconds $OBSMON_PID); b0=$(date +%s.%N)
sleep "$STEADY"
bc1=$(cpu_seconds $OBSMON_PID); b1=$(date +%s.%N)

python3 - "$t0" "$t1" "$o_vm0" "$o_vm1" "$o_pr0" "$o_pr1" "$f0" "$f1" "$oc0" "$oc1" "$fc0" "$fc1" \
  "$d0" "$d1" "$dc" "$drained" "$backlog" "$SERIES" "$b0" "$b1" "$bc0" "$bc1" <<'PY'
import sys
a = [float(x) for x in sys.argv[1:]]
(t0, t1, ov0, ov1, op0, op1, f0, f1, oc0, oc1, fc0, fc1, d0, d1, dc, drained, backlog, series,
 b0, b1, bc0, bc1) = a
dt = t1 - t0
ovm, opr, fwd = (ov1 - ov0) / dt, (op1 - op0) / dt, (f1 - f0) / dt
ocpu, fcpu = (oc1 - oc0), (fc1 - fc0)
o_sent = (ov1 - ov0) + (op1 - op0)
print(f"series {series:.0f}, steady state {dt:.1f} s")
print(f"obsmon  -> VictoriaMetrics   {ovm:10.0f} samples/s")
print(f"obsmon  -> Prometheus        {opr:10.0f} samples/s")
print(f"Prometheus (forwarder) -> VM {fwd:10.0f} samples/s")
if o_sent > 0 and f1 > f0:
    o_us = ocpu / o_sent * 1e6
    f_us = fcpu / (f1 - f0) * 1e6
    print(f"CPU per sample sent: obsmon {o_us:.2f} us (scrape + store + 2 destinations), "
          f"Prometheus forwarder {f_us:.2f} us (scrape + TSDB + 1 destination); "
          f"ratio Prometheus/obsmon {f_us / o_us:.2f}")
if o_sent > 0 and b1 > b0:
    base = (bc1 - bc0) / (b1 - b0)  # CPU s per s without remote_write
    extra = ocpu - base * dt
    print(f"obsmon without remote_write: {base * 100:.1f} % of a core (scrape + store); "
          f"remote_write's own share: {extra / o_sent * 1e6:.2f} us per sample sent "
          f"({extra / dt * 100:.1f} % of a core for {o_sent / dt:.0f} samples/s)")
dd = d1 - d0
if drained > 0 and dd > 0:
    print(f"catch-up: {drained:.0f} samples (backlog {backlog:.0f}) in {dd:.2f} s = "
          f"{drained / dd:.0f} samples/s, obsmon CPU {dc / max(drained, 1) * 1e6:.2f} us/sample "
          f"(all of obsmon since its restart)")
PY
