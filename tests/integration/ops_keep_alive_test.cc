// The http probe's keep_alive in the real obsmon, beside what users do: sqlite3 reading the runs,
// the target killed (-9) and started again, a SIGHUP that changes keep_alive, obsmon killed (-9)
// and restarted. The truth is the targets' own log (a Python HTTP/1.1 server in a process of its
// own), one line per answered request with its connection, its time and the request's
// Connection header:
// - a kept probe's connections carry several runs each, never for longer than keep_alive;
// - a server that closes idle connections before the next run (its idle timeout shorter than the
//   interval) costs a connection per run and not one down run;
// - a probe without keep_alive connects for every run and asks the server to close;
// - down runs come only from the target's outage, and every up run is a request it answered.
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/resource.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "core/clock.h"
#include "tests/integration/ops_support.h"
#include "tests/support/loopback.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

// argv: port, log path, idle timeout in seconds. Logs "<connection> <path> <ms> <Connection
// header or ->" after each answer is written, so a logged request is one the client could read.
constexpr const char* kTarget = R"PY(
import http.server, itertools, sys, threading, time

port, log_path, idle = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
lock = threading.Lock()
ids = itertools.count(1)
log = open(log_path, "a", buffering=1)

class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = idle  # an idle kept connection is closed after this, as nginx's keepalive_timeout

    def setup(self):
        super().setup()
        self.conn_id = next(ids)

    def do_GET(self):
        body = b'{"status":"OK"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        with lock:
            log.write("%d %s %d %s\n" % (self.conn_id, self.path, int(time.time() * 1000),
                                         self.headers.get("Connection", "-")))

    def log_message(self, *args):
        pass

class Server(http.server.ThreadingHTTPServer):
    allow_reuse_address = True
    daemon_threads = True
    request_queue_size = 1024  # the default 5 drops the SYNs of a batch's connects

Server(("127.0.0.1", port), Handler).serve_forever()
)PY";

struct Request {
  std::string connection;  // the target's instance and connection number
  std::string path;
  int64_t ms = 0;
  std::string connection_header;
};

std::vector<Request> ReadLog(const std::string& path, const std::string& instance) {
  std::vector<Request> out;
  std::istringstream in(ReadWholeFile(path));
  std::string conn, p, header;
  int64_t ms = 0;
  while (in >> conn >> p >> ms >> header) out.push_back({instance + "/" + conn, p, ms, header});
  return out;
}

std::unique_ptr<Subprocess> StartTarget(const ScratchDir& dir, int port, const std::string& log,
                                        const std::string& idle_s) {
  auto target = std::make_unique<Subprocess>(
      std::vector<std::string>{"python3", dir.File("target.py"), std::to_string(port), log, idle_s},
      log + ".out");
  httplib::Client probe("127.0.0.1", port);
  probe.set_connection_timeout(1);
  EXPECT_TRUE(WaitUntil([&] { return probe.Get("/ready") != nullptr; }, 10s)) << target->Output();
  return target;
}

std::string Config(const std::string& db, int port_a, int port_b, const std::string& keep_a) {
  const std::string a = "http://127.0.0.1:" + std::to_string(port_a);
  const std::string b = "http://127.0.0.1:" + std::to_string(port_b);
  return "listen: 127.0.0.1:0\nstorage:\n  path: " + db +
         "\ncomponents:\n"
         "  - name: kept\n    probes:\n"
         "      - {name: a, kind: http, url: " + a + "/a, interval: 300ms, timeout: 300ms, "
         "keep_alive: " + keep_a + "}\n"
         "  - name: closing\n    probes:\n"
         "      - {name: b, kind: http, url: " + b + "/b, interval: 1s, timeout: 1s, "
         "keep_alive: 1m}\n"
         "  - name: fresh\n    probes:\n"
         "      - {name: c, kind: http, url: " + a + "/c, interval: 300ms, timeout: 300ms}\n";
}

int64_t Sql(const ScratchDir& dir, const std::string& db, const std::string& sql) {
  auto [rc, out] = RunCommand({"sqlite3", "-readonly", db, sql}, dir.File("sql.out"));
  EXPECT_EQ(rc, 0) << sql << ": " << out;
  return rc == 0 && !out.empty() ? std::stoll(out) : -1;
}

TEST(OpsKeepAliveTest, KeptConnectionsAgreeWithTheTargetsLogThroughKillsReloadsAndReads) {
  ScratchDir dir;
  WriteWholeFile(dir.File("target.py"), kTarget);
  const int port_a = testing::FreeLoopbackPort();
  const int port_b = testing::FreeLoopbackPort();
  // A keeps idle connections 30 s; B closes them after 0.5 s, before probe b's next run.
  auto target_a = StartTarget(dir, port_a, dir.File("a1.log"), "30");
  auto target_b = StartTarget(dir, port_b, dir.File("b.log"), "0.5");
  const std::string db = dir.File("obsmon.db");
  WriteWholeFile(dir.File("obsmon.yml"), Config(db, port_a, port_b, "3s"));
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();

  std::this_thread::sleep_for(5s);
  EXPECT_GT(Sql(dir, db, "SELECT count(*) FROM probe_runs"), 0);  // sqlite3 beside it
  // The target dies with its connections; obsmon's kept one is closed under it.
  target_a->Kill();
  const int64_t outage_from = SystemClock::Instance().NowMs();
  std::this_thread::sleep_for(1500ms);
  target_a = StartTarget(dir, port_a, dir.File("a2.log"), "30");
  const int64_t outage_to = SystemClock::Instance().NowMs();
  std::this_thread::sleep_for(4s);
  // keep_alive 3s -> 2s: a changed probe, its connection closed with its old instance.
  WriteWholeFile(dir.File("obsmon.yml"), Config(db, port_a, port_b, "2s"));
  ASSERT_TRUE(obsmon->Signal(SIGHUP));
  std::this_thread::sleep_for(4s);
  EXPECT_GT(Sql(dir, db, "SELECT count(*) FROM probe_runs WHERE success = 1"), 0);
  obsmon->Kill();
  obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon2.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  std::this_thread::sleep_for(5s);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
  std::this_thread::sleep_for(300ms);  // the targets log an answer just after writing it

  std::vector<Request> log = ReadLog(dir.File("a1.log"), "a1");
  for (const auto& r : ReadLog(dir.File("a2.log"), "a2")) log.push_back(r);
  for (const auto& r : ReadLog(dir.File("b.log"), "b")) log.push_back(r);
  std::map<std::string, int> requests;
  std::map<std::string, std::set<std::string>> connections;
  std::map<std::string, std::pair<int64_t, int64_t>> span;  // connection: first, last request
  for (const Request& r : log) {
    if (r.path == "/ready") continue;  // StartTarget's own
    ++requests[r.path];
    connections[r.path].insert(r.connection);
    auto [it, fresh] = span.try_emplace(r.connection, r.ms, r.ms);
    if (!fresh) it->second.second = r.ms;
    if (r.path == "/c") {
      EXPECT_EQ(r.connection_header, "close") << "without keep_alive the request asks to close";
    } else {
      EXPECT_EQ(r.connection_header, "-") << r.path << ": a kept probe's request";
    }
  }

  int64_t longest = 0;
  for (const std::string& conn : connections["/a"]) {
    longest = std::max(longest, span[conn].second - span[conn].first);
  }
  std::cout << "target's log: /a " << requests["/a"] << " requests on "
            << connections["/a"].size() << " connections (longest in use " << longest
            << " ms); /b " << requests["/b"] << " on " << connections["/b"].size() << "; /c "
            << requests["/c"] << " on " << connections["/c"].size() << "\n";
  // Probe a: several runs a connection, none for longer than keep_alive (3 s, then 2 s; the run
  // starts the age, the request arrives a little after: 300 ms of slack).
  ASSERT_GT(requests["/a"], 40);
  EXPECT_LE(connections["/a"].size() * 4, static_cast<size_t>(requests["/a"]))
      << connections["/a"].size() << " connections for " << requests["/a"] << " requests";
  for (const std::string& conn : connections["/a"]) {
    EXPECT_LE(span[conn].second - span[conn].first, 3300) << conn;
  }
  // Probe b: its kept connection is always closed by the target before its next run: a fresh
  // connection for every run, and none of them down.
  ASSERT_GT(requests["/b"], 10);
  EXPECT_EQ(connections["/b"].size(), static_cast<size_t>(requests["/b"]));
  EXPECT_EQ(Sql(dir, db, "SELECT count(*) FROM probe_runs r JOIN probes p ON p.id = r.probe_id "
                         "WHERE p.component = 'closing' AND r.success = 0"),
            0);
  // Probe c: a connection per run.
  ASSERT_GT(requests["/c"], 40);
  EXPECT_EQ(connections["/c"].size(), static_cast<size_t>(requests["/c"]));

  // The stored runs against the log. Every up run is an answered request: at most one more up
  // run than logged answers per kill of the target (an answer written, the log line not yet);
  // and answered requests are stored but for what the kill of obsmon lost (runs done in its
  // group commit's wait, and those in flight: testing::RunsAKillMayLose).
  for (const auto& [component, path] :
       {std::pair{"kept", "/a"}, std::pair{"closing", "/b"}, std::pair{"fresh", "/c"}}) {
    SCOPED_TRACE(component);
    const std::string of = std::string("FROM probe_runs r JOIN probes p ON p.id = r.probe_id "
                                       "WHERE p.component = '") + component + "'";
    const int64_t up = Sql(dir, db, "SELECT count(*) " + of + " AND r.success = 1");
    EXPECT_LE(up, requests[path] + 1);
    EXPECT_GE(up, requests[path] - testing::RunsAKillMayLose(300));  // the shorter interval
    // Down runs only while the target was away (a run started up to its 1 s timeout before).
    EXPECT_EQ(Sql(dir, db, "SELECT count(*) " + of + " AND r.success = 0 AND (r.ts_ms < " +
                               std::to_string(outage_from - 1000) + " OR r.ts_ms > " +
                               std::to_string(outage_to + 1000) + ")"),
              0);
  }
  EXPECT_GT(Sql(dir, db, "SELECT count(*) FROM probe_runs r JOIN probes p ON p.id = r.probe_id "
                         "WHERE p.component = 'kept' AND r.success = 0"),
            0)
      << "the target's outage left no down run";
}

// Under a small open-files limit (fresh eyes: 100 probes with keep_alive and a hard limit of 64
// made runs fail with "Too many open files" and the database unopenable): kept connections stay
// within half the limit less 64, the other runs connect afresh, and no run fails for it.
TEST(OpsKeepAliveTest, UnderASmallOpenFilesLimitKeptConnectionsStayWithinTheirBudget) {
  ScratchDir dir;
  WriteWholeFile(dir.File("target.py"), kTarget);
  const int target_port = testing::FreeLoopbackPort();
  auto target = StartTarget(dir, target_port, dir.File("t.log"), "30");
  constexpr int kProbes = 240;  // kept all at once, they and obsmon's own files pass 256
  std::string yaml = "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
                     "\ncomponents:\n  - name: many\n    probes:\n";
  for (int i = 0; i < kProbes; ++i) {
    yaml += "      - {name: p" + std::to_string(i) + ", kind: http, url: http://127.0.0.1:" +
            std::to_string(target_port) + "/k/" + std::to_string(i) +
            ", interval: 1s, timeout: 1s, keep_alive: 1m}\n";
  }
  WriteWholeFile(dir.File("obsmon.yml"), yaml);
  // obsmon inherits the limit (soft and hard 256: it cannot raise it); this process's is put
  // back after the start (root may raise a hard limit again).
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  rlimit small{256, 256};
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &small), 0);
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ::setrlimit(RLIMIT_NOFILE, &saved);
  ASSERT_GT(port, 0) << obsmon->Output();
  std::this_thread::sleep_for(8s);

  httplib::Client client("127.0.0.1", port);
  client.set_read_timeout(10);
  auto healthz = client.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200) << healthz->body;
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  const double limit =
      testing::MetricValue(metrics->body, "obsmon_http_kept_connections_limit").value_or(-1);
  const double kept =
      testing::MetricValue(metrics->body, "obsmon_http_kept_connections").value_or(-1);
  EXPECT_EQ(limit, 256 / 2 - 64);
  EXPECT_GT(kept, 0);
  EXPECT_LE(kept, limit);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();

  const std::string db = dir.File("obsmon.db");
  EXPECT_EQ(Sql(dir, db, "SELECT count(*) FROM probe_runs WHERE success = 0"), 0)
      << Sql(dir, db, "SELECT count(*) FROM probe_runs") << " runs; "
      << testing::RunCommand({"sqlite3", db, "SELECT reason, count(*) FROM probe_runs WHERE "
                                             "success = 0 GROUP BY reason"},
                             dir.File("reasons.out"))
             .second;
  EXPECT_GE(Sql(dir, db, "SELECT count(*) FROM probe_runs WHERE success = 1"), kProbes * 7);
  // The target saw fewer connections than requests (some probes kept theirs) and more than
  // the budget (the others did not).
  std::set<std::string> connections;
  int requests = 0;
  for (const Request& r : ReadLog(dir.File("t.log"), "t")) {
    if (r.path == "/ready") continue;
    ++requests;
    connections.insert(r.connection);
  }
  EXPECT_LT(static_cast<int>(connections.size()), requests);
  EXPECT_GT(static_cast<double>(connections.size()), limit);
  EXPECT_EQ(obsmon->Output().find("Too many open files"), std::string::npos);
}

}  // namespace
}  // namespace obsmon
