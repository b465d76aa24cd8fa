// The latency figures of a report: pooled over every health probe and per probe over the window,
// and for the SLA's probes per UTC hour and per day, selected exactly (LatencySelection) from the
// successful health runs' durations, read one hour of one probe at a time in a few passes.
// Used by report.cc only. Not thread-safe.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/status.h"
#include "report/latency_selection.h"
#include "report/report.h"
#include "storage/storage.h"

namespace obsmon {

class WindowLatency final : public storage::HourDurationsPasses {
 public:
  // `r` gives the window (from_ms, evaluated_to_ms, to_ms), the objective and the days; it is
  // read here only. Groups of probes outside `health_probes` (all when empty) are left out.
  WindowLatency(const Report& r, std::vector<std::string> health_probes);

  void Visit(const storage::HourDurations& group) override;
  bool AnotherPass() override { return selection_.EndPass(); }

  // After the last pass: sets r.latency, r.latency_by_probe, r.latency_hourly and each day's
  // latency. Fails when the passes saw different durations.
  Status Fill(Report& r) const;

  const LatencySelection& selection() const { return selection_; }

 private:
  // Subset ids of the selection: the pool, then each hour of the window, then each day, then each
  // probe (numbered as first seen: the same in every pass, the groups coming in the same order).
  static constexpr uint32_t kPool = 0;
  uint32_t HourId(size_t hour) const { return static_cast<uint32_t>(1 + hour); }
  uint32_t DayId(size_t day) const { return static_cast<uint32_t>(1 + hours_ + day); }

  std::vector<std::string> health_probes_;
  std::vector<std::string> latency_probes_;  // the SLA's (Objective::latency_probes)
  bool has_sla_ = false;
  TimestampMs first_hour_ = 0;
  size_t hours_ = 0;
  size_t days_ = 0;
  std::vector<std::vector<uint32_t>> days_of_hour_;  // the day subsets each hour belongs to
  std::map<std::string, uint32_t> probe_ids_;         // by name, as latency_by_probe is ordered
  std::vector<uint32_t> memberships_;                 // scratch for Visit
  LatencySelection selection_;
};

}  // namespace obsmon
