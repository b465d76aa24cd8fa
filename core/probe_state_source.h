// What storage remembers of a probe, read once when the probe starts. An interface in core/ so
// that storage implements it without depending on probes/.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/labels.h"
#include "core/records.h"

namespace obsmon {

// What a probe may read back from storage when it starts (log cursors, persistent counters, the
// last value it recorded of a series).
class ProbeStateSource {
 public:
  virtual ~ProbeStateSource() = default;
  virtual std::vector<LogCursor> LogCursors(const ProbeKey& key) = 0;
  // Persisted counters whose labels carry component=key.component and probe=key.probe.
  virtual std::vector<CounterValue> Counters(const ProbeKey& key) = 0;
  // The newest stored sample of the series named `name` whose labels include every pair of
  // `match` (the newest across such series); nullopt when there is none. (Not pure so that
  // sources with nothing to say need not implement it.)
  virtual std::optional<Sample> LatestSample(const std::string& name, const Labels& match) {
    return std::nullopt;
  }
};

}  // namespace obsmon
