// Which probe instances must re-read their state (log cursors, counters) from storage before
// they run again, and at which epoch each instance last read it (WriteBatch::state_epoch).
//
// A probe instance is stale when it is new (start, or a reload that changed its settings), when
// storage lost one of its batches after accepting it (Writer's on_state_lost, by key), or when
// it threw. (A batch refused at Enqueue is not a reason: StorageSink keeps its state for the
// probe's next batch.) The daemon re-reads a stale instance's state on the worker thread just
// before its next run, after fencing the new epoch in the writer, so whatever older batches of
// the key still wait in the queue can no longer count a line twice.
// Thread-safe.
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <unordered_map>

#include "core/mutex.h"
#include "core/records.h"
#include "probes/probe.h"

namespace obsmon {

class ProbeStateLedger {
 public:
  // The epoch of an instance the ledger does not know (forgotten after a reload while its last
  // run was still under way): older than any epoch handed out, so any fence supersedes it.
  static constexpr uint64_t kUnknownEpoch = 1;

  void MarkStale(const Probe* instance) {
    MutexLock lock(mu_);
    stale_instances_.insert(instance);
  }
  void MarkStale(const ProbeKey& key) {
    MutexLock lock(mu_);
    stale_keys_.insert(key);
  }
  // True (and no longer stale) when `instance` of `key` must re-read its state now.
  bool TakeStale(const ProbeKey& key, const Probe* instance) {
    MutexLock lock(mu_);
    const bool by_instance = stale_instances_.erase(instance) > 0;
    const bool by_key = stale_keys_.erase(key) > 0;
    return by_instance || by_key;
  }
  // A fresh epoch, larger than every one before.
  uint64_t NextEpoch() {
    MutexLock lock(mu_);
    return ++last_epoch_;
  }
  void SetEpoch(const Probe* instance, uint64_t epoch) {
    MutexLock lock(mu_);
    epochs_[instance] = epoch;
  }
  uint64_t Epoch(const Probe* instance) const {
    MutexLock lock(mu_);
    auto it = epochs_.find(instance);
    return it == epochs_.end() ? kUnknownEpoch : it->second;
  }
  // Forgets instances no longer configured (after a reload).
  void Retain(const std::set<const Probe*>& live) {
    MutexLock lock(mu_);
    std::erase_if(epochs_, [&](const auto& kv) { return !live.count(kv.first); });
    std::erase_if(stale_instances_, [&](const Probe* p) { return !live.count(p); });
  }

 private:
  mutable Mutex mu_;
  std::set<const Probe*> stale_instances_ GUARDED_BY(mu_);
  std::set<ProbeKey> stale_keys_ GUARDED_BY(mu_);
  // Looked up on every run: a hash table (a std::map of 1,000 instances was 0.7 % of a worker).
  std::unordered_map<const Probe*, uint64_t> epochs_ GUARDED_BY(mu_);
  uint64_t last_epoch_ GUARDED_BY(mu_) = kUnknownEpoch;
};

}  // namespace obsmon
