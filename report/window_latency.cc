#include "report/window_latency.h"

#include <algorithm>
#include <utility>

namespace obsmon {
namespace {

constexpr int64_t kHourMs = 3'600'000;

TimestampMs HourStart(TimestampMs ms) { return FloorMs(ms, kHourMs); }

bool Wanted(const std::vector<std::string>& allow, const std::string& probe) {
  return allow.empty() || std::find(allow.begin(), allow.end(), probe) != allow.end();
}

}  // namespace

WindowLatency::WindowLatency(const Report& r, std::vector<std::string> health_probes)
    : health_probes_(std::move(health_probes)),
      latency_probes_(r.objective.latency_probes),
      has_sla_(r.objective.latency_p95_ms.has_value()),
      first_hour_(HourStart(r.from_ms)) {
  hours_ = r.evaluated_to_ms > r.from_ms
               ? static_cast<size_t>((HourStart(r.evaluated_to_ms - 1) - first_hour_) / kHourMs + 1)
               : 0;
  // A day's latency is that of the whole UTC hours from the one its start falls in to the one
  // its planned end falls in (durations are stored per hour): exact when days begin on the hour,
  // and the same whether the day is reported at its end or later (docs/report.md, "Days").
  auto hour_index = [&](TimestampMs t) {
    return std::min(hours_,
                    static_cast<size_t>(std::max<TimestampMs>(0, (t - first_hour_) / kHourMs)));
  };
  days_of_hour_.resize(hours_);
  days_ = r.days.size();
  for (size_t d = 0; d < r.days.size(); ++d) {
    const size_t h0 = hour_index(HourStart(r.days[d].start_ms));
    const size_t h1 = r.days[d].planned_end_ms >= r.to_ms
                          ? hours_
                          : hour_index(HourStart(r.days[d].planned_end_ms));
    for (size_t h = h0; h < h1; ++h) days_of_hour_[h].push_back(DayId(d));
  }
}

void WindowLatency::Visit(const storage::HourDurations& g) {
  if (g.role != ProbeRole::kHealth || g.seconds.empty() || !Wanted(health_probes_, g.key.probe)) {
    return;
  }
  if (g.hour_ms < first_hour_ ||
      g.hour_ms >= first_hour_ + static_cast<TimestampMs>(hours_) * kHourMs) {
    return;
  }
  auto [it, added] = probe_ids_.try_emplace(g.key.probe, 0);
  if (added) it->second = DayId(days_) + static_cast<uint32_t>(probe_ids_.size() - 1);
  memberships_ = {kPool, it->second};
  if (Wanted(latency_probes_, g.key.probe)) {
    const size_t hour = static_cast<size_t>((g.hour_ms - first_hour_) / kHourMs);
    memberships_.push_back(HourId(hour));
    memberships_.insert(memberships_.end(), days_of_hour_[hour].begin(),
                        days_of_hour_[hour].end());
  }
  selection_.Add(g.seconds, memberships_);
}

Status WindowLatency::Fill(Report& r) const {
  if (!selection_.status().ok()) return selection_.status();
  r.latency = selection_.Summary(kPool);
  // Every health probe, by name: one without a successful run in the window has count 0
  // (docs/report-json.md; fresh eyes, stop 66: a window all under maintenance listed none).
  std::map<std::string, LatencySummary> by_probe;
  for (const std::string& probe : r.health_probes) {
    if (Wanted(health_probes_, probe)) by_probe[probe] = LatencySummary{};
  }
  // The SLA's probes too, even without any run in the window (one configured but not run yet).
  if (has_sla_) {
    for (const std::string& probe : latency_probes_) by_probe.try_emplace(probe);
  }
  for (const auto& [probe, id] : probe_ids_) by_probe[probe] = selection_.Summary(id);
  r.latency_by_probe.clear();
  for (auto& [probe, summary] : by_probe) {
    r.latency_by_probe.push_back({probe, has_sla_ && Wanted(latency_probes_, probe), summary});
  }
  r.latency_hourly.clear();
  for (size_t h = 0; h < hours_; ++h) {
    LatencySummary s = selection_.Summary(HourId(h));
    if (s.count == 0) continue;
    r.latency_hourly.push_back({first_hour_ + static_cast<TimestampMs>(h) * kHourMs, s});
  }
  for (size_t d = 0; d < r.days.size(); ++d) r.days[d].latency = selection_.Summary(DayId(d));
  return Status::Ok();
}

}  // namespace obsmon
