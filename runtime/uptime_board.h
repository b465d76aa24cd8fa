// The latest uptime figures of every component over its objective window, recomputed
// periodically by the daemon from storage and read by /metrics and the API. Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/mutex.h"

namespace obsmon {

struct UptimeFigures {
  std::string component;
  std::string job;
  int64_t window_ms = 0;
  double objective_ratio = 0;               // 0.995
  std::optional<double> uptime_ratio;       // up / (up + down); none when nothing is known
  double coverage_ratio = 0;                // (up + down) / window
  double budget_remaining_seconds = 0;      // may be negative
  double down_seconds = 0;
  TimestampMs computed_at_ms = 0;
};

class UptimeBoard {
 public:
  void Set(const UptimeFigures& figures) {
    MutexLock lock(mu_);
    figures_[figures.component] = figures;
  }
  std::map<std::string, UptimeFigures> All() const {
    MutexLock lock(mu_);
    return figures_;
  }
  std::optional<UptimeFigures> Get(const std::string& component) const {
    MutexLock lock(mu_);
    auto it = figures_.find(component);
    if (it == figures_.end()) return std::nullopt;
    return it->second;
  }
  void Retain(const std::map<std::string, bool>& components) {
    MutexLock lock(mu_);
    std::erase_if(figures_, [&](const auto& kv) { return !components.count(kv.first); });
  }

 private:
  mutable Mutex mu_;
  std::map<std::string, UptimeFigures> figures_ GUARDED_BY(mu_);
};

}  // namespace obsmon
