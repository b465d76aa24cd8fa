#!/bin/bash
# The daemon's CPU per probe run, minute by minute, per thread: what grows over the first minutes
# of a run (the writer's pages spreading as its tables grow, the refresh's window filling) and
# what stays flat. obsmon probes N loopback HTTP targets at 1 s (the small Python target of
# daemon_lib.sh, in another process, so none of its CPU is counted); every minute the CPU of
# each thread name from /proc, divided by the runs obsmon counted that minute
# (obsmon_probe_runs_total), RSS, the writer's WAL size and commits, and the writer's read and
# write system calls and bytes written per run (/proc/PID/task/*/io: what grows with its tables).
#
#   bench/cpu_by_minute.sh [N=100] [MINUTES=10] [obsmon binary=build/obsmon]
#   KEEP_ALIVE=1m bench/cpu_by_minute.sh ...   # the probes with keep_alive (daemon_lib.sh)
#
# Two builds side by side: run the script twice at once, one binary each (both then share the
# machine's load alike). Needs python3 and curl.
set -euo pipefail
n=${1:-100}
minutes=${2:-10}
obsmon=${3:-build/obsmon}
dir=$(mktemp -d /tmp/obsmon-cpu-by-minute.XXXXXX)
. "$(dirname "$0")/daemon_lib.sh"
target_port=$(free_port)
listen_port=$(free_port)
start_target "$dir" "$target_port"
probe_config "$listen_port" "$dir/obsmon.db" bench t "$n" "$target_port" > "$dir/obsmon.yml"
"$obsmon" run --config "$dir/obsmon.yml" --log-level warn > "$dir/obsmon.log" 2>&1 &
pid=$!
trap 'kill $pid $target_pid 2>/dev/null || true' EXIT
hz=$(getconf CLK_TCK)
echo "obsmon $obsmon; $n targets at 1 s; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "minute |  runs | us/run all | worker | writer | uptime | RSS MB | WAL MB | commits | writer calls/run | writer KiB/run"
sleep 5
threads "$pid" > "$dir/t0"
read -r calls0 written0 < <(thread_io "$pid" obsmon-writer)
r0=$(runs "$listen_port")
for ((m = 1; m <= minutes; m++)); do
  sleep 60
  threads "$pid" > "$dir/t1"
  read -r calls1 written1 < <(thread_io "$pid" obsmon-writer)
  r1=$(runs "$listen_port")
  body=$(curl -s "127.0.0.1:$listen_port/metrics")
  wal=$(awk '$1 == "obsmon_storage_wal_bytes" {printf "%.1f", $2 / 1048576}' <<< "$body")
  commits=$(awk '$1 == "obsmon_storage_commit_duration_seconds_count" {print $2}' <<< "$body")
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  join "$dir/t0" "$dir/t1" | awk -v m="$m" -v runs=$((r1 - r0)) -v hz="$hz" -v rss="$rss" \
    -v wal="$wal" -v commits="$commits" -v calls=$((calls1 - calls0)) \
    -v written=$((written1 - written0)) '
    { cpu = ($4 - $2) / hz * 1e6 / runs; all += cpu
      if ($1 == "obsmon-worker") worker = cpu
      if ($1 == "obsmon-writer") writer = cpu
      if ($1 == "obsmon-uptime") uptime = cpu }
    END { printf "%6d | %5d | %10.1f | %6.1f | %6.1f | %6.1f | %6s | %6s | %7s | %16.2f | %13.2f\n",
            m, runs, all, worker, writer, uptime, rss, wal, commits, calls / runs,
            written / runs / 1024 }'
  mv "$dir/t1" "$dir/t0"
  r0=$r1
  calls0=$calls1
  written0=$written1
done
echo "files: $dir"
