#!/usr/bin/env bash
# What a log probe over many idle files costs at steady state: N files of SIZE bytes (python
# logging lines, no match) under one glob at interval 1 s, obsmon's RSS every 10 s for SECONDS,
# then the sizes /metrics gives of what holds memory. docs/log-probe.md ("Files that come and
# go") quotes its output.
# Usage: bench/log_files_memory.sh [N=5000] [SIZE=15000] [SECONDS=180]
# OBSMON (default build/obsmon) is the binary. Everything is made in a temporary directory,
# removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/daemon_lib.sh
files=${1:-5000}
size=${2:-15000}
duration=${3:-180}
obsmon=${OBSMON:-build/obsmon}
dir=$(mktemp -d)
pid=
cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$dir"
}
trap cleanup EXIT
mkdir "$dir/logs"
python3 - "$dir/logs" "$files" "$size" <<'PY'
import sys
line = "2026-12-04 10:00:00,123 INFO app.worker processed request id=123456 in 12ms status=ok\n"
text = line * max(1, int(sys.argv[3]) // len(line))
for i in range(int(sys.argv[2])):
    open(f"{sys.argv[1]}/f{i:06d}.log", "w").write(text)
PY
port=$(free_port)
cat > "$dir/obsmon.yml" <<EOF
listen: 127.0.0.1:$port
storage:
  path: $dir/obsmon.db
components:
  - name: logs
    probes:
      - {name: files, kind: log, paths: ['$dir/logs/*.log'], interval: 1s, timeout: 900ms,
         max_files: $((files + 10))}
EOF
"$obsmon" run --config "$dir/obsmon.yml" > "$dir/obsmon.log" 2>&1 &
pid=$!
echo "files $files of $size bytes, interval 1s, ${duration}s"
rss=()
for ((t = 10; t <= duration; t += 10)); do
  sleep 10
  kill -0 "$pid" || { cat "$dir/obsmon.log"; exit 1; }
  rss+=("$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")")
done
printf '%s\n' "${rss[@]}" | sort -n | awk '{v[NR] = $1} END {
  printf "RSS MB min %.1f median %.1f max %.1f (%d samples, every 10 s)\n",
    v[1] / 1024, v[int((NR + 1) / 2)] / 1024, v[NR] / 1024, NR}'
echo "RSS MB in time order: $(printf '%s\n' "${rss[@]}" | awk '{printf "%.0f ", $1 / 1024}')"
read -r _ _ _ _ _ _ _ _ _ _ _ _ _ utime stime _ < "/proc/$pid/stat"
echo "CPU $(awk -v t=$((utime + stime)) -v hz="$(getconf CLK_TCK)" -v d="$duration" \
  'BEGIN {printf "%.1f %% of a core", 100 * t / hz / d}') (from the start)"
curl -s "127.0.0.1:$port/metrics" | grep -E '^obsmon_(log_files_followed|sqlite_memory_bytes|heap_bytes|storage_series_id_cache_entries|exported_series |storage_queue_rows)'
