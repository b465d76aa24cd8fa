#include "render/status_bar.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/duration.h"
#include "report/figure_format.h"
#include "report/overview_report.h"

namespace obsmon {
namespace {

constexpr int64_t kDayMs = 86'400'000;
constexpr int64_t kHourMs = 3'600'000;

// The totals of the timeline's spans over [from, to).
UptimeTotals TotalsOver(const std::vector<StateSpan>& timeline, TimestampMs from, TimestampMs to) {
  const TimestampMs bounds[] = {from, std::max(from, to)};
  return TotalsPerStretch(timeline, bounds).front();
}

std::string Figures(const UptimeTotals& t) {
  return fmt::format("uptime {}, down {}, unknown {}, maintenance {}", FormatPercent(t.uptime()),
                     HumanDurationMs(t.down_ms), HumanDurationMs(t.unknown_ms),
                     HumanDurationMs(t.excluded_ms));
}

}  // namespace

std::string CellState(const UptimeTotals& t) {
  if (t.up_ms + t.down_ms == 0) return t.excluded_ms > 0 ? "maintenance" : "unknown";
  return t.down_ms > 0 ? "down" : "up";
}

std::vector<StatusCell> DayCells(const Report& r) {
  std::vector<StatusCell> cells;
  for (size_t i = 0; i < r.days.size(); ++i) {
    const DaySummary& d = r.days[i];
    cells.push_back({d.start_ms, d.end_ms, CellState(d.totals),
                     fmt::format("Day {} ({}): {}, incidents {}", i + 1, d.date, Figures(d.totals),
                                 d.incidents)});
  }
  // Whole days of the window after the last one evaluated (a partial one still counts as one).
  const TimestampMs after = r.days.empty() ? r.from_ms : r.days.back().start_ms + kDayMs;
  for (TimestampMs t = after; t < r.to_ms; t += kDayMs) {
    cells.push_back({t, std::min(t + kDayMs, r.to_ms), "future",
                     fmt::format("Day {}: not started", cells.size() + 1)});
  }
  return cells;
}

std::vector<StatusCell> HourCells(const Report& r) {
  std::vector<StatusCell> cells;
  if (r.days.empty()) return cells;
  const TimestampMs start = r.days.back().start_ms;
  const TimestampMs end = std::min(start + kDayMs, r.to_ms);
  for (TimestampMs h = start; h < end; h += kHourMs) {
    const TimestampMs h_end = std::min(h + kHourMs, end);
    if (h >= r.evaluated_to_ms) {
      cells.push_back({h, h_end, "future", FormatUtcSeconds(h).substr(11, 5) + " UTC: to come"});
      continue;
    }
    const UptimeTotals t = TotalsOver(r.timeline, h, std::min(h_end, r.evaluated_to_ms));
    cells.push_back({h, h_end, CellState(t),
                     fmt::format("{} UTC: {}", FormatUtcSeconds(h).substr(11, 5), Figures(t))});
  }
  return cells;
}

}  // namespace obsmon
