# Sourced by the bench scripts that run the real daemon against loopback HTTP targets
# (probe_cost.sh, refresh_cost.sh, cpu_by_minute.sh): a free port, the small Python target
# (bench/http_target.py, outside obsmon's process, so none of its CPU is counted), the runs
# obsmon counted, CPU per thread name, and one thread name's system calls and bytes written
# (thread_io).

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_on_copy DB COMPONENT OBSMON NAME: the daemon OBSMON on a copy of DB (never written to) in
# a fresh /tmp/obsmon-NAME.XXXXXX, answering reports on COMPONENT's stored runs (its one probe is
# idle: nothing new is written), stopped when the script exits; sets dir, port and pid once it
# answers.
start_on_copy() {
  dir=$(mktemp -d "/tmp/obsmon-$4.XXXXXX")
  cp "$1" "$dir/o.db"
  port=$(free_port)
  cat > "$dir/o.yml" <<YML
listen: 127.0.0.1:$port
storage: {path: $dir/o.db, retention: 3650d, rollup_retention: 3650d}
components:
  - name: $2
    probes:
      - {name: idle, kind: tcp, address: "127.0.0.1:1", interval: 1h}
YML
  "$3" run --config "$dir/o.yml" --log-level warn > "$dir/obsmon.log" 2>&1 &
  pid=$!
  trap 'kill $pid 2>/dev/null || true' EXIT
  for _ in $(seq 100); do curl -s -o /dev/null "127.0.0.1:$port/-/healthy" && break; sleep 0.1; done
}

# KEEP_ALIVE (a duration, e.g. 1m) in the environment: the probes get that keep_alive and the
# target keeps connections (HTTP/1.1).

# start_target DIR PORT: bench/http_target.py on PORT, its stderr in DIR; sets target_pid.
start_target() {
  python3 "$(dirname "${BASH_SOURCE[0]}")/http_target.py" "$2" ${KEEP_ALIVE:+keep} 2> "$1/target.log" &
  target_pid=$!
  for _ in $(seq 100); do  # the target listens before the first run (a refusal is a down run)
    curl -s -o /dev/null "127.0.0.1:$2/t/0" && break
    sleep 0.1
  done
}

# probe_config LISTEN_PORT DB COMPONENT PREFIX N TARGET_PORT [EXTRA]: an obsmon config of one
# component with N http probes PREFIX0 .. PREFIX<N-1> of the target at 1 s; EXTRA (YAML lines)
# goes before storage.
probe_config() {
  local i
  echo "listen: 127.0.0.1:$1"
  [ -n "${7:-}" ] && echo "$7"
  echo "storage:"
  echo "  path: $2"
  echo "components:"
  echo "  - name: $3"
  echo "    probes:"
  for ((i = 0; i < $5; i++)); do
    echo "      - {name: $4$i, kind: http, url: \"http://127.0.0.1:$6/t/$i\", interval: 1000ms, timeout: 1000ms${KEEP_ALIVE:+, keep_alive: $KEEP_ALIVE}}"
  done
}

# runs PORT: the probe runs obsmon listening on PORT has counted (obsmon_probe_runs_total).
runs() {
  curl -s "127.0.0.1:$1/metrics" |
    awk '/^obsmon_probe_runs_total/ {s += $NF} END {printf "%d\n", s}'
}

# threads PID: per thread name, CPU ticks and voluntary context switches, summed over the
# threads of one name (one process reads them all, so the snapshot is quick).
threads() {
  python3 - "$1" <<'PY'
import collections, glob, sys
cpu, vol = collections.Counter(), collections.Counter()
for task in glob.glob(f"/proc/{sys.argv[1]}/task/*"):
    try:
        name = open(f"{task}/comm").read().strip().replace(" ", "_")
        stat = open(f"{task}/stat").read().rsplit(")", 1)[1].split()
        cpu[name] += int(stat[11]) + int(stat[12])  # utime, stime: fields 14 and 15
        for line in open(f"{task}/status"):
            if line.startswith("voluntary_ctxt_switches"):
                vol[name] += int(line.split()[1])
    except OSError:
        pass  # a thread that ended meanwhile
for name in sorted(cpu):
    print(name, cpu[name], vol[name])
PY
}

# thread_io PID NAME: the read and write system calls (syscr + syscw) and the bytes written
# (wchar) of the threads called NAME, summed, from /proc/PID/task/*/io: what a thread asks of
# the kernel, which on this paravirtualized guest costs more than the bytes it moves.
thread_io() {
  python3 - "$1" "$2" <<'PY'
import glob, sys
calls = written = 0
for task in glob.glob(f"/proc/{sys.argv[1]}/task/*"):
    try:
        if open(f"{task}/comm").read().strip() != sys.argv[2]:
            continue
        io = dict(line.split(": ") for line in open(f"{task}/io").read().splitlines())
        calls += int(io["syscr"]) + int(io["syscw"])
        written += int(io["wchar"])
    except OSError:
        pass  # a thread that ended meanwhile
print(calls, written)
PY
}
