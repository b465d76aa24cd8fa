#!/usr/bin/env bash
# The fuzz campaign of docs/fuzzing.md: builds the libFuzzer targets (clang, ASan + UBSan) into
# build-fuzz, then runs each one after the other, for the given time, on a fresh writable copy of
# its seeds, and prints a summary table (Markdown) of libFuzzer's final stats.
#
# Usage: scripts/fuzz-campaign.sh [seconds] [target...]
#   seconds   per target, default 600 (issue 13: at least 10 minutes per change to a target)
#   target    default: all eleven, in the campaign's order
# Environment:
#   OBSMON_FUZZ_BUILD_DIR  build directory (default build-fuzz)
#   OBSMON_FUZZ_WORK       corpora, artifacts and logs (default /tmp/obsmon-fuzz-campaign)
#   OBSMON_FUZZ_RSS_MB     libFuzzer's -rss_limit_mb (default 2048)
#   OBSMON_FUZZ_KEEP=1     keep a previous run's grown corpus instead of starting from the seeds
#   OBSMON_JOBS            build parallelism (default 1: the campaign runs beside other work)
#
# Long and CPU-bound: this is run by hand, never in CI (it refuses when CI is set).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -n "${CI:-}" ]]; then
  echo "fuzz-campaign.sh: not run in CI (CI=$CI); see docs/fuzzing.md" >&2
  exit 2
fi

SECONDS_PER_TARGET=${1:-600}
shift || true
ALL_TARGETS=(fuzz_config fuzz_alerting_config fuzz_codecarbon fuzz_rule_file fuzz_rule_test
             fuzz_promql fuzz_template
             fuzz_exposition fuzz_log_lines fuzz_proc fuzz_http_request fuzz_http_response
             fuzz_store_answer)
if (($# > 0)); then TARGETS=("$@"); else TARGETS=("${ALL_TARGETS[@]}"); fi
BUILD_DIR=${OBSMON_FUZZ_BUILD_DIR:-build-fuzz}
WORK=${OBSMON_FUZZ_WORK:-/tmp/obsmon-fuzz-campaign}
RSS_MB=${OBSMON_FUZZ_RSS_MB:-2048}
JOBS=${OBSMON_JOBS:-1}

launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
CC=clang CXX=clang++ cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DOBSMON_FUZZ=ON -DOBSMON_SANITIZE=address,undefined \
  -DOBSMON_BUILD_TESTS=OFF -DOBSMON_BUILD_BENCH=OFF "${launcher[@]}" >/dev/null
nice -n 10 cmake --build "$BUILD_DIR" -j"$JOBS" --target "${TARGETS[@]}"

# final_stat <log> <name>: a -print_final_stats=1 line, e.g. "stat::peak_rss_mb: 512".
final_stat() { sed -n "s/^stat::$2: *//p" "$1" | tail -n1; }

rows=()
for t in "${TARGETS[@]}"; do
  dir="$WORK/$t"
  if [[ "${OBSMON_FUZZ_KEEP:-0}" != 1 ]]; then rm -rf "$dir"; fi
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp -n fuzz/corpus/"$t"/* "$dir/corpus/" 2>/dev/null || true
  echo "== $t: ${SECONDS_PER_TARGET}s, log $dir/fuzz.log" >&2
  rc=0
  # One fuzzer at a time, niced: the machine is shared.
  nice -n 15 "$BUILD_DIR/fuzz/$t" "$dir/corpus" -max_total_time="$SECONDS_PER_TARGET" \
    -timeout=10 -rss_limit_mb="$RSS_MB" -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" >"$dir/fuzz.log" 2>&1 || rc=$?
  execs=$(final_stat "$dir/fuzz.log" number_of_executed_units)
  rate=$(final_stat "$dir/fuzz.log" average_exec_per_sec)
  rss=$(final_stat "$dir/fuzz.log" peak_rss_mb)
  last=$(grep -E '^#[0-9]+.*cov: ' "$dir/fuzz.log" | tail -n1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<<"$last")
  findings=$(find "$dir/artifacts" -type f -printf '%f ' 2>/dev/null)
  [[ $rc -ne 0 && -z "$findings" ]] && findings="exit $rc"
  rows+=("| \`$t\` | ${execs:-?} | ${rate:-?} | ${cov:-?} / ${ft:-?} | ${corp:-?} | ${rss:-?} MB | ${findings:-none} |")
done

echo
echo "| target | execs | exec/s | cov / ft | corpus (inputs/bytes) | peak RSS | findings |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
printf '%s\n' "${rows[@]}"
