// The `GET /` page: every component with its current state, uptime over its objective window,
// error budget left and active observation period, each linking to its HTML report. A pure
// function over plain structs (the daemon fills them from MonitorState, UptimeBoard and the
// period store); thread-safe. The page is self-contained (no script, no external asset) and
// escapes every name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"

namespace obsmon {

struct IndexPeriod {
  int64_t id = 0;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;  // planned end, or when it was stopped
  std::string state;       // "active", "scheduled", "finished", "stopped"
  std::string verdict;  // "PASS", "FAIL", "IN PROGRESS", "INSUFFICIENT DATA" or "" (not computed)
};

struct IndexComponent {
  std::string name;
  std::string state;  // "up", "down" or "unknown"
  double objective_percent = 99.5;
  int64_t window_ms = 7LL * 86'400'000;
  std::optional<double> uptime_ratio;  // over the objective window; nullopt: no known time
  std::optional<double> coverage_ratio;
  std::optional<int64_t> budget_left_ms;  // negative once overspent
  std::optional<IndexPeriod> period;      // the current period (report/periods.h CurrentPeriod)
};

struct IndexPage {
  std::string title = "obsmon";
  std::string version;
  TimestampMs now_ms = 0;
  std::vector<IndexComponent> components;
};

// The HTML report link of a component: /api/v1/components/<name>/report?format=html, with
// &period=<id> when it has a period. The name is percent-encoded.
std::string ComponentReportUrl(const IndexComponent& component);

std::string RenderIndexPage(const IndexPage& page);

}  // namespace obsmon
