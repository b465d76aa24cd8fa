#!/usr/bin/env python3
"""A log that grows: the obsmon daemon's log probe beside `tail -F | grep` and mtail, following
the same file while an application appends to it and logrotate rotates it.

Called by bench/log_follow_compare.sh (see there and docs/benchmarks.md, "A log that grows").
Standard library only; installs nothing.

Per rate (lines a second) and run, all at once on one file:
  writer  build/bench/log_writer appends the lines of a generated log (log_scan_bench generate),
          one write() per line, for --seconds, renaming the file to .1 and creating a new one
          every --rotate-every seconds (logrotate's `create` mode; --rotate-mode copytruncate:
          copied to .1, then truncated in place);
  obsmon  `obsmon run` with one log probe (interval --interval) on the path;
  grep    `tail -n +1 -F PATH | grep --line-buffered -E PATTERN` (GNU tail follows the name
          across the rename: what a user types to watch a log);
  mtail   `mtail --progs DIR --logs PATH` with a program counting the same severities, first
          match wins as in obsmon (the Prometheus ecosystem's own log-to-metrics daemon).
Measured per follower over the same window, from just before the writer starts to the moment
its count equals the truth: CPU (utime+stime from /proc, each process of the pipeline summed),
peak RSS (VmHWM), and the drain (from the writer's last line to the count being complete:
obsmon's committed in SQLite, mtail's on its /metrics, grep's printed lines). The truth is
computed without any follower: `grep -c -E` over the first N lines of the source, N being what
the writer says it wrote. obsmon's count differing from the truth (or not reaching it within
--drain-timeout) exits 1; another follower's is reported (the table's "counts" column, stderr).
"""
import argparse
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from log_compare import (REPO, SHAPES, cpu_seconds, daemon_log_tail, free_port,  # noqa: E402
                         mmm, read_only_uri, write_daemon_config)
from log_compare import fmt_mmm as fmt  # noqa: E402

# Generated sources above this are refused (a long-line log at 20,000 lines a second for 120 s
# would need 82 GB): lower --rates or --seconds.
MAX_SOURCE_MB = 4096


def fail(msg):
    print("log_follow_compare: " + msg, file=sys.stderr)
    sys.exit(1)


def thread_cpu_seconds(pids):
    """CPU of the processes' live threads, in nanoseconds' resolution (/proc/PID/task/*/schedstat,
    first field): /proc/PID/stat counts 10 ms ticks, too coarse for a follower using 0.1 s in a
    run. A thread that ended since is missing from this figure; cpu_seconds() (ticks, the whole
    process) is taken beside it to show that it did not happen (the table's last check)."""
    total = 0
    for pid in pids:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    total += int(f.read().split()[0])
            except (OSError, IndexError, ValueError):
                pass  # the thread ended meanwhile
    return total / 1e9


def both_cpu(pids):
    return thread_cpu_seconds(pids), sum(cpu_seconds(p) for p in pids)


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def mtail_program(severities):
    """Nested if/else: a line counts once, under the first severity that matches."""
    out = ["counter log_matches_total by severity"]
    indent = ""
    for i, (name, pattern) in enumerate(severities):
        regex = pattern.replace("/", r"\/")
        out.append(f'{indent}/{regex}/ {{')
        out.append(f'{indent}  log_matches_total["{name}"]++')
        if i + 1 < len(severities):
            out.append(f"{indent}}} else {{")
            indent += "  "
    for i in range(len(severities)):
        indent = "  " * (len(severities) - 1 - i)
        out.append(f"{indent}}}")
    return "\n".join(out) + "\n"


def mtail_count(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            text = r.read().decode()
    except OSError:
        return None
    return int(sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("log_matches_total{")))


def lines_in(path):
    with open(path, "rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


class Obsmon:
    def __init__(self, binary, path, shape, d, interval):
        self.db = os.path.join(d, "obsmon.db")
        self.dir = d
        cfg = os.path.join(d, "obsmon.yml")
        write_daemon_config(cfg, self.db, path, shape, interval)
        self.log = open(os.path.join(d, "obsmon.log"), "wb")
        self.proc = subprocess.Popen([binary, "run", "--config", cfg], stdout=self.log,
                                     stderr=self.log)
        self.pids = [self.proc.pid]
        self.con = None

    def ready(self):
        if self.proc.poll() is not None:
            fail(f"obsmon exited {self.proc.returncode}; its log:\n  {daemon_log_tail(self.dir)}")
        try:
            con = sqlite3.connect(read_only_uri(self.db), uri=True, timeout=1)
            n = con.execute("SELECT count(*) FROM probe_runs").fetchone()[0]
            con.close()
            return n > 0
        except sqlite3.Error:
            return False

    def count(self, name="obsmon_log_matches_total"):
        if self.proc.poll() is not None:
            fail(f"obsmon exited {self.proc.returncode}; its log:\n  {daemon_log_tail(self.dir)}")
        try:
            if self.con is None:
                self.con = sqlite3.connect(read_only_uri(self.db), uri=True, timeout=1)
            rows = self.con.execute(
                "SELECT c.value FROM counters c JOIN series s ON s.id = c.series_id "
                "WHERE s.name = ?", (name,)).fetchall()
            return int(sum(v for (v,) in rows))
        except sqlite3.Error:
            return None

    def stop(self):
        if self.con is not None:
            self.con.close()
        stop_all([self.proc])
        self.log.close()


class Mtail:
    def __init__(self, path, shape, d):
        severities, _ = SHAPES[shape]
        progs = os.path.join(d, "progs")
        os.mkdir(progs)
        with open(os.path.join(progs, "severity.mtail"), "w") as f:
            f.write(mtail_program(severities))
        self.port = free_port()
        self.log = open(os.path.join(d, "mtail.log"), "wb")
        self.proc = subprocess.Popen(
            ["mtail", "--progs", progs, "--logs", path, "--address", "127.0.0.1",
             "--port", str(self.port), "--logtostderr"], stdout=self.log, stderr=self.log)
        self.pids = [self.proc.pid]

    def ready(self):
        if self.proc.poll() is not None:
            fail(f"mtail exited {self.proc.returncode}")
        return mtail_count(self.port) is not None

    def count(self):
        return mtail_count(self.port)

    def stop(self):
        stop_all([self.proc])
        self.log.close()


class TailGrep:
    def __init__(self, path, shape, d):
        _, pattern = SHAPES[shape]
        self.out_path = os.path.join(d, "grep.out")
        self.out = open(self.out_path, "wb")
        self.tail = subprocess.Popen(["tail", "-n", "+1", "-F", path], stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL)
        self.grep = subprocess.Popen(["grep", "-a", "--line-buffered", "-E", pattern],
                                     stdin=self.tail.stdout, stdout=self.out)
        self.tail.stdout.close()
        self.pids = [self.tail.pid, self.grep.pid]

    def ready(self):
        return True

    def count(self):
        return lines_in(self.out_path)

    def stop(self):
        stop_all([self.tail, self.grep])
        self.out.close()


def stop_all(procs):
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def measured(follower, cpu0, count, drain):
    fine, ticks = both_cpu(follower.pids)
    return {"count": count, "drain": drain, "cpu": fine - cpu0[0], "cpu_ticks": ticks - cpu0[1],
            "rss": sum(peak_rss_mb(p) for p in follower.pids)}


def one_run(args, source, shape, rate, scratch):
    d = tempfile.mkdtemp(prefix="follow-", dir=scratch)
    path = os.path.join(d, "app.log")
    open(path, "wb").close()  # every follower starts on an empty file, as on a fresh deploy
    followers = {}
    try:
        followers["obsmon"] = Obsmon(args.obsmon, path, shape, d, args.interval)
        followers["grep"] = TailGrep(path, shape, d)
        followers["mtail"] = Mtail(path, shape, d)
        deadline = time.time() + 30
        while not all(f.ready() for f in followers.values()):
            if time.time() > deadline:
                fail("a follower did not start within 30 s")
            time.sleep(0.05)
        time.sleep(1.0)  # idle a second: every follower has opened the file
        cpu0 = {n: both_cpu(f.pids) for n, f in followers.items()}
        writer = subprocess.run([args.writer, source, path, str(rate), str(args.seconds),
                                 str(args.rotate_every), args.rotate_mode],
                                capture_output=True, text=True)
        t_end = time.time()
        if writer.returncode != 0:
            fail(f"log_writer exited {writer.returncode}: {writer.stderr.strip()}")
        wrote = dict(kv.split("=") for kv in writer.stdout.split())
        lines = int(wrote["lines"])
        head = subprocess.Popen(["head", "-n", str(lines), source], stdout=subprocess.PIPE)
        truth = int(subprocess.run(["grep", "-a", "-c", "-E", SHAPES[shape][1]], stdin=head.stdout,
                                   capture_output=True, text=True).stdout.strip() or 0)
        head.wait()
        result = {"lines": lines, "bytes": int(wrote["bytes"]), "truth": truth,
                  "rotations": int(wrote["rotations"]), "seconds": float(wrote["seconds"])}
        pending = dict(followers)
        # A follower that never reaches the truth is measured as of its count's last change
        # (its work ended there), not after the whole --drain-timeout of idling.
        last = {}
        while pending and time.time() - t_end < args.drain_timeout:
            for name, f in list(pending.items()):
                c = f.count()
                if c is not None and c >= truth:
                    result[name] = measured(f, cpu0[name], c, time.time() - t_end)
                    del pending[name]
                elif name not in last or last[name]["count"] != c:
                    last[name] = measured(f, cpu0[name], c, float("nan"))
            time.sleep(0.02)
        for name in pending:
            result[name] = last[name]
        # Once more after a second: a count that went on past the truth (a line counted twice)
        # is shown as it ends, not as it was when it first reached the truth.
        time.sleep(1.0)
        for name, f in followers.items():
            c = f.count()
            if c is not None and c != result[name]["count"]:
                result[name]["count"] = c
        # Files obsmon found gone before it had read them to their end (rotated away faster
        # than it polls): where its count falls short, this says that it knew.
        result["obsmon_missed"] = followers["obsmon"].count("obsmon_log_files_missed_total")
        return result
    finally:
        for f in followers.values():
            f.stop()
        if not args.keep:
            shutil.rmtree(d, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--obsmon", default=os.path.join(REPO, "build/obsmon"))
    ap.add_argument("--bench", default=os.path.join(REPO, "build/bench/log_scan_bench"))
    ap.add_argument("--writer", default=os.path.join(REPO, "build/bench/log_writer"))
    ap.add_argument("--shape", default="python", choices=sorted(SHAPES))
    ap.add_argument("--rates", default="1000,20000", help="lines a second, comma-separated")
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--rotate-every", type=float, default=30)
    ap.add_argument("--rotate-mode", default="create", choices=("create", "copytruncate"),
                    help="logrotate's mode: rename and create, or copy and truncate in place")
    ap.add_argument("--interval", default="1s", help="the obsmon log probe's interval")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--drain-timeout", type=float, default=60)
    ap.add_argument("--scratch")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    for tool in ("tail", "grep", "mtail", "head"):
        if shutil.which(tool) is None:
            fail(f"{tool} is not installed")
    for binary in (args.obsmon, args.bench, args.writer):
        if not os.access(binary, os.X_OK):
            fail(f"{binary} is not built (scripts/build.sh)")
    try:
        rates = [int(r) for r in args.rates.split(",")]
    except ValueError:
        fail(f"--rates {args.rates}: want whole numbers of lines a second, comma-separated")
    if min(rates) <= 0 or not args.seconds > 0 or args.runs < 1 or args.rotate_every < 0:
        fail("--rates, --seconds and --runs must be above 0, --rotate-every 0 or more")
    if min(rates) * args.seconds < 1:
        fail(f"{min(rates)} lines a second for {args.seconds:g} s writes no line")
    if args.scratch is not None and not os.path.isdir(args.scratch):
        fail(f"--scratch {args.scratch}: no such directory")
    # Absolute: the daemon reads paths in its config relative to the config file.
    scratch = os.path.abspath(tempfile.mkdtemp(prefix="obsmon-log-follow-", dir=args.scratch))
    # A HUP too (the terminal closed): fresh eyes, stop 58, found obsmon and mtail left running.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, lambda *_: sys.exit(143))
    try:
        # The source: one generated log long enough for the fastest rate. Shapes differ in bytes
        # a line (python ~90, nginx ~295, long ~34 KB), so a sample says how much to generate.
        source = os.path.join(scratch, f"source-{args.shape}.log")
        sample = os.path.join(scratch, "sample.log")
        out = subprocess.run([args.bench, "generate", args.shape, sample, "8"],
                             capture_output=True, text=True, check=True).stdout
        sample_lines = int(dict(kv.split("=") for kv in out.split())["lines"])
        os.remove(sample)
        needed = max(rates) * args.seconds
        size_mb = int(needed / max(sample_lines, 1) * 8 * 1.1) + 8
        if size_mb > MAX_SOURCE_MB:
            fail(f"--shape {args.shape} at {max(rates)} lines a second for {args.seconds:g} s "
                 f"needs a {size_mb} MB source (at most {MAX_SOURCE_MB}): lower --rates or "
                 "--seconds")
        gen = subprocess.run([args.bench, "generate", args.shape, source, str(size_mb)],
                             capture_output=True, text=True, check=True)
        uname = os.uname()
        print(f"# a log that grows: {os.cpu_count()} CPUs, load average at start "
              f"{' '.join(open('/proc/loadavg').read().split()[:3])}; {args.shape} lines "
              f"({gen.stdout.strip()} in the {size_mb} MB source), {args.seconds:g} s a run, "
              f"rotated every {args.rotate_every:g} s ({args.rotate_mode}), {args.runs} runs a "
              f"rate; obsmon's probe "
              f"interval {args.interval}; {uname.sysname} {uname.release}")
        print("# " + subprocess.run(["mtail", "--version"], capture_output=True,
                                    text=True).stdout.splitlines()[0])
        print("# " + subprocess.run(["grep", "--version"], capture_output=True,
                                    text=True).stdout.splitlines()[0] + "; "
              + subprocess.run(["tail", "--version"], capture_output=True,
                               text=True).stdout.splitlines()[0])
        print("# CPU: each follower's utime+stime from just before the writer's first line to "
              "its count equal to the truth; ratios = the other's median / obsmon's (> 1: "
              "obsmon cheaper); drain = last line written -> count complete")
        print("| lines/s (MB/s) | follower | counts = truth | CPU s | CPU ms per MB | "
              "drain s | peak RSS MB | CPU other / obsmon |")
        print("|---|---|---|---|---|---|---|---|")
        bad = []
        results_lines = []
        all_runs = []
        for rate in rates:
            runs = [one_run(args, source, args.shape, rate, scratch) for _ in range(args.runs)]
            all_runs += runs
            mb = statistics.median(r["bytes"] for r in runs) / 1e6
            mbs = mb / statistics.median(r["seconds"] for r in runs)
            for name in ("obsmon", "grep", "mtail"):
                agree = all(r[name]["count"] == r["truth"] for r in runs)
                if not agree:
                    bad.append(f"{name} at {rate}/s: counts "
                               f"{[r[name]['count'] for r in runs]} against truth "
                               f"{[r['truth'] for r in runs]}")
                cpu = [r[name]["cpu"] for r in runs]
                per_mb = [r[name]["cpu"] * 1000 / (r["bytes"] / 1e6) for r in runs]
                ratio = "—"
                obsmon_agrees = all(r["obsmon"]["count"] == r["truth"] for r in runs)
                if name != "obsmon":
                    ratios = [r[name]["cpu"] / max(r["obsmon"]["cpu"], 0.01) for r in runs]
                    ratio = fmt(ratios, 2)
                    key = "tailgrep" if name == "grep" else name
                    # A ratio only where both did the whole work: one that stopped short used
                    # less CPU for less (fresh eyes, stop 58: mtail at 24 of 231 lines got a
                    # ratio, and compare.sh's table a "met").
                    if agree and obsmon_agrees:
                        results_lines.append(f"RESULT logfollow_{key}_over_obsmon_cpu_{rate} "
                                             + " ".join(f"{x:.3f}" for x in mmm(ratios)))
                    else:
                        ratio += " (counts short: no RESULT)"
                label = {"obsmon": "obsmon", "grep": r"tail -F \| grep -E",
                         "mtail": "mtail"}[name]
                counts = ("yes" if agree else "NO") + f" ({runs[0]['truth']})"
                print(f"| {rate} ({mbs:.2f}) | {label} | {counts} | {fmt(cpu, 2)} | "
                      f"{fmt(per_mb, 1)} | {fmt([r[name]['drain'] for r in runs], 2)} | "
                      f"{fmt([r[name]['rss'] for r in runs], 1)} | {ratio} |")
        # Threads that ended inside the window are missing from the fine figure: it must agree
        # with the whole process's ticks (within two ticks a process and 5 %).
        off = [f"{name} at {r['lines']} lines: {r[name]['cpu']:.3f} s against "
               f"{r[name]['cpu_ticks']:.2f} s in ticks"
               for r in all_runs for name in ("obsmon", "grep", "mtail")
               if abs(r[name]["cpu"] - r[name]["cpu_ticks"]) > 0.04 + 0.05 * r[name]["cpu"]]
        for r in all_runs:
            print(f"# wrote {r['lines']} lines ({r['bytes'] / 1e6:.1f} MB) in "
                  f"{r['seconds']:.1f} s, "
                  f"rotated {r['rotations']} times; truth {r['truth']} matching lines; counts "
                  + ", ".join(f"{n} {r[n]['count']}" for n in ("obsmon", "grep", "mtail"))
                  + f"; obsmon missed {r['obsmon_missed']} files")
        print("# CPU check, threads' time against the processes' ticks: "
              + ("agree in every run" if not off else "DIFFER: " + "; ".join(off)))
        for line in results_lines:
            print(line)
        print(f"# load average at end {' '.join(open('/proc/loadavg').read().split()[:3])}")
        if bad:
            print("log_follow_compare: counts differ: " + "; ".join(bad), file=sys.stderr)
            if any(b.startswith("obsmon") for b in bad):
                sys.exit(1)
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"# kept {scratch}")


if __name__ == "__main__":
    main()
