#!/usr/bin/env bash
# chaos: the CI chaos test of the real obsmon (tests/integration/ops_chaos_test.cc), run for longer.
# A flapping loopback target and a log under real logrotate are the truth; obsmon watches both
# while every CLI command, sqlite3 reads / writes / .backup, SIGHUP reloads that change the probes
# and kill -9 + restart happen round after round. At the end the report must agree with the truth,
# the log counts must be exact and no committed run may be missing (see the test's header).
#
#   bench/chaos.sh                 # 30 min of chaos (OBSMON_CHAOS_SECONDS=1800)
#   bench/chaos.sh 600             # 10 min
#   OBSMON_TEST_BINARY=/path/to/older/obsmon bench/chaos.sh 120   # another obsmon binary
#   OBSMON_CHAOS_SEED=1234 bench/chaos.sh                          # replay a seed
#
# Needs the test built: cmake --build build --target ops_chaos_test obsmon (OBSMON_BUILD_DIR=build),
# and sqlite3 + logrotate (scripts/install-deps.sh --with-test-tools).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${OBSMON_BUILD_DIR:-$ROOT/build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
TEST=$BUILD/tests/integration/ops_chaos_test

die() { echo "chaos: $*" >&2; exit 1; }

[[ -x $TEST ]] || die "$TEST not built: cmake --build $BUILD --target ops_chaos_test obsmon"
for tool in sqlite3 logrotate; do
  PATH=$PATH:/usr/sbin:/sbin command -v "$tool" >/dev/null ||
    die "$tool not found: scripts/install-deps.sh --with-test-tools"
done

export OBSMON_CHAOS_SECONDS=${1:-${OBSMON_CHAOS_SECONDS:-1800}}
echo "chaos: ${OBSMON_CHAOS_SECONDS} s against ${OBSMON_TEST_BINARY:-$BUILD/obsmon}" >&2
exec "$TEST" --gtest_brief=0
