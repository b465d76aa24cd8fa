#!/usr/bin/env python3
"""Fails when a library folder includes a folder that docs/ARCHITECTURE.md does not allow.

The allowed edges are the table between the "layers: begin" and "layers: end" markers of
docs/ARCHITECTURE.md, one line per folder: `folder: dependency dependency ...`. The check reads
every .h and .cc of those folders and compares each `#include "folder/file.h"` with the table, so
the picture in the docs and the code cannot drift apart. tests/, bench/ and fuzz/ may include
anything; library code may never include tests/.

Usage: scripts/check-layers.py [source dir]   (run by ctest as layering_test)
"""
import os
import re
import sys

ROOT = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
DOC = os.path.join(ROOT, "docs", "ARCHITECTURE.md")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')
EXEMPT = ("tests", "bench", "fuzz", "build", "deploy", "examples", "docs", "scripts", "cmake")


def read_table():
    text = open(DOC, encoding="utf-8").read()
    m = re.search(r"<!-- layers: begin -->(.*?)<!-- layers: end -->", text, re.S)
    if not m:
        sys.exit(f"{DOC}: no '<!-- layers: begin -->' ... '<!-- layers: end -->' table")
    table = {}
    for n, line in enumerate(m.group(1).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("```"):
            continue
        folder, sep, deps = line.partition(":")
        if not sep:
            sys.exit(f"{DOC}: layers table line '{line}': expected 'folder: dependencies'")
        table[folder.strip()] = set(deps.split())
    for folder, deps in table.items():
        for d in deps:
            if d not in table:
                sys.exit(f"{DOC}: layers table: {folder} depends on {d}, which has no line of its own")
    return table


def owner(path, folders):
    """The table's folder that holds `path` (the longest match: cmd/obsmon before cmd)."""
    best = None
    for f in folders:
        if path == f or path.startswith(f + "/"):
            if best is None or len(f) > len(best):
                best = f
    return best


def main():
    table = read_table()
    errors = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        top = rel_dir.split(os.sep)[0]
        if rel_dir != "." and (top.startswith(".") or top in EXEMPT or top.startswith("build")):
            dirnames[:] = []
            continue
        for name in filenames:
            if not name.endswith((".h", ".cc")):
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            folder = owner(rel, table)
            if folder is None:
                errors.append(f"{rel}: its folder is not in the layers table of docs/ARCHITECTURE.md")
                continue
            seen.add(folder)
            with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    m = INCLUDE.match(line)
                    if not m or "/" not in m.group(1):
                        continue
                    target = m.group(1)
                    if target.startswith("tests/"):
                        errors.append(f"{rel}:{lineno}: library code includes test code ({target})")
                        continue
                    dep = owner(target, table)
                    if dep is None:
                        # Quoted third-party headers ("kainjow/mustache.hpp") are not ours.
                        if os.path.isdir(os.path.join(ROOT, target.split("/")[0])):
                            errors.append(f"{rel}:{lineno}: includes {target}, outside every layer")
                    elif not os.path.exists(os.path.join(ROOT, target)):
                        errors.append(f"{rel}:{lineno}: includes {target}, which does not exist")
                    elif dep != folder and dep not in table[folder]:
                        errors.append(f"{rel}:{lineno}: {folder} may not include {dep} ({target}); "
                                      f"allowed: {' '.join(sorted(table[folder])) or 'nothing'}")
    for folder in table:
        if folder not in seen:
            errors.append(f"docs/ARCHITECTURE.md: layers table names {folder}, which has no source")
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} problem(s)")
        return 1
    print(f"check-layers: {len(table)} folders, every include allowed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
