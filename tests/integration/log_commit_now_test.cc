// Issue 17, item 3: a log probe's read commits without the storage writer's group-commit wait,
// in the real obsmon. With `storage.commit_interval: 1h` nothing but such a read can commit:
// the counts of appended lines still appear in SQLite, carrying the http runs queued before
// them, while the http runs made after them wait in the queue; the writer's own figures
// (transactions, queue depth) say the same, and SIGTERM still drains what waits.
#include <gtest/gtest.h>

#include <csignal>
#include <memory>
#include <string>

#include "core/clock.h"
#include "storage/storage.h"
#include "tests/integration/ops_support.h"
#include "tests/support/files.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::AppendToFile;
using testing::HealthTarget;
using testing::MetricValue;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

std::string Metrics(int port) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

// What SQLite holds: the runs of component `web` and the log probe's committed counters.
struct Stored {
  size_t runs = 0;
  double lines_read = 0;
  double errors = 0;
  double critical = 0;
};

Stored ReadStored(const std::string& db) {
  Stored s;
  auto reader = storage::Reader::Open(db);
  if (!reader.ok()) return s;  // not created yet
  auto runs = (*reader)->ProbeRuns("web", 0, SystemClock::Instance().NowMs() + 60'000);
  if (runs.ok()) s.runs = runs->size();
  auto counters = (*reader)->AllCounters();
  if (!counters.ok()) return s;
  for (const auto& c : *counters) {
    if (c.name == "obsmon_log_lines_read_total") s.lines_read += c.value;
    if (c.name != "obsmon_log_matches_total") continue;
    if (c.labels.Get("severity") == "error") s.errors += c.value;
    if (c.labels.Get("severity") == "critical") s.critical += c.value;
  }
  return s;
}

double QueueDepth(int port) {
  return MetricValue(Metrics(port), "obsmon_storage_queue_depth").value_or(-1);
}

TEST(LogCommitNowTest, LogCountsCommitAtOnceWhileHttpRunsWaitForTheGroupCommit) {
  ScratchDir dir;
  HealthTarget target;
  const std::string db = dir.File("obsmon.db");
  const std::string log = dir.File("app.log");
  WriteWholeFile(log, "INFO started\n");
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config, "listen: 127.0.0.1:0\n"
                         "storage:\n  path: " + db + "\n  commit_interval: 1h\n"
                         "components:\n" + testing::HealthComponentYaml("web", target.port()) +
                         "      - name: errors\n"
                         "        kind: log\n"
                         "        interval: 200ms\n"
                         "        paths: [" + log + "]\n");
  int port = 0;
  auto obsmon = StartObsmon(config, dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();

  // The first read (one line) is committed long before the hour is up.
  ASSERT_TRUE(WaitUntil([&] { return ReadStored(db).lines_read == 1; }, 30s)) << obsmon->Output();
  // The http runs made since wait: a read of nothing new does not commit either.
  ASSERT_TRUE(WaitUntil([&] { return QueueDepth(port) >= 5; }, 30s));
  const Stored before = ReadStored(db);
  EXPECT_EQ(before.errors + before.critical, 0);

  AppendToFile(log, "ERROR one\nCRITICAL two\nERROR three\n");
  ASSERT_TRUE(WaitUntil([&] {
    const Stored s = ReadStored(db);
    return s.errors == 2 && s.critical == 1;
  }, 30s)) << obsmon->Output();
  const Stored after = ReadStored(db);
  EXPECT_EQ(after.lines_read, 4);
  EXPECT_GE(after.runs, before.runs + 5);  // what was queued went in the same transaction

  // The writer's own records: with an hour's interval, every transaction was one a read asked
  // for, and two reads found lines (the first line, then the three appended in one write):
  // two transactions, nothing failed, and the http runs made since wait again.
  const std::string metrics = Metrics(port);
  EXPECT_EQ(MetricValue(metrics, "obsmon_storage_commit_duration_seconds_count").value_or(-1), 2)
      << metrics;
  EXPECT_EQ(MetricValue(metrics, "obsmon_storage_write_errors_total").value_or(-1), 0);

  // SIGTERM drains the runs still waiting for the group commit.
  ASSERT_TRUE(WaitUntil([&] { return QueueDepth(port) >= 3; }, 30s));
  const Stored before_stop = ReadStored(db);
  const double waiting = QueueDepth(port);
  obsmon->Signal(SIGTERM);
  ASSERT_EQ(obsmon->Wait(20s), 0) << obsmon->Output();
  EXPECT_GE(ReadStored(db).runs, before_stop.runs + static_cast<size_t>(waiting));
}

}  // namespace
}  // namespace obsmon
