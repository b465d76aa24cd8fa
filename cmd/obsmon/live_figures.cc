#include "cmd/obsmon/live_figures.h"

#include "cmd/obsmon/api_backend.h"
#include "report/periods.h"

namespace obsmon {

UptimeFigures FiguresOfReport(const ComponentConfig& c, const Report& r) {
  UptimeFigures f;
  f.component = c.name;
  f.job = c.labels.Get("job");
  f.from_ms = r.from_ms;
  f.to_ms = r.to_ms;
  f.window_ms = r.to_ms - r.from_ms;
  f.period_id = r.period_id;
  f.objective_ratio = r.objective.uptime_percent / 100.0;
  f.computed_at_ms = r.now_ms;
  f.uptime_ratio = r.totals.uptime();
  f.coverage_ratio = r.totals.coverage();  // none, as in the report, when nothing could be known
  f.down_seconds = static_cast<double>(r.totals.down_ms) / 1000.0;
  f.budget_remaining_seconds = static_cast<double>(r.budget.left_ms) / 1000.0;
  return f;
}

Result<UptimeFigures> ComputeLiveFigures(const std::string& db_path, const ComponentConfig& c,
                                         TimestampMs now_ms, std::optional<Report>* report_out,
                                         const Report* latency_from,
                                         ReportConnections* connections) {
  PeriodReportRequest request;
  request.db_path = db_path;
  request.component = c.name;
  request.objective = c.objective;
  request.health_probes = ReportOptionsFor(c).health_probes;
  request.now_ms = now_ms;
  request.live = true;
  // Every refresh (15 s) reads each component's window: through a small cache, not a map of
  // the file whose touched pages would count in the daemon's RSS (storage::ReadMemory).
  request.read_memory = storage::kLiveRead;
  request.connections = connections;
  // Log lines and alert history only when the whole report is wanted (they are no figure).
  request.figures_only = report_out == nullptr;
  request.latency_from = latency_from;
  // What the daemon keeps of the report is compacted for the overview (SetLiveReport): its
  // incidents' details and the alert history would be read only to be dropped.
  request.for_overview = true;
  auto report = BuildPeriodReport(request);
  if (report.ok()) {
    UptimeFigures figures = FiguresOfReport(c, *report);
    if (report_out) *report_out = std::move(*report);
    return figures;
  }
  if (!report.status().IsNotFound()) return report.status();
  // No runs (or no database) yet: the objective window, nothing known in it.
  UptimeFigures f;
  f.component = c.name;
  f.job = c.labels.Get("job");
  f.window_ms = c.objective.window_ms;
  f.from_ms = now_ms - c.objective.window_ms;
  f.to_ms = now_ms;
  f.objective_ratio = c.objective.uptime_percent / 100.0;
  f.computed_at_ms = now_ms;
  return f;
}

}  // namespace obsmon
