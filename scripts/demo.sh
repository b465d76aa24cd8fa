#!/usr/bin/env bash
# The README's main command: installs what is missing, builds, starts the bundled demo component
# (a stand-in for the Carbon component) and obsmon watching it with examples/obsmon.yml.
# Ctrl-C, or SIGTERM to this script's pid, stops both (obsmon drains its queue first); the history
# stays in var/obsmon.db.
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
obsmon_pid=""
# Whatever ends this script ends its children: a `kill PID` of the script must not leave obsmon
# holding port 9950 and the database lock. SIGTERM makes obsmon drain before it exits.
stop_children() {
  trap - EXIT INT TERM
  if [ -n "$obsmon_pid" ]; then kill -TERM "$obsmon_pid" 2>/dev/null || true; fi
  kill -TERM "$demo_pid" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop_children EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
cat <<MSG

obsmon is starting. In another terminal:
  curl -s http://127.0.0.1:9950/api/v1/components      # current state
  curl -s http://127.0.0.1:9950/metrics                 # for Prometheus
  $BUILD_DIR/obsmon report carbon --config examples/obsmon.yml --last 1h
  curl -s 'http://127.0.0.1:9950/api/v1/components/carbon/report?last=1h&format=markdown'

MSG
# In the background, so that this shell handles signals while obsmon runs (bash runs a trap only
# after the foreground command returns).
"$BUILD_DIR/obsmon" run --config examples/obsmon.yml "$@" &
obsmon_pid=$!
wait "$obsmon_pid"
