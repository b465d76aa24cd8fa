#include "web/probe_samples_collector.h"

#include <algorithm>

namespace obsmon {

namespace {

bool OwnedElsewhere(const std::string& name) {
  return name == "probe_success" || name == "probe_duration_seconds" || name == "up";
}

// A probe's own gauge of how many files it follows: one series per log probe, which says how
// close the probe is to its max_files. It goes in past max_series (bounded by the probes
// configured): a second log probe's was refused once the first had filled the limit (fresh
// eyes, stop 49), and its absence would read as "nothing followed".
bool OnePerProbe(const std::string& name) { return name == "obsmon_log_files_followed"; }

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// An unlabelled family of one value: a gauge or a counter.
prometheus::MetricFamily OneValueFamily(const std::string& name, const std::string& help,
                                        prometheus::MetricType type, double value) {
  prometheus::MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

void ProbeSamplesCollector::OnRun(const RunOutcome& outcome) {
  if (!outcome.spec) return;
  const std::string key = outcome.spec->key.component + "/" + outcome.spec->key.probe;
  MutexLock lock(mu_);
  if (accepted_ && !accepted_->count(key)) return;  // removed by a reload while it ran
  Owned& owned = owned_[key];
  const uint64_t run = ++owned.runs;
  // Pass 1: update what is already there, and mark it as this run's.
  std::vector<size_t> unseen;
  for (size_t i = 0; i < outcome.samples.size(); ++i) {
    const Sample& s = outcome.samples[i];
    if (OwnedElsewhere(s.name)) continue;
    auto fam = series_.find(s.name);
    if (fam != series_.end()) {
      if (auto it = fam->second.find(s.labels); it != fam->second.end()) {
        it->second.value = s.value;
        if (it->second.probe_key == key) it->second.run = run;
        continue;
      }
    }
    unseen.push_back(i);
  }
  // A scrape's series are those of its newest run, and so are a log probe's (it sends every
  // followed file's each run; a file it retired is gone as a target that went away): the
  // others go first, so that the new ones take their place under max_series.
  if (outcome.spec->kind == "scrape" || outcome.spec->kind == "log") {
    DropIf(key, [&](const Point& p) { return p.run != run; });
  }
  // Pass 2: the new series.
  for (size_t i : unseen) {
    const Sample& s = outcome.samples[i];
    if (count_ >= max_series_ && !OnePerProbe(s.name)) {
      ++refused_;
      continue;
    }
    auto [it, added] = series_[s.name].emplace(s.labels, Point{key, s.value, run});
    if (!added) {  // the same series twice in one run: the later value wins
      it->second.value = s.value;
      continue;
    }
    owned.series.emplace_back(s.name, s.labels);
    ++count_;
  }
}

template <typename Pred>
void ProbeSamplesCollector::DropIf(const std::string& probe_key, Pred&& drop) {
  Owned& owned = owned_[probe_key];
  std::erase_if(owned.series, [&](const std::pair<std::string, Labels>& ref) {
    mu_.AssertHeld();  // called by erase_if, within DropIf
    auto fam = series_.find(ref.first);
    if (fam == series_.end()) return true;
    auto it = fam->second.find(ref.second);
    if (it == fam->second.end() || it->second.probe_key != probe_key) return true;
    if (!drop(it->second)) return false;
    fam->second.erase(it);
    if (fam->second.empty()) series_.erase(fam);
    --count_;
    return true;
  });
}

void ProbeSamplesCollector::Retain(const std::set<std::string>& keep) {
  MutexLock lock(mu_);
  accepted_.emplace(keep.begin(), keep.end());
  for (auto it = owned_.begin(); it != owned_.end();) {
    if (keep.count(it->first)) {
      ++it;
      continue;
    }
    DropIf(it->first, [](const Point&) { return true; });
    it = owned_.erase(it);
  }
}

std::vector<prometheus::MetricFamily> ProbeSamplesCollector::Collect() const {
  // Each family with its series' label sets, to be written as text and sorted after the lock is
  // released: a worker's run waits on mu_, and sorting 100,000 series takes a while.
  using Keyed = std::vector<std::pair<Labels, prometheus::ClientMetric>>;
  std::vector<std::pair<prometheus::MetricFamily, Keyed>> families;
  size_t count = 0;
  uint64_t refused = 0;
  {
    MutexLock lock(mu_);
    families.reserve(series_.size());
    for (const auto& [name, by_labels] : series_) {
      prometheus::MetricFamily f;
      f.name = name;
      // A `_total` name is a counter by Prometheus convention; anything else is exported as a
      // gauge (the newest value is all obsmon keeps).
      const bool counter = EndsWith(name, "_total");
      f.type = counter ? prometheus::MetricType::Counter : prometheus::MetricType::Gauge;
      f.help = "Newest value produced by obsmon's probes.";
      Keyed keyed;
      keyed.reserve(by_labels.size());
      for (const auto& [labels, point] : by_labels) {
        prometheus::ClientMetric m;
        if (counter) {
          m.counter.value = point.value;
        } else {
          m.gauge.value = point.value;
        }
        keyed.emplace_back(labels, std::move(m));  // shares the pairs: no copy of the text
      }
      families.emplace_back(std::move(f), std::move(keyed));
    }
    count = count_;
    refused = refused_;
  }
  std::vector<prometheus::MetricFamily> out;
  out.reserve(families.size() + 2);
  for (auto& [f, keyed] : families) {
    std::vector<std::pair<std::string, size_t>> order;  // label text, index in keyed
    order.reserve(keyed.size());
    for (size_t i = 0; i < keyed.size(); ++i) order.emplace_back(keyed[i].first.ToString(), i);
    std::sort(order.begin(), order.end());
    f.metric.reserve(keyed.size());
    for (const auto& [text, i] : order) {
      auto& [labels, m] = keyed[i];
      for (const auto& [k, v] : labels.pairs()) m.label.push_back({k, v});
      f.metric.push_back(std::move(m));
    }
    out.push_back(std::move(f));
  }
  out.push_back(OneValueFamily("obsmon_exported_series",
                               "Probe series held in memory to be re-exported on /metrics "
                               "(limit 100,000).",
                               prometheus::MetricType::Gauge, static_cast<double>(count)));
  out.push_back(OneValueFamily("obsmon_exported_series_refused_total",
                               "Probe series not exported on /metrics because the series limit "
                               "was reached.",
                               prometheus::MetricType::Counter, static_cast<double>(refused)));
  return out;
}

}  // namespace obsmon
