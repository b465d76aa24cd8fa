#!/bin/bash
# Two obsmon binaries side by side, at once (so both share the machine's load alike), each
# probing N loopback HTTP targets at 1 s (its own Python target from daemon_lib.sh, outside the
# measured process): per thread name, CPU and voluntary context switches (wake-ups) per run
# from /proc over one window, then each database's run count and mean stored duration.
#
#   bench/probe_ab.sh N WINDOW_S WARM_S BINARY_A BINARY_B
#   KEEP_ALIVE=1m bench/probe_ab.sh 100 120 40 /tmp/obsmon-before build/obsmon
#
# Add a CPU-bound process beside it (e.g. `timeout 200 sh -c 'while :; do :; done' &`) to see
# what a busy machine does to each. Needs python3 and curl.
#
# TARGET_BIN=build/bench/loopback_target: each side probes that target instead (cpp-httplib, 4
# threads, as bench/compare.sh's probe sections do), which answers a batch's requests at once
# where the Python target answers one after another. EXTRA_A, EXTRA_B: YAML lines added to
# side A's or B's config (e.g. EXTRA_B='batch_window: 250ms' with the same binary twice).
set -euo pipefail
n=$1 window=$2 warm=$3
bins=("$4" "$5")
. "$(dirname "$0")/daemon_lib.sh"
hz=$(getconf CLK_TCK)
pids=() ports=() dirs=() targets=()
trap 'kill "${pids[@]}" "${targets[@]}" 2>/dev/null || true' EXIT
for k in 0 1; do
  d=$(mktemp -d /tmp/obsmon-probe-ab.XXXXXX)
  listen_port=$(free_port)
  if [ -n "${TARGET_BIN:-}" ]; then
    "$TARGET_BIN" ${KEEP_ALIVE:+keep} > "$d/target.port" 2> "$d/target.log" &
    target_pid=$!
    for _ in $(seq 100); do [ -s "$d/target.port" ] && break; sleep 0.1; done
    target_port=$(cat "$d/target.port")
  else
    target_port=$(free_port)
    start_target "$d" "$target_port"
  fi
  targets+=("$target_pid")
  extra=EXTRA_$([ "$k" = 0 ] && echo A || echo B)
  probe_config "$listen_port" "$d/obsmon.db" bench t "$n" "$target_port" "${!extra:-}" \
    > "$d/obsmon.yml"
  "${bins[$k]}" run --config "$d/obsmon.yml" --log-level warn > "$d/obsmon.log" 2>&1 &
  pids+=($!) ports+=("$listen_port") dirs+=("$d")
done
sleep "$warm"
r0=()
for k in 0 1; do threads "${pids[$k]}" > "${dirs[$k]}/t0"; r0+=("$(runs "${ports[$k]}")"); done
sleep "$window"
for k in 0 1; do
  threads "${pids[$k]}" > "${dirs[$k]}/t1"
  r1=$(runs "${ports[$k]}")
  extra=EXTRA_$([ "$k" = 0 ] && echo A || echo B)
  echo "== ${bins[$k]}${!extra:+ with ${!extra}}: $((r1 - r0[k])) runs in $window s (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  join "${dirs[$k]}/t0" "${dirs[$k]}/t1" | awk -v runs=$((r1 - r0[k])) -v hz="$hz" '
    { cpu = ($4 - $2) / hz * 1e6 / runs; vol = ($5 - $3) / runs; tc += cpu; tv += vol
      if (cpu > 0 || vol > 0.01) printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", $1, cpu, vol }
    END { printf "  %-16s %8.1f us/run %6.2f wake-ups/run\n", "all", tc, tv }'
  python3 - "${dirs[$k]}/obsmon.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
n, mean, down = c.execute(
    "SELECT count(*), avg(duration_seconds) * 1e3, sum(success = 0) FROM probe_runs").fetchone()
print(f"  stored: {n} runs, mean duration {mean:.3f} ms, {down} down")
PY
done
echo "files: ${dirs[*]}"
