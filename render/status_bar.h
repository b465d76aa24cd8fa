// The overview's status bars, like a status page's: one cell per day of the window (from
// Report::days, whatever a day is there; days not reached yet are "future") and one per hour of
// the report's last day (from Report::timeline). A cell's class says what its known time shows,
// its title gives the figures. Pure functions of the report; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "report/report.h"

namespace obsmon {

struct StatusCell {
  TimestampMs start_ms = 0;
  TimestampMs end_ms = 0;
  // "up": known and never down; "down": some down time; "unknown": nothing known (no excluded
  // time either); "maintenance": nothing known and some of it excluded; "future": not evaluated.
  std::string state;
  std::string title;  // plain text (escaped by the page): "Day 2 (2025-10-15): uptime ..."
};

// The state of a stretch with these totals (see StatusCell::state; never "future").
std::string CellState(const UptimeTotals& totals);

// One cell per day of the report, then one "future" cell per whole 24 h left in the window.
std::vector<StatusCell> DayCells(const Report& report);

// One cell per hour of the last day of the report (its start, then each following hour until the
// day's planned end: 24 h later or the window's end); hours after evaluated_to are "future".
// Empty when the report has no day.
std::vector<StatusCell> HourCells(const Report& report);

}  // namespace obsmon
