// What the daemon keeps of a component's live report between refreshes (issue 17, item 1: memory
// bounded by design): the overview page, the badge and the next refresh's latency carry-over
// (LatencyCarriesOver, CarryLatencyOver) read only figures, criteria, days, the latency and the
// last day's hours, so the lists that grow with the state changes in the window (incidents, gaps,
// the combined timeline, alerts, maintenance reasons) are dropped, their counts kept. A week of
// a component flapping every 30 s was ~14 MB of live report; compacted it is a few kilobytes,
// whatever the window holds. Reports a user asks for (API, CLI, pages) are built whole, never
// from this.
#pragma once

#include "report/report.h"

namespace obsmon {

// Drops from `report` what grows with its window's state changes and keeps what the overview
// shows: `incidents` is emptied (Report::IncidentCount() stays exact), `gaps`, `alerts` and
// `maintenance` are emptied, and `timeline` keeps the last day's hours at the status bar's
// resolution (render/status_bar.h HourCells: per hour, its up, down, unknown and excluded time,
// in that order), so every hour's totals are exactly those of the whole timeline.
void CompactForOverview(Report& report);

}  // namespace obsmon
