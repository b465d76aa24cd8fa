// Hands each run to the storage writer as ONE batch, so a log probe's events, counters and new
// cursor commit together (exactly-once across crashes).
//
// A batch the writer refuses (its queue is full: another connection holds the write lock, a
// burst) loses its run and samples, but not its probe state: the sink keeps the log lines'
// counter increments, cursors and (up to kMaxCarriedEvents) matched lines, and sends them with
// the probe's next batch. The probe reads on and never re-reads, so a log rotated or deleted
// meanwhile loses nothing it had read (re-reading from the stored cursor did: fresh eyes). Kept
// state of an older epoch is dropped: the probe has re-read its state from storage since (a
// restore, a reload), and reads those lines again itself. Kept state lives in memory only: it
// waits for the probe's next run, and a crash or a stop before then leaves those lines to be
// read again from the stored cursor at the next start.
#pragma once

#include <map>

#include "core/mutex.h"
#include "core/run_outcome.h"
#include "storage/storage.h"

namespace obsmon {

class StorageSink final : public ResultSink {
 public:
  // Matched lines kept per probe while its batches are refused; the rest are counted in
  // obsmon_log_events_dropped_total{component}, as storage counts those over its daily cap.
  static constexpr size_t kMaxCarriedEvents = 1000;

  explicit StorageSink(storage::Writer& writer) : writer_(writer) {}

  void OnRun(const RunOutcome& outcome) override;
  // As OnRun, moving the run and its samples out of `outcome`.
  void TakeRun(RunOutcome& outcome) override;

 private:
  // Sends `batch` (made from one run) to the writer, with what the probe's refused batches kept.
  void Send(WriteBatch batch);
  struct Carried {
    uint64_t epoch = 0;
    std::vector<LogEvent> events;
    std::vector<LogCursor> cursors;
    std::vector<CounterDelta> counters;
  };
  // Adds what `carried` kept (older) to `batch` (newer): counters add, a path's newer cursor wins.
  static void AddOlder(Carried carried, WriteBatch* batch);
  // Keeps the state part of a refused batch, at most kMaxCarriedEvents of its lines.
  static Carried Keep(WriteBatch& batch);

  storage::Writer& writer_;
  Mutex mu_;
  std::map<ProbeKey, Carried> carried_ GUARDED_BY(mu_);
};

}  // namespace obsmon
