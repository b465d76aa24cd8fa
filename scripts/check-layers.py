#!/usr/bin/env python3
"""Fails when a library folder includes a folder that docs/ARCHITECTURE.md does not allow.

The allowed edges are the table between the "layers: begin" and "layers: end" markers of
docs/ARCHITECTURE.md, one line per folder: `folder: dependency dependency ...`. The namespace
scheme is the table between "namespaces: begin" and "namespaces: end": `folder: namespace
[also NAMESPACE in FILE-OR-FOLDER/ ...]`; every `namespace obsmon...` a folder's file opens must be the
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
EXEMPT = ("tests", "bench", "fuzz", "deploy", "examples", "docs", "scripts", "cmake")


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


# Files that are not C++ and so cannot be included: everything else in a layer folder is read,
# whatever its name (an extensionless or .inl file can be #included as well as a .h).
NOT_SOURCE_EXTENSIONS = (".md", ".txt", ".yml", ".yaml", ".json", ".py", ".sh", ".cmake")
# Outside the layer folders only these are taken for C++ that has lost its place.
SOURCE_EXTENSIONS = (".h", ".hh", ".hpp", ".hxx", ".inc", ".inl", ".ipp", ".tcc", ".cc", ".cpp",
                     ".cxx", ".c")
# #include, #include_next, #import, and the digraph spelling %:include.
ANY_INCLUDE = re.compile(r"^\s*(?:#|%:)\s*(?:include_next|include|import)\b\s*(.*)$")
ANY_NAMESPACE = re.compile(r"\bnamespace\s+([A-Za-z_][\w:]*)\s*\{")
# Namespaces of libraries obsmon uses that its code may open (forward declarations, ADL hooks).
THIRD_PARTY_NAMESPACES = {"SQLite", "httplib", "re2", "prometheus", "YAML", "nlohmann", "std",
                          "fmt", "kainjow"}
CMAKE_LIB = re.compile(r"\bobsmon(?:::|_)(\w+)")


def is_build_dir(path):
    return os.path.exists(os.path.join(path, "CMakeCache.txt"))


def logical_lines(text):
    """The file as the preprocessor sees its lines: splices (a backslash at the end of a line)
    joined, comments (also those over several lines) blanked, line numbers kept. String
    literals are not parsed: a "//" or "/*" inside one only hides the rest of that line from the
    check, and no #include or namespace stands after a string on its line."""
    text = re.sub(r"\\\r?\n", "", text)
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n") or " ", text,
                  flags=re.DOTALL)
    lines = [line.split("//", 1)[0] for line in text.split("\n")]
    return lines


def check_namespace(rel, lineno, name, folder, own, extra, scheme, errors):
    if not name.startswith("obsmon"):
        if name == "detail":
            return  # private helpers of a header, inside its own namespace
        if name.split("::")[0] not in THIRD_PARTY_NAMESPACES:
            errors.append(f"{rel}:{lineno}: namespace {name}: obsmon code opens obsmon's own "
                          "namespaces with their full name (namespace obsmon::storage {)")
        return
    if name == own or any(rel.startswith(place) and ns == name for place, ns in extra.items()):
        return
    # Nested namespaces only inside an engine's own (obsmon::alerts::promql), never inside
    # another folder's, and not new ones under plain obsmon unless the table names them.
    if own != "obsmon" and name.startswith(own + "::"):
        return
    errors.append(f"{rel}:{lineno}: namespace {name}; {folder}/ is {own} "
                  "(docs/ARCHITECTURE.md, Namespaces)")


def generated_from_proto(target):
    """A header protoc makes in the build tree (remote/remote_write.pb.h from its .proto)."""
    return target.endswith(".pb.h") and os.path.exists(os.path.join(ROOT, target[:-5] + ".proto"))


def check_includes(rel, lineno, rest, folder, table, errors):
    m = re.match(r'^(["<])([^">]+)[">]', rest.strip())
    if not m:
        errors.append(f"{rel}:{lineno}: #include {rest.strip()}: a computed include cannot be "
                      "checked; write the path")
        return
    target = m.group(2)
    first = target.split("/")[0]
    ours = first in (".", "..") or os.path.isdir(os.path.join(ROOT, first))
    if not ours or "/" not in target:
        return  # a system or third-party header, or one beside the including file
    if any(part in (".", "..") for part in target.split("/")):
        errors.append(f"{rel}:{lineno}: includes {target}: write the path from the top, without "
                      "'.' or '..'")
        return
    if target.startswith("tests/"):
        errors.append(f"{rel}:{lineno}: library code includes test code ({target})")
        return
    dep = owner(target, table)
    if dep is None:
        errors.append(f"{rel}:{lineno}: includes {target}, outside every layer")
    elif not os.path.exists(os.path.join(ROOT, target)) and not generated_from_proto(target):
        errors.append(f"{rel}:{lineno}: includes {target}, which does not exist")
    elif dep != folder and dep not in table[folder]:
        errors.append(f"{rel}:{lineno}: {folder} may not include {dep} ({target}); "
                      f"allowed: {' '.join(sorted(table[folder])) or 'nothing'}")


def check_cmake(folder, table, errors):
    """The folder's CMake library links only the obsmon libraries of the folders it may include."""
    path = os.path.join(ROOT, folder, "CMakeLists.txt")
    if not os.path.exists(path):
        errors.append(f"{folder}/CMakeLists.txt: missing (each folder is one library)")
        return
    lib_to_folder = {f.split("/")[0] if f != "cmd/obsmon" else "cmd": f for f in table}
    text = open(path, encoding="utf-8").read()
    for lineno, line in enumerate(text.splitlines(), 1):
        line = line.split("#", 1)[0]
        if re.search(r"(^|[\s/\"])\.\.(/|$)", line):
            errors.append(f"{folder}/CMakeLists.txt:{lineno}: names a file outside {folder}/ "
                          "('..'): each source belongs to its folder's library")
        if re.search(r"\$\{[^}]*\}\s*(::|_)\w+|obsmon(::|_)\$\{", line):
            errors.append(f"{folder}/CMakeLists.txt:{lineno}: a computed library name cannot be "
                          "checked; write obsmon::<folder>")
        for lib in CMAKE_LIB.findall(line):
            dep = lib_to_folder.get(lib)
            if dep is None or dep == folder:
                continue
            if dep not in table[folder]:
                errors.append(f"{folder}/CMakeLists.txt:{lineno}: links obsmon::{lib}, but {folder} "
                              f"may not include {dep}")


def check_cmake_elsewhere(table, errors):
    """Links between the layer libraries are made in their folders' CMakeLists.txt only, where
    check_cmake reads them; the top-level file and cmake/ may not add any."""
    libs = {f.split("/")[0] if f != "cmd/obsmon" else "cmd" for f in table}
    paths = [os.path.join(ROOT, "CMakeLists.txt")]
    cmake_dir = os.path.join(ROOT, "cmake")
    if os.path.isdir(cmake_dir):
        paths += [os.path.join(cmake_dir, n) for n in sorted(os.listdir(cmake_dir))
                  if n.endswith(".cmake")]
    for path in paths:
        text = "\n".join(l.split("#", 1)[0] for l in open(path, encoding="utf-8").read().splitlines())
        for m in re.finditer(r"target_link_libraries\s*\(([^)]*)\)", text):
            args = m.group(1).split()
            named = [CMAKE_LIB.fullmatch(a) for a in args]
            if args and named[0] and named[0].group(1) in libs and any(
                    n and n.group(1) in libs for n in named[1:]):
                lineno = text.count("\n", 0, m.start()) + 1
                errors.append(f"{os.path.relpath(path, ROOT)}:{lineno}: links layer libraries "
                              "outside their folders' CMakeLists.txt")


def main():
    table = read_table()
    scheme = read_namespaces()
    for folder in table:
        if folder not in scheme:
            print(f"{DOC}: namespaces table has no line for {folder}")
            return 1
    errors = []
    seen = set()
    for dirpath, dirnames, filenames in os.walk(ROOT):
        rel_dir = os.path.relpath(dirpath, ROOT)
        top = rel_dir.split(os.sep)[0]
        if rel_dir != "." and (top.startswith(".") or top in EXEMPT or is_build_dir(dirpath)):
            dirnames[:] = []
            continue
        for name in list(dirnames):
            if os.path.islink(os.path.join(dirpath, name)) and rel_dir != ".":
                errors.append(f"{os.path.normpath(os.path.join(rel_dir, name))}: a symlinked folder "
                              "would let an include reach another layer unseen; use a real folder")
        for name in filenames:
            if name == "CMakeLists.txt" or name.endswith(NOT_SOURCE_EXTENSIONS) or rel_dir == ".":
                continue
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if os.path.islink(os.path.join(ROOT, rel)):
                errors.append(f"{rel}: a symlinked file would let an include reach another layer "
                              "unseen")
                continue
            folder = owner(rel, table)
            if folder is None:
                if not name.endswith(SOURCE_EXTENSIONS):
                    continue  # data, scripts, docs outside the layers
                errors.append(f"{rel}: its folder is not in the layers table of docs/ARCHITECTURE.md")
                continue
            seen.add(folder)
            own, extra = scheme[folder]
            with open(os.path.join(ROOT, rel), encoding="utf-8", errors="replace") as f:
                text = f.read()
            for lineno, line in enumerate(logical_lines(text), 1):
                inc = ANY_INCLUDE.match(line)
                if inc:
                    check_includes(rel, lineno, inc.group(1), folder, table, errors)
            # Namespaces over the whole file, so that the brace may be on the next line.
            code = "\n".join(logical_lines(text))
            for ns in ANY_NAMESPACE.finditer(code):
                lineno = code.count("\n", 0, ns.start()) + 1
                check_namespace(rel, lineno, ns.group(1), folder, own, extra, scheme, errors)
    check_cmake_elsewhere(table, errors)
    for folder in table:
        if folder not in seen:
            errors.append(f"docs/ARCHITECTURE.md: layers table names {folder}, which has no source")
        else:
            check_cmake(folder, table, errors)
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} problem(s)")
        return 1
    print(f"check-layers: {len(table)} folders, every include and link allowed, every namespace "
          "in its place")
    return 0


if __name__ == "__main__":
    sys.exit(main())
