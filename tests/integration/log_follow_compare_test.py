#!/usr/bin/env python3
"""bench/log_follow_compare.sh, short: the daemon, `tail -F | grep` and mtail follow one log that a
writer appends to and rotates; the script must exit 0 (obsmon's committed count equal to the
truth it computes from the writer's own account of what it wrote), print the table and the
RESULT lines compare.sh reads, and leave nothing behind. Then a log rotated far faster than the
daemon polls: lines are lost, and the daemon must say so (obsmon_log_files_missed_total).

  log_follow_compare_test.py SOURCE_DIR OBSMON LOG_SCAN_BENCH LOG_WRITER

Exits 77 (skipped) when mtail, tail or grep is missing: the benchmark needs them, installs nothing.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def expect(cond, what):
    if not cond:
        print("FAILED: " + what, file=sys.stderr)
        sys.exit(1)


def main():
    src, obsmon, bench, writer = sys.argv[1:5]
    for tool in ("mtail", "tail", "grep"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: skipped")
            return 77
    scratch = tempfile.mkdtemp(prefix="log-follow-test-")
    try:
        out = subprocess.run(
            [os.path.join(src, "bench/log_follow_compare.sh"), "--rates", "3000",
             "--seconds", "9", "--rotate-every", "2", "--runs", "1", "--interval", "500ms",
             "--obsmon", obsmon, "--bench", bench, "--writer", writer, "--scratch", scratch],
            capture_output=True, text=True, timeout=300)
        print(out.stdout)
        print(out.stderr, file=sys.stderr)
        expect(out.returncode == 0, f"the script exited {out.returncode}")
        row = [l for l in out.stdout.splitlines()
               if re.match(r"\| 3000 \([0-9.]+\) \| obsmon \|", l)]
        expect(len(row) == 1 and "| yes (" in row[0], "obsmon's row says its count is the truth")
        wrote = re.search(r"# wrote (\d+) lines .* rotated (\d+) times; "
                          r"truth (\d+) matching lines; "
                          r"counts obsmon (\d+),", out.stdout)
        expect(wrote is not None, "the writer's account is printed")
        lines, rotations, truth, obsmon_count = (int(x) for x in wrote.groups())
        # 3,000 lines a second for 9 s, rotated every 2 s: the writer really wrote and rotated.
        expect(lines >= 20000 and rotations >= 3, f"{lines} lines, {rotations} rotations")
        expect(truth > 0 and obsmon_count == truth, f"obsmon {obsmon_count}, truth {truth}")
        # A RESULT line (what compare.sh's table quotes) for each other follower whose count
        # was the truth, and none for one that fell short (under load mtail may miss lines
        # at a rotation: a ratio of less work done is no ratio).
        for key, label in (("tailgrep", r"tail -F \\\| grep -E"), ("mtail", "mtail")):
            follower_row = [l for l in out.stdout.splitlines()
                            if re.match(rf"\| 3000 \([0-9.]+\) \| {label} \|", l)]
            expect(len(follower_row) == 1, f"the {key} row")
            has_result = re.search(
                rf"^RESULT logfollow_{key}_over_obsmon_cpu_3000 [0-9.]+ [0-9.]+ [0-9.]+$",
                out.stdout, re.M) is not None
            expect(has_result == ("| yes (" in follower_row[0]),
                   f"{key}: a RESULT line exactly when its count was the truth")
        expect(os.listdir(scratch) == [], f"left behind: {os.listdir(scratch)}")

        # Rotated every 0.1 s and polled every 3 s: 9 rotated files kept, ~30 rotations between
        # two runs, so whole generations are deleted before obsmon looks. A poller loses them;
        # what it must do is say so (obsmon_log_files_missed_total), and the script must not
        # print a ratio for the run (fresh eyes, stop 58: half the lines lost, runs a success).
        out = subprocess.run(
            [os.path.join(src, "bench/log_follow_compare.sh"), "--rates", "3000",
             "--seconds", "5", "--rotate-every", "0.1", "--runs", "1", "--interval", "3s",
             "--drain-timeout", "8", "--obsmon", obsmon, "--bench", bench, "--writer", writer,
             "--scratch", scratch], capture_output=True, text=True, timeout=300)
        print(out.stdout)
        print(out.stderr, file=sys.stderr)
        expect(out.returncode == 1, f"obsmon short of the truth: exit {out.returncode}, want 1")
        wrote = re.search(r"truth (\d+) matching lines; counts obsmon (\d+),.*; "
                          r"obsmon missed (\d+) files", out.stdout)
        expect(wrote is not None, "the writer's account and obsmon's misses are printed")
        truth, counted, missed = (int(x) for x in wrote.groups())
        expect(counted < truth, f"obsmon counted {counted} of {truth}: nothing was lost?")
        expect(missed >= 1, f"obsmon lost {truth - counted} lines and counted {missed} misses")
        expect("RESULT logfollow_" not in out.stdout, "no ratio for a run obsmon fell short in")
        expect(os.listdir(scratch) == [], f"left behind: {os.listdir(scratch)}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
