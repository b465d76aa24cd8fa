// The current state of every probe and component, as the API and /metrics show it. A ResultSink:
// updated from worker threads, read by HTTP threads. Thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "config/config.h"
#include "core/mutex.h"
#include "core/run_outcome.h"

namespace obsmon {

enum class ComponentHealth { kUp, kDown, kUnknown };
const char* ToString(ComponentHealth health);

struct ProbeState {
  ProbeSpec spec;
  std::string instance;
  std::optional<ProbeRun> last_run;
  uint64_t runs_success = 0;  // since obsmon started
  uint64_t runs_failure = 0;
  std::string detail;         // last output tail (exec)
};

struct ComponentState {
  std::string name;
  Labels labels;
  Objective objective;
  // Down if a health probe's last run (still valid) failed; unknown if a health probe has no
  // valid run; up otherwise. The same rule as the uptime computation, at one instant.
  ComponentHealth health = ComponentHealth::kUnknown;
  std::string reason;  // the first failing health probe's reason when down
  std::vector<ProbeState> probes;
};

class MonitorState final : public ResultSink {
 public:
  explicit MonitorState(const Clock& clock) : clock_(clock) {}

  // Replaces the set of components/probes (start and reload); keeps the state of probes that
  // still exist.
  void SetConfig(const Config& config);
  // Seeds last runs from storage after a restart, so the API is not blank until the next runs.
  void Seed(const std::vector<ProbeRun>& latest_runs);

  void OnRun(const RunOutcome& outcome) override;

  std::vector<ComponentState> Snapshot() const;
  std::optional<ComponentState> Component(const std::string& name) const;

 private:
  ComponentState Evaluate(const ComponentState& c) const REQUIRES(mu_);
  // The state of the probe with `key`, or null when the config has no such probe.
  ProbeState* Find(const ProbeKey& key) REQUIRES(mu_);

  const Clock& clock_;
  mutable Mutex mu_;
  std::vector<ComponentState> components_ GUARDED_BY(mu_);
  // Where each probe's state is in components_ (component index, probe index), rebuilt by
  // SetConfig: every run looks its probe up here, where it used to compare its key with every
  // probe of its component (1,000 string compares a run with 1,000 probes); a hash table, as a
  // std::map's ten comparisons of two strings were 2 % of a worker's CPU at 1,000 probes.
  std::unordered_map<ProbeKey, std::pair<size_t, size_t>, ProbeKeyHash> index_ GUARDED_BY(mu_);
};

}  // namespace obsmon
