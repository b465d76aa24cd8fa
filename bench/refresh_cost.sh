#!/bin/bash
# What the daemon costs a week into an observation, beside the same daemon on its first minutes:
# the uptime refresh rebuilds each component's live report (uptime, incidents, exact latency
# percentiles) over its whole window, so its CPU grows with the stored runs, which a benchmark
# of a few minutes never sees. Two runs of the real daemon, one after the other, each with N http
# health probes of one component at 1 s against a small Python target (outside obsmon):
#   fresh       an empty database;
#   week in     a database holding DAYS days of the same N probes' 1-second runs, ending now
#               (written through the real writer by bench/report_memory_bench --end-now).
# The week-in database is run twice: unpaced (uptime_refresh_max_cpu_percent: 100, a refresh
# every uptime_refresh whatever it costs, as before that setting) and with the default pacing.
# Each run: 60 s to settle, then WINDOW seconds; CPU per thread name (from /proc) divided by the
# runs obsmon counted in the window, the refreshes it made (obsmon_uptime_refreshes_total) and
# how many of them read the latency again (obsmon_uptime_latency_refreshes_total; the others carry
# it over).
#
#   bench/refresh_cost.sh [N=100] [DAYS=7] [WINDOW_S=300] [BUILD=build]
#
# Needs python3 and curl. The week's database is kept in the directory printed at the end (it
# takes a few minutes to write; REFRESH_COST_DB=PATH reuses one).
set -euo pipefail
n=${1:-100}
days=${2:-7}
window=${3:-300}
build=${4:-build}
obsmon=$build/obsmon
dir=$(mktemp -d /tmp/obsmon-refresh-cost.XXXXXX)
. "$(dirname "$0")/daemon_lib.sh"
target_port=$(free_port)
start_target "$dir" "$target_port"
trap 'kill $target_pid 2>/dev/null || true' EXIT
hz=$(getconf CLK_TCK)

week_db=${REFRESH_COST_DB:-$dir/week.db}
if [ ! -e "$week_db" ]; then
  "$build/bench/report_memory_bench" --probes "$n" --days "$days" --db "$week_db" --end-now
fi

# metric PORT NAME: the value of an unlabelled series on obsmon's /metrics (empty if absent).
metric() {
  curl -s "127.0.0.1:$1/metrics" | awk -v name="$2" '$1 == name {print $NF}'
}

# measure LABEL DB [CONFIG LINE]: one daemon on DB; prints its line of the table.
measure() {
  local label=$1 db=$2 extra=${3:-} port
  port=$(free_port)
  probe_config "$port" "$db" carbon health- "$n" "$target_port" "$extra" > "$dir/$label.yml"
  "$obsmon" run --config "$dir/$label.yml" --log-level warn > "$dir/$label.log" 2>&1 &
  local pid=$!
  sleep 60
  threads "$pid" > "$dir/$label.threads0"
  local r0 f0 l0 r1 f1 l1
  r0=$(runs "$port")
  f0=$(metric "$port" obsmon_uptime_refreshes_total)
  l0=$(metric "$port" obsmon_uptime_latency_refreshes_total)
  sleep "$window"
  r1=$(runs "$port")
  f1=$(metric "$port" obsmon_uptime_refreshes_total)
  l1=$(metric "$port" obsmon_uptime_latency_refreshes_total)
  threads "$pid" > "$dir/$label.threads1"
  local rss
  rss=$(awk '/VmRSS/ {printf "%.1f", $2 / 1024}' "/proc/$pid/status")
  kill "$pid"
  wait "$pid" || true
  join "$dir/$label.threads0" "$dir/$label.threads1" | awk -v runs=$((r1 - r0)) -v hz="$hz" \
    -v label="$label" -v refreshes="$(awk -v a="${f0:-0}" -v b="${f1:-0}" 'BEGIN {print b - a}')" \
    -v reads="$(awk -v a="${l0:-0}" -v b="${l1:-0}" 'BEGIN {print b - a}')" \
    -v window="$window" -v rss="$rss" '
    { cpu = ($4 - $2) / hz; all += cpu; if ($1 == "obsmon-uptime") refresh += cpu }
    END { printf "%-8s | %7d | %9.1f | %9.1f | %11.1f | %9d | %13d | %14.3f | %6s\n", label,
            runs, all * 1e6 / runs, (all - refresh) * 1e6 / runs, refresh * 1e6 / runs, refreshes,
            reads, (refreshes > 0 ? refresh / refreshes : 0), rss }'
}

echo "obsmon $("$obsmon" --version 2>/dev/null | head -1); $n health probes at 1 s; $days days stored for 'week in'; windows of $window s; $(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "run      |    runs | us/run all | us/run but refresh | refresh us/run | refreshes | latency reads | CPU s/refresh | RSS MB"
measure fresh "$dir/fresh.db"
measure unpaced "$week_db" "uptime_refresh_max_cpu_percent: 100"
measure paced "$week_db"
echo "files: $dir"
