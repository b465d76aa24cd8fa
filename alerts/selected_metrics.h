// Which metric names a set of rules can read: what the in-memory head (series_store.h) needs to
// keep of everything probes produce.
#pragma once

#include <optional>
#include <string>
#include <unordered_set>
#include <vector>

#include "alerts/rule_file.h"

namespace obsmon::alerts {

// The names every selector of every rule asks for by `__name__="..."` (or `metric{...}`);
// nullopt when some selector does not name its metric exactly (`{job="x"}`,
// `{__name__=~"up|x"}`), so that every name may be read.
std::optional<std::unordered_set<std::string>> SelectedMetricNames(
    const std::vector<RuleGroupSpec>& groups);

}  // namespace obsmon::alerts
