// `obsmon test rules FILE...`: runs rule unit tests written in promtool's format
// (https://prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/), so one test
// file checks both `promtool test rules` and obsmon:
//   rule_files (relative to the test file; globs allowed), evaluation_interval, group_eval_order,
//   tests: [{name, interval, external_labels, external_url,
//            input_series: [{series, values}]  values in the `a+bxn a-bxn axn _ _xn stale`
//            notation, alert_rule_test: [{eval_time, alertname, exp_alerts: [{exp_labels,
//            exp_annotations}]}], promql_expr_test: [{expr, eval_time, exp_samples: [{labels,
//            value}]}]}]
// Reports like promtool ("Unit Testing:  FILE", "  SUCCESS" or "  FAILED:" with details).
#pragma once

#include <optional>
#include <ostream>
#include <cstdint>
#include <string>
#include <vector>

#include "core/status.h"

namespace obsmon::alerts {

// Runs every file; returns promtool's exit code: 0 when all passed, 1 otherwise.
int RunRuleTests(const std::vector<std::string>& files, std::ostream& out);

// Samples one input series may expand to (about 115 days at 10s); more is refused, not allocated.
inline constexpr uint64_t kMaxSeriesValues = 1'000'000;

// Rule evaluations one test file may ask for in all: per test group, (eval_time / evaluation_interval
// + 1) steps times its rules (at least one), summed over the groups; a day at 1m with 100 rules is
// 144,000. More is refused before evaluating: `eval_time: 292y` at 1ms would have evaluated for
// ever, and 10,000 steps of 4 rules already take a second under ASan.
inline constexpr int64_t kMaxRuleEvaluations = 200'000;

// Expands one `values` string of the promtool notation into samples at 0, interval, 2*interval...
// `nullopt` entries are omitted samples (`_`); stale markers are StaleNaN. InvalidArgument naming
// the token on a syntax error or past kMaxSeriesValues.
Result<std::vector<std::optional<double>>> ExpandSeriesValues(const std::string& text);

}  // namespace obsmon::alerts
