#include "exporters/probe_samples_collector.h"

namespace obsmon {

namespace {

bool OwnedElsewhere(const std::string& name) {
  return name == "probe_success" || name == "probe_duration_seconds" || name == "up";
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

}  // namespace

void ProbeSamplesCollector::OnRun(const RunOutcome& outcome) {
  if (!outcome.spec) return;
  const std::string key = outcome.spec->key.component + "/" + outcome.spec->key.probe;
  std::lock_guard<std::mutex> lock(mu_);
  for (const Sample& s : outcome.samples) {
    if (OwnedElsewhere(s.name)) continue;
    const std::string text = s.labels.ToString();
    auto fam = series_.find(s.name);
    if (fam != series_.end()) {
      if (auto it = fam->second.find(text); it != fam->second.end()) {
        it->second.second.value = s.value;
        continue;
      }
    }
    if (count_ >= max_series_) {
      ++refused_;
      continue;
    }
    series_[s.name].emplace(text, std::make_pair(s.labels, Point{key, s.value}));
    ++count_;
  }
}

void ProbeSamplesCollector::Retain(const std::set<std::string>& keep) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto fam = series_.begin(); fam != series_.end();) {
    for (auto it = fam->second.begin(); it != fam->second.end();) {
      if (keep.count(it->second.second.probe_key)) {
        ++it;
      } else {
        it = fam->second.erase(it);
        --count_;
      }
    }
    fam = fam->second.empty() ? series_.erase(fam) : std::next(fam);
  }
}

std::vector<prometheus::MetricFamily> ProbeSamplesCollector::Collect() const {
  std::vector<prometheus::MetricFamily> out;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [name, by_labels] : series_) {
    prometheus::MetricFamily f;
    f.name = name;
    // A `_total` name is a counter by Prometheus convention; anything else is exported as a
    // gauge (the newest value is all obsmon keeps).
    const bool counter = EndsWith(name, "_total");
    f.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
    f.help = "Newest value produced by obsmon's probes.";
    for (const auto& [text, entry] : by_labels) {
      prometheus::ClientMetric m;
      for (const auto& [k, v] : entry.first.pairs()) m.label.push_back({k, v});
      if (counter) {
        m.counter.value = entry.second.value;
      } else {
        m.gauge.value = entry.second.value;
      }
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
  prometheus::MetricFamily refused;
  refused.name = "obsmon_exported_series_refused_total";
  refused.help = "Probe series not exported on /metrics because the series limit was reached.";
  refused.type = prometheus::MetricType::Counter;
  prometheus::ClientMetric m;
  m.counter.value = static_cast<double>(refused_);
  refused.metric.push_back(std::move(m));
  out.push_back(std::move(refused));
  return out;
}

}  // namespace obsmon
