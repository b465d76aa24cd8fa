// SLO burn-rate rules generated from a component's objective: multi-window, multi-burn-rate
// alerts as in the SRE workbook ("Alerting on SLOs"), with windows and budget shares from Sloth's
// catalogs, scaled to the SLO period as Sloth does:
//
//   burn factor = (share of the error budget spent) x (SLO period) / (long window)
//
// For a 7-day SLO (Sloth's 7d catalog): 8 % in 1h (check 5m) -> 13.44, 12.5 % in 6h (30m) -> 3.5,
// 20 % in 1d (2h) -> 1.4, 42 % in 3d (6h) -> 0.98. The first two page, the last two open a ticket.
// An alert fires when the error ratio over BOTH the long and the short window exceeds
// factor x (1 - objective); the short window makes it stop soon after the outage ends.
//
// The SLI (docs/report.md): the component is up at an instant when every one of its health probes
// is up, i.e. `min by (job) (up{job="<job>"})` (obsmon exports a health probe's verdict as
// `up{job,instance,probe}`), recorded as obsmon:slo_component_up:min; the error ratio over a
// window W is `1 - avg_over_time(obsmon:slo_component_up:min[W])`. Like Prometheus, this ignores
// time without samples; obsmon's report does not (unknown time is never up).
//
// Pure functions: thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "config/config.h"

namespace obsmon {

struct BurnRateWindow {
  int64_t long_ms = 0;
  int64_t short_ms = 0;
  double budget_percent = 0;  // share of the period's error budget spent over long_ms
  double factor = 0;          // budget_percent / 100 x period / long_ms, rounded to 1e-6
  std::string severity;       // "page" | "ticket"
};

// The four windows for an SLO period: Sloth's 7d catalog for periods up to 14 days, its 30d (SRE
// workbook) catalog above. Windows whose long window exceeds the period are left out.
std::vector<BurnRateWindow> BurnRateWindows(int64_t slo_period_ms);

struct SloSpec {
  std::string component;
  std::string job;  // the `job` label of the component's `up` series (default: component)
  double objective_percent = 99.5;
  int64_t period_ms = 7LL * 86'400'000;
};

// One SloSpec per component: its objective's uptime and window, its `job` label.
std::vector<SloSpec> SloSpecsOf(const std::vector<ComponentConfig>& components);

// A Prometheus rule file (YAML): per component one group `obsmon-slo-<component>` with recording
// rules for the SLI, the error ratio over each window, the burn rate now (1h) and the error
// budget left over the period, and the alerts ObsmonSLOBurnRatePage / ObsmonSLOBurnRateTicket.
// `promtool check rules` accepts it; obsmon's own engine loads it too, so the daemon can
// evaluate the same rules: alerts::ParseRuleFileText(RenderSloRules(SloSpecsOf(components)), ...).
std::string RenderSloRules(const std::vector<SloSpec>& slos);

}  // namespace obsmon
