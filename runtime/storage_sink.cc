#include "runtime/storage_sink.h"

#include <algorithm>
#include <iterator>
#include <map>
#include <string>
#include <utility>

namespace obsmon {

namespace {
// Storage's own name for matched lines it counted but did not keep (storage/batch_applier.cc).
constexpr const char* kDroppedEventsCounter = "obsmon_log_events_dropped_total";
}  // namespace

void StorageSink::OnRun(const RunOutcome& outcome) {
  RunOutcome copy = outcome;  // as a sink before others: what they read stays theirs
  TakeRun(copy);
}

void StorageSink::TakeRun(RunOutcome& outcome) {
  WriteBatch batch;
  batch.state_key = outcome.run.key;
  batch.state_epoch = outcome.state_epoch;
  batch.runs.push_back(std::move(outcome.run));
  batch.samples = std::move(outcome.samples);
  if (outcome.result) {  // the probe's own result, which the runner only lends: copied
    batch.log_events = outcome.result->log_events;
    batch.log_cursors = outcome.result->log_cursors;
    batch.counters = outcome.result->counters;
  }
  Send(std::move(batch));
}

void StorageSink::Send(WriteBatch batch) {
  {
    MutexLock lock(mu_);
    auto it = carried_.find(batch.state_key);
    if (it != carried_.end()) {
      // Of another epoch, the probe has re-read its state from storage since: it reads those
      // lines again itself.
      if (it->second.epoch == batch.state_epoch) AddOlder(std::move(it->second), &batch);
      carried_.erase(it);
    }
  }
  if (writer_.EnqueueOrKeep(batch) || !batch.has_state()) return;
  // Refused (counted by the writer): the state waits for the probe's next batch.
  Carried kept = Keep(batch);
  MutexLock lock(mu_);
  carried_[batch.state_key] = std::move(kept);
}

void StorageSink::AddOlder(Carried carried, WriteBatch* batch) {
  std::vector<LogCursor> cursors = std::move(carried.cursors);
  std::erase_if(cursors, [&](const LogCursor& old) {
    return std::any_of(batch->log_cursors.begin(), batch->log_cursors.end(),
                       [&](const LogCursor& c) { return c.path == old.path; });
  });
  cursors.insert(cursors.end(), std::make_move_iterator(batch->log_cursors.begin()),
                 std::make_move_iterator(batch->log_cursors.end()));
  batch->log_cursors = std::move(cursors);
  carried.counters.insert(carried.counters.end(), std::make_move_iterator(batch->counters.begin()),
                          std::make_move_iterator(batch->counters.end()));
  batch->counters = std::move(carried.counters);
  carried.events.insert(carried.events.end(), std::make_move_iterator(batch->log_events.begin()),
                        std::make_move_iterator(batch->log_events.end()));
  batch->log_events = std::move(carried.events);
}

StorageSink::Carried StorageSink::Keep(WriteBatch& batch) {
  Carried kept;
  kept.epoch = batch.state_epoch;
  kept.cursors = std::move(batch.log_cursors);
  // One increment per counter, however many refused runs it sums: the state kept is bounded by
  // the probe's sources, not by how long the refusals last.
  // A forgotten counter (its log file retired) ends its entry: the increments before it are
  // dropped with it, one after it (a file of that name made again) starts a new entry.
  std::map<std::string, size_t> index;
  for (CounterDelta& d : batch.counters) {
    auto [at, added] = index.emplace(d.name + d.labels.ToString(), kept.counters.size());
    if (added) {
      kept.counters.push_back(std::move(d));
    } else if (d.forget) {
      kept.counters[at->second] = std::move(d);
    } else {
      kept.counters[at->second].delta += d.delta;
    }
    if (kept.counters[at->second].forget) index.erase(at);
  }
  if (batch.log_events.size() > kMaxCarriedEvents) {
    // The earliest are kept, as storage keeps a day's first lines under its daily cap.
    const size_t dropped = batch.log_events.size() - kMaxCarriedEvents;
    batch.log_events.resize(kMaxCarriedEvents);
    kept.counters.push_back({kDroppedEventsCounter,
                             Labels{{"component", batch.state_key.component}},
                             static_cast<double>(dropped)});
  }
  kept.events = std::move(batch.log_events);
  return kept;
}

}  // namespace obsmon
