#!/usr/bin/env bash
# Runs clang's thread-safety analysis (-Wthread-safety, as errors) over every library source, with
# the flags the build used (compile_commands.json), so that GUARDED_BY/REQUIRES annotations
# (core/thread_annotations.h) are checked even though the build itself uses GCC, which ignores
# them. Syntax only: nothing is compiled or written.
#
#   scripts/check-thread-safety.sh [build-dir] [-j N]
#
# CHECK_ONLY=<regex> checks only the sources whose path (from the top) matches it.
# CHECK_VERBOSE=1 also prints clang's other warnings (e.g. an ignored [[nodiscard]] Status).
# Exit status: 0 clean, 1 a source has thread-safety errors (or does not parse), 77 clang++ is
# not installed (the ctest test thread_safety_check reports that as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
build_dir=build
jobs=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    -j) jobs=$2; shift 2 ;;
    -j*) jobs=${1#-j}; shift ;;
    *) build_dir=$1; shift ;;
  esac
done
clang=${CLANGXX:-clang++}
if ! command -v "$clang" >/dev/null; then
  echo "check-thread-safety: $clang not found; skipped (scripts/install-deps.sh --with-test-tools installs clang)"
  exit 77
fi
db="$build_dir/compile_commands.json"
if [ ! -f "$db" ]; then
  echo "check-thread-safety: $db is missing: configure the build first (scripts/build.sh)" >&2
  exit 1
fi

exec python3 - "$db" "$clang" "$jobs" "$PWD" <<'PY'
import json, os, re, shlex, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor

db, clang, jobs, root = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
build_dir = os.path.dirname(os.path.abspath(db))

# A source that does not include core/thread_annotations.h (directly or not) has no annotation
# for the analysis to check: skip it. Which sources include it is read from the headers ninja
# recorded for each object when it compiled it; a source ninja has no record of is checked.
def annotated_objects():
    if not os.path.exists(os.path.join(build_dir, ".ninja_deps")):
        return None
    p = subprocess.run(["ninja", "-C", build_dir, "-t", "deps"], capture_output=True, text=True)
    if p.returncode != 0:
        return None
    known, annotated, obj = set(), set(), None
    for line in p.stdout.splitlines():
        if line and not line[0].isspace():
            obj = line.split(":")[0]
            known.add(obj)
        elif obj and line.strip().endswith("core/thread_annotations.h"):
            annotated.add(obj)
    return known, annotated

deps = annotated_objects()
# Library code only: tests, benchmarks, examples and fuzz targets hold no annotated classes.
skip = ("tests/", "bench/", "examples/", "fuzz/")
only = re.compile(os.environ.get("CHECK_ONLY", ""))
entries = []
for e in json.load(open(db)):
    rel = os.path.relpath(e["file"], root)
    if rel.startswith("..") or rel.startswith(skip) or not rel.endswith(".cc") or not only.search(rel):
        continue
    args = shlex.split(e["command"]) if "command" in e else list(e["arguments"])
    if deps is not None and "-o" in args:
        obj = args[args.index("-o") + 1]
        if obj in deps[0] and obj not in deps[1]:
            continue
    out = [clang]
    it = iter(args[1:])
    for a in it:
        if a in ("-o", "-MF", "-MT", "-MQ"):
            next(it, None)
        elif a in ("-c", "-MD", "-MMD", "-g") or a.startswith("-W") or a.startswith("-O"):
            continue
        elif a.startswith("-fsanitize") or a == "-fno-sanitize-recover=all":
            continue
        else:
            out.append(a)
    # Only thread-safety findings fail the check; clang's other default warnings are shown with
    # CHECK_VERBOSE=1 (they belong to the normal build).
    out += ["-fsyntax-only", "-Wthread-safety", "-Werror=thread-safety"]
    entries.append((rel, e["directory"], out))

def check(entry):
    rel, cwd, cmd = entry
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    return rel, p.returncode, p.stdout + p.stderr

if not entries:
    # Nothing checked is not a pass: a compile database from another checkout, or a CHECK_ONLY
    # that matches no source, would otherwise report success.
    print(f"check-thread-safety: no source of {root} in {db} matches; nothing was checked")
    sys.exit(1)
verbose = os.environ.get("CHECK_VERBOSE") == "1"
start = time.monotonic()
failed = []
with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
    for rel, rc, text in pool.map(check, entries):
        if rc != 0:
            failed.append(rel)
        if rc != 0 or (verbose and text):
            sys.stdout.write(text)
            sys.stdout.flush()
print(f"check-thread-safety: {len(entries)} sources, {len(failed)} failing, "
      f"{time.monotonic() - start:.0f}s at -j{jobs}")
for rel in failed:
    print(f"  FAILED {rel}")
sys.exit(1 if failed else 0)
PY
