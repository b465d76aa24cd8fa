// What the daemon keeps of a component's live report between refreshes, and what it builds it
// from (issue 17, item 1: memory bounded by design). The overview page, the badge and the next
// refresh's latency carry-over (LatencyCarriesOver, CarryLatencyOver) read only figures,
// criteria, days, the latency and the last day's hours, so the lists that grow with the state
// changes in the window (incidents, gaps, the combined timeline, alerts, maintenance reasons)
// are dropped, their counts kept. A week of a component flapping every 30 s was ~17 MB of live
// report; compacted it is ~17 kB, whatever its incidents. What stays grows only with the
// window's length (a row a day, the latency of each UTC hour with a run: 64 B) and with the
// maintenance windows in it (16 B each, for LatencyCarriesOver). Reports a user asks for (API,
// CLI, pages) are built whole, never from this.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "report/period_days.h"
#include "report/report.h"
#include "report/uptime.h"

namespace obsmon {

// Drops from `report` what grows with its window's state changes and keeps what the overview
// shows: `incidents` is emptied (Report::IncidentCount() stays exact), `gaps`, `alerts`,
// `maintenance` and the log lines (their counts stay) are emptied, and `timeline` keeps the last day's hours at the status bar's
// resolution (render/status_bar.h HourCells), so every hour's totals are exactly those of the
// whole timeline.
void CompactForOverview(Report& report);

// Each hour of each day (ordered, contiguous) from the day's start, and the last day's end.
std::vector<TimestampMs> DayHourBounds(const std::vector<PeriodDay>& days);

// The totals of `timeline` (ordered, disjoint) within each stretch [bounds[i], bounds[i + 1])
// (window_ms: the stretch's length), one a stretch. `bounds` ascending.
std::vector<UptimeTotals> TotalsPerStretch(const std::vector<StateSpan>& timeline,
                                           std::span<const TimestampMs> bounds);

// The time of each state of `timeline` (ordered, disjoint) within each stretch
// [bounds[i], bounds[i + 1]) as at most four consecutive spans from the stretch's start (up,
// down, unknown, excluded, in that order): a stretch's totals are exact, where in it each state
// fell is not. `bounds` ascending; time outside them is dropped.
std::vector<StateSpan> StateTimesPerStretch(const std::vector<StateSpan>& timeline,
                                            std::span<const TimestampMs> bounds);

// What a report for the overview (ReportOptions::for_overview) keeps of its window's uptime while
// BuildReport computes it 6 hours of spans at a time: after each chunk, every incident but the last
// (which the next chunk may continue) is counted by the day it began in and dropped, and the
// timeline is kept per hour of each day from the day's start (StateTimesPerStretch), which is
// all the days' totals and the status bars read. What it holds is bounded by the days, not by
// the state changes in them.
class OverviewUptimeFold {
 public:
  explicit OverviewUptimeFold(const std::vector<PeriodDay>& days);
  void Fold(UptimeResult& up);
  // Incidents folded away, in all and by period day (index into `days`).
  uint64_t folded() const { return folded_; }
  const std::vector<uint64_t>& folded_by_day() const { return by_day_; }

 private:
  std::vector<PeriodDay> days_;
  std::vector<TimestampMs> bounds_;
  uint64_t folded_ = 0;
  std::vector<uint64_t> by_day_;
};

}  // namespace obsmon
