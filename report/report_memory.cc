#include "report/report_memory.h"

#include <string>
#include <vector>

namespace obsmon {

namespace {

// glibc's malloc hands out at least 32 bytes and rounds up to 16, with 8 bytes of its own:
// counted so that many small blocks (an incident's names) are not underestimated by half.
size_t Block(size_t bytes) {
  if (bytes == 0) return 0;
  const size_t with_header = bytes + 8;
  return with_header <= 32 ? 32 : (with_header + 15) / 16 * 16;
}

// A string's heap block, if its text does not fit in its own inline buffer.
size_t Heap(const std::string& s) {
  return s.capacity() > std::string().capacity() ? Block(s.capacity() + 1) : 0;
}

template <typename T>
size_t Array(const std::vector<T>& v) {
  return Block(v.capacity() * sizeof(T));
}

size_t Heap(const std::vector<std::string>& v) {
  size_t n = Array(v);
  for (const auto& s : v) n += Heap(s);
  return n;
}

size_t Heap(const LogEvent& e) {
  return Heap(e.key.component) + Heap(e.key.probe) + Heap(e.file) + Heap(e.severity) +
         Heap(e.line);
}

size_t Heap(const std::optional<LogEvent>& e) { return e ? Heap(*e) : 0; }

}  // namespace

size_t HeapBytesOf(const Report& r) {
  size_t n = Block(sizeof(Report)) + Heap(r.component) + Heap(r.objective.latency_probes);
  const auto incidents = [](const std::vector<Incident>& list) {
    size_t bytes = Array(list);
    for (const Incident& i : list) {
      bytes += Heap(i.probes) + Heap(i.first_probe) + Heap(i.first_reason);
    }
    return bytes;
  };
  n += incidents(r.incidents);
  n += Array(r.latency_by_probe);
  for (const ProbeLatency& p : r.latency_by_probe) n += Heap(p.probe);
  n += Array(r.checks);
  for (const CheckSummary& c : r.checks) n += Heap(c.probe) + Heap(c.first_failure_reason);
  n += Array(r.days);
  for (const DaySummary& d : r.days) {
    n += Heap(d.date) + Heap(d.label) + incidents(d.longest_incidents);
  }
  n += Array(r.period_days) + Heap(r.time_zone) + Heap(r.health_probes) + Array(r.excluded);
  n += Array(r.maintenance);
  for (const MaintenanceWindow& m : r.maintenance) n += Heap(m.reason);
  n += Heap(r.logs.unavailable) + Heap(r.logs.first_critical) + Heap(r.logs.last_critical) +
       Heap(r.logs.first_error) + Heap(r.logs.last_error);
  n += Array(r.alerts);
  for (const AlertFired& a : r.alerts) n += Heap(a.rule) + Heap(a.labels) + Heap(a.summary);
  n += Array(r.gaps) + Array(r.timeline) + Array(r.latency_hourly);
  n += Array(r.usage.emissions);
  for (const EmissionsTotal& e : r.usage.emissions) n += Heap(e.project);
  n += Array(r.criteria);
  for (const Criterion& c : r.criteria) n += Heap(c.name) + Heap(c.detail);
  n += Heap(r.verdict_reasons);
  return n;
}

}  // namespace obsmon
