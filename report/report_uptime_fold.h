// What a report a user asks for (API, CLI, pages) keeps of its window's uptime while BuildReport
// computes it 6 hours of spans at a time (issue 17, item 1: memory bounded by design). A week of
// a component flapping every 30 s is 60,000 incidents and 120,000 spans: held whole they were
// ~20 MB of the build (and the daemon's, when the API builds it). Kept here instead:
// - the longest ReportOptions::max_listed incidents and monitoring gaps, numbered in the
//   window's order, the others counted (each day's incidents still count them all);
// - the timeline exact while it has at most kTimelineSpansExact spans; past that, the time of
//   each state per stretch of TimelineStretches: every hour of each day and every column of the
//   HTML strip, which is all the days' totals and the strip read, so they stay exact.
// Below both bounds the report is what it was whole.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "report/period_days.h"
#include "report/uptime.h"

namespace obsmon {

// The HTML availability strip's columns (render/report_html.cc draws a column a pixel when the
// timeline has more spans than this).
inline constexpr int kStripColumns = 960;

// The timeline is kept span by span up to this many spans (24 B each).
inline constexpr size_t kTimelineSpansExact = 10'000;

// The longest incidents each day keeps for its section (DaySummary::longest_incidents).
inline constexpr size_t kDayIncidentsListed = 10;

// The starts of the strip's columns over [from_ms, evaluated end), then that end: column c
// starts at from + round((to - from) * c / kStripColumns), cut where evaluation stopped.
std::vector<TimestampMs> StripBounds(TimestampMs from_ms, TimestampMs to_ms,
                                     TimestampMs evaluated_to_ms);

// Every hour of each day from its start (and each day's end), and every StripBounds: ascending,
// distinct.
std::vector<TimestampMs> TimelineStretches(const std::vector<PeriodDay>& days,
                                           TimestampMs from_ms, TimestampMs to_ms,
                                           TimestampMs evaluated_to_ms);

class ReportUptimeFold {
 public:
  // `days`: PeriodDays of the window; `max_listed`: ReportOptions::max_listed (0: all).
  ReportUptimeFold(const std::vector<PeriodDay>& days, TimestampMs from_ms, TimestampMs to_ms,
                   TimestampMs evaluated_to_ms, size_t max_listed);

  // The next chunk's uptime before it joins the window's (AppendUptime): its monitoring gaps
  // (a gap reaching the chunk's start continues the previous chunk's).
  void TakeGaps(const UptimeResult& part);
  // After each chunk joined `up`: every incident but the last (the next chunk may continue it)
  // is numbered and kept among the longest or counted, and the timeline folded when too long.
  void Fold(UptimeResult& up);
  // After the last chunk: `up.incidents` the listed incidents by start, and the timeline per
  // stretch if it was ever folded (so that however the window was cut, the result is the same).
  void Finish(UptimeResult& up);

  std::vector<TimeInterval> TakeListedGaps();
  // Day i's (index into `days`) longest kDayIncidentsListed incidents, by start; after Finish.
  std::vector<Incident> TakeDayLongest(size_t day);
  uint64_t incidents_not_listed() const { return incidents_not_listed_; }
  const std::vector<uint64_t>& not_listed_by_day() const { return not_listed_by_day_; }
  uint64_t gaps_not_listed() const { return gaps_not_listed_; }
  bool timeline_per_stretch() const { return timeline_per_stretch_; }

 private:
  void KeepIncident(Incident incident);
  void KeepGap(TimeInterval gap);
  void TrimIncidents(size_t keep);
  void TrimGaps(size_t keep);

  std::vector<PeriodDay> days_;
  std::vector<TimestampMs> stretches_;
  size_t max_listed_;
  uint64_t next_number_ = 1;
  std::vector<Incident> incidents_;
  uint64_t incidents_not_listed_ = 0;
  std::vector<uint64_t> not_listed_by_day_;
  std::vector<std::vector<Incident>> day_longest_;
  std::optional<TimeInterval> open_gap_;  // the last gap seen, which the next chunk may continue
  std::vector<TimeInterval> gaps_;
  uint64_t gaps_not_listed_ = 0;
  bool timeline_per_stretch_ = false;
};

}  // namespace obsmon
