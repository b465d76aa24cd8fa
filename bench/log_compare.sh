#!/usr/bin/env bash
# The log scan side by side (issue 17, item 3): the real obsmon daemon with a log probe against
# `grep -c -E` and `rg -c` on the same files, page cache warm and cold, several runs each; prints
# a markdown table of min–median–max and ratios, and exits 1 if any count differs.
#
#   bench/log_compare.sh                          # generates 800 MB python, json, nginx, long logs
#   bench/log_compare.sh --size-mb 200 --runs 3   # smaller, quicker
#   bench/log_compare.sh /var/log/app.log:python  # your own file(s), FILE:SHAPE; never written to
#
# Installs nothing: needs build/obsmon and build/bench/log_scan_bench (scripts/build.sh), grep,
# rg and python3 (standard library only). Generated files go to a scratch directory under $TMPDIR
# (or --scratch DIR), removed at the end unless --keep. What is measured: bench/log_compare.py.
set -euo pipefail
# Not a cd: FILE and --scratch are the user's paths, relative to where they ran this.
here=$(cd "$(dirname "$0")" && pwd)
for tool in python3 grep rg; do
  command -v "$tool" >/dev/null || { echo "log_compare.sh: $tool is not installed" >&2; exit 2; }
done
exec python3 "$here/log_compare.py" "$@"
