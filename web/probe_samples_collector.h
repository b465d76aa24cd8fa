// Re-exports on /metrics the newest value of every series a probe produced beyond the runner's
// own (log match counters such as obsmon_log_matches_total, scraped component metrics such as
// carbon_emissions_kg, process figures), so Prometheus and Grafana see what the rules see.
// probe_success and probe_duration_seconds come from MetricsCollector; `up` is never exported
// (Prometheus owns `up` for its scrape of obsmon).
//
// A scrape's series are the ones of its newest run, as in Prometheus, where a series missing
// from a scrape (or every series of a failed one) goes stale: a target that sends new series on
// every scrape holds one scrape's worth here, not all it ever sent (issue 13, N1). Other probes'
// series (log counters, process figures) are kept until their probe is removed.
//
// A ResultSink (fed on worker threads) and a Collectable (read by HTTP threads). Thread-safe.
// Memory is bounded by `max_series`; series beyond it are counted, not stored, but for each log
// probe's obsmon_log_files_followed (one series per probe).
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/mutex.h"
#include "core/run_outcome.h"

namespace obsmon {

class ProbeSamplesCollector final : public ResultSink, public prometheus::Collectable {
 public:
  explicit ProbeSamplesCollector(size_t max_series = 100'000) : max_series_(max_series) {}

  void OnRun(const RunOutcome& outcome) override;
  std::vector<prometheus::MetricFamily> Collect() const override;

  // Forgets the series of probes not in `keep` ("component/probe"), after a reload removed them,
  // and from then on ignores their runs: a run of a removed probe that was still in flight
  // during the reload must not bring its series back for good.
  void Retain(const std::set<std::string>& keep);

 private:
  struct Point {
    std::string probe_key;  // "component/probe" that produced it
    double value = 0;
    uint64_t run = 0;  // the producing probe's run that last set it (Owned::runs)
  };
  // Removes the series of `probe_key` whose point drop(point) is true for.
  template <typename Pred>
  void DropIf(const std::string& probe_key, Pred&& drop) REQUIRES(mu_);

  const size_t max_series_;
  mutable Mutex mu_;
  // name -> labels -> point. Hash tables where a run looks up: with 1,000 probes std::maps'
  // string comparisons (long shared prefixes) were 6 % of a worker's CPU. Keyed by the label
  // set itself, which shares its pairs with the runs' samples and caches its hash: a run builds
  // no label text. Collect() sorts by the text, so /metrics keeps its order.
  using ByLabels = std::unordered_map<Labels, Point>;
  std::map<std::string, ByLabels> series_ GUARDED_BY(mu_);
  // Per probe key: its runs so far, and (name, labels) of each series it set.
  struct Owned {
    uint64_t runs = 0;
    std::vector<std::pair<std::string, Labels>> series;
  };
  std::unordered_map<std::string, Owned> owned_ GUARDED_BY(mu_);
  size_t count_ GUARDED_BY(mu_) = 0;
  uint64_t refused_ GUARDED_BY(mu_) = 0;
  // The probes whose runs are taken, as of the last Retain; every probe before the first.
  // Hashed: every run looks its probe up here (a std::set of 1,000 keys with long shared
  // prefixes compared ten strings a run).
  std::optional<std::unordered_set<std::string>> accepted_ GUARDED_BY(mu_);
};

}  // namespace obsmon
