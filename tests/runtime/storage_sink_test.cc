// StorageSink: one batch per run; a batch the writer refuses (queue full) loses its run and
// samples but not its probe state, which goes with the probe's next batch: counters add, a
// path's newer cursor wins, matched lines are kept up to a bound and counted beyond it. Kept
// state of an older epoch (the probe re-read storage since) is dropped.
#include "runtime/storage_sink.h"

#include <gtest/gtest.h>

#include <vector>

namespace obsmon {
namespace {

// A writer whose queue is full while `full` is set; it keeps the batches it accepted.
class SwitchableWriter final : public storage::Writer {
 public:
  bool Enqueue(WriteBatch batch) override {
    if (full) return false;
    accepted.push_back(std::move(batch));
    return true;
  }
  Status Flush() override { return Status::Ok(); }
  void Stop() override {}
  storage::WriterStats Stats() const override { return {}; }
  Status RunRetention() override { return Status::Ok(); }

  bool full = false;
  std::vector<WriteBatch> accepted;
};

const ProbeKey kLogs{"web", "errors"};

// A log run that read `lines` lines of `path` up to `offset`, each one an error.
ProbeResult LogRun(const std::string& path, int lines, int64_t offset) {
  ProbeResult r = ProbeResult::Up();
  const Labels source{{"source", path}};
  r.counters.push_back({"obsmon_log_lines_read_total", source, static_cast<double>(lines)});
  r.counters.push_back({"obsmon_log_matches_total", source, static_cast<double>(lines)});
  LogCursor cursor;
  cursor.key = kLogs;
  cursor.path = path;
  cursor.offset = offset;
  r.log_cursors.push_back(cursor);
  for (int i = 0; i < lines; ++i) {
    r.log_events.push_back({kLogs, 0, path, "error", "ERROR " + std::to_string(offset) + "/" +
                                                         std::to_string(i)});
  }
  return r;
}

void Offer(StorageSink& sink, const ProbeKey& key, const ProbeResult& result, uint64_t epoch) {
  RunOutcome o;
  o.run.key = key;
  o.run.success = true;
  o.result = &result;
  o.state_epoch = epoch;
  sink.OnRun(o);
}

double Sum(const WriteBatch& b, const std::string& name, const std::string& path = "") {
  double sum = 0;
  for (const auto& c : b.counters) {
    if (c.name == name && (path.empty() || c.labels.Get("source") == path)) sum += c.delta;
  }
  return sum;
}

TEST(StorageSinkTest, ARefusedBatchsStateGoesWithTheProbesNextBatch) {
  SwitchableWriter writer;
  StorageSink sink(writer);
  writer.full = true;
  Offer(sink, kLogs, LogRun("/a.log", 3, 30), 5);
  Offer(sink, kLogs, LogRun("/b.log", 2, 20), 5);  // refused too: kept beside the first
  Offer(sink, {"web", "health"}, ProbeResult::Up(), 5);
  writer.full = false;
  Offer(sink, kLogs, LogRun("/a.log", 1, 40), 5);
  ASSERT_EQ(writer.accepted.size(), 1u);
  const WriteBatch& b = writer.accepted[0];
  EXPECT_EQ(b.runs.size(), 1u);  // the refused runs are not evidence any more
  EXPECT_EQ(Sum(b, "obsmon_log_lines_read_total", "/a.log"), 4);
  EXPECT_EQ(Sum(b, "obsmon_log_matches_total", "/b.log"), 2);
  EXPECT_EQ(b.log_events.size(), 6u);
  EXPECT_EQ(b.log_events.front().line, "ERROR 30/0");  // in the order they were read
  EXPECT_EQ(b.log_events.back().line, "ERROR 40/0");
  ASSERT_EQ(b.log_cursors.size(), 2u);
  for (const auto& c : b.log_cursors) EXPECT_EQ(c.offset, c.path == "/a.log" ? 40 : 20);
  // Given once: the next batch carries only its own run.
  Offer(sink, kLogs, LogRun("/a.log", 1, 50), 5);
  ASSERT_EQ(writer.accepted.size(), 2u);
  EXPECT_EQ(Sum(writer.accepted[1], "obsmon_log_lines_read_total"), 1);
}

// The runner's last sink takes the outcome (TakeRun): the batch is the one OnRun would send,
// the samples moved rather than copied.
TEST(StorageSinkTest, TakeRunSendsTheBatchOnRunWould) {
  SwitchableWriter writer;
  StorageSink sink(writer);
  const ProbeResult result = LogRun("/a.log", 2, 20);
  RunOutcome o;
  o.run.key = kLogs;
  o.run.success = true;
  o.run.reason = "kept";
  o.result = &result;
  o.state_epoch = 3;
  o.samples.push_back({"probe_success", Labels{{"probe", "errors"}}, 5, 1});
  RunOutcome copy = o;
  sink.OnRun(copy);
  sink.TakeRun(o);
  ASSERT_EQ(writer.accepted.size(), 2u);
  const WriteBatch& a = writer.accepted[0];
  const WriteBatch& b = writer.accepted[1];
  ASSERT_EQ(b.runs.size(), 1u);
  EXPECT_EQ(b.runs[0].key, a.runs[0].key);
  EXPECT_EQ(b.runs[0].reason, "kept");
  ASSERT_EQ(b.samples.size(), 1u);
  EXPECT_EQ(b.samples[0].labels, a.samples[0].labels);
  EXPECT_EQ(b.log_events.size(), a.log_events.size());
  EXPECT_EQ(Sum(b, "obsmon_log_matches_total"), 2);
  EXPECT_EQ(b.state_key, kLogs);
  EXPECT_EQ(b.state_epoch, 3u);
  EXPECT_TRUE(o.samples.empty());  // taken
}

// A file retired while batches are refused: its kept increments end with it (storage forgets the
// total), its retired cursor replaces the kept one, and a file of that name made again after
// starts a new total.
TEST(StorageSinkTest, ARetirementWhileRefusedEndsTheKeptStateOfItsFile) {
  SwitchableWriter writer;
  StorageSink sink(writer);
  writer.full = true;
  Offer(sink, kLogs, LogRun("/a.log", 3, 30), 5);
  ProbeResult retire = ProbeResult::Up();
  LogCursor gone;
  gone.key = kLogs;
  gone.path = "/a.log";
  gone.retired = true;
  retire.log_cursors.push_back(gone);
  for (const char* name : {"obsmon_log_lines_read_total", "obsmon_log_matches_total"}) {
    CounterDelta forget{name, Labels{{"source", "/a.log"}}, 0};
    forget.forget = true;
    retire.counters.push_back(forget);
  }
  Offer(sink, kLogs, retire, 5);
  Offer(sink, kLogs, LogRun("/a.log", 2, 20), 5);  // a new file of that name
  writer.full = false;
  Offer(sink, kLogs, ProbeResult::Up(), 5);
  ASSERT_EQ(writer.accepted.size(), 1u);
  const WriteBatch& b = writer.accepted[0];
  // In order: the forget, then the new file's increments.
  std::vector<std::pair<bool, double>> lines_read;
  for (const auto& c : b.counters) {
    if (c.name == "obsmon_log_lines_read_total") lines_read.emplace_back(c.forget, c.delta);
  }
  EXPECT_EQ(lines_read, (std::vector<std::pair<bool, double>>{{true, 0}, {false, 2}}));
  ASSERT_EQ(b.log_cursors.size(), 1u);
  EXPECT_FALSE(b.log_cursors[0].retired);
  EXPECT_EQ(b.log_cursors[0].offset, 20);
  EXPECT_EQ(b.log_events.size(), 5u);  // the lines read were read: evidence stays
}

TEST(StorageSinkTest, KeptStateOfAnOlderEpochIsDropped) {
  SwitchableWriter writer;
  StorageSink sink(writer);
  writer.full = true;
  Offer(sink, kLogs, LogRun("/a.log", 3, 30), 5);
  writer.full = false;
  // The probe re-read its state from storage (epoch 6) and reads those lines again itself.
  Offer(sink, kLogs, LogRun("/a.log", 3, 30), 6);
  ASSERT_EQ(writer.accepted.size(), 1u);
  EXPECT_EQ(Sum(writer.accepted[0], "obsmon_log_lines_read_total"), 3);
  EXPECT_EQ(writer.accepted[0].log_events.size(), 3u);
}

TEST(StorageSinkTest, KeptLinesAreBoundedAndTheRestCountedAsStorageCountsItsDrops) {
  SwitchableWriter writer;
  StorageSink sink(writer);
  writer.full = true;
  const int n = static_cast<int>(StorageSink::kMaxCarriedEvents);
  Offer(sink, kLogs, LogRun("/a.log", n - 10, 100), 5);
  Offer(sink, kLogs, LogRun("/a.log", 25, 200), 5);  // 15 over the bound
  writer.full = false;
  Offer(sink, kLogs, ProbeResult::Up(), 5);
  ASSERT_EQ(writer.accepted.size(), 1u);
  const WriteBatch& b = writer.accepted[0];
  EXPECT_EQ(b.log_events.size(), StorageSink::kMaxCarriedEvents);
  EXPECT_EQ(b.log_events.front().line, "ERROR 100/0");  // the earliest are kept
  EXPECT_EQ(Sum(b, "obsmon_log_events_dropped_total"), 15);
  EXPECT_EQ(Sum(b, "obsmon_log_matches_total"), n + 15);
  // One increment per counter, however many runs were refused.
  EXPECT_EQ(b.counters.size(), 3u);
}

}  // namespace
}  // namespace obsmon
