#include "runtime/monitor_state.h"

namespace obsmon {

const char* ToString(ComponentHealth health) {
  switch (health) {
    case ComponentHealth::kUp: return "up";
    case ComponentHealth::kDown: return "down";
    case ComponentHealth::kUnknown: return "unknown";
  }
  return "unknown";
}

void MonitorState::SetConfig(const Config& config) {
  MutexLock lock(mu_);
  std::vector<ComponentState> next;
  std::unordered_map<ProbeKey, std::pair<size_t, size_t>, ProbeKeyHash> next_index;
  for (const auto& cc : config.components) {
    ComponentState cs;
    cs.name = cc.name;
    cs.labels = cc.labels;
    cs.objective = cc.objective;
    for (const auto& pc : cc.probes) {
      ProbeState ps;
      ps.spec = pc.spec;
      ps.instance = pc.probe ? pc.probe->Instance() : "";
      // Keep what we knew of a probe that survives the reload.
      if (const ProbeState* old = Find(pc.spec.key)) {
        ps.last_run = old->last_run;
        ps.runs_success = old->runs_success;
        ps.runs_failure = old->runs_failure;
      }
      // Keys are unique: the config loader refuses a probe name twice in a component.
      next_index.emplace(pc.spec.key, std::make_pair(next.size(), cs.probes.size()));
      cs.probes.push_back(std::move(ps));
    }
    next.push_back(std::move(cs));
  }
  components_ = std::move(next);
  index_ = std::move(next_index);
}

ProbeState* MonitorState::Find(const ProbeKey& key) {
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  return &components_[it->second.first].probes[it->second.second];
}

void MonitorState::Seed(const std::vector<ProbeRun>& latest_runs) {
  MutexLock lock(mu_);
  for (const auto& run : latest_runs) {
    ProbeState* p = Find(run.key);
    if (p && (!p->last_run || p->last_run->ts_ms < run.ts_ms)) p->last_run = run;
  }
}

void MonitorState::OnRun(const RunOutcome& outcome) {
  MutexLock lock(mu_);
  ProbeState* p = Find(outcome.run.key);
  if (!p) return;  // removed by a reload while it ran
  p->last_run = outcome.run;
  p->instance = outcome.instance;
  (outcome.run.success ? p->runs_success : p->runs_failure)++;
  if (outcome.result) p->detail = outcome.result->detail;
}

ComponentState MonitorState::Evaluate(const ComponentState& c) const {
  ComponentState out = c;
  const TimestampMs now = clock_.NowMs();
  bool any_health = false, any_down = false, any_unknown = false;
  for (const auto& p : c.probes) {
    if (p.spec.role != ProbeRole::kHealth) continue;
    any_health = true;
    const bool valid = p.last_run && now < p.last_run->ts_ms + p.last_run->valid_for_ms;
    if (!valid) {
      any_unknown = true;
    } else if (!p.last_run->success) {
      if (!any_down) out.reason = p.spec.key.probe + ": " + p.last_run->reason;
      any_down = true;
    }
  }
  out.health = any_down                    ? ComponentHealth::kDown
               : (any_unknown || !any_health) ? ComponentHealth::kUnknown
                                              : ComponentHealth::kUp;
  return out;
}

std::vector<ComponentState> MonitorState::Snapshot() const {
  MutexLock lock(mu_);
  std::vector<ComponentState> out;
  for (const auto& c : components_) out.push_back(Evaluate(c));
  return out;
}

std::optional<ComponentState> MonitorState::Component(const std::string& name) const {
  MutexLock lock(mu_);
  for (const auto& c : components_) {
    if (c.name == name) return Evaluate(c);
  }
  return std::nullopt;
}

}  // namespace obsmon
