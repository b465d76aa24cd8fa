#!/usr/bin/env bash
# Builds obsmon with AddressSanitizer and UndefinedBehaviorSanitizer into build-asan and runs the
# unit tests (label `unit`) under them. Any report fails the run (-fno-sanitize-recover=all).
# Usage: scripts/test-sanitized.sh [extra ctest arguments]; OBSMON_JOBS sets the build's -j.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${OBSMON_ASAN_BUILD_DIR:-build-asan}
JOBS=${OBSMON_JOBS:-$(nproc)}
launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
# -O1 -g1 instead of RelWithDebInfo's -O2 -g: a third of the compile time with the sanitizers
# (docs/fuzzing.md, "Sanitizer build"), and the same stack traces (-g1 keeps line tables and
# inlined frames).
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
  -DOBSMON_SANITIZE=address,undefined -DOBSMON_BUILD_BENCH=OFF "${launcher[@]}"
cmake --build "$BUILD_DIR" -j"$JOBS"
# detect_leaks: a leak is a finding too. halt_on_error: the first report ends the test.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$BUILD_DIR"
ctest -L unit --output-on-failure -j"$JOBS" --timeout 600 "$@"
