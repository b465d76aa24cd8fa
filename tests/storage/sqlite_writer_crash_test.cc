// Crash safety: a child process writes batches continuously and is killed with SIGKILL at a random
// moment. The database must be intact and hold every batch the child reported as flushed, each
// batch whole (its run, samples, cursor and counter increment together). While the child writes,
// this process reads the same database through a Reader (WAL: readers in another process).
#include <SQLiteCpp/Database.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <set>

#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon::storage {
namespace {

using obsmon::testing::ForkedChild;
using obsmon::testing::ScratchDir;

constexpr TimestampMs kT0 = 1'760'400'000'000;
constexpr int kSamplesPerBatch = 20;
const ProbeKey kKey{"carbon", "logs"};

WriteBatch BatchNumber(int64_t i) {
  WriteBatch b;
  ProbeRun run;
  run.key = {"carbon", "health"};
  run.ts_ms = kT0 + i;
  run.success = i % 7 != 0;
  run.duration_seconds = 0.001 * (i % 100);
  run.valid_for_ms = 1500;
  b.runs.push_back(run);
  for (int k = 0; k < kSamplesPerBatch; ++k) {
    b.samples.push_back(
        {"crash_metric", Labels{{"k", std::to_string(k)}}, kT0 + i, static_cast<double>(i)});
  }
  // The cursor says "batch i was consumed"; the counter counts batches: both must match the rows.
  b.log_cursors.push_back({kKey, "/var/log/x.log", 1, 2, "fp", i, kT0 + i});
  b.counters.push_back({"batches_total", Labels{{"component", "carbon"}, {"probe", "logs"}}, 1});
  return b;
}

// The child: writes batch after batch; after each Flush reports the last flushed number.
[[noreturn]] void ChildWrites(const std::string& path, int report_fd) {
  StorageOptions o;
  o.path = path;
  auto w = Writer::Start(o);
  if (!w.ok()) _exit(3);
  for (int64_t i = 0;; ++i) {
    if (!(*w)->Enqueue(BatchNumber(i))) _exit(4);
    if (i % 3 == 2) {  // flush every few batches, so some batches are unflushed at the kill
      if (!(*w)->Flush().ok()) _exit(5);
      if (write(report_fd, &i, sizeof i) != sizeof i) _exit(6);
    }
  }
}

void CrashRound(std::mt19937& rng, const std::string& path) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  // A child of this test, not a program: it must run the Writer under test when the SIGKILL
  // lands.
  ForkedChild child([&]() -> int {
    close(fds[0]);
    ChildWrites(path, fds[1]);
  });
  ASSERT_TRUE(child.started());
  close(fds[1]);
  const int reports_before_kill = std::uniform_int_distribution<int>(5, 400)(rng);
  int64_t last_flushed = -1;
  std::unique_ptr<Reader> reader;
  for (int n = 0; n < reports_before_kill; ++n) {
    int64_t i;
    ASSERT_EQ(read(fds[0], &i, sizeof i), static_cast<ssize_t>(sizeof i)) << "child died early";
    last_flushed = i;
    if (!reader) {
      auto r = Reader::Open(path);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
      reader = std::move(r).value();
    }
    if (n % 25 == 0) {  // read while the other process writes
      auto total =
          reader->CounterTotal("batches_total", Labels{{"component", "carbon"}, {"probe", "logs"}});
      ASSERT_TRUE(total.ok()) << total.status().ToString();
      EXPECT_GE(*total, static_cast<double>(i + 1));
    }
  }
  // A random moment (not waiting for time: only choosing when to kill while the child writes).
  usleep(std::uniform_int_distribution<useconds_t>(0, 20'000)(rng));
  ASSERT_TRUE(child.Signal(SIGKILL));
  const std::optional<int> code = child.Wait();
  ASSERT_TRUE(code.has_value()) << "the child did not end after SIGKILL";
  ASSERT_EQ(*code, 128 + SIGKILL) << "the child ended otherwise (exit code, or 128 + signal)";
  int64_t i;
  while (read(fds[0], &i, sizeof i) == static_cast<ssize_t>(sizeof i)) last_flushed = i;
  close(fds[0]);
  reader.reset();

  {
    SQLite::Database db(path, SQLite::OPEN_READWRITE);  // recovers the WAL like a restart would
    EXPECT_EQ(db.execAndGet("PRAGMA integrity_check").getString(), "ok");
  }
  // A restarted writer can take the lock (the kernel released the dead child's) and open it.
  {
    StorageOptions o;
    o.path = path;
    auto w = Writer::Start(o);
    ASSERT_TRUE(w.ok()) << w.status().ToString();
  }
  auto r = Reader::Open(path);
  ASSERT_TRUE(r.ok());
  auto runs = (*r)->ProbeRuns("carbon", kT0, kT0 + 10'000'000);
  ASSERT_TRUE(runs.ok());
  // Committed batches are a prefix 0..n-1 (one writer, commits in order).
  const int64_t n = static_cast<int64_t>(runs->size());
  for (int64_t k = 0; k < n; ++k) ASSERT_EQ((*runs)[k].ts_ms, kT0 + k);
  EXPECT_GE(n, last_flushed + 1) << "a batch reported as flushed is missing";
  // Every committed batch is whole: samples, counter and cursor agree with the runs.
  auto samples = (*r)->Samples("crash_metric", Labels(), kT0, kT0 + 10'000'000);
  ASSERT_TRUE(samples.ok());
  EXPECT_EQ(static_cast<int64_t>(samples->size()), n * kSamplesPerBatch);
  auto total =
      (*r)->CounterTotal("batches_total", Labels{{"component", "carbon"}, {"probe", "logs"}});
  ASSERT_TRUE(total.ok());
  EXPECT_EQ(*total, static_cast<double>(n));
  auto cursors = (*r)->LogCursors(kKey);
  ASSERT_EQ(cursors.size(), 1u);
  EXPECT_EQ(cursors[0].offset, n - 1);
  auto rollups = (*r)->Rollups("carbon", kT0, kT0 + 10'000'000);
  ASSERT_TRUE(rollups.ok());
  int64_t rolled = 0;
  for (const auto& h : *rollups) rolled += h.runs;
  EXPECT_EQ(rolled, n);
}

TEST(SqliteWriterCrashTest, SigkillLosesNothingFlushedAndKeepsBatchesWhole) {
  std::random_device seed_source;
  const unsigned seed = seed_source();
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937 rng(seed);
  for (int round = 0; round < 5; ++round) {
    ScratchDir dir;
    SCOPED_TRACE("round " + std::to_string(round));
    CrashRound(rng, dir.File("crash.db"));
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace obsmon::storage
