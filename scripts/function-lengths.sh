#!/usr/bin/env bash
# Lists function lengths (lines from the signature to the closing brace, as Universal Ctags sees
# them), longest first: scripts/function-lengths.sh [-m MIN] FILE...   e.g.
#   scripts/function-lengths.sh -m 60 render/*.cc probes/*.cc alerts/*.cc
set -euo pipefail
min=0
if [ "${1:-}" = "-m" ]; then min=$2; shift 2; fi
ctags --c++-kinds=f --fields=+neK --sort=no -o - "$@" |
  awk -F'\t' -v min="$min" '{
    line = ""; end = ""; scope = "";
    for (i = 4; i <= NF; i++) {
      if ($i ~ /^line:/) line = substr($i, 6);
      else if ($i ~ /^end:/) end = substr($i, 5);
      else if ($i ~ /^(class|struct):/) { scope = $i; sub(/^[a-z]+:/, "", scope); sub(/.*::/, "", scope); scope = scope "::" }
    }
    if (line != "" && end != "" && end - line + 1 >= min)
      printf "%5d  %s:%s  %s%s\n", end - line + 1, $2, line, scope, $1
  }' | sort -rn
