// Issue 17, item 1 (fresh eyes, stop 47): a log probe's glob over a directory where files come
// and go (a job's log per run, a cleaner deleting them) must stay bounded: a match gone with
// its rotations is forgotten, in memory, on /metrics and in SQLite. Before, 30 files a second,
// each deleted after 3 s, grew obsmon to 252 MB and 35,905 series in 4 minutes, and a restart
// brought every one back.
//
// The real obsmon follows `<dir>/*.log` while a writer thread makes a file a line of which is
// an ERROR naming it every 40 ms and deletes each 1.5 s later (4 s under ASan), and logs what
// it wrote: the
// truth. Meanwhile obsmon is killed with SIGKILL (files are deleted while it is down) and
// restarted, reloaded with SIGHUP, and sqlite3 reads and backs up its database beside it. At the
// end the matched lines SQLite keeps are exactly the writer's, each once; the last total each
// file's series reached adds up to the same; and nothing of the deleted files is left: no
// cursor, no stored counter, no series on /metrics, no follower.
#include <gtest/gtest.h>

#include <atomic>
#include <cctype>
#include <cstdint>
#include <csignal>
#include <deque>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/ops_support.h"
#include "tests/support/files.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthTarget;
using testing::MetricValue;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

// How long the writer keeps each file: several of the probe's runs (200-300 ms apart), more
// under ASan, whose runs are slower and on a loaded machine may leave files for the next run.
constexpr auto kFileLife = testing::kAddressSanitizer ? 4000ms : 1500ms;

// Makes a log file every 40 ms (while not paused) and deletes each kFileLife after it made it
// (paused or not), recording the ERROR line of each.
class ChurnWriter {
 public:
  explicit ChurnWriter(std::string dir) : dir_(std::move(dir)) {
    thread_ = std::thread([this] { Loop(); });
  }
  ~ChurnWriter() { Stop(); }
  void Pause(bool paused) { paused_ = paused; }
  // Stops making files, deletes those left and ends.
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::set<std::string> Errors() const {
    std::lock_guard lock(mu_);
    return errors_;
  }
  size_t live() const { return live_count_.load(); }
  size_t most_live() const { return most_live_.load(); }

 private:
  void Loop() {
    std::deque<std::pair<std::chrono::steady_clock::time_point, std::string>> live;
    int n = 0;
    while (!stop_) {
      const auto now = std::chrono::steady_clock::now();
      while (!live.empty() && now - live.front().first >= kFileLife) {
        std::filesystem::remove(live.front().second);
        live.pop_front();
      }
      if (!paused_) {
        const std::string name = "job-" + std::to_string(n++) + ".log";
        const std::string error = "ERROR job failed in " + name;
        {
          std::lock_guard lock(mu_);
          errors_.insert(error);
        }
        WriteWholeFile(dir_ + "/" + name, "INFO job started\n" + error + "\nINFO job ended\n");
        live.emplace_back(now, dir_ + "/" + name);
      }
      live_count_ = live.size();
      most_live_ = std::max(most_live_.load(), live.size());
      std::this_thread::sleep_for(40ms);
    }
    for (const auto& [made, path] : live) std::filesystem::remove(path);
    live_count_ = 0;
  }

  const std::string dir_;
  std::atomic<bool> paused_{false};
  std::atomic<bool> stop_{false};
  std::atomic<size_t> live_count_{0};
  std::atomic<size_t> most_live_{0};
  mutable std::mutex mu_;
  std::set<std::string> errors_;
  std::thread thread_;
};

std::string Metrics(int port) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

// What sqlite3, run beside the daemon as a user would (with a busy timeout), prints for `sql`.
std::string Sql(const ScratchDir& dir, const std::string& sql) {
  auto [code, out] =
      RunCommand({"sqlite3", "-bail", "-cmd", ".timeout 5000", dir.File("obsmon.db"), sql},
                 dir.File("sqlite3.out"));
  return code == 0 ? out : "sqlite3 failed (" + std::to_string(code) + "): " + out;
}

std::set<std::string> StoredErrors(const ScratchDir& dir) {
  std::istringstream in(Sql(dir, "SELECT line FROM log_events WHERE severity = 'error';"));
  std::set<std::string> out;
  for (std::string line; std::getline(in, line);) out.insert(line);
  return out;
}

size_t StoredErrorCount(const ScratchDir& dir) {
  const std::string out = Sql(dir, "SELECT count(*) FROM log_events WHERE severity = 'error';");
  return out.empty() || !std::isdigit(static_cast<unsigned char>(out[0])) ? 0 : std::stoul(out);
}

size_t Count(const ScratchDir& dir, const std::string& sql) {
  const std::string out = Sql(dir, sql);
  return out.empty() || !std::isdigit(static_cast<unsigned char>(out[0])) ? SIZE_MAX
                                                                          : std::stoul(out);
}

// How many series of the log probe's families /metrics shows.
size_t LogSeriesOnMetrics(const std::string& text) {
  std::istringstream in(text);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) {
    n += line.rfind("obsmon_log_lines_read_total{", 0) == 0 ||
         line.rfind("obsmon_log_bytes_read_total{", 0) == 0 ||
         line.rfind("obsmon_log_matches_total{", 0) == 0 ||
         line.rfind("obsmon_log_scan_lag_bytes{", 0) == 0;
  }
  return n;
}

TEST(LogChurnTest, DeletedGlobMatchesAreForgottenAndEveryLineIsCountedOnceThroughKillAndReload) {
  ScratchDir dir;
  const std::string logs = dir.File("logs");
  std::filesystem::create_directory(logs);
  HealthTarget target;
  const std::string config = dir.File("obsmon.yml");
  auto write_config = [&](const std::string& interval) {
    WriteWholeFile(config, "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
                               "\ncomponents:\n" +
                               testing::HealthComponentYaml("web", target.port()) +
                               "      - name: jobs\n"
                               "        kind: log\n"
                               "        interval: " + interval + "\n"
                               "        timeout: 150ms\n"
                               "        paths: ['" + logs + "/*.log']\n");
  };
  write_config("200ms");
  int port = 0;
  auto obsmon = StartObsmon(config, dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();

  ChurnWriter writer(logs);
  // While files come and go, what obsmon holds follows the files alive, not those seen: a run
  // every 200 ms follows at most those alive plus those deleted since the last run.
  size_t most_followed = 0, most_series = 0;
  auto watch = [&](std::chrono::milliseconds how_long) {
    const auto until = std::chrono::steady_clock::now() + how_long;
    while (std::chrono::steady_clock::now() < until) {
      const std::string text = Metrics(port);
      most_followed = std::max<size_t>(
          most_followed, static_cast<size_t>(
                             MetricValue(text, "obsmon_log_files_followed").value_or(0)));
      most_series = std::max(most_series, LogSeriesOnMetrics(text));
      std::this_thread::sleep_for(250ms);
    }
  };
  watch(5s);

  // Everything written so far committed (sqlite3 beside the daemon says so), then SIGKILL: the
  // files alive then are deleted while obsmon is down, their cursors still stored.
  writer.Pause(true);
  ASSERT_TRUE(WaitUntil([&] { return StoredErrorCount(dir) == writer.Errors().size(); }, 30s))
      << StoredErrorCount(dir) << " of " << writer.Errors().size() << "\n" << obsmon->Output();
  obsmon->Signal(SIGKILL);
  obsmon->Wait();
  ASSERT_TRUE(WaitUntil([&] { return writer.live() == 0; }, 10s));
  const size_t stale = Count(dir, "SELECT count(*) FROM log_cursors;");
  EXPECT_GT(stale, 0u) << "files were alive at the kill";
  EXPECT_NE(stale, SIZE_MAX);

  obsmon = StartObsmon(config, dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  // The first run finds them gone and forgets them.
  ASSERT_TRUE(WaitUntil([&] { return Count(dir, "SELECT count(*) FROM log_cursors;") == 0; }, 20s))
      << Sql(dir, "SELECT path FROM log_cursors;");
  writer.Pause(false);
  watch(3s);
  // A reload while files come and go (the probe is made anew from what SQLite holds), and a
  // backup by sqlite3 beside the daemon.
  write_config("300ms");
  obsmon->Signal(SIGHUP);
  ASSERT_EQ(RunCommand({"sqlite3", "-cmd", ".timeout 5000", dir.File("obsmon.db"),
                        ".backup '" + dir.File("copy.db") + "'"},
                       dir.File("backup.out"))
                .first,
            0);
  watch(3s);
  // Each file lives its kFileLife (Stop() deletes what is left at once).
  writer.Pause(true);
  ASSERT_TRUE(WaitUntil([&] { return writer.live() == 0; }, 10s));
  writer.Stop();

  const std::set<std::string> truth = writer.Errors();
  ASSERT_GT(truth.size(), 200u) << "the writer made fewer files than planned";
  ASSERT_LT(truth.size(), 1000u) << "storage keeps at most 1,000 lines a component a day";
  EXPECT_TRUE(WaitUntil(
      [&] {
        return StoredErrorCount(dir) >= truth.size() &&
               Count(dir, "SELECT count(*) FROM log_cursors;") == 0 &&
               MetricValue(Metrics(port), "obsmon_log_files_followed") == 0 &&
               LogSeriesOnMetrics(Metrics(port)) == 0;  // a run after the last retirement
      },
      30s))
      << StoredErrorCount(dir) << " of " << truth.size() << "; cursors: "
      << Sql(dir, "SELECT path FROM log_cursors;") << obsmon->Output();

  // Every ERROR line once, none missed, none twice.
  EXPECT_EQ(StoredErrorCount(dir), truth.size());
  const std::set<std::string> stored = StoredErrors(dir);
  for (const auto& line : truth) EXPECT_TRUE(stored.contains(line)) << "missed: " << line;
  for (const auto& line : stored) EXPECT_TRUE(truth.contains(line)) << "never written: " << line;
  // Each file's matches series ended at its count (its last sample before it was forgotten).
  const std::string last_totals = Sql(
      dir,
      "SELECT count(*), sum((SELECT value FROM samples WHERE series_id = s.id ORDER BY ts_ms DESC "
      "LIMIT 1)) FROM series s WHERE s.name = 'obsmon_log_matches_total' AND "
      "s.labels LIKE '%severity=\"error\"%';");
  EXPECT_EQ(last_totals, std::to_string(truth.size()) + "|" + std::to_string(truth.size()) + ".0\n");
  // Nothing of the deleted files is left: no stored counter, no series, no follower.
  EXPECT_EQ(Count(dir, "SELECT count(*) FROM counters c JOIN series s ON s.id = c.series_id "
                       "WHERE s.name LIKE 'obsmon_log_%' AND s.labels LIKE '%source=%';"),
            0u);
  const std::string text = Metrics(port);
  EXPECT_EQ(LogSeriesOnMetrics(text), 0u) << text;
  // While they churned: the followers stayed within the files alive at once and those deleted
  // since the run before (a few runs' worth), and the series with them.
  const size_t most_live = writer.most_live();
  EXPECT_GT(most_followed, 0u);
  EXPECT_LE(most_followed, most_live + 15) << "most alive at once: " << most_live;
  EXPECT_LE(most_series, 5 * (most_live + 15)) << "most alive at once: " << most_live;
  std::cout << "files alive at most " << most_live << ", followed at most " << most_followed
            << ", log series on /metrics at most " << most_series << ", ERROR lines "
            << truth.size() << ", cursors of deleted files at the restart " << stale << "\n";
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();
}

}  // namespace
}  // namespace obsmon
