#!/usr/bin/env bash
# The README's test command (CI runs exactly this): installs what is missing, builds, runs the
# whole test suite, then the whole suite again built with ASan + UBSan (scripts/test-sanitized.sh,
# issue 13; OBSMON_SANITIZED=0 skips it). Extra arguments go to both ctest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
scripts/install-deps.sh --with-test-tools
scripts/build.sh
BUILD_DIR=${OBSMON_BUILD_DIR:-build}
(cd "$BUILD_DIR" && ctest --output-on-failure -j"$(nproc)" --timeout 600 "$@")
echo "test.sh: normal build and tests took $((SECONDS - start))s"
if [ "${OBSMON_SANITIZED:-1}" != 0 ]; then
  scripts/test-sanitized.sh "$@"
  echo "test.sh: everything took $((SECONDS - start))s"
fi
