#include "core/alert_component.h"

namespace obsmon {

AlertComponents::AlertComponents(const std::vector<Component>& components) {
  for (const auto& c : components) {
    names_.insert(c.name);
    if (c.job.empty()) continue;
    job_of_[c.name] = c.job;
    if (shared_jobs_.count(c.job)) continue;
    auto [it, added] = component_of_job_.emplace(c.job, c.name);
    if (!added) {
      component_of_job_.erase(it);
      shared_jobs_.insert(c.job);
    }
  }
}

std::string AlertComponents::Of(const Labels& labels) const {
  const std::string& named = labels.Get("component");
  if (!named.empty()) return named;
  const std::string& job = labels.Get("job");
  if (job.empty() || shared_jobs_.count(job)) return "";
  if (auto it = component_of_job_.find(job); it != component_of_job_.end()) return it->second;
  return names_.count(job) ? job : "";
}

std::vector<std::string> AlertComponents::JobsThatMayBe(const std::string& component) const {
  std::vector<std::string> jobs = {component};
  if (auto it = job_of_.find(component); it != job_of_.end() && it->second != component) {
    jobs.push_back(it->second);
  }
  return jobs;
}

}  // namespace obsmon
