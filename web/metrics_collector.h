// obsmon's own /metrics families, built at scrape time from the current state (so a reload never
// leaves a stale series behind). Names follow Prometheus conventions: base units, `_total` for
// counters, `_seconds` for durations, `_ratio` for 0..1 ratios; the output passes
// `promtool check metrics`.
//
// Note: `up` is deliberately NOT exported: Prometheus owns `up` for its scrape of obsmon. Rules
// inside obsmon still see a health probe's verdict as `up{job,instance}`.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <prometheus/collectable.h>

#include "core/clock.h"
#include "web/metrics_snapshot.h"

namespace obsmon {

class MetricsCollector final : public prometheus::Collectable {
 public:
  // `snapshot` is called once per scrape, on the scraping (HTTP) thread, and must be safe to
  // call from there for as long as the collector lives; empty: an empty snapshot.
  MetricsCollector(std::function<MetricsSnapshot()> snapshot, std::string version,
                   TimestampMs start_ms);

  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  std::function<MetricsSnapshot()> snapshot_;
  std::string version_;
  TimestampMs start_ms_;
};

// Serializes families from several collectables in the Prometheus text format 0.0.4.
std::string SerializeMetrics(const std::vector<const prometheus::Collectable*>& collectables);

}  // namespace obsmon
