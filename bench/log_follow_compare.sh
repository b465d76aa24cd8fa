#!/usr/bin/env bash
# A log that grows (issue 17, item 3): the obsmon daemon's log probe beside `tail -F | grep -E`
# and mtail, all following one file while bench/log_writer appends to it at a steady rate and
# rotates it; prints a markdown table of CPU, drain and peak RSS with ratios, and exits 1 if
# obsmon's committed count differs from the truth.
#
#   bench/log_follow_compare.sh          # python lines, 1,000 and 20,000 a second
#   bench/log_follow_compare.sh --rates 5000 --seconds 60 --runs 1   # quicker
#   bench/log_follow_compare.sh --shape nginx --interval 15s
#
# Installs nothing: needs build/obsmon, build/bench/log_scan_bench and build/bench/log_writer
# (scripts/build.sh), GNU tail and grep, mtail (scripts/install-deps.sh --with-test-tools) and
# python3 (standard library only). What is measured: bench/log_follow_compare.py.
set -euo pipefail
# Not a cd: --scratch is the user's path, relative to where they ran this.
here=$(cd "$(dirname "$0")" && pwd)
for tool in python3 grep tail mtail; do
  command -v "$tool" >/dev/null ||
    { echo "log_follow_compare.sh: $tool is not installed" >&2; exit 2; }
done
exec python3 "$here/log_follow_compare.py" "$@"
