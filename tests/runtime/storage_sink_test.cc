// StorageSink: one batch per run, and a refused batch that carried probe state (log lines,
// cursors, counters) is told to the daemon, which has that probe re-read its state before its
// next run (a run with no state lost nothing a re-read could give back).
#include "runtime/storage_sink.h"

#include <gtest/gtest.h>

#include <vector>

namespace obsmon {
namespace {

// A writer whose queue is full: it refuses every batch and keeps what it was offered.
class FullWriter final : public storage::Writer {
 public:
  bool Enqueue(WriteBatch batch) override {
    offered.push_back(std::move(batch));
    return false;
  }
  Status Flush() override { return Status::Ok(); }
  void Stop() override {}
  storage::WriterStats Stats() const override { return {}; }
  Status RunRetention() override { return Status::Ok(); }

  std::vector<WriteBatch> offered;
};

RunOutcome Outcome(const ProbeKey& key, const ProbeResult& result) {
  RunOutcome o;
  o.run.key = key;
  o.run.success = true;
  o.result = &result;
  o.state_epoch = 7;
  return o;
}

TEST(StorageSinkTest, ARefusedBatchWithProbeStateAsksForARestoreAndOneWithoutDoesNot) {
  FullWriter writer;
  std::vector<ProbeKey> told;
  StorageSink sink(writer, [&](const ProbeKey& key) { told.push_back(key); });

  ProbeResult log_run = ProbeResult::Up();
  log_run.counters.push_back({"obsmon_log_lines_read_total", Labels{}, 3});
  log_run.log_cursors.push_back(LogCursor{});
  sink.OnRun(Outcome({"web", "errors"}, log_run));
  ProbeResult http_run = ProbeResult::Up();
  sink.OnRun(Outcome({"web", "health"}, http_run));

  ASSERT_EQ(told.size(), 1u);
  EXPECT_EQ(told[0].component, "web");
  EXPECT_EQ(told[0].probe, "errors");
  // Each run was offered as one batch, with its state and the epoch it was read at.
  ASSERT_EQ(writer.offered.size(), 2u);
  EXPECT_EQ(writer.offered[0].counters.size(), 1u);
  EXPECT_EQ(writer.offered[0].log_cursors.size(), 1u);
  EXPECT_EQ(writer.offered[0].state_epoch, 7u);
  EXPECT_FALSE(writer.offered[1].has_state());
}

}  // namespace
}  // namespace obsmon
