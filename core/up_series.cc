#include "core/up_series.h"

namespace obsmon {

Labels ScrapeTargetLabels(const ProbeSpec& spec, const std::string& instance) {
  Labels target = spec.labels;
  target.Set("instance", instance);
  return target;
}

std::optional<Labels> UpSeriesLabels(const ProbeSpec& spec, const std::string& instance) {
  if (spec.kind == "scrape") return ScrapeTargetLabels(spec, instance);
  if (spec.role != ProbeRole::kHealth) return std::nullopt;
  return Labels{{"job", spec.labels.Get("job")}, {"instance", instance}, {"probe", spec.key.probe}};
}

}  // namespace obsmon
