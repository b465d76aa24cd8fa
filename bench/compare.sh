#!/usr/bin/env bash
# compare: every side by side of docs/benchmarks.md in one go, on this machine, and one table of
# ratios with min-median-max. Installs nothing: it needs the build (scripts/build.sh builds the
# benches) and the tools the tests install (prometheus, prometheus-blackbox-exporter, promtool,
# grep, ripgrep's rg, python3, curl).
#
#   bench/compare.sh            # the full run, about 150 minutes on 2 cores
#   WARMUP_S=30 bench/compare.sh  # the same with 30 s of warm-up (30 minutes): obsmon's CPU per
#                               # run is then that of its first minutes, lower than later
#   bench/compare.sh --quick    # every section, shortened (about 12 minutes): checks the set-up;
#                               # its figures are not steady state and are marked so
#   SECTIONS="probes100_kept probes1000_kept" bench/compare.sh   # only those sections
#
# Sections, one after the other (never two at once, so they do not share the CPU):
#   probes 100, probes 1000  bench/probe_stack_bench: obsmon beside blackbox_exporter + Prometheus
#                            on the same loopback targets at 1 s, both at once; 20 minutes of
#                            warm-up (WARMUP_S): obsmon's writer costs more a run as its tables
#                            grow (docs/benchmarks.md, "The writer at steady state"), so the
#                            windows of 60 s measure both at steady state, not their first minutes;
#                            in each window a bare loop of socket/connect/send/recv/close at the
#                            same pace on the same target (bench/connect_floor_bench) gives the
#                            kernel's part of a run that hour, and obsmon's figure over it
#   probes 100 kept,         the same with obsmon's probes at keep_alive: 1m (a run reuses the
#   probes 1000 kept         connection of the one before; blackbox_exporter cannot)
#   probes 100 week          the same 100 targets with obsmon on a database already holding a
#                            week of their runs (WEEK_DAYS; bench/report_memory_bench writes it
#                            first, about 5 minutes, and it is removed after): what a user's
#                            daemon costs a week into an observation
#   log scan                 bench/log_compare.sh: the daemon's log probe against grep -E and rg,
#                            page cache warm and cold, on generated python/json/nginx/long logs
#   logfollow                bench/log_follow_compare.sh: the log probe beside `tail -F | grep -E`
#                            and mtail while a writer appends to one file at 1,000 and 20,000
#                            lines a second and rotates it (CPU per appended MB, drain, RSS)
#   rules                    bench/rules_vs_prometheus.sh: 1,000 rules x 10,000 series
#   report                   bench/report_vs_prometheus.sh: the 7-day report against PromQL
# Each section's whole output is kept in the log directory printed at the start; the table is
# built from the "RESULT name min median max" lines the sections print. Environment: WINDOWS,
# WINDOW_S, WARMUP_S, LOG_MB, LOG_RUNS, REPS, CYCLES, WEEK_DAYS override the sizes;
# OBSMON_BUILD_DIR the build. SIGTERM, SIGINT or SIGHUP stops the running section and everything
# it started, and the script.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${OBSMON_BUILD_DIR:-build}
QUICK=0
if [ "${1:-}" = "--quick" ]; then QUICK=1; fi
if [ "$QUICK" = 1 ]; then
  WINDOWS=${WINDOWS:-2} WINDOW_S=${WINDOW_S:-20} WARMUP_S=${WARMUP_S:-10} LOG_MB=${LOG_MB:-50} LOG_RUNS=${LOG_RUNS:-2}
  FOLLOW_S=${FOLLOW_S:-20}
  REPS=${REPS:-3} CYCLES=${CYCLES:-3} RULES_WARM_S=30 WEEK_DAYS=${WEEK_DAYS:-1}
else
  WINDOWS=${WINDOWS:-3} WINDOW_S=${WINDOW_S:-60} WARMUP_S=${WARMUP_S:-1200} LOG_MB=${LOG_MB:-400} LOG_RUNS=${LOG_RUNS:-3}
  FOLLOW_S=${FOLLOW_S:-120}
  REPS=${REPS:-5} CYCLES=${CYCLES:-8} RULES_WARM_S=330 WEEK_DAYS=${WEEK_DAYS:-7}
fi
missing=()
for tool in prometheus prometheus-blackbox-exporter promtool grep rg python3 curl tail mtail; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
for bin in obsmon bench/probe_stack_bench bench/rules_bench bench/log_scan_bench bench/log_writer \
  bench/report_bench bench/report_memory_bench; do
  [ -x "$BUILD/$bin" ] || missing+=("$BUILD/$bin (scripts/build.sh)")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "compare: missing ${missing[*]}" >&2
  exit 2
fi

ALL="probes100 probes1000 probes100_kept probes1000_kept probes100_week log logfollow rules report"
SECTIONS=${SECTIONS:-$ALL}
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/obsmon-compare.XXXXXX")
echo "compare: $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo)," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg); $(git rev-parse --short HEAD 2>/dev/null || echo '?');" \
  "logs in $LOGS$([ "$QUICK" = 1 ] && echo '; QUICK: not steady state'); sections: $SECTIONS"
start=$SECONDS
# Each section runs in a process group of its own (setsid), so that a SIGTERM, SIGINT or SIGHUP
# to this script stops the section and everything it started (obsmon, blackbox_exporter,
# Prometheus, targets), not only the section's first process: fresh eyes found a killed run's
# daemons probing on with no end.
child=
stop() {
  trap - TERM INT HUP
  if [ -n "$child" ]; then
    kill -TERM -- "-$child" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 -- "-$child" 2>/dev/null || break; sleep 0.2; done
    kill -KILL -- "-$child" 2>/dev/null || true
  fi
  echo "compare: stopped; the sections' output so far is in $LOGS" >&2
  exit 143
}
trap stop TERM INT HUP
section() {  # section NAME COMMAND...: runs it, keeps its output, says how long it took
  local name=$1
  shift
  case " $SECTIONS " in *" $name "*) ;; *) return 0 ;; esac
  local t0=$SECONDS
  echo "== $name: $*"
  local rc=0
  setsid "$@" >"$LOGS/$name.txt" 2>&1 &
  child=$!
  wait "$child" || rc=$?
  child=
  if [ "$rc" != 0 ]; then
    echo "   FAILED (exit $rc); its output: $LOGS/$name.txt" >&2
    tail -20 "$LOGS/$name.txt" >&2
    echo "RESULT ${name}_failed 0 0 0" >>"$LOGS/failed.txt"
  fi
  echo "   $((SECONDS - t0)) s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
}
# The fresh-connection sections also time a bare connect loop in each window, beside the same
# stack on the same target (OBSMON_BENCH_FLOOR): the part of a run no probe that connects afresh
# avoids on this machine in that hour.
section probes100 env OBSMON_BENCH_FLOOR=1 "$BUILD/bench/probe_stack_bench" 100 "$WINDOWS" \
  "$WINDOW_S" 1000 "$WARMUP_S"
section probes1000 env OBSMON_BENCH_FLOOR=1 "$BUILD/bench/probe_stack_bench" 1000 "$WINDOWS" \
  "$WINDOW_S" 1000 "$WARMUP_S"
section probes100_kept env OBSMON_BENCH_KEEP_ALIVE=1m "$BUILD/bench/probe_stack_bench" 100 \
  "$WINDOWS" "$WINDOW_S" 1000 "$WARMUP_S"
section probes1000_kept env OBSMON_BENCH_KEEP_ALIVE=1m "$BUILD/bench/probe_stack_bench" 1000 \
  "$WINDOWS" "$WINDOW_S" 1000 "$WARMUP_S"
# A week in: the same 100 targets, obsmon on a database that already holds WEEK_DAYS days of
# their runs (written first, a few minutes, then removed).
section probes100_week bash -c '"$1/bench/report_memory_bench" --probes 100 --days "$2" --db "$3" \
  --end-now && OBSMON_BENCH_WEEK_DB="$3" "$1/bench/probe_stack_bench" 100 "$4" "$5" 1000 "$6"; \
  rc=$?; rm -f "$3" "$3-wal" "$3-shm" "$3.lock"; exit $rc' \
  week "$BUILD" "$WEEK_DAYS" "$LOGS/week.db" "$WINDOWS" "$WINDOW_S" "$WARMUP_S"
section log env OBSMON_BUILD_DIR="$BUILD" bench/log_compare.sh --size-mb "$LOG_MB" \
  --runs "$LOG_RUNS" --cold-runs "$LOG_RUNS" --obsmon "$BUILD/obsmon" --bench "$BUILD/bench/log_scan_bench"
section logfollow bench/log_follow_compare.sh --seconds "$FOLLOW_S" --runs "$LOG_RUNS" \
  --obsmon "$BUILD/obsmon" --bench "$BUILD/bench/log_scan_bench" --writer "$BUILD/bench/log_writer"
section rules env OBSMON_BUILD_DIR="$BUILD" CYCLES="$CYCLES" RULES_WARM_S="$RULES_WARM_S" \
  bench/rules_vs_prometheus.sh
section report env OBSMON_BUILD_DIR="$BUILD" REPS="$REPS" bench/report_vs_prometheus.sh

cat "$LOGS"/*.txt | grep -h '^RESULT ' >"$LOGS/results.txt" || true
echo
echo "compare: $((SECONDS - start)) s in all; load average at the end $(cut -d' ' -f1-3 /proc/loadavg)"
python3 bench/compare_table.py "$LOGS/results.txt" "$QUICK" "$SECTIONS"
