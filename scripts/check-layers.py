#!/usr/bin/env python3
"""Fails when a library folder includes a folder that docs/ARCHITECTURE.md does not allow.

The allowed edges are the table between the "layers: begin" and "layers: end" markers of
docs/ARCHITECTURE.md, one line per folder: `folder: dependency dependency ...`. The namespace
scheme is the table between "namespaces: begin" and "namespaces: end": `folder: namespace
[also NAMESPACE in FILE ...]`; every `namespace obsmon...` a folder's file opens must be the
folder's namespace or one nested in it, or an exception named in the table. The check reads
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


def table_lines(name):
    text = open(DOC, encoding="utf-8").read()
    m = re.search(rf"<!-- {name}: begin -->(.*?)<!-- {name}: end -->", text, re.S)
    if not m:
        sys.exit(f"{DOC}: no '<!-- {name}: begin -->' ... '<!-- {name}: end -->' table")
    return m.group(1).splitlines()


NAMESPACE = re.compile(r"^\s*namespace\s+(obsmon[\w:]*)\s*\{")


def read_namespaces():
    """folder -> (namespace, {file: extra namespace allowed there})."""
    scheme = {}
    for line in table_lines("namespaces"):
        line = line.strip()
        if not line or line.startswith("```"):
            continue
        folder, _, rest = line.partition(":")
        words = rest.split()
        if not words:
            sys.exit(f"{DOC}: namespaces table line '{line}': expected 'folder: namespace'")
        extra = {}
        more = words[1:]
        while more:
            if len(more) < 4 or more[0] != "also" or more[2] != "in":
                sys.exit(f"{DOC}: namespaces table line '{line}': expected 'also NAMESPACE in FILE'")
            extra[more[3]] = more[1]
            more = more[4:]
        scheme[folder.strip()] = (words[0], extra)
    return scheme


def read_table():
    table = {}
    for n, line in enumerate(table_lines("layers"), 1):
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
    scheme = read_namespaces()
    for folder in table:
        if folder not in scheme:
            errors_missing = f"{DOC}: namespaces table has no line for {folder}"
            print(errors_missing)
            return 1
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
            own, extra = scheme[folder]
            with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
                for lineno, line in enumerate(f, 1):
                    ns = NAMESPACE.match(line)
                    if ns:
                        name = ns.group(1)
                        # Nested in its own, and not in another folder's (obsmon::storage is
                        # nested in obsmon but belongs to storage/).
                        others = [n for f2, (n, _) in scheme.items() if n != own and n != "obsmon"]
                        foreign = any(name == n or name.startswith(n + "::") for n in others)
                        if foreign or not (name == own or name.startswith(own + "::") or
                                           extra.get(rel) == name):
                            errors.append(f"{rel}:{lineno}: namespace {name}; {folder}/ is {own} "
                                          "(docs/ARCHITECTURE.md, Namespaces)")
                        continue
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
    print(f"check-layers: {len(table)} folders, every include allowed, every namespace in its place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
