// Which component an alert is of, told from its labels, in one place for every reader: the
// maintenance suppression (runtime/maintenance_calendar.h) and the reports' alert history
// (storage::PeriodStore::AlertHistory). Two rules that each told it their own way disagreed
// (fresh eyes, stop 67): a report listed alerts the suppression gave to another component.
//
// An alert is of: the component its `component` label names; else the one component whose
// configured `job` is its `job` label; else, when no component has that job, the component
// named like the job. An alert whose job several components share names none of them (neither
// suppressed by their windows nor listed in their reports): give such rules a `component` label
// or the components jobs of their own (docs/alerts.md). Immutable; thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/labels.h"

namespace obsmon {

class AlertComponents {
 public:
  // Components by name and configured job ("" for none).
  struct Component {
    std::string name;
    std::string job;
  };
  AlertComponents() = default;
  explicit AlertComponents(const std::vector<Component>& components);

  bool empty() const { return names_.empty(); }
  // The component the alert with `labels` is of; "" for none.
  std::string Of(const Labels& labels) const;
  // The `job` label values whose alerts may be `component`'s (its configured job, its name),
  // to narrow a search before Of decides.
  std::vector<std::string> JobsThatMayBe(const std::string& component) const;

 private:
  std::set<std::string> names_;
  std::map<std::string, std::string> job_of_;      // component -> its configured job
  std::map<std::string, std::string> component_of_job_;  // jobs of exactly one component
  std::set<std::string> shared_jobs_;               // jobs of two components or more
};

}  // namespace obsmon
