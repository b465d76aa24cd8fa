// The `GET /` page, what a team watches during an observation period: per component its verdict so
// far, "Day N of M", each criterion met / not yet / failed, uptime, coverage, error budget left,
// incidents and critical lines, a status bar of the window's days and one of today's hours, a link
// to the HTML report and its badge. Every figure comes from the component's live report (the
// same computation as /api/v1/components and /metrics). A pure function over plain structs;
// thread-safe. The page is self-contained (no script, no external asset), refreshes itself
// every minute, fits a 375 px wide phone, and escapes every name.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "report/report.h"

namespace obsmon {

struct IndexPeriod {
  int64_t id = 0;
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;  // planned end, or when it was stopped
  std::string state;       // "active", "scheduled", "finished", "stopped"
};

struct IndexComponent {
  std::string name;
  std::string state;  // "up", "down" or "unknown"
  double objective_percent = 99.5;  // shown when there is no report yet
  int64_t window_ms = 7LL * 86'400'000;
  std::optional<IndexPeriod> period;  // the current period (report/periods.h CurrentPeriod)
  // The live report: the active period, else the objective window ending at the instant the
  // live figures were computed (UptimeFigures::computed_at_ms). nullopt before any stored run.
  std::optional<Report> report;
};

struct IndexPage {
  std::string title = "obsmon";
  std::string version;
  TimestampMs now_ms = 0;
  std::vector<IndexComponent> components;
};

// The HTML report link of a component: /api/v1/components/<name>/report?format=html, with
// &period=<id> for its report's period (or, without a report, its current period). The name is
// percent-encoded.
std::string ComponentReportUrl(const IndexComponent& component);

// /api/v1/components/<name>/badge.svg, the name percent-encoded.
std::string ComponentBadgeUrl(const IndexComponent& component);

// "Day 3 of 7" while the window runs, "7 days, ended" after; "" without a report.
std::string DayOfWindow(const Report& report);

std::string RenderIndexPage(const IndexPage& page);

}  // namespace obsmon
