// The latest uptime figures of every component, recomputed periodically by the daemon from
// storage (cmd/obsmon/live_figures.h: over the active observation period, else the objective
// window ending now, maintenance excluded, as its reports compute them) and read by /metrics,
// the API and the overview page. Thread-safe.
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
  int64_t window_ms = 0;                    // to_ms - from_ms
  TimestampMs from_ms = 0;                  // the window the figures are of: [from, to),
  TimestampMs to_ms = 0;                    // evaluated up to computed_at_ms
  std::optional<int64_t> period_id;         // set when the window is an active period
  double objective_ratio = 0;               // 0.995 (the period's objective when in one)
  std::optional<double> uptime_ratio;       // up / (up + down); none when nothing is known
  // (up + down) / (evaluated window - maintenance); none when that is empty (all maintenance)
  std::optional<double> coverage_ratio;
  // May be negative; none when no run is stored for the component (nothing known: a 0 read as
  // a spent budget to dashboards and alerts, fresh eyes, stop 72)
  std::optional<double> budget_remaining_seconds;
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
