#!/bin/bash
# Where a probe run's CPU goes in the real daemon: obsmon probing N loopback HTTP targets at 1 s
# (a small Python server, outside obsmon's process, so none of its CPU is counted), then, each
# over its own window of real time and divided by the runs obsmon itself counted in it
# (obsmon_probe_runs_total):
#   1. CPU (utime + stime from /proc) and voluntary context switches (wake-ups), per thread name;
#   2. system calls (strace -c -f; strace slows the process, so only the counts are quoted);
#   3. CPU by thread and by kernel path (perf record -e cpu-clock -g), when perf is there.
#
#   bench/probe_cost.sh [N=100] [window_s=20] [obsmon binary=build/obsmon]
#
# Needs python3, curl, strace (and perf for part 3). Prints everything; keeps the perf data and
# the daemon's files in the directory it names at the end.
set -euo pipefail
n=${1:-100}
window=${2:-20}
obsmon=${3:-build/obsmon}
dir=$(mktemp -d /tmp/obsmon-probe-cost.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
target_port=$(free_port)
listen_port=$(free_port)

cat > "$dir/target.py" <<'PY'
import http.server, sys
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = b'{"status":"OK"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
class Server(http.server.ThreadingHTTPServer):
    request_queue_size = 1024  # the default 5 refuses connections when runs come together
Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
PY
python3 "$dir/target.py" "$target_port" 2> "$dir/target.log" &
target_pid=$!
for _ in $(seq 100); do  # the target listens before the first run (a refusal is a down run)
  curl -s -o /dev/null "127.0.0.1:$target_port/t/0" && break
  sleep 0.1
done
{
  echo "listen: 127.0.0.1:$listen_port"
  echo "storage:"
  echo "  path: $dir/obsmon.db"
  echo "components:"
  echo "  - name: bench"
  echo "    probes:"
  for ((i = 0; i < n; i++)); do
    echo "      - {name: t$i, kind: http, url: \"http://127.0.0.1:$target_port/t/$i\", interval: 1000ms, timeout: 1000ms}"
  done
} > "$dir/obsmon.yml"
"$obsmon" run --config "$dir/obsmon.yml" --log-level warn > "$dir/obsmon.log" 2>&1 &
pid=$!
trap 'kill $pid $target_pid 2>/dev/null || true' EXIT

runs() {
  curl -s "127.0.0.1:$listen_port/metrics" |
    awk '/^obsmon_probe_runs_total/ {s += $NF} END {printf "%d\n", s}'
}
# Per thread name: CPU ticks and voluntary context switches, summed over threads of one name
# (one process reads them all, so the snapshot is quick beside the runs counter read next to it).
threads() {
  python3 - "$pid" <<'PY'
import collections, glob, sys
cpu, vol = collections.Counter(), collections.Counter()
for task in glob.glob(f"/proc/{sys.argv[1]}/task/*"):
    try:
        name = open(f"{task}/comm").read().strip().replace(" ", "_")
        stat = open(f"{task}/stat").read().rsplit(")", 1)[1].split()
        cpu[name] += int(stat[11]) + int(stat[12])  # utime, stime: fields 14 and 15
        for line in open(f"{task}/status"):
            if line.startswith("voluntary_ctxt_switches"):
                vol[name] += int(line.split()[1])
    except OSError:
        pass  # a thread that ended meanwhile
for name in sorted(cpu):
    print(name, cpu[name], vol[name])
PY
}

sleep 15  # every probe has run; the first runs' start-up is behind us
hz=$(getconf CLK_TCK)
echo "obsmon $("$obsmon" --version 2>/dev/null | head -1); $n targets at 1 s; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"

threads > "$dir/threads0"; r0=$(runs)
sleep "$window"
r1=$(runs); threads > "$dir/threads1"
echo "== CPU and wake-ups per run, $window s, $((r1 - r0)) runs"
join "$dir/threads0" "$dir/threads1" | awk -v runs=$((r1 - r0)) -v hz="$hz" '
  { cpu = ($4 - $2) / hz * 1e6 / runs; vol = ($5 - $3) / runs; tc += cpu; tv += vol
    if (cpu > 0 || vol > 0) printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", $1, cpu, vol }
  END { printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", "all", tc, tv }'

r0=$(runs)
timeout -s INT 10 strace -c -f -p "$pid" -o "$dir/strace.txt" 2>/dev/null || true
r1=$(runs)
echo "== system calls per run (strace -c -f, 10 s, $((r1 - r0)) runs)"
awk -v runs=$((r1 - r0)) '$1 ~ /^[0-9.]+$/ && NF >= 5 {
    name = $NF; calls = $4; if (calls !~ /^[0-9]+$/ || name == "total") next
    total += calls; printf "  %-16s %6.2f\n", name, calls / runs }
  END { printf "  %-16s %6.2f\n", "all", total / runs }' "$dir/strace.txt"

if command -v perf > /dev/null; then
  perf record -q -e cpu-clock -g -p "$pid" -o "$dir/perf.data" -- sleep "$window" 2>/dev/null
  echo "== perf: CPU by thread"
  perf report -i "$dir/perf.data" --no-children --sort comm --stdio -g none 2>/dev/null | grep '%' | head -8
  echo "== perf: the workers' kernel paths (children included)"
  perf report -i "$dir/perf.data" --children --comm obsmon-worker --sort sym --stdio -g none 2>/dev/null |
    grep -E '\[k\] (__x64_sys_[a-z_0-9]+|do_softirq.part.0)$' | head -12
fi
echo "== runs stored, by outcome (a slow target shows here)"
python3 - "$dir/obsmon.db" <<'PY'
import sqlite3, sys
for row in sqlite3.connect(sys.argv[1]).execute(
        "select success, reason, count(*) from probe_runs group by 1, 2"):
    print("  ", *row)
PY
echo "files: $dir"
