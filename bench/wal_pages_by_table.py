#!/usr/bin/env python3
"""Which tables a daemon's commits change: the pages in its SQLite WAL, counted by table.

    bench/wal_pages_by_table.py DATABASE

Reads DATABASE-wal (each frame is one page a commit changed: 24-byte header, then the page)
and names each page's table or index with the `dbstat` table of `sqlite3 -readonly`. Frames of
the current WAL generation only (those whose salts match the WAL header). Run it on a live
daemon's database a few minutes in (before an idle checkpoint truncates the WAL); it only reads.
"""
import collections
import struct
import subprocess
import sys


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    db = sys.argv[1]
    try:
        with open(db + "-wal", "rb") as f:
            wal = f.read()
    except FileNotFoundError:
        sys.exit(f"{db}-wal: no WAL (the daemon stopped, or checkpointed it away)")
    if len(wal) < 32:
        sys.exit(f"{db}-wal: empty (checkpointed); run it while the daemon writes")
    page_size = struct.unpack(">I", wal[8:12])[0]
    salts = wal[16:24]
    frames, commits = collections.Counter(), 0
    off = 32
    while off + 24 + page_size <= len(wal):
        page, commit_size = struct.unpack(">II", wal[off:off + 8])
        if wal[off + 8:off + 16] != salts:
            break  # a frame of an earlier generation: the current one ends here
        frames[page] += 1
        commits += commit_size != 0
        off += 24 + page_size
    out = subprocess.run(["sqlite3", "-readonly", db, "SELECT pageno, name FROM dbstat"],
                         capture_output=True, text=True, check=True).stdout
    name = {}
    for line in out.split():
        pageno, table = line.split("|", 1)
        name[int(pageno)] = table
    by_table = collections.Counter()
    for page, n in frames.items():
        by_table[name.get(page, "(free or new)")] += n
    total = sum(by_table.values())
    print(f"{db}: {total} frames, {commits} commits, page size {page_size}")
    print(f"{'table or index':32s} {'frames':>8s} {'share':>7s} {'per commit':>11s}")
    for table, n in by_table.most_common():
        print(f"{table:32s} {n:8d} {100 * n / total:6.1f}% {n / max(commits, 1):11.1f}")


if __name__ == "__main__":
    main()
