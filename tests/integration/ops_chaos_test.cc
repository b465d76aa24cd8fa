// Chaos of the real obsmon binary (issue "Durable under real operation").
//
// One obsmon daemon watches two things whose truth this test knows independently:
//   - a loopback HTTP target whose /health answers 200 or 503 on a seeded schedule (the truth of
//     up and down: every transition in wall-clock ms);
//   - a log file written with known numbers of ERROR / CRITICAL / INFO lines and rotated by the
//     real logrotate (create and copytruncate in turn; the truth is what the writer wrote).
// Meanwhile the test runs rounds, each of them:
//   1. every CLI command beside the daemon (check, observe start|list|report|stop, maintenance
//      add|list, report), sqlite3 reads, writes to a table of the user's own (user_notes) and
//      .backup, and the daemon's own HTTP report and /healthz;
//   2. a SIGHUP reload that changes both probes' settings (so both fingerprints change and the
//      daemon replaces both probes); the target sees the new http settings (a header);
//   3. a wait until the runs the daemon made since are readable by another process (sqlite3);
//   4. kill -9 of the daemon, after reading with sqlite3 what is committed and checking that the
//      daemon's descriptors of the database, -wal and -shm are not `(deleted)`; a restart, after
//      which every committed run must still be there.
// At the end (log writer stopped, daemon caught up, /healthz 200, graceful SIGTERM):
//   - the report's up / down / unknown agree with the truth: never the opposite state more than
//     one probe interval + timeout from a transition (checked on the report and on the raw runs),
//     total down time = the truth's down time while obsmon ran (within the transitions' and
//     restarts' slack), unknown only where obsmon was dead, restarting or reloading, and time
//     obsmon was dead never claimed up or down;
//   - ERROR and CRITICAL lines counted exactly once (persisted counters, the report, and each
//     numbered line kept once in log_events);
//   - every period, maintenance window and user_notes row the CLI / sqlite3 wrote is there, and
//     the database and its backup pass PRAGMA integrity_check.
//
// OBSMON_CHAOS_SECONDS (default 75) sets the length of the chaos phase (bench/chaos.sh runs it
// for 30 min), OBSMON_CHAOS_SEED the seed, OBSMON_TEST_BINARY another obsmon binary (e.g. an
// older one, to show what this test catches). sqlite3 and logrotate are found on PATH
// (scripts/install-deps.sh --with-test-tools).
#include <gtest/gtest.h>
#include <httplib.h>
#include <limits.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/log_writer.h"
#include "tests/integration/ops_support.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::MetricValue;
using testing::RunCommand;
using testing::ScratchDir;
using testing::Subprocess;
using testing::WaitUntil;
using testing::WriteWholeFile;

constexpr int64_t kHttpIntervalMs = 200;
constexpr int64_t kHttpTimeoutMs = 150;
constexpr int64_t kLogIntervalMs = 200;
// How long a stored verdict may show the old state around a transition of the truth: the last
// run before the flip stands until the next run (one interval; at most its valid_for, 1.5
// intervals), and a run started just before the flip may be answered just after it (within its
// timeout).
constexpr int64_t kTransitionSlackMs =
    std::max(kHttpIntervalMs + kHttpTimeoutMs, kHttpIntervalMs * 3 / 2);
// The same around a start or a kill of obsmon: the last run before a kill stands for its
// valid_for (1.5 intervals) after it; the first run after a start comes within an interval.
constexpr int64_t kBoundarySlackMs = kHttpIntervalMs * 3 / 2 + kHttpTimeoutMs;
// Unknown time that is expected while obsmon runs: right after it starts listening (its probes'
// first runs are spread over an interval) and right after a reload (a changed probe is a new
// instance with a new schedule).
constexpr int64_t kStartGraceMs = 1000;
constexpr int64_t kReloadGraceMs = 1000;
constexpr int64_t kKillGraceMs = 500;

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string ObsmonBinary() { return testing::kObsmonBinary; }  // OBSMON_TEST_BINARY or the build

int ChaosSeconds() {
  const char* env = std::getenv("OBSMON_CHAOS_SECONDS");
  return std::max(env && *env ? std::atoi(env) : 75, 20);
}

uint32_t ChaosSeed() {
  const char* env = std::getenv("OBSMON_CHAOS_SEED");
  return env && *env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10))
                     : std::random_device{}();
}

// The program `name` on PATH (plus /usr/sbin and /sbin, where Debian puts logrotate and which a
// non-root PATH may lack); "" when there is none.
std::string FindProgram(const std::string& name) {
  const char* env = std::getenv("PATH");
  std::stringstream dirs(std::string(env ? env : "") + ":/usr/sbin:/sbin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    const std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
  }
  return "";
}

// Unix seconds with milliseconds, as `obsmon report --from/--to` and `maintenance add` take them.
std::string UnixSeconds(int64_t ms) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%lld.%03lld", static_cast<long long>(ms / 1000),
                static_cast<long long>(ms % 1000));
  return buf;
}

// The JSON object in a command's output (stderr lines, if any, come before or after it).
nlohmann::json ParseJsonOutput(const std::string& out) {
  const auto open = out.find('{'), close = out.rfind('}');
  if (open == std::string::npos || close == std::string::npos || close < open) return nullptr;
  return nlohmann::json::parse(out.substr(open, close - open + 1), nullptr, false);
}

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> out;
  std::stringstream in(text);
  std::string part;
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

// The unique number testing::LogWriter gives a matched line ("... ERROR request 17 failed",
// "... CRITICAL disk 18 gone"); -1 for any other line.
int64_t MatchedLineNumber(const std::string& line) {
  for (const char* word : {" ERROR request ", " CRITICAL disk "}) {
    const size_t at = line.find(word);
    if (at != std::string::npos) return std::atoll(line.c_str() + at + std::strlen(word));
  }
  return -1;
}

// ---- Half-open time spans [start, end) in wall-clock ms, and the set operations the checks use.

struct Span {
  int64_t start = 0, end = 0;
};

int64_t Length(const std::vector<Span>& spans) {
  int64_t sum = 0;
  for (const Span& s : spans) sum += s.end - s.start;
  return sum;
}

// Sorted, without empty spans, overlapping or touching spans joined.
std::vector<Span> Merge(std::vector<Span> spans) {
  std::sort(spans.begin(), spans.end(), [](Span a, Span b) { return a.start < b.start; });
  std::vector<Span> out;
  for (const Span& s : spans) {
    if (s.end <= s.start) continue;
    if (!out.empty() && s.start <= out.back().end) {
      out.back().end = std::max(out.back().end, s.end);
    } else {
      out.push_back(s);
    }
  }
  return out;
}

std::vector<Span> Intersect(const std::vector<Span>& a, const std::vector<Span>& b) {
  std::vector<Span> out;
  const std::vector<Span> other = Merge(b);
  for (const Span& x : Merge(a)) {
    for (const Span& y : other) {
      const Span both{std::max(x.start, y.start), std::min(x.end, y.end)};
      if (both.start < both.end) out.push_back(both);
    }
  }
  return Merge(out);
}

std::vector<Span> Subtract(const std::vector<Span>& a, const std::vector<Span>& b) {
  std::vector<Span> out;
  const std::vector<Span> cut = Merge(b);
  for (const Span& x : Merge(a)) {
    int64_t from = x.start;
    for (const Span& y : cut) {
      if (y.end <= from || y.start >= x.end) continue;
      if (y.start > from) out.push_back({from, y.start});
      from = std::max(from, y.end);
    }
    if (from < x.end) out.push_back({from, x.end});
  }
  return Merge(out);
}

bool Contains(const std::vector<Span>& spans, int64_t t) {
  for (const Span& s : spans) {
    if (s.start <= t && t < s.end) return true;
  }
  return false;
}

// "+12.345s..+12.700s (355 ms), ..." relative to the start of the test, for failure messages.
std::string Describe(const std::vector<Span>& spans, int64_t t0, size_t max = 8) {
  std::string out;
  char buf[96];
  for (size_t i = 0; i < spans.size() && i < max; ++i) {
    std::snprintf(buf, sizeof buf, "%s+%.3fs..+%.3fs (%lld ms)", i ? ", " : "",
                  (spans[i].start - t0) / 1000.0, (spans[i].end - t0) / 1000.0,
                  static_cast<long long>(spans[i].end - spans[i].start));
    out += buf;
  }
  if (spans.size() > max) out += ", ... (" + std::to_string(spans.size()) + " spans)";
  return out.empty() ? "none" : out;
}

std::string At(int64_t ms, int64_t t0) {
  if (ms == 0) return "none";
  char buf[32];
  std::snprintf(buf, sizeof buf, "+%.3fs", (ms - t0) / 1000.0);
  return buf;
}

// ---- The flapping target: the truth of up and down.

// /health on 127.0.0.1 answering 200 or 503 by a schedule drawn from a seed before the test
// starts: up 2.5-5 s, down 1.5-3.5 s, in turn. Each answer is looked up in the schedule at the
// moment it is given, so the schedule is exactly the truth of what the target said. It also
// remembers the highest X-Chaos-Generation header a probe sent (evidence that a reload reached
// the http probe).
class FlappingTarget {
 public:
  struct State {
    Span span;
    bool up = true;
  };

  FlappingTarget(uint32_t seed, int64_t start_ms, int64_t horizon_ms) {
    std::mt19937 rng(seed);
    bool up = true;
    for (int64_t t = start_ms; t < horizon_ms;) {
      const int64_t length = up ? 2500 + rng() % 2500 : 1500 + rng() % 2000;
      schedule_.push_back({{t, t + length}, up});
      t += length;
      up = !up;
    }
    server_.Get("/health", [this](const httplib::Request& req, httplib::Response& res) {
      if (req.has_header("X-Chaos-Generation")) {
        const int g = std::atoi(req.get_header_value("X-Chaos-Generation").c_str());
        int seen = generation_.load();
        while (g > seen && !generation_.compare_exchange_weak(seen, g)) {
        }
      }
      if (UpAt(NowMs())) {
        ++answered_up_;
        res.set_content("{\"status\":\"OK\"}", "application/json");
      } else {
        ++answered_down_;
        res.status = 503;
        res.set_content("{\"status\":\"DOWN\"}", "application/json");
      }
    });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    WaitUntil([&] { return server_.is_running(); }, 5s);
  }
  ~FlappingTarget() {
    server_.stop();
    if (thread_.joinable()) thread_.join();
  }

  int port() const { return port_; }
  int generation() const { return generation_.load(); }
  int64_t answered_up() const { return answered_up_.load(); }
  int64_t answered_down() const { return answered_down_.load(); }

  bool UpAt(int64_t t) const {
    for (const State& s : schedule_) {
      if (s.span.start <= t && t < s.span.end) return s.up;
    }
    return true;
  }
  // The truth's up (or down) spans, clipped to [from, to).
  std::vector<Span> Spans(bool up, int64_t from, int64_t to) const {
    std::vector<Span> out;
    for (const State& s : schedule_) {
      if (s.up != up) continue;
      const Span clipped{std::max(s.span.start, from), std::min(s.span.end, to)};
      if (clipped.start < clipped.end) out.push_back(clipped);
    }
    return out;
  }
  // Times at which the target changed its answer, in [from, to).
  std::vector<int64_t> Transitions(int64_t from, int64_t to) const {
    std::vector<int64_t> out;
    for (size_t i = 1; i < schedule_.size(); ++i) {
      const int64_t t = schedule_[i].span.start;
      if (from <= t && t < to) out.push_back(t);
    }
    return out;
  }

 private:
  std::vector<State> schedule_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<int> generation_{0};
  std::atomic<int64_t> answered_up_{0}, answered_down_{0};
};

// ---- The log writer: the truth of ERROR and CRITICAL lines.

// Appends batches of lines with known numbers of ERROR / CRITICAL / INFO lines
// (testing::LogWriter) and every 15-45 batches rotates the file with the real logrotate, create
// and copytruncate in turn. Writing and rotating share one thread, so nothing is written while
// logrotate runs: with copytruncate a line written between its copy and its truncate is in
// neither file, the one loss no tailer can avoid (docs/log-probe.md), not what this test measures.
class LogChaos {
 public:
  LogChaos(const ScratchDir& dir, std::string logrotate, uint32_t seed, int64_t pause_ms)
      : dir_(dir),
        logrotate_(std::move(logrotate)),
        path_(dir.File("carbon.log")),
        writer_(path_, seed),
        rng_(seed + 1),
        pause_ms_(pause_ms) {
    WriteWholeFile(path_, "");
    for (const char* mode : {"create", "copytruncate"}) {
      const std::string conf = dir.File(std::string("logrotate-") + mode + ".conf");
      WriteWholeFile(conf, path_ + " {\n  rotate 50\n  missingok\n  " + mode + "\n}\n");
      ::chmod(conf.c_str(), 0644);  // logrotate ignores a config others may write
      confs_.push_back(conf);
    }
  }
  ~LogChaos() { Stop(); }

  const std::string& path() const { return path_; }
  void Start() {
    thread_ = std::thread([this] { Loop(); });
  }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Read these after Stop().
  const testing::LogWriter& written() const { return writer_; }
  int rotations() const { return rotations_; }
  int failures() const { return failures_; }
  const std::string& last_failure() const { return last_failure_; }

 private:
  void Loop() {
    int until_rotation = 15 + static_cast<int>(rng_() % 31);
    while (!stop_) {
      if (!writer_.Append(1 + static_cast<int>(rng_() % 8))) {
        ++failures_;
        last_failure_ = "cannot append to " + path_;
      }
      if (--until_rotation == 0) {
        Rotate();
        until_rotation = 15 + static_cast<int>(rng_() % 31);
      }
      std::this_thread::sleep_for(
          std::chrono::milliseconds(pause_ms_ / 2 + static_cast<int64_t>(rng_() % pause_ms_)));
    }
  }
  void Rotate() {
    const std::string& conf = confs_[rotations_ % confs_.size()];
    auto [code, out] = RunCommand({logrotate_, "-f", "-s", dir_.File("logrotate.state"), conf},
                                  dir_.File("logrotate.out"));
    if (code != 0) {
      ++failures_;
      last_failure_ = "logrotate " + conf + " exit " + std::to_string(code) + ": " + out;
    }
    ++rotations_;
  }

  const ScratchDir& dir_;
  std::string logrotate_, path_;
  std::vector<std::string> confs_;
  testing::LogWriter writer_;
  std::mt19937 rng_;
  int64_t pause_ms_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  int rotations_ = 0, failures_ = 0;
  std::string last_failure_;
};

// ---- The daemon, started and killed many times.

// One life of the daemon: spawned, listening (its probes run from about then), ended (kill -9 or
// SIGTERM sent).
struct Life {
  int64_t spawn_ms = 0, listen_ms = 0, end_ms = 0;
};

class Daemon {
 public:
  Daemon(std::string binary, std::string config, const ScratchDir& dir)
      : binary_(std::move(binary)), config_(std::move(config)), dir_(dir) {}

  // Starts `obsmon run` and waits until it listens; false, with its output in *why, if not.
  bool Start(std::string* why) {
    Life life;
    life.spawn_ms = NowMs();
    const std::string out = dir_.File("obsmon-" + std::to_string(lives_.size()) + ".log");
    proc_ = std::make_unique<Subprocess>(
        std::vector<std::string>{binary_, "run", "--config", config_}, out);
    port_ = 0;
    const bool listening = proc_->started() && WaitUntil(
                                                   [&] {
                                                     const std::string text = proc_->Output();
                                                     const auto at = text.find("(port ");
                                                     if (at == std::string::npos) return false;
                                                     port_ = std::stoi(text.substr(at + 6));
                                                     return true;
                                                   },
                                                   30s);
    if (!listening) {
      *why = proc_->started() ? proc_->Output() : "cannot start " + binary_;
      return false;
    }
    life.listen_ms = NowMs();
    lives_.push_back(life);
    return true;
  }
  // True while the daemon runs (false when it exited by itself, e.g. crashed).
  bool Alive() { return proc_ && proc_->pid() > 0 && !proc_->Wait(0ms).has_value(); }
  void Kill9() {
    lives_.back().end_ms = NowMs();
    proc_->Kill();
  }
  std::optional<int> Terminate() {
    lives_.back().end_ms = NowMs();
    proc_->Signal(SIGTERM);
    return proc_->Wait(60s);
  }
  void Hangup() { proc_->Signal(SIGHUP); }
  // How many reloads this life of the daemon has logged as applied.
  int Reloads() const {
    const std::string text = proc_->Output();
    int n = 0;
    for (size_t at = text.find("config reloaded"); at != std::string::npos;
         at = text.find("config reloaded", at + 1)) {
      ++n;
    }
    return n;
  }

  pid_t pid() const { return proc_->pid(); }
  int port() const { return port_; }
  std::string Output() const { return proc_->Output(); }
  const std::vector<Life>& lives() const { return lives_; }

 private:
  std::string binary_, config_;
  const ScratchDir& dir_;
  std::unique_ptr<Subprocess> proc_;
  int port_ = 0;
  std::vector<Life> lives_;
};

// What the daemon holds open of the database files, as `ls -l /proc/PID/fd` shows it: the link
// targets starting with `db` ("<db>-wal", "<db>-wal (deleted)", ...).
std::vector<std::string> DatabaseDescriptors(pid_t pid, const std::string& db) {
  std::vector<std::string> out;
  std::error_code ec;
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    char target[PATH_MAX + 32];
    const ssize_t n = ::readlink(entry.path().c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    const std::string link(target, static_cast<size_t>(n));
    if (link.rfind(db, 0) == 0) out.push_back(link);
  }
  std::sort(out.begin(), out.end());
  return out;
}

// Committed runs of one probe, as another process reads them.
struct Committed {
  int64_t count = 0, max_ts = 0;
};

class OpsChaosTest : public ::testing::Test {
 protected:
  void SetUp() override {
    obsmon_ = ObsmonBinary();
    sqlite3_ = FindProgram("sqlite3");
    logrotate_ = FindProgram("logrotate");
    // The canonical directory, as /proc/PID/fd names the files.
    db_ = std::filesystem::canonical(dir_.path()).string() + "/obsmon.db";
    config_ = dir_.File("obsmon.yml");
  }

  // The config of `generation`: each generation changes a setting of both probes (a header of
  // the http probe, max_line_bytes of the log probe), so a reload replaces both.
  void WriteConfig(int generation, int target_port, const std::string& log) {
    std::ostringstream yml;
    yml << "listen: 127.0.0.1:0\n"
        // Often, so that the daemon opens its readers all the time, as it does every 15 s by
        // default and on every report request.
        << "uptime_refresh: 1s\n"
        << "storage:\n  path: " << db_ << "\n"
        << "components:\n"
        << "  - name: carbon\n"
        << "    labels: {job: carbon}\n"
        << "    probes:\n"
        << "      - name: health\n"
        << "        kind: http\n"
        << "        url: http://127.0.0.1:" << target_port << "/health\n"
        << "        interval: " << kHttpIntervalMs << "ms\n"
        << "        timeout: " << kHttpTimeoutMs << "ms\n"
        << "        headers: {X-Chaos-Generation: \"" << generation << "\"}\n"
        << "      - name: logs\n"
        << "        kind: log\n"
        << "        interval: " << kLogIntervalMs << "ms\n"
        << "        paths: [" << log << "]\n"
        << "        max_line_bytes: " << 1000 + generation << "\n";
    WriteWholeFile(config_, yml.str());
  }

  std::pair<int, std::string> Cli(std::vector<std::string> args) {
    args.insert(args.begin(), obsmon_);
    return RunCommand(args, dir_.File("cli.out"));
  }

  // sqlite3 as a user runs it beside the daemon (with a busy timeout, as anyone writing to a
  // live database must); stdout and stderr together.
  std::pair<int, std::string> Sql(const std::string& db, const std::string& sql) {
    return RunCommand({sqlite3_, "-batch", "-bail", "-cmd", ".timeout 5000", db, sql},
                      dir_.File("sqlite3.out"));
  }

  // One number from sqlite3, nullopt when it failed.
  std::optional<double> SqlNumber(const std::string& sql) {
    auto [code, out] = Sql(db_, sql);
    if (code != 0 || out.empty()) return std::nullopt;
    try {
      return std::stod(out);
    } catch (...) {
      return std::nullopt;
    }
  }

  // Per probe of "carbon": committed runs with ts_ms <= max_ts (all when max_ts is INT64_MAX).
  std::map<std::string, Committed> CommittedRuns(int64_t max_ts = INT64_MAX) {
    std::map<std::string, Committed> out;
    auto [code, text] =
        Sql(db_,
            "SELECT p.probe, count(*), max(r.ts_ms) FROM probe_runs r JOIN probes p ON "
            "p.id = r.probe_id WHERE p.component = 'carbon' AND r.ts_ms <= " +
                std::to_string(max_ts) + " GROUP BY p.probe ORDER BY p.probe;");
    EXPECT_EQ(code, 0) << text;
    for (const std::string& line : Split(text, '\n')) {
      const auto cols = Split(line, '|');
      if (cols.size() != 3) continue;
      out[cols[0]] = {std::stoll(cols[1]), std::stoll(cols[2])};
    }
    return out;
  }

  // Sum of the persisted counter `name` of "carbon" whose label text contains `label_part`.
  double Counter(const std::string& name, const std::string& label_part = "") {
    auto [code, text] =
        Sql(db_,
            "SELECT x.labels, c.value FROM counters c JOIN series x ON x.id = c.series_id "
            "WHERE x.name = '" +
                name + "';");
    EXPECT_EQ(code, 0) << text;
    double sum = 0;
    for (const std::string& line : Split(text, '\n')) {
      const auto bar = line.rfind('|');
      if (bar == std::string::npos) continue;
      const std::string labels = line.substr(0, bar);
      if (labels.find("component=\"carbon\"") == std::string::npos) continue;
      if (!label_part.empty() && labels.find(label_part) == std::string::npos) continue;
      sum += std::stod(line.substr(bar + 1));
    }
    return sum;
  }

  // Round step 1: every CLI command, sqlite3 reads / writes / .backup, the daemon's HTTP report.
  void RunEveryCliCommand(int round) {
    auto [check_code, check_out] = Cli({"check", "--config", config_});
    EXPECT_EQ(check_code, 0) << "obsmon check: " << check_out;

    const std::string note = "chaos round " + std::to_string(round);
    auto [start_code, start_out] =
        Cli({"observe", "start", "carbon", "--config", config_, "--days", "7", "--note", note});
    EXPECT_EQ(start_code, 0) << "obsmon observe start: " << start_out;
    const auto hash = start_out.find('#');
    const std::string id = hash == std::string::npos
                               ? "?"
                               : start_out.substr(hash + 1, start_out.find(' ', hash) - hash - 1);
    if (start_code == 0) ++periods_started_;

    auto [list_code, list_out] = Cli({"observe", "list", "carbon", "--config", config_});
    EXPECT_EQ(list_code, 0) << "obsmon observe list: " << list_out;
    EXPECT_NE(list_out.find(" " + id + "  carbon"), std::string::npos)
        << "observe list does not show the period #" << id << " just started:\n"
        << list_out;

    auto [oreport_code, oreport_out] =
        Cli({"observe", "report", "carbon", "--config", config_, "--format", "json"});
    EXPECT_EQ(oreport_code, 0) << "obsmon observe report: " << oreport_out;

    auto [stop_code, stop_out] = Cli({"observe", "stop", "carbon", "--config", config_});
    EXPECT_EQ(stop_code, 0) << "obsmon observe stop: " << stop_out;
    if (stop_code == 0) ++periods_stopped_;

    // In the future, so that it never excludes time from the window the truth is checked on.
    const int64_t from = NowMs() + 86'400'000 + round * 3'600'000LL;
    auto [madd_code, madd_out] =
        Cli({"maintenance", "add", "carbon", "--config", config_, "--from", UnixSeconds(from),
             "--to", UnixSeconds(from + 1'800'000), "--reason", note});
    EXPECT_EQ(madd_code, 0) << "obsmon maintenance add: " << madd_out;
    if (madd_code == 0) ++maintenance_added_;
    auto [mlist_code, mlist_out] = Cli({"maintenance", "list", "carbon", "--config", config_});
    EXPECT_EQ(mlist_code, 0) << "obsmon maintenance list: " << mlist_out;
    EXPECT_NE(mlist_out.find(note), std::string::npos)
        << "maintenance list does not show '" << note << "':\n"
        << mlist_out;

    auto [report_code, report_out] =
        Cli({"report", "carbon", "--config", config_, "--last", "10m", "--format", "json"});
    EXPECT_EQ(report_code, 0) << "obsmon report: " << report_out;
    const auto json = ParseJsonOutput(report_out);
    EXPECT_TRUE(json.is_object() && json.value("schema", "") == "obsmon.report/v1")
        << report_out.substr(0, 500);

    // The user's own table in obsmon's database, written while the daemon writes.
    auto [note_code, note_out] =
        Sql(db_,
            "CREATE TABLE IF NOT EXISTS user_notes(id INTEGER PRIMARY KEY, round INTEGER, "
            "note TEXT); INSERT INTO user_notes(round, note) VALUES(" +
                std::to_string(round) + ", '" + note + "');");
    EXPECT_EQ(note_code, 0) << "sqlite3 insert: " << note_out;
    if (note_code == 0) ++notes_inserted_;
    EXPECT_TRUE(SqlNumber("SELECT count(*) FROM probe_runs;").has_value()) << "sqlite3 read";
    auto [backup_code, backup_out] = Sql(db_, ".backup '" + dir_.File("backup.db") + "'");
    EXPECT_EQ(backup_code, 0) << "sqlite3 .backup: " << backup_out;
    auto [integrity_code, integrity_out] = Sql(dir_.File("backup.db"), "PRAGMA integrity_check;");
    EXPECT_EQ(integrity_out, "ok\n") << "the backup of round " << round << " is damaged";

    httplib::Client http("127.0.0.1", daemon_->port());
    http.set_read_timeout(std::chrono::seconds(10));
    auto api = http.Get("/api/v1/components/carbon/report?last=10m&format=json");
    EXPECT_TRUE(api && api->status == 200) << "GET report: " << (api ? api->body : "no answer");
    auto health = http.Get("/healthz");
    EXPECT_TRUE(health && health->status == 200) << "GET /healthz";
  }

  // Round step 2: a reload that changes both probes; waits until the daemon applied it and the
  // new http probe reached the target.
  void ReloadWithNewSettings(int generation, FlappingTarget& target, const std::string& log) {
    WriteConfig(generation, target.port(), log);
    auto [check_code, check_out] = Cli({"check", "--config", config_});
    ASSERT_EQ(check_code, 0) << check_out;
    const int before = daemon_->Reloads();
    reloads_.push_back(NowMs());
    daemon_->Hangup();
    EXPECT_TRUE(WaitUntil([&] { return daemon_->Reloads() > before; }, 5s))
        << "SIGHUP was not applied:\n"
        << daemon_->Output();
    EXPECT_TRUE(WaitUntil([&] { return target.generation() >= generation; }, 5s))
        << "the reloaded http probe never sent generation " << generation;
  }

  // Round step 3: runs the daemon made from now on become readable by another process. A run is
  // committed only when sqlite3 can read it; the daemon cannot vouch for itself.
  void ExpectRunsBecomeReadable() {
    const int64_t since = NowMs();
    std::map<std::string, Committed> runs;
    const bool fresh = WaitUntil(
        [&] {
          runs = CommittedRuns();
          return runs["health"].max_ts >= since + 1500 && runs["logs"].max_ts >= since + 1500;
        },
        6s);
    EXPECT_TRUE(fresh) << "runs the daemon made since " << At(since, t0_)
                       << " are not readable by another process: the newest sqlite3 reads are "
                       << "health " << At(runs["health"].max_ts, t0_) << ", logs "
                       << At(runs["logs"].max_ts, t0_) << " (now " << At(NowMs(), t0_)
                       << "); whatever the daemon commits now is invisible, and a crash loses it";
  }

  // Round step 4: evidence before the kill, kill -9, a while dead, restart, evidence after.
  void KillAndRestart(std::mt19937& rng) {
    ASSERT_TRUE(daemon_->Alive()) << "the daemon exited by itself:\n" << daemon_->Output();
    const auto fds = DatabaseDescriptors(daemon_->pid(), db_);
    std::string listing, deleted;
    std::set<std::string> names;  // without " (deleted)"
    for (const auto& fd : fds) {
      listing += "  " + fd + "\n";
      const auto mark = fd.find(" (deleted)");
      if (mark != std::string::npos) deleted += "  " + fd + "\n";
      names.insert(fd.substr(0, mark));
    }
    // That the daemon holds all three open makes the next check mean something.
    EXPECT_TRUE(names.count(db_) && names.count(db_ + "-wal") && names.count(db_ + "-shm"))
        << "the daemon (pid " << daemon_->pid() << ") does not hold the database, its -wal and "
        << "-shm open:\n"
        << listing;
    EXPECT_EQ(deleted, "") << "the daemon (pid " << daemon_->pid() << ") writes to database "
                           << "files that were unlinked under it: what it commits there no other "
                           << "process reads, and kill -9 loses it. /proc/PID/fd:\n"
                           << listing;
    if (!deleted.empty()) ++deleted_seen_;

    const std::map<std::string, Committed> before = CommittedRuns();
    daemon_->Kill9();
    ++kills_;
    // Dead for a while: the target keeps flapping and the log keeps growing and rotating.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 1200));
    std::string why;
    ASSERT_TRUE(daemon_->Start(&why)) << "obsmon did not restart after kill -9:\n" << why;

    for (const auto& [probe, was] : before) {
      const Committed now = CommittedRuns(was.max_ts)[probe];
      EXPECT_EQ(now.count, was.count)
          << "probe " << probe << ": " << was.count << " runs up to " << At(was.max_ts, t0_)
          << " were committed (read by sqlite3) before kill -9, " << now.count
          << " are there after the restart";
      EXPECT_EQ(now.max_ts, was.max_ts)
          << "probe " << probe << ": the newest committed run is gone";
    }
  }

  ScratchDir dir_;
  std::string obsmon_, sqlite3_, logrotate_, db_, config_;
  std::unique_ptr<Daemon> daemon_;
  int64_t t0_ = 0;
  std::vector<int64_t> reloads_;
  int kills_ = 0, deleted_seen_ = 0;
  int periods_started_ = 0, periods_stopped_ = 0, maintenance_added_ = 0, notes_inserted_ = 0;
};

TEST_F(OpsChaosTest, TruthCountsAndCommittedRunsSurviveCliSqliteReloadsAndKills) {
  ASSERT_TRUE(std::filesystem::exists(obsmon_)) << obsmon_;
  ASSERT_FALSE(sqlite3_.empty()) << "sqlite3 not found (scripts/install-deps.sh --with-test-tools)";
  ASSERT_FALSE(logrotate_.empty())
      << "logrotate not found (scripts/install-deps.sh --with-test-tools)";
  const int seconds = ChaosSeconds();
  const uint32_t seed = ChaosSeed();
  SCOPED_TRACE("OBSMON_CHAOS_SEED=" + std::to_string(seed) + " OBSMON_CHAOS_SECONDS=" +
               std::to_string(seconds) + " OBSMON_TEST_BINARY=" + obsmon_);
  std::mt19937 rng(seed);
  t0_ = NowMs();

  FlappingTarget target(seed, t0_, t0_ + (seconds + 600) * 1000LL);
  // About 500 matched lines whatever the length: under storage's cap of 1000 kept lines per
  // component and day, so that the report's log_lines (read from the kept lines) are exact too.
  LogChaos logs(dir_, logrotate_, seed + 7, std::clamp<int64_t>(seconds * 1000LL / 1200, 20, 5000));
  int generation = 1;
  WriteConfig(generation, target.port(), logs.path());
  daemon_ = std::make_unique<Daemon>(obsmon_, config_, dir_);
  std::string why;
  ASSERT_TRUE(daemon_->Start(&why)) << why;
  // The log probe's first run takes its cursor on the empty file: from then on every line counts;
  // and reports need a first health run. Asked of the daemon's /metrics: whether other processes
  // can read its runs is what the rounds check, with messages that say so.
  ASSERT_TRUE(WaitUntil([&] {
    httplib::Client http("127.0.0.1", daemon_->port());
    auto metrics = http.Get("/metrics");
    if (!metrics) return false;
    for (const char* probe : {"probe=\"logs\"", "probe=\"health\""}) {
      if (!MetricValue(metrics->body, "obsmon_probe_last_run_timestamp_seconds", probe)) {
        return false;
      }
    }
    return true;
  })) << daemon_->Output();
  // Reports refuse a component without a stored run; give the writer a moment to commit it (not
  // checked here: ExpectRunsBecomeReadable checks that every round).
  WaitUntil([&] { return CommittedRuns()["health"].count > 0; }, 5s);
  logs.Start();

  int rounds = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  // At least three rounds whatever the machine's speed: the checks at the end require three kills.
  while (std::chrono::steady_clock::now() < deadline || rounds < 3) {
    ++rounds;
    SCOPED_TRACE("round " + std::to_string(rounds) + " (" + At(NowMs(), t0_) + ")");
    RunEveryCliCommand(rounds);
    ReloadWithNewSettings(++generation, target, logs.path());
    if (HasFatalFailure()) return;
    ExpectRunsBecomeReadable();
    KillAndRestart(rng);
    if (HasFatalFailure()) return;
  }

  // The end: no more lines; obsmon reads what is left, still healthy, then stops the normal way.
  logs.Stop();
  const testing::LogWriter& written = logs.written();
  EXPECT_EQ(logs.failures(), 0) << logs.last_failure();
  const bool caught_up =
      WaitUntil([&] { return Counter("obsmon_log_lines_read_total") >= written.lines(); }, 30s);
  EXPECT_TRUE(caught_up) << "obsmon read " << Counter("obsmon_log_lines_read_total") << " of "
                         << written.lines() << " lines";
  {
    httplib::Client http("127.0.0.1", daemon_->port());
    auto health = http.Get("/healthz");
    ASSERT_TRUE(health) << "no answer on /healthz";
    EXPECT_EQ(health->status, 200) << health->body;
    auto metrics = http.Get("/metrics");
    ASSERT_TRUE(metrics && metrics->status == 200);
    EXPECT_EQ(MetricValue(metrics->body, "obsmon_storage_last_write_successful"), 1.0);
  }
  ASSERT_EQ(daemon_->Terminate(), 0) << daemon_->Output();
  const auto& lives = daemon_->lives();
  const int64_t from = lives.front().listen_ms;
  const int64_t to = lives.back().end_ms;

  // ---- Log lines: exactly once across rotation, reload and kill -9.
  EXPECT_GT(written.errors() + written.criticals(), 50) << "too few matched lines to mean much";
  EXPECT_EQ(Counter("obsmon_log_matches_total", "severity=\"error\""), written.errors());
  EXPECT_EQ(Counter("obsmon_log_matches_total", "severity=\"critical\""), written.criticals());
  EXPECT_EQ(Counter("obsmon_log_lines_read_total"), written.lines());
  ASSERT_EQ(Counter("obsmon_log_events_dropped_total"), 0)
      << "storage's per-day cap on kept lines was hit: the report's log_lines cannot be exact";
  // Each written ERROR / CRITICAL line carries a unique number: each is kept exactly once (a
  // duplicate and a loss would cancel out in the counts).
  {
    auto [code, text] = Sql(db_, "SELECT line FROM log_events WHERE component = 'carbon';");
    ASSERT_EQ(code, 0) << text;
    std::map<int64_t, int> kept;
    for (const std::string& line : Split(text, '\n')) ++kept[MatchedLineNumber(line)];
    std::string duplicated, missing, unexpected;
    for (const auto& [number, times] : kept) {
      if (times > 1) duplicated += std::to_string(number) + " ";
      if (!written.IsMatch(number)) unexpected += std::to_string(number) + " ";
    }
    for (int64_t number = 1; number < written.next_number(); ++number) {
      if (written.IsMatch(number) && !kept.count(number)) missing += std::to_string(number) + " ";
    }
    EXPECT_EQ(duplicated.substr(0, 600), "") << "lines kept twice";
    EXPECT_EQ(missing.substr(0, 600), "") << "written lines never kept";
    EXPECT_EQ(unexpected.substr(0, 600), "") << "kept lines that are not ERROR / CRITICAL";
  }

  // ---- The report over the whole time obsmon ran.
  auto [report_code, report_out] =
      Cli({"report", "carbon", "--config", config_, "--from", UnixSeconds(from), "--to",
           UnixSeconds(to), "--format", "json"});
  ASSERT_EQ(report_code, 0) << report_out;
  const auto report = ParseJsonOutput(report_out);
  ASSERT_TRUE(report.is_object()) << report_out.substr(0, 1000);
  EXPECT_EQ(report["log_lines"]["error"].get<double>(), written.errors());
  EXPECT_EQ(report["log_lines"]["critical"].get<double>(), written.criticals());
  EXPECT_FALSE(report["log_lines"]["truncated"].get<bool>());

  const auto& totals = report["uptime"];
  const int64_t window_ms = totals["window_ms"].get<int64_t>();
  const int64_t down_ms = totals["down_ms"].get<int64_t>();
  EXPECT_EQ(window_ms, to - from);
  EXPECT_EQ(totals["excluded_ms"].get<int64_t>(), 0)
      << "maintenance windows added in the future excluded time now";
  EXPECT_EQ(totals["up_ms"].get<int64_t>() + down_ms + totals["unknown_ms"].get<int64_t>() +
                totals["excluded_ms"].get<int64_t>(),
            window_ms);

  std::vector<Span> report_down, report_unknown;
  for (const auto& i : report["incidents"]) {
    report_down.push_back({i["start_ms"].get<int64_t>(), i["end_ms"].get<int64_t>()});
  }
  for (const auto& g : report["monitoring_gaps"]) {
    report_unknown.push_back({g["start_ms"].get<int64_t>(), g["end_ms"].get<int64_t>()});
  }
  report_down = Merge(report_down);
  report_unknown = Merge(report_unknown);
  const std::vector<Span> window{Span{from, to}};
  const std::vector<Span> report_up =
      Subtract(window, Merge([&] {
                 auto both = report_down;
                 both.insert(both.end(), report_unknown.begin(), report_unknown.end());
                 return both;
               }()));
  EXPECT_EQ(Length(report_down), down_ms) << "incidents do not add up to down_ms";

  // The truth, and the parts of it far enough from a transition that any measurement must agree.
  const std::vector<Span> truth_up = Merge(target.Spans(true, from, to));
  const std::vector<Span> truth_down = Merge(target.Spans(false, from, to));
  auto shrink = [](const std::vector<Span>& spans) {
    std::vector<Span> out;
    for (const Span& s : spans)
      out.push_back({s.start + kTransitionSlackMs, s.end - kTransitionSlackMs});
    return Merge(out);
  };
  const std::vector<Span> sure_up = shrink(truth_up), sure_down = shrink(truth_down);

  // 1. The report never says down while the target was up, nor up while it was down.
  const auto charged_while_up = Intersect(report_down, sure_up);
  EXPECT_EQ(Length(charged_while_up), 0) << "the report charges down time while the target was up: "
                                         << Describe(charged_while_up, t0_);
  const auto up_while_down = Intersect(report_up, sure_down);
  EXPECT_EQ(Length(up_while_down), 0)
      << "the report says up while the target was down: " << Describe(up_while_down, t0_);

  // 2. Nor do the stored runs (each run's verdict over [ts, min(ts + valid_for, next run))).
  std::vector<Span> runs_up, runs_down;
  {
    auto [code, text] =
        Sql(db_,
            "SELECT r.ts_ms, r.success, r.valid_for_ms, r.reason FROM probe_runs r JOIN "
            "probes p ON p.id = r.probe_id WHERE p.component = 'carbon' AND p.probe = "
            "'health' ORDER BY r.ts_ms;");
    ASSERT_EQ(code, 0) << text;
    struct Run {
      int64_t ts, valid_for;
      bool success;
    };
    std::vector<Run> runs;
    for (const std::string& line : Split(text, '\n')) {
      const auto cols = Split(line, '|');
      if (cols.size() < 3) continue;
      runs.push_back(
          {std::stoll(cols[0]), std::max<int64_t>(std::stoll(cols[2]), 0), cols[1] == "1"});
    }
    for (size_t i = 0; i < runs.size(); ++i) {
      int64_t end = runs[i].ts + runs[i].valid_for;
      if (i + 1 < runs.size()) end = std::min(end, runs[i + 1].ts);
      (runs[i].success ? runs_up : runs_down).push_back({runs[i].ts, end});
    }
    runs_up = Intersect(runs_up, window);
    runs_down = Intersect(runs_down, window);
  }
  const auto runs_down_while_up = Intersect(runs_down, sure_up);
  EXPECT_EQ(Length(runs_down_while_up), 0)
      << "stored runs say down while the target was up: " << Describe(runs_down_while_up, t0_);
  const auto runs_up_while_down = Intersect(runs_up, sure_down);
  EXPECT_EQ(Length(runs_up_while_down), 0)
      << "stored runs say up while the target was down: " << Describe(runs_up_while_down, t0_);

  // 3. Down time = the truth's down time while obsmon ran, within one slack per transition and
  // per start or end of obsmon that fell in down time.
  std::vector<Span> running, dead, expected_unknown;
  for (size_t i = 0; i < lives.size(); ++i) {
    running.push_back({lives[i].listen_ms, lives[i].end_ms});
    expected_unknown.push_back({lives[i].spawn_ms, lives[i].listen_ms + kStartGraceMs});
    expected_unknown.push_back({lives[i].end_ms - kKillGraceMs, lives[i].end_ms});
    if (i + 1 < lives.size()) {
      dead.push_back({lives[i].end_ms + kBoundarySlackMs, lives[i + 1].spawn_ms});
      expected_unknown.push_back({lives[i].end_ms, lives[i + 1].spawn_ms});
    }
  }
  for (int64_t r : reloads_) expected_unknown.push_back({r, r + kReloadGraceMs});
  running = Merge(running);
  const int64_t truth_down_running = Length(Intersect(truth_down, running));
  int transitions = 0, down_boundaries = 0;
  for (int64_t t : target.Transitions(from, to)) transitions += Contains(running, t) ? 1 : 0;
  for (const Life& l : lives) {
    for (int64_t b : {l.listen_ms, l.end_ms}) {
      if (Length(Intersect(truth_down, {Span{b - kBoundarySlackMs, b + kBoundarySlackMs}})) > 0) {
        ++down_boundaries;
      }
    }
  }
  const int64_t tolerance = transitions * kTransitionSlackMs + down_boundaries * kBoundarySlackMs;
  EXPECT_LE(std::llabs(down_ms - truth_down_running), tolerance)
      << "report down " << down_ms << " ms, truth down while obsmon ran " << truth_down_running
      << " ms (" << transitions << " transitions, " << down_boundaries
      << " starts/ends in down time)";

  // 4. Unknown only where obsmon was dead, starting, being killed or reloading; and time it was
  // dead is never claimed up or down (silence is unknown).
  const auto unexplained_unknown = Subtract(Intersect(report_unknown, running), expected_unknown);
  const int64_t running_ms = Length(running);
  EXPECT_LE(Length(unexplained_unknown), std::max<int64_t>(1500, running_ms * 3 / 100))
      << "unknown time while obsmon ran (" << running_ms << " ms), runs lost? "
      << Describe(unexplained_unknown, t0_);
  const auto claimed_while_dead = Subtract(Intersect(dead, window), report_unknown);
  EXPECT_EQ(Length(claimed_while_dead), 0)
      << "up or down claimed while obsmon was dead: " << Describe(claimed_while_dead, t0_);

  // ---- What the CLI and sqlite3 wrote is all there; the database is sound.
  EXPECT_EQ(
      SqlNumber("SELECT count(*) FROM periods WHERE component = 'carbon' AND source = 'cli';"),
      periods_started_);
  EXPECT_EQ(
      SqlNumber("SELECT count(*) FROM periods WHERE component = 'carbon' AND stopped_ms > 0;"),
      periods_stopped_);
  EXPECT_EQ(
      SqlNumber("SELECT count(*) FROM maintenance WHERE component = 'carbon' AND source = 'cli';"),
      maintenance_added_);
  EXPECT_EQ(SqlNumber("SELECT count(*) FROM user_notes;"), notes_inserted_);
  EXPECT_EQ(Sql(db_, "PRAGMA integrity_check;").second, "ok\n");

  // ---- The chaos happened (so that passing means something).
  EXPECT_GE(kills_, 3);
  EXPECT_GE(static_cast<int>(reloads_.size()), 3);
  EXPECT_GE(logs.rotations(), 3);
  EXPECT_GE(transitions, 4);
  EXPECT_GT(target.answered_up(), 0);
  EXPECT_GT(target.answered_down(), 0);

  std::cout << "chaos: " << rounds << " rounds in " << (to - t0_) / 1000.0 << " s, " << kills_
            << " kill -9, " << reloads_.size() << " reloads, " << logs.rotations() << " rotations, "
            << transitions << " transitions while obsmon ran; down: report " << down_ms
            << " ms, truth " << truth_down_running << " ms (tolerance " << tolerance
            << "); unknown " << totals["unknown_ms"].get<int64_t>() << " ms (unexplained "
            << Length(unexplained_unknown) << "); lines " << written.lines() << ", errors "
            << written.errors() << ", criticals " << written.criticals()
            << "; deleted descriptors seen before " << deleted_seen_ << " kills\n";
  RecordProperty("rounds", rounds);
  RecordProperty("kills", kills_);
  RecordProperty("transitions", transitions);
}

}  // namespace
}  // namespace obsmon
