// The live uptime figures of one component, those of the uptime board (overview page,
// /api/v1/components, obsmon_component_* on /metrics): computed by the very function reports use
// (BuildPeriodReport, report/periods.h) over the component's active observation period, else its
// objective window ending now, maintenance windows excluded either way. A report of the same
// window made at the same instant has the same uptime, coverage, down time and budget
// (docs/uptime.md, "One truth"). Opens its own connections: thread-safe.
#pragma once

#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "config/config.h"
#include "report/periods.h"
#include "report/report.h"
#include "runtime/uptime_board.h"

namespace obsmon {

// The figures of `component` at now_ms. A component without stored runs gets figures with no
// uptime (nothing known yet), not an error; a failed read is the reader's Status. With `report`,
// the report they were taken from (log lines included; incidents without their details, no
// alert history: PeriodReportRequest::for_overview) is left there, for the
// overview page and the badge; it stays empty without stored runs. With `latency_from` (the
// previous refresh's report), its latency figures are carried over when they may be
// (LatencyCarriesOver) instead of reading every duration of the window again. With
// `connections`, the read connections are those kept for every component of one refresh.
Result<UptimeFigures> ComputeLiveFigures(const std::string& db_path,
                                         const ComponentConfig& component, TimestampMs now_ms,
                                         std::optional<Report>* report = nullptr,
                                         const Report* latency_from = nullptr,
                                         ReportConnections* connections = nullptr);

// The board's figures of a computed report (exposed for tests).
UptimeFigures FiguresOfReport(const ComponentConfig& component, const Report& report);

}  // namespace obsmon
