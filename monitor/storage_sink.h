// Hands each run to the storage writer as ONE batch, so a log probe's events, counters and new
// cursor commit together (exactly-once across crashes).
#pragma once

#include <atomic>

#include "monitor/result_sink.h"
#include "storage/storage.h"

namespace obsmon {

class StorageSink final : public ResultSink {
 public:
  explicit StorageSink(storage::Writer& writer) : writer_(writer) {}

  void OnRun(const RunOutcome& outcome) override {
    WriteBatch batch;
    batch.runs.push_back(outcome.run);
    batch.samples = outcome.samples;
    if (outcome.result) {
      batch.log_events = outcome.result->log_events;
      batch.log_cursors = outcome.result->log_cursors;
      batch.counters = outcome.result->counters;
    }
    writer_.Enqueue(std::move(batch));  // a refused batch is counted by the writer
  }

 private:
  storage::Writer& writer_;
};

}  // namespace obsmon
