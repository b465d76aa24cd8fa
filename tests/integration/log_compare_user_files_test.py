#!/usr/bin/env python3
"""bench/log_compare.sh on a user's files, as issue 17 asks of it: it takes any file it is given,
never writes it, leaves nothing behind, and its counts agree with a count made here.

  log_compare_user_files_test.py SOURCE_DIR OBSMON LOG_SCAN_BENCH

The files are small (a few thousand lines): what is checked is the promise, not the speed. Exits
77 (skipped) when grep or rg is missing: the benchmark needs them and installs nothing.
"""
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import tempfile


def fingerprint(path):
    st = os.stat(path)
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    return (digest, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, stat.S_IMODE(st.st_mode))


def expect(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


def main():
    src, obsmon, bench = sys.argv[1:4]
    for tool in ("grep", "rg"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    work = tempfile.mkdtemp(prefix="log-compare-test-")
    try:
        # A python-logging file whose last line has no newline yet and matches, and one with no
        # match at all (rg -c prints nothing for it), both read-only; the first also through a
        # symlink. The truth: lines with ERROR or CRITICAL, the unterminated one included, as
        # grep and rg count them.
        partial = os.path.join(work, "app.log")
        clean = os.path.join(work, "clean.log")
        truth = 0
        with open(partial, "w") as f:
            for i in range(6000):
                level = "CRITICAL" if i % 97 == 0 else "ERROR" if i % 13 == 0 else "INFO"
                truth += level != "INFO"
                f.write(f"2026-12-04 12:00:{i % 60:02d},000 - app - {level} - error_rate={i}\n")
            f.write("2026-12-04 12:01:00,000 - app - ERROR - still being written")
            truth += 1
        with open(clean, "w") as f:
            for i in range(3000):
                f.write(f"2026-12-04 12:00:00,000 - app - INFO - retried after error {i}\n")
        os.chmod(partial, 0o444)
        os.chmod(clean, 0o444)
        link = os.path.join(work, "link.log")
        os.symlink(partial, link)
        before = {p: fingerprint(p) for p in (partial, clean)}
        scratch = os.path.join(work, "scratch #1, with: yaml")  # quoted into the daemon's config
        os.mkdir(scratch)

        argv = [sys.executable, os.path.join(src, "bench/log_compare.py"), "--obsmon", obsmon,
                "--bench", bench, "--runs", "1", "--cold-runs", "1", "--cold-pause", "0.05",
                "--scratch", scratch]
        run = subprocess.run(argv + [f"{partial}:python", f"{link}:python", f"{clean}:python"],
                             capture_output=True, text=True, timeout=300)
        print(run.stdout)
        print(run.stderr, file=sys.stderr)
        expect(run.returncode == 0, f"log_compare exited {run.returncode}")
        rows = [line for line in run.stdout.splitlines() if line.startswith("| ") and "MB)" in line]
        expect(len(rows) == 6, f"6 table rows (3 files, warm and cold), got {len(rows)}")
        for row in rows:
            cells = [c.strip() for c in row.split("|")]
            want = 0 if cells[1].startswith("clean.log") else truth
            expect(cells[3] == str(want), f"{cells[1]} {cells[2]}: count {cells[3]}, want {want}")
        for p, fp in before.items():
            expect(fingerprint(p) == fp, f"{p} changed")
        expect(os.listdir(scratch) == [], f"left in the scratch directory: {os.listdir(scratch)}")

        # A daemon that cannot start: the message quotes its log (the directory is gone after).
        fake = os.path.join(work, "fake-obsmon")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'fake-obsmon: the reason it could not start' >&2\nexit 3\n")
        os.chmod(fake, 0o755)
        argv[argv.index(obsmon)] = fake
        run = subprocess.run(argv + [f"{clean}:python"], capture_output=True, text=True,
                             timeout=120)
        expect(run.returncode == 1, f"a failing daemon: exit {run.returncode}, want 1")
        expect("the reason it could not start" in run.stderr,
               f"a failing daemon's message lacks its log: {run.stderr!r}")
        expect(os.listdir(scratch) == [], "a failed run left files in the scratch directory")
        print("log_compare_user_files_test: passed")
        return 0
    finally:
        for p in (os.path.join(work, "app.log"), os.path.join(work, "clean.log")):
            if os.path.exists(p):
                os.chmod(p, 0o644)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
