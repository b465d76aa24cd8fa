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
. "$(dirname "$0")/daemon_lib.sh"
target_port=$(free_port)
listen_port=$(free_port)
start_target "$dir" "$target_port"
probe_config "$listen_port" "$dir/obsmon.db" bench t "$n" "$target_port" > "$dir/obsmon.yml"
"$obsmon" run --config "$dir/obsmon.yml" --log-level warn > "$dir/obsmon.log" 2>&1 &
pid=$!
trap 'kill $pid $target_pid 2>/dev/null || true' EXIT

sleep 15  # every probe has run; the first runs' start-up is behind us
hz=$(getconf CLK_TCK)
echo "obsmon $("$obsmon" --version 2>/dev/null | head -1); $n targets at 1 s; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"

threads "$pid" > "$dir/threads0"; r0=$(runs "$listen_port")
sleep "$window"
r1=$(runs "$listen_port"); threads "$pid" > "$dir/threads1"
echo "== CPU and wake-ups per run, $window s, $((r1 - r0)) runs"
join "$dir/threads0" "$dir/threads1" | awk -v runs=$((r1 - r0)) -v hz="$hz" '
  { cpu = ($4 - $2) / hz * 1e6 / runs; vol = ($5 - $3) / runs; tc += cpu; tv += vol
    if (cpu > 0 || vol > 0) printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", $1, cpu, vol }
  END { printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", "all", tc, tv }'

r0=$(runs "$listen_port")
timeout -s INT 10 strace -c -f -p "$pid" -o "$dir/strace.txt" 2>/dev/null || true
r1=$(runs "$listen_port")
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
