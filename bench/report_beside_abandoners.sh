#!/bin/bash
# A patient user beside a script that gives up on reports: four threads from 127.0.0.2 ask for a
# component's HTML report on fresh connections and close each after 50 ms, while one user from
# 127.0.0.3 asks for the same report, one at a time, waiting up to 30 s, for SECONDS; prints what
# the user got (status, count, seconds min-median-max). The database is copied, never written.
#
#   bench/report_beside_abandoners.sh DB COMPONENT FROM TO [obsmon binary=build/obsmon] [SECONDS=20]
#   (a week of a flapping component: bench/report_memory_bench writes one)
set -euo pipefail
db=$1 component=$2 from=$3 to=$4
obsmon=${5:-build/obsmon} seconds=${6:-20}
. "$(dirname "$0")/daemon_lib.sh"
start_on_copy "$db" "$component" "$obsmon" report-abandoners
python3 - "$port" "/api/v1/components/$component/report?format=html&from=$from&to=$to" \
  "$seconds" <<'PY'
import socket, sys, threading, time
port, path, seconds = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.time() + seconds
def ask(source, patience):
    s = socket.socket(); s.bind((source, 0)); s.connect(("127.0.0.1", port))
    s.settimeout(patience)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    try:
        while chunk := s.recv(65536):
            data += chunk
    except socket.timeout:
        pass
    s.close()
    return data[:12].decode(errors="replace") or "(nothing)"
def abandoner():
    while time.time() < end:
        ask("127.0.0.2", 0.05)
threads = [threading.Thread(target=abandoner) for _ in range(4)]
for t in threads: t.start()
got = {}
while time.time() < end:
    t0 = time.time()
    got.setdefault(ask("127.0.0.3", 30), []).append(time.time() - t0)
for t in threads: t.join()
for status, d in sorted(got.items()):
    d.sort()
    print(f"patient user: {status} x{len(d)}, seconds {d[0]:.2f}-{d[len(d)//2]:.2f}-{d[-1]:.2f}")
PY
