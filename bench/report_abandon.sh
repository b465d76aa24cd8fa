#!/bin/bash
# What clients that give up on reports cost the daemon: one thread asks for a component's report
# on a fresh connection, closes it after PATIENCE seconds and asks again, for SECONDS; prints the
# daemon's CPU (utime + stime from /proc over the run), the requests made and what the gate
# counted. The database is copied, never written to.
#
#   bench/report_abandon.sh DB COMPONENT FROM TO [obsmon binary=build/obsmon] [SECONDS=15] [PATIENCE=0.05]
#   (a week of a flapping component: bench/report_memory_bench writes one)
set -euo pipefail
db=$1 component=$2 from=$3 to=$4
obsmon=${5:-build/obsmon} seconds=${6:-15} patience=${7:-0.05}
. "$(dirname "$0")/daemon_lib.sh"
start_on_copy "$db" "$component" "$obsmon" report-abandon
cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(cpu)
python3 - "$port" "/api/v1/components/$component/report?format=html&from=$from&to=$to&max_listed=10000" \
  "$seconds" "$patience" <<'PY'
import socket, sys, time
port, path, seconds, patience = int(sys.argv[1]), sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
asked = answered = 0
end = time.time() + seconds
while time.time() < end:
    s = socket.create_connection(("127.0.0.1", port)); s.settimeout(patience)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode()); asked += 1
    try:
        answered += bool(s.recv(64))
    except socket.timeout:
        pass
    s.close()
print(f"requests {asked}, answered within {patience} s: {answered}")
PY
sleep 2  # the last builds end or are given up
echo "daemon CPU over the run: $(echo "($(cpu) - $c0) / $(getconf CLK_TCK)" | bc -l | xargs printf '%.2f') s"
curl -s "127.0.0.1:$port/metrics" | grep -E '^obsmon_http_connections_dropped_total\{reason="client_gone"\}'
