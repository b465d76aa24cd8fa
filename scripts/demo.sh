#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts the bundled demo component
# (a stand-in for the Carbon component) and obsmon watching it with examples/obsmon.yml.
# Ctrl-C stops both; the history stays in var/obsmon.db.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh --target obsmon obsmon-demo-component
BUILD_DIR=${OBSMON_BUILD_DIR:-build}
mkdir -p var var/codecarbon
# The demo fails for 20s every 3 minutes (and now and then at random), and logs ERROR and
# CRITICAL lines, so there is something to see within a minute.
"$BUILD_DIR/examples/demo_component/obsmon-demo-component" serve --port 18080 \
  --log var/carbon.log --fail-every 3m --fail-for 20s --carbon-dir var/codecarbon &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null || true' EXIT
cat <<MSG

obsmon is starting. In another terminal:
  curl -s http://127.0.0.1:9950/api/v1/components      # current state
  curl -s http://127.0.0.1:9950/metrics                 # for Prometheus
  $BUILD_DIR/obsmon report carbon --config examples/obsmon.yml --last 1h
  curl -s 'http://127.0.0.1:9950/api/v1/components/carbon/report?last=1h&format=markdown'

MSG
"$BUILD_DIR/obsmon" run --config examples/obsmon.yml "$@"
