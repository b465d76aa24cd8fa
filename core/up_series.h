// The `up` series a probe writes, by its labels: what makes two probes write the same series (the
// config loader refuses that) and what the runner writes (one place, so both agree).
#pragma once

#include <optional>
#include <string>

#include "core/labels.h"
#include "core/probe_records.h"

namespace obsmon {

// A scrape's target labels, as Prometheus gives a target: the component's and the probe's
// labels (`job` among them) plus `instance` = host:port. Every series of the scrape carries them.
Labels ScrapeTargetLabels(const ProbeSpec& spec, const std::string& instance);

// The labels of the probe's `up` series, or nullopt when it writes none:
// - a scrape reports its own up{target labels}, as Prometheus's does;
// - another health probe's verdict is up{job, instance, probe} (so the seeds'
//   `up{job="..."} == 0` works as written, and two health probes of one target, http and tcp,
//   stay two series);
// - integration probes and probes that only measure write none.
std::optional<Labels> UpSeriesLabels(const ProbeSpec& spec, const std::string& instance);

}  // namespace obsmon
