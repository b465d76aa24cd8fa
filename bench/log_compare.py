#!/usr/bin/env python3
"""The log scan side by side: the real obsmon daemon vs grep -E and ripgrep on the same files.

Called by bench/log_compare.sh (see there and docs/benchmarks.md, "Log scanning"). Standard
library only; installs nothing. A user's files are only ever read: each daemon run follows a
symlink to the file from a scratch directory, and eviction for cold runs drops clean pages
(posix_fadvise) through a read-only descriptor.

Per file and per cache state (warm, cold), each run times:
  grep    `grep -c -E PATTERN FILE`: wall (process start to exit) and CPU (user+sys, wait4)
  grep -F `grep -c -F -e S1 -e S2... FILE`, the same lines as fixed strings, the same
  rg      `rg -c PATTERN FILE`, the same
  obsmon  a fresh `obsmon run` with one log probe on a not-yet-existing path; once its first
          run has been committed, the path is made to point at the file shortly before the
          probe's next scheduled run (t0: the bytes are "in the file"), then SQLite is polled
          every 2 ms until the committed cursor reaches the file's last newline (t1). Reported:
            run     the probe runs' own durations (probe_runs.duration_seconds of the runs after
                    t0): reading and matching inside the daemon, as the scheduler timed them;
            commit  t1 - start of the first probe run after t0 (probe_runs.ts_ms): the run plus
                    its commit (a run that read lines is committed at once, without the
                    storage writer's group-commit wait, storage.commit_interval);
            e2e     t1 - t0, which adds the wait for the probe's next run (t0 is placed 0.2 s
                    before it when warm, --cold-pause when cold; the log probe polls, it does
                    not watch the file);
            cpu     the obsmon process's utime+stime (/proc/PID/stat) over [t0, t1].
Warm means in the page cache when the timed read starts: each run of each tool is preceded by
`log_scan_bench warm` (a whole read, then mincore), because a machine may drop a file's pages
seconds after a read (this one's kernel runs DAMON's proactive pageout; a file read once before a
set of runs was 97-99 % resident at obsmon's turn, and every missing page is a disk read inside
the timed part). Cold means evicted (`log_scan_bench evict`) --cold-pause seconds (1) before the
read starts, for every tool: on this VM a read started right after other reads of the disk runs
at about 2 GB/s for any reader, and one started after even 0.2 s without reads is slower the
fewer requests it keeps in flight (rg 0.21-0.69 s for 422 MB after 0.2-2 s, obsmon 0.21-0.24 s;
docs/benchmarks.md, "Issue 17, item 3, stop 45"). --cold-pause 0 measures the first kind: every cold
read then follows a cold read of a 64 MiB scratch file (prime_and_evict). The residency
each run started from is printed with the table.
Counts (obsmon's committed obsmon_log_matches_total summed over severities, grep's, rg's and,
for generated files, the generator's) must agree, or the script exits 1. A file whose last line
has no newline yet is compared with that line added to obsmon's count when it matches (grep and
rg count it, the probe waits for its end). A file that changes during the runs (a live log) is
reported, not compared: measure a copy. A TERM stops the daemon and removes the scratch
directory, as Ctrl-C does.
"""
import argparse
import os
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse

# Each shape's patterns, as a user would configure them (most severe first), and the one
# alternation grep and rg get, which matches exactly the lines matching any of them.
SHAPES = {
    "python": ([("critical", "CRITICAL"), ("error", "ERROR")], "ERROR|CRITICAL"),
    "long": ([("critical", "CRITICAL"), ("error", "ERROR")], "ERROR|CRITICAL"),
    "json": ([("critical", '"level":"critical"'), ("error", '"level":"error"')],
             '"level":"(error|critical)"'),
    "nginx": ([("critical", r"\[crit\]|\[alert\]|\[emerg\]"), ("error", r"\[error\]")],
              r"\[(error|crit|alert|emerg)\]"),
}
# The same lines as fixed strings, for `grep -c -F -e S1 -e S2...`: every shape's alternation is
# literal, and GNU grep searches fixed strings faster than the same alternation under -E (nginx's
# bracketed words 2.4x, fresh eyes at stop 56), so the -F column is the fastest grep a user has.
FIXED_STRINGS = {
    "python": ["ERROR", "CRITICAL"],
    "long": ["ERROR", "CRITICAL"],
    "json": ['"level":"error"', '"level":"critical"'],
    "nginx": ["[error]", "[crit]", "[alert]", "[emerg]"],
}
INTERVAL_S = 5
# The binaries' default paths are the repository's build; a user's FILE and --scratch are taken
# from the directory the script is run in (the shell wrapper no longer changes it).
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def fail(msg):
    print("log_compare: " + msg, file=sys.stderr)
    sys.exit(1)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def consumable_bytes(path):
    """Offset after the file's last newline: where the probe's cursor ends (a partial last line
    waits for its newline)."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        pos = size
        while pos > 0:
            start = max(0, pos - (1 << 16))
            f.seek(start)
            chunk = f.read(pos - start)
            nl = chunk.rfind(b"\n")
            if nl >= 0:
                return start + nl + 1
            pos = start
    return 0


def evict(bench, path):
    out = subprocess.run([bench, "evict", path], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def warm(bench, path):
    out = subprocess.run([bench, "warm", path], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def resident_range(outputs):
    """'resident 99.1–100.0 %' from the outputs of `log_scan_bench warm/evict`."""
    pct = [float(o.split("=")[1].rstrip("%")) for o in outputs if o.startswith("resident=")]
    return f"resident {min(pct):.1f}–{max(pct):.1f} %" if pct else ""


def run_tool(argv, scratch):
    out_path = os.path.join(scratch, "tool.out")
    with open(out_path, "wb") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=out, stderr=subprocess.DEVNULL)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    text = open(out_path).read().strip()
    if code == 1 and text == "":
        text = "0"  # rg -c prints nothing when nothing matches (grep -c prints 0)
    if code not in (0, 1) or not text.isdigit():
        fail(f"{argv[0]} exited {code}: {text[:200]}")
    return wall, ru.ru_utime + ru.ru_stime, int(text)


def daemon_log_tail(d, lines=15):
    """The end of a run's obsmon.log, for an error message (the directory is removed after)."""
    try:
        with open(os.path.join(d, "obsmon.log"), errors="replace") as f:
            return "\n  ".join(f.read().splitlines()[-lines:])
    except OSError as e:
        return f"(no log: {e})"


def partial_last_line_matches(path, pattern):
    """1 when the file's last line has no newline yet and matches: grep and rg count it, the
    probe waits for its newline. 0 otherwise."""
    tail_at = consumable_bytes(path)
    with open(path, "rb") as f:
        f.seek(tail_at)
        tail = f.read()
    if not tail:
        return 0
    out = subprocess.run(["grep", "-a", "-c", "-E", pattern], input=tail, capture_output=True)
    return 1 if out.stdout.strip() == b"1" else 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def yaml_single(s):
    return "'" + s.replace("'", "''") + "'"


def read_only_uri(db):
    # Quoted: a '#' or '?' in the path would end it in a URI.
    return "file:" + urllib.parse.quote(db) + "?mode=ro"


def query(db, sql, args=()):
    con = sqlite3.connect(read_only_uri(db), uri=True, timeout=1)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def prime_and_evict(bench, path, primer):
    """--cold-pause 0: a cold read of another file just before the eviction, so that every tool's
    read follows a read of the disk (as rg's followed grep's before this existed)."""
    evict(bench, primer)
    with open(primer, "rb") as f:
        while f.read(4 << 20):
            pass
    return evict(bench, path)


def write_daemon_config(cfg, db, path, shape, interval, timeout=None):
    """An obsmon config with one log probe on `path` and the shape's severities (the daemon of
    this script and of log_follow_compare.py)."""
    severities, _ = SHAPES[shape]
    sev = "\n".join(f"          {name}: {yaml_single(p)}" for name, p in severities)
    limit = f"        timeout: {timeout}\n" if timeout else ""
    with open(cfg, "w") as f:
        f.write(f"""listen: 127.0.0.1:{free_port()}
storage:
  path: {yaml_single(db)}
components:
  - name: bench
    probes:
      - name: log
        kind: log
        interval: {interval}
{limit}        paths: [{yaml_single(path)}]
        severities:
{sev}
""")


def run_obsmon(obsmon, path, shape, scratch, prepare, settle):
    """`prepare()` warms or evicts the file and returns its residency; the probe's run starts
    about `settle` seconds after it returned."""
    d = tempfile.mkdtemp(prefix="run-", dir=scratch)
    link = os.path.join(d, "app.log")
    db = os.path.join(d, "obsmon.db")
    cfg = os.path.join(d, "obsmon.yml")
    write_daemon_config(cfg, db, link, shape, f"{INTERVAL_S}s", timeout=f"{INTERVAL_S}s")
    target = consumable_bytes(path)
    log = open(os.path.join(d, "obsmon.log"), "wb")
    proc = subprocess.Popen([obsmon, "run", "--config", cfg], stdout=log, stderr=log)
    try:
        # Its first run (the path does not exist yet) committed: the daemon is up and idle.
        deadline = time.time() + 3 * INTERVAL_S + 10
        while True:
            if proc.poll() is not None:
                fail(f"obsmon exited {proc.returncode}; its log:\n  {daemon_log_tail(d)}")
            if time.time() > deadline:
                fail(f"obsmon's first run never committed; its log:\n  {daemon_log_tail(d)}")
            try:
                if query(db, "SELECT count(*) FROM probe_runs")[0][0] > 0:
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.02)
        # The runs are on a grid from the first one (every INTERVAL_S): the file is put in the
        # path shortly before the next run, just after it was warmed (or evicted), so that it
        # does not lie there for up to INTERVAL_S, its pages dropped meanwhile (see the top).
        first_run_s = query(db, "SELECT min(ts_ms) FROM probe_runs")[0][0] / 1000.0
        # Once to learn how long preparing takes, then again, timed to end `settle` before the run.
        started = time.time()
        prepare()
        took = time.time() - started
        # At least 0.05 s: a file put in place as the run starts would wait for the next one.
        lead = took + max(settle, 0.05)
        now = time.time()
        next_run = first_run_s + INTERVAL_S * (int((now + lead - first_run_s) / INTERVAL_S) + 1)
        time.sleep(max(0.0, next_run - lead - time.time()))
        resident = prepare()
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.time()
        os.symlink(os.path.abspath(path), link)
        con = sqlite3.connect(read_only_uri(db), uri=True, timeout=1)
        while True:
            if proc.poll() is not None:
                fail(f"obsmon exited {proc.returncode}; its log:\n  {daemon_log_tail(d)}")
            if time.time() - t0 > 600:
                fail(f"obsmon did not finish the file in 600 s; its log:\n  {daemon_log_tail(d)}")
            try:
                row = con.execute("SELECT offset FROM log_cursors WHERE probe = 'log'").fetchone()
            except sqlite3.Error:
                row = None
            if row is not None and row[0] >= target:
                break
            time.sleep(0.002)
        t1 = time.time()
        cpu1 = cpu_seconds(proc.pid)
        con.close()
        first, run_s = query(db, "SELECT min(ts_ms), sum(duration_seconds) FROM probe_runs "
                                 "WHERE ts_ms >= ?", (int(t0 * 1000),))[0]
        counts = dict(query(db, "SELECT s.labels, c.value FROM counters c JOIN series s "
                                "ON s.id = c.series_id WHERE s.name = 'obsmon_log_matches_total'"))
        matched = int(sum(counts.values()))
        lines = int(sum(v for (v,) in query(
            db, "SELECT c.value FROM counters c JOIN series s ON s.id = c.series_id "
                "WHERE s.name = 'obsmon_log_lines_read_total'")))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    shutil.rmtree(d, ignore_errors=True)
    scan = t1 - first / 1000.0 if first is not None else float("nan")
    return {"scan": scan, "run": run_s if run_s is not None else float("nan"), "e2e": t1 - t0, "cpu": cpu1 - cpu0, "count": matched, "lines": lines,
            "resident": resident}


def mmm(xs):
    xs = sorted(xs)
    return xs[0], statistics.median(xs), xs[-1]


def cpu_ratio(other, obsmon):
    """Other's CPU over obsmon's, or "n/a" where obsmon's is under one tick of the kernel's CPU
    clock (/proc counts CPU in 10 ms ticks: a small file's read often reads 0.000, and dividing by
    it printed ratios in the millions; fresh eyes, stop 47)."""
    return f"{other / obsmon:.2f}" if obsmon >= 0.005 else "n/a"


def fmt_mmm(xs, digits=3):
    lo, med, hi = mmm(xs)
    return f"{lo:.{digits}f}–{med:.{digits}f}–{hi:.{digits}f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--obsmon", default=os.path.join(REPO, "build/obsmon"))
    ap.add_argument("--bench", default=os.path.join(REPO, "build/bench/log_scan_bench"))
    ap.add_argument("--runs", type=int, default=5, help="warm runs per tool and file")
    ap.add_argument("--cold-runs", type=int, default=3, help="cold runs per tool and file")
    ap.add_argument("--cold-pause", type=float, default=1.0,
                    help="seconds between a cold run's eviction and the tool's read, the same for "
                         "every tool (see the top)")
    ap.add_argument("--size-mb", type=int, default=800, help="size of each generated file")
    ap.add_argument("--shapes", default="python,json,nginx,long",
                    help="shapes to generate when no FILE is given")
    ap.add_argument("--scratch", default=None, help="directory for generated files and runs")
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    ap.add_argument("files", nargs="*", metavar="FILE:SHAPE",
                    help="existing logs to measure (read only), each with the shape whose "
                         "patterns apply: " + ", ".join(SHAPES))
    a = ap.parse_args()
    if a.runs < 0 or a.cold_runs < 0 or a.runs + a.cold_runs == 0:
        fail("--runs and --cold-runs must not be negative, and one of them must be above 0")
    if a.cold_pause < 0:
        fail("--cold-pause must be 0 or more seconds")
    if a.size_mb <= 0:
        fail("--size-mb must be above 0")
    if not a.files:
        for shape in a.shapes.split(","):
            if shape not in SHAPES:
                fail(f"--shapes: '{shape}' is not one of " + ", ".join(SHAPES))
    # A TERM (a CI timeout, `kill`) ends the runs through their `finally`: the daemon is stopped
    # and the scratch directory removed, as on Ctrl-C.
    # A HUP too (the terminal closed): fresh eyes, stop 58, found the daemon left running.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda signum, _frame: sys.exit(128 + signum))
    for tool in ("grep", "rg"):
        if shutil.which(tool) is None:
            fail(f"{tool} is not installed (this script installs nothing)")
    for exe in (a.obsmon, a.bench):
        if not os.access(exe, os.X_OK):
            fail(f"{exe} is not built (scripts/build.sh)")
    obsmon, bench = os.path.abspath(a.obsmon), os.path.abspath(a.bench)
    if a.scratch is not None and not os.path.isdir(a.scratch):
        fail(f"--scratch {a.scratch}: no such directory")
    # Absolute: the daemon reads paths in its config relative to the config file.
    scratch = os.path.abspath(tempfile.mkdtemp(prefix="obsmon-log-compare-", dir=a.scratch))

    work = []  # (path, shape, truth or None)
    try:
        if a.files:
            for spec in a.files:
                path, _, shape = spec.rpartition(":")
                if shape not in SHAPES or not os.path.isfile(path):
                    fail(f"'{spec}': want FILE:SHAPE with an existing FILE, SHAPE one of "
                         + ", ".join(SHAPES))
                work.append((path, shape, None))
        else:
            for shape in a.shapes.split(","):
                path = os.path.join(scratch, f"{shape}.log")
                gen = subprocess.run([bench, "generate", shape, path, str(a.size_mb)],
                                     capture_output=True, text=True)
                if gen.returncode != 0:
                    fail(f"log_scan_bench generate {shape}: {gen.stderr.strip()}")
                out = gen.stdout
                truth = dict(kv.split("=") for kv in out.split())
                work.append((path, shape, int(truth["error"]) + int(truth["critical"])))

        primer = os.path.join(scratch, "primer.bin")
        if a.cold_pause <= 0:
            with open(primer, "wb") as f:
                for _ in range(16):
                    f.write(os.urandom(4 << 20))
        load = os.getloadavg()
        print(f"# log scan side by side: {os.cpu_count()} CPUs, load average at start "
              f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; "
              f"{a.runs} warm and {a.cold_runs} cold runs per tool; cold reads start "
              + (f"{a.cold_pause:g} s after the eviction" if a.cold_pause > 0 else
                 "right after a cold read of a 64 MiB scratch file and the eviction"))
        print(f"# grep: {subprocess.run(['grep', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}; "
              f"rg: {subprocess.run(['rg', '--version'], capture_output=True, text=True).stdout.splitlines()[0]}")
        print("# seconds, min–median–max; ratios = grep's (or rg's) median / obsmon's median "
              "(> 1: obsmon faster): wall against the daemon's run, wall against run→committed, "
              "CPU against CPU")
        bad = []
        rows = []
        results = []
        for path, shape, truth in work:
            size = os.path.getsize(path)
            before = os.stat(path)
            severities, pattern = SHAPES[shape]
            partial = partial_last_line_matches(path, pattern)
            if partial:
                print(f"# {os.path.basename(path)}: its last line has no newline yet and "
                      "matches: grep and rg count it, the probe waits for its end (obsmon's "
                      "count + 1 is compared)")
            for state, runs in (("warm", a.runs), ("cold", a.cold_runs)):
                if runs <= 0:
                    continue
                res = {"grep": [], "grepF": [], "rg": [], "obsmon": []}
                fixed = [arg for lit in FIXED_STRINGS[shape] for arg in ("-e", lit)]
                residents = []
                if state == "warm":
                    prepare, settle = (lambda: warm(bench, path)), 0.2
                elif a.cold_pause > 0:
                    prepare, settle = (lambda: evict(bench, path)), a.cold_pause
                else:
                    prepare, settle = (lambda: prime_and_evict(bench, path, primer)), 0.0
                for _ in range(runs):
                    # -a: a file holding a NUL byte is text to obsmon and rg; GNU grep would
                    # take it for binary and count NUL-separated parts as lines (fresh eyes,
                    # stop 58: 16,127 against 12,087 on lines like "ERROR\0ERROR").
                    for tool, argv in (("grep", ["grep", "-a", "-c", "-E", pattern, path]),
                                       ("grepF", ["grep", "-a", "-c", "-F", *fixed, path]),
                                       ("rg", ["rg", "-c", pattern, path])):
                        residents.append(prepare())
                        if state == "cold":
                            time.sleep(settle)
                        res[tool].append(run_tool(argv, scratch))
                    r = run_obsmon(obsmon, path, shape, scratch, prepare, settle)
                    residents.append(r["resident"])
                    res["obsmon"].append(r)
                counts = {t: {x[2] for x in res[t]} for t in ("grep", "grepF", "rg")}
                counts["obsmon"] = {r["count"] + partial for r in res["obsmon"]}
                if truth is not None:
                    counts["generated"] = {truth}
                all_counts = set().union(*counts.values())
                agree = len(all_counts) == 1
                now = os.stat(path)
                if (now.st_size, now.st_mtime_ns) != (before.st_size, before.st_mtime_ns):
                    bad.append(f"{os.path.basename(path)} {state}: the file changed during the "
                               "runs (a live log?): copy it and measure the copy")
                elif not agree:
                    bad.append(f"{os.path.basename(path)} {state}: counts differ {counts}")
                gw = [x[0] for x in res["grep"]]
                gc = [x[1] for x in res["grep"]]
                fw = [x[0] for x in res["grepF"]]
                fc = [x[1] for x in res["grepF"]]
                rw = [x[0] for x in res["rg"]]
                rc = [x[1] for x in res["rg"]]
                ow = [r["scan"] for r in res["obsmon"]]
                orun = [r["run"] for r in res["obsmon"]]
                oe = [r["e2e"] for r in res["obsmon"]]
                oc = [r["cpu"] for r in res["obsmon"]]
                med = statistics.median
                rows.append({
                    "file": f"{os.path.basename(path)} ({shape}, {size / 1e6:.0f} MB)",
                    "state": state,
                    "count": next(iter(all_counts)) if agree else "DIFFER",
                    "grep": f"{fmt_mmm(gw)} (cpu {fmt_mmm(gc)})",
                    "grepF": f"{fmt_mmm(fw)} (cpu {fmt_mmm(fc)})",
                    "rg": f"{fmt_mmm(rw)} (cpu {fmt_mmm(rc)})",
                    "run": f"{fmt_mmm(orun)}",
                    "commit": f"{fmt_mmm(ow)}",
                    "cpu": f"{fmt_mmm(oc)}",
                    "e2e": f"{fmt_mmm(oe)}",
                    "gbps": f"{size / 1e9 / med(orun):.2f} / {size / 1e9 / med(ow):.2f}",
                    "vs_grep": f"{med(gw) / med(orun):.2f} / {med(gw) / med(ow):.2f} / "
                               f"{cpu_ratio(med(gc), med(oc))}",
                    "vs_grepF": f"{med(fw) / med(orun):.2f} / {med(fw) / med(ow):.2f} / "
                                f"{cpu_ratio(med(fc), med(oc))}",
                    "vs_rg": f"{med(rw) / med(orun):.2f} / {med(rw) / med(ow):.2f} / "
                             f"{cpu_ratio(med(rc), med(oc))}",
                    "resident": resident_range(residents),
                })
                # Paired per run (grep, rg and obsmon alternate), for bench/compare.sh's table:
                # the tool's wall over obsmon's run→committed, and CPU over CPU.
                for name, other in (("grep", gw), ("grepF", fw), ("rg", rw)):
                    pairs = sorted(o / max(w, 1e-9) for o, w in zip(other, ow))
                    results.append(f"RESULT log_{name}_over_obsmon_{shape}_{state} {pairs[0]:.3f} "
                                   f"{med(pairs):.3f} {pairs[-1]:.3f}")
                sys.stdout.write(".")
                sys.stdout.flush()
        print()
        print("| file | cache | matches (all agree) | grep -c -E wall (cpu) "
              "| grep -c -F wall (cpu) | rg -c wall (cpu) "
              "| obsmon run | obsmon run→committed | obsmon cpu | obsmon appended→committed "
              "| obsmon GB/s run / committed | vs grep -E: run / committed / cpu "
              "| vs grep -F: run / committed / cpu | vs rg: run / committed / cpu |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in rows:
            state = r["state"] + (f" ({r['resident']} at the start)" if r["resident"] else "")
            print(f"| {r['file']} | {state} | {r['count']} | {r['grep']} | {r['grepF']} | "
                  f"{r['rg']} | {r['run']} | {r['commit']} | {r['cpu']} | {r['e2e']} | "
                  f"{r['gbps']} | {r['vs_grep']} | {r['vs_grepF']} | {r['vs_rg']} |")
        for line in results:
            print(line)
        load = os.getloadavg()
        print(f"# load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; obsmon e2e "
              f"includes the wait for the probe's next run (interval {INTERVAL_S}s)")
        if bad:
            for b in bad:
                print("COUNTS DIFFER: " + b, file=sys.stderr)
            return 1
        return 0
    finally:
        if a.keep:
            print(f"# kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
