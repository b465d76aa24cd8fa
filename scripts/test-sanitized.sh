#!/usr/bin/env bash
# Builds obsmon with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan and runs the
# unit and integration tests under them (the integration tests start the sanitized obsmon as a
# real process). Any report fails the run: in a test binary, in obsmon or in any other child.
# scripts/test.sh (CI) runs it after the normal suite; docs/fuzzing.md has the timings.
# Usage: scripts/test-sanitized.sh [extra ctest arguments, e.g. -L unit or -R Foo]
# OBSMON_JOBS sets -j (default: nproc); OBSMON_ASAN_BUILD_DIR the build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${OBSMON_ASAN_BUILD_DIR:-build-asan}
JOBS=${OBSMON_JOBS:-$(nproc)}
launcher=()
# The sloppiness lets ccache cache the test files, which use a precompiled header
# (tests/CMakeLists.txt); without it it compiles every one of them again.
if command -v ccache >/dev/null; then
  launcher=("-DCMAKE_CXX_COMPILER_LAUNCHER=env;CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime;ccache")
fi
# -O1 -g1 instead of RelWithDebInfo's -O2 -g: a third of the compile time with the sanitizers
# (docs/fuzzing.md, "Sanitizer build"), and the same stack traces (-g1 keeps line tables and
# inlined frames).
start=$SECONDS
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DOBSMON_SANITIZE=address,undefined -DOBSMON_BUILD_BENCH=OFF "${launcher[@]}"
cmake --build "$BUILD_DIR" -j"$JOBS"
echo "test-sanitized: build took $((SECONDS - start))s"

# Where the reports go. g++'s runtime writes ASan and LSan reports to log_path (one file per
# process), but UBSan's always to stderr (GCC bug 94328), so:
# - every sanitizer aborts (abort_on_error=1): a test binary with a report fails in ctest, and a
#   child of a test (obsmon, the demo component) dies by SIGABRT, which tests/support/subprocess.h
#   turns into a failure of the test that started it, with the child's output (its stderr);
# - any file in $reports fails this script, even if the test that caused it passed, and is shown.
reports=$(cd "$BUILD_DIR" && pwd)/sanitizer-reports
rm -rf "$reports"
mkdir -p "$reports"
# detect_leaks: a leak is a finding too. halt_on_error: the first report ends the process.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}:log_path=$reports/asan"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:abort_on_error=1}

# The whole suite, as scripts/test.sh runs it (the integration tests beside each other, but for
# the two SERIAL ones); less the two checks that read the sources rather than run them (the layers and clang's
# thread-safety analysis, which the normal suite already ran on the same code), and the three
# longest integration tests (chaos, the side-by-side with Prometheus, series churn: 3 of the
# normal run's 8 minutes, more under ASan), whose daemon paths the other integration tests
# (durability, reload, faults, hostile input) run sanitized too; and the refresher's share of a
# core and the refresher's other pacing tests (127 + 60 s under ASan: they measure CPU and
# pace over a day of stored runs, which ASan stretches; the refresher and its pacing run
# sanitized in every test that starts the daemon). CI's length: stops 47-49 50-54 min; about
# 45 is asked (docs/fuzzing.md, "CI's length"). OBSMON_SANITIZE_ALL=1 runs them as well.
status=0
tests_start=$SECONDS
exclude='^(layering_test|thread_safety_check)$'
if [ "${OBSMON_SANITIZE_ALL:-0}" != 1 ]; then
  exclude='^(layering_test|thread_safety_check|OpsChaosTest\..*|AlertsSideBySideTest\..*|OpsSeriesChurnTest\..*|OpsRefreshPacingTest\..*)$'
fi
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$JOBS" --timeout 600 -E "$exclude" "$@") ||
  status=1
echo "test-sanitized: tests took $((SECONDS - tests_start))s"
if [ -n "$(ls -A "$reports")" ]; then
  for f in "$reports"/*; do
    echo "=== sanitizer report $f"
    cat "$f"
  done
  echo "test-sanitized: $(ls "$reports" | wc -l) sanitizer report file(s), shown above" >&2
  status=1
fi
exit "$status"
