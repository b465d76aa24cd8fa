#!/usr/bin/env bash
# Alternating runs of two rules_bench binaries (e.g. main's and a branch's) and the second one
# with --distinct, ROUNDS times, one process at a time, so that the machine's load moves all
# three alike. Prints each run's "cycle cpu" line with the load average. Installs nothing.
# Usage: bench/rules_ab.sh BEFORE_BINARY AFTER_BINARY [ROUNDS] [CYCLES]
set -euo pipefail
before=${1:?before binary}
after=${2:?after binary}
rounds=${3:-6}
cycles=${4:-60}
cpu_line() { "$@" | grep 'cycle cpu' | sed 's/^cycle cpu  ms: //'; }
for r in $(seq 1 "$rounds"); do
  la=$(cut -d' ' -f1 /proc/loadavg)
  b=$(cpu_line "$before" "$cycles")
  a=$(cpu_line "$after" "$cycles")
  d=$(cpu_line "$after" --distinct "$cycles")
  echo "round $r load $la | before: $b | after: $a | after --distinct: $d"
done
