#!/usr/bin/env bash
# Installs what obsmon needs to build, run and test, from Debian 12's packages. Idempotent: it asks
# apt only for what is missing. Run as root (or with sudo available).
set -euo pipefail

BUILD_PKGS=(build-essential cmake pkg-config ninja-build ccache
  prometheus-cpp-dev libcpp-httplib-dev libsqlitecpp-dev libsqlite3-dev libspdlog-dev libfmt-dev
  libgtest-dev libgmock-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libre2-dev zlib1g-dev
  libssl-dev libkainjow-mustache-dev
  libprotobuf-dev protobuf-compiler libsnappy-dev)  # remote_write: protobuf WriteRequest, snappy block
# Real parts the tests start: Prometheus's own tools are the oracle for exposition and rules.
TEST_PKGS=(sqlite3 curl python3 prometheus prometheus-alertmanager logrotate procps chromium
  prometheus-blackbox-exporter python3-prometheus-client systemd openssl
  libcap2-bin  # setcap: a daemon binary given a file capability starts once (ops_memory_test)
  victoria-metrics  # a second remote_write receiver and query API (issue 16)
  clang  # clang: scripts/check-thread-safety.sh (the thread_safety_check test)
  ripgrep  # rg: bench/compare.sh's log section (docs/benchmarks.md says the test tools have it)
  mtail)  # bench/compare.sh's logfollow section: the log probe beside mtail on a growing log

want=("${BUILD_PKGS[@]}")
if [ "${1:-}" = "--with-test-tools" ]; then want+=("${TEST_PKGS[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# --no-install-recommends keeps the machine small; the Prometheus packages' services are not
# started by obsmon's tests (they start their own instances on loopback).
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
