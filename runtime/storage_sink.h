// Hands each run to the storage writer as ONE batch, so a log probe's events, counters and new
// cursor commit together (exactly-once across crashes).
#pragma once

#include <functional>

#include "core/run_outcome.h"
#include "storage/storage.h"

namespace obsmon {

class StorageSink final : public ResultSink {
 public:
  // `on_refused` is told of a probe whose batch carried log cursors or counters but was refused
  // (queue full): that probe must re-read its stored state before it runs again.
  StorageSink(storage::Writer& writer, std::function<void(const ProbeKey&)> on_refused)
      : writer_(writer), on_refused_(std::move(on_refused)) {}

  void OnRun(const RunOutcome& outcome) override {
    WriteBatch batch;
    batch.runs.push_back(outcome.run);
    batch.samples = outcome.samples;
    if (outcome.result) {
      batch.log_events = outcome.result->log_events;
      batch.log_cursors = outcome.result->log_cursors;
      batch.counters = outcome.result->counters;
    }
    batch.state_key = outcome.run.key;
    batch.state_epoch = outcome.state_epoch;
    const bool stateful = batch.has_state();
    // A refused batch is counted by the writer; a stateful one also rewinds its probe.
    if (!writer_.Enqueue(std::move(batch)) && stateful && on_refused_) on_refused_(outcome.run.key);
  }

 private:
  storage::Writer& writer_;
  std::function<void(const ProbeKey&)> on_refused_;
};

}  // namespace obsmon
