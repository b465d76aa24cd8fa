#include "report/uptime.h"

#include <algorithm>
#include <iterator>
#include <limits>
#include <map>

namespace obsmon {
namespace {

// A streak of one probe's consecutive runs with the same verdict whose coverage leaves no gap:
// together they stand over [start_ms, end_ms). Merging streaks keeps the sweep short (7 days of
// 1-second runs that all succeed are one segment); the run covering a given instant is found
// again by binary search when an incident needs its reason.
struct Segment {
  TimestampMs start_ms;
  TimestampMs end_ms;
  bool success;
  uint32_t first_run;  // index into ProbeCoverage::runs of the streak's first run
  uint32_t last_run;   // ... and of its last
};

// The input is runs, or spans of runs as storage keeps them (core/run_span.h): a span is read as
// the one run covering exactly what its runs cover (SpanAsRun), without copying it into one.
TimestampMs StartOf(const ProbeRun& run) { return run.ts_ms; }
TimestampMs StartOf(const RunSpan& span) { return span.start_ms; }
TimestampMs ValidUntil(const ProbeRun& run) {
  return run.ts_ms + std::max<int64_t>(0, run.valid_for_ms);
}
TimestampMs ValidUntil(const RunSpan& span) { return std::max(span.start_ms, span.end_ms); }

// What one health probe says over the evaluated window; `Rec` is ProbeRun or RunSpan.
template <typename Rec>
struct ProbeCoverage {
  std::string name;
  TimestampMs first_ts_ms = 0;   // takes part from here on
  std::vector<const Rec*> runs;  // sorted by start
  std::vector<Segment> segments;  // sorted, disjoint, non-empty
  size_t cursor = 0;              // sweep position

  // The run whose verdict stands at `t` inside `seg`: the last of the streak starting <= t.
  const Rec* CoveringRun(const Segment& seg, TimestampMs t) const {
    auto begin = runs.begin() + seg.first_run;
    auto end = runs.begin() + seg.last_run + 1;
    auto it = std::upper_bound(begin, end, t,
                               [](TimestampMs v, const Rec* r) { return v < StartOf(*r); });
    return it == begin ? *begin : *(it - 1);
  }
};

bool Wanted(const std::vector<std::string>& allow, const std::string& probe) {
  return allow.empty() || std::find(allow.begin(), allow.end(), probe) != allow.end();
}

// Adds run `idx` of `cov`, whose verdict stands until `until`, clipped to [from, eval_end).
template <typename Rec>
void AddSegment(ProbeCoverage<Rec>& cov, uint32_t idx, TimestampMs until, TimestampMs from,
                TimestampMs eval_end) {
  const Rec& run = *cov.runs[idx];
  const TimestampMs s = std::max(StartOf(run), from);
  const TimestampMs e = std::min(until, eval_end);
  if (s >= e) return;
  if (!cov.segments.empty() && cov.segments.back().end_ms == s &&
      cov.segments.back().success == run.success) {
    cov.segments.back().end_ms = e;
    cov.segments.back().last_run = idx;
  } else {
    cov.segments.push_back({s, e, run.success, idx, idx});
  }
}

template <typename Rec>
std::vector<ProbeCoverage<Rec>> BuildCoverage(std::span<const Rec> runs,
                                              const UptimeOptions& options, TimestampMs eval_end) {
  const TimestampMs from = options.from_ms;
  // One pass: group by probe and build each probe's segments as its runs arrive (a run's
  // segment is known once the probe's next run is seen). Runs come grouped by probe, so the
  // probe is looked up only when it changes.
  std::map<std::string, ProbeCoverage<Rec>> by_probe;
  std::map<std::string, bool> unsorted;
  const std::string* last_name = nullptr;
  ProbeCoverage<Rec>* cov = nullptr;
  for (const Rec& run : runs) {
    if (run.role != ProbeRole::kHealth) continue;
    if (last_name == nullptr || *last_name != run.key.probe) {
      last_name = &run.key.probe;
      cov = Wanted(options.health_probes, run.key.probe) ? &by_probe[run.key.probe] : nullptr;
    }
    if (cov == nullptr) continue;
    if (!cov->runs.empty()) {
      const Rec& prev = *cov->runs.back();
      if (StartOf(run) < StartOf(prev)) unsorted[run.key.probe] = true;
      AddSegment(*cov, static_cast<uint32_t>(cov->runs.size() - 1),
                 std::min(ValidUntil(prev), StartOf(run)), from, eval_end);
    }
    cov->runs.push_back(&run);
  }
  std::vector<ProbeCoverage<Rec>> out;
  out.reserve(by_probe.size());
  for (auto& [name, c] : by_probe) {
    c.name = name;
    if (unsorted.count(name)) {
      // The reader returns each probe's runs sorted; someone did not: sort and start over.
      std::stable_sort(c.runs.begin(), c.runs.end(),
                       [](const Rec* a, const Rec* b) { return StartOf(*a) < StartOf(*b); });
      c.segments.clear();
      for (size_t i = 0; i + 1 < c.runs.size(); ++i) {
        AddSegment(c, static_cast<uint32_t>(i),
                   std::min(ValidUntil(*c.runs[i]), StartOf(*c.runs[i + 1])), from, eval_end);
      }
    }
    AddSegment(c, static_cast<uint32_t>(c.runs.size() - 1), ValidUntil(*c.runs.back()), from,
               eval_end);
    c.first_ts_ms = StartOf(*c.runs.front());
    out.push_back(std::move(c));
  }
  return out;
}

// Appends [start, end) in `state` to the timeline, merging with the previous span.
void Append(std::vector<StateSpan>& timeline, TimestampMs start, TimestampMs end,
            HealthState state) {
  if (!timeline.empty() && timeline.back().state == state && timeline.back().end_ms == start) {
    timeline.back().end_ms = end;
  } else {
    timeline.push_back({start, end, state});
  }
}

// The sweep over the window: at each step every source (excluded intervals, each probe) says
// its state at t and when it next changes; the combined state holds until the earliest change.
// Each step ends at a segment or interval boundary, so it is linear in segments for a few probes.
template <typename Rec>
class Sweep {
 public:
  Sweep(std::vector<ProbeCoverage<Rec>>& probes, const std::vector<TimeInterval>& excluded,
        TimestampMs end)
      : probes_(probes), excluded_(excluded), end_(end) {}

  struct Step {
    HealthState state;
    TimestampMs next;  // when it may change
  };

  // The combined state at t (t only grows from call to call): excluded wins, then any probe
  // down, then any probe without a valid run (or none yet taking part), else up.
  Step At(TimestampMs t) {
    TimestampMs next = end_;
    while (exc_ < excluded_.size() && excluded_[exc_].end_ms <= t) ++exc_;
    const bool in_excluded = exc_ < excluded_.size() && excluded_[exc_].start_ms <= t;
    if (exc_ < excluded_.size()) {
      next = std::min(next, in_excluded ? excluded_[exc_].end_ms : excluded_[exc_].start_ms);
    }
    bool any_down = false;
    bool any_unknown = false;
    size_t taking_part = 0;
    for (auto& p : probes_) {
      if (p.first_ts_ms > t) {
        next = std::min(next, p.first_ts_ms);
        continue;
      }
      ++taking_part;
      while (p.cursor < p.segments.size() && p.segments[p.cursor].end_ms <= t) ++p.cursor;
      if (p.cursor < p.segments.size() && p.segments[p.cursor].start_ms <= t) {
        const Segment& seg = p.segments[p.cursor];
        next = std::min(next, seg.end_ms);
        if (!seg.success) any_down = true;
      } else {
        any_unknown = true;
        if (p.cursor < p.segments.size()) next = std::min(next, p.segments[p.cursor].start_ms);
      }
    }
    const HealthState state = in_excluded                         ? HealthState::kExcluded
                              : any_down                          ? HealthState::kDown
                              : (any_unknown || taking_part == 0) ? HealthState::kUnknown
                                                                  : HealthState::kUp;
    return {state, next};
  }

 private:
  std::vector<ProbeCoverage<Rec>>& probes_;
  const std::vector<TimeInterval>& excluded_;
  const TimestampMs end_;
  size_t exc_ = 0;
};

// Builds incidents from consecutive DOWN steps: which probes failed during it, and the failing
// run that came first (earliest ts, then probe name: probes are in name order).
template <typename Rec>
class IncidentBuilder {
 public:
  IncidentBuilder(const std::vector<ProbeCoverage<Rec>>& probes, const UptimeOptions& options,
                  TimestampMs end, std::vector<Incident>* out)
      : probes_(probes), options_(options), end_(end), out_(out), failing_(probes.size(), false) {}

  // [t, next) is DOWN (the sweep's cursors are at t).
  void Down(TimestampMs t, TimestampMs next) {
    const Rec* first_failure = nullptr;
    for (size_t p = 0; p < probes_.size(); ++p) {
      const auto& pc = probes_[p];
      if (pc.first_ts_ms > t || pc.cursor >= pc.segments.size()) continue;
      const Segment& seg = pc.segments[pc.cursor];
      if (seg.start_ms > t || seg.success) continue;
      failing_[p] = true;
      if (!open_) {
        const Rec* run = pc.CoveringRun(seg, t);
        if (first_failure == nullptr || StartOf(*run) < StartOf(*first_failure)) {
          first_failure = run;
        }
      }
    }
    if (!open_) {
      open_.emplace();
      open_->start_ms = t;
      if (options_.incident_details) {
        open_->first_probe = first_failure->key.probe;
        open_->first_reason = first_failure->reason;
      }
      open_->first_failure_ms = StartOf(*first_failure);
      open_->began_before_window =
          t == options_.from_ms && StartOf(*first_failure) < options_.from_ms;
    }
    open_->end_ms = next;
  }

  // A step that is not DOWN ends the incident, if one is open.
  void Close() {
    if (!open_) return;
    for (size_t p = 0; options_.incident_details && p < probes_.size(); ++p) {
      if (failing_[p]) open_->probes.push_back(probes_[p].name);  // names are sorted already
    }
    open_->ongoing = open_->end_ms == end_ && end_ == options_.now_ms;
    out_->push_back(std::move(*open_));
    open_.reset();
    std::fill(failing_.begin(), failing_.end(), false);
  }

 private:
  const std::vector<ProbeCoverage<Rec>>& probes_;
  const UptimeOptions& options_;
  const TimestampMs end_;
  std::vector<Incident>* out_;
  std::optional<Incident> open_;
  std::vector<bool> failing_;
};

}  // namespace

void AddToTotals(UptimeTotals& totals, HealthState state, int64_t len) {
  switch (state) {
    case HealthState::kUp:
      totals.up_ms += len;
      break;
    case HealthState::kDown:
      totals.down_ms += len;
      break;
    case HealthState::kUnknown:
      totals.unknown_ms += len;
      break;
    case HealthState::kExcluded:
      totals.excluded_ms += len;
      break;
  }
}

std::vector<TimeInterval> NormalizeIntervals(std::vector<TimeInterval> intervals,
                                             TimestampMs from_ms, TimestampMs to_ms) {
  std::vector<TimeInterval> out;
  for (auto& iv : intervals) {
    iv.start_ms = std::max(iv.start_ms, from_ms);
    iv.end_ms = std::min(iv.end_ms, to_ms);
  }
  std::erase_if(intervals, [](const TimeInterval& iv) { return iv.start_ms >= iv.end_ms; });
  std::sort(intervals.begin(), intervals.end(),
            [](const TimeInterval& a, const TimeInterval& b) { return a.start_ms < b.start_ms; });
  for (const auto& iv : intervals) {
    if (!out.empty() && iv.start_ms <= out.back().end_ms) {
      out.back().end_ms = std::max(out.back().end_ms, iv.end_ms);
    } else {
      out.push_back(iv);
    }
  }
  return out;
}

int64_t OverlapMs(std::span<const TimeInterval> normalized, TimestampMs from_ms,
                  TimestampMs to_ms) {
  int64_t total = 0;
  for (const auto& iv : normalized) {
    TimestampMs s = std::max(iv.start_ms, from_ms);
    TimestampMs e = std::min(iv.end_ms, to_ms);
    if (s < e) total += e - s;
  }
  return total;
}

bool ContainsInstant(std::span<const TimeInterval> normalized, TimestampMs t) {
  auto it = std::upper_bound(normalized.begin(), normalized.end(), t,
                             [](TimestampMs v, const TimeInterval& iv) { return v < iv.start_ms; });
  if (it == normalized.begin()) return false;
  --it;
  return t < it->end_ms;
}

const char* HealthStateName(HealthState state) {
  switch (state) {
    case HealthState::kUp:
      return "up";
    case HealthState::kDown:
      return "down";
    case HealthState::kUnknown:
      return "unknown";
    case HealthState::kExcluded:
      return "excluded";
  }
  return "unknown";
}

std::optional<double> UptimeTotals::uptime() const {
  if (up_ms + down_ms == 0) return std::nullopt;
  return static_cast<double>(up_ms) / static_cast<double>(up_ms + down_ms);
}

std::optional<double> UptimeTotals::coverage() const {
  int64_t base = window_ms - excluded_ms;
  if (base <= 0) return std::nullopt;
  return static_cast<double>(up_ms + down_ms) / static_cast<double>(base);
}

std::optional<double> UptimeTotals::conservative() const {
  int64_t base = window_ms - excluded_ms;
  if (base <= 0) return std::nullopt;
  return static_cast<double>(up_ms) / static_cast<double>(base);
}

namespace {

template <typename Rec>
UptimeResult ComputeUptimeOf(std::span<const Rec> runs, const UptimeOptions& options) {
  UptimeResult result;
  const TimestampMs from = options.from_ms;
  const TimestampMs end = std::max(from, std::min(options.to_ms, options.now_ms));
  result.evaluated_to_ms = end;
  result.totals.window_ms = end - from;

  std::vector<ProbeCoverage<Rec>> probes = BuildCoverage(runs, options, end);
  for (const auto& p : probes) result.health_probes.push_back(p.name);
  const std::vector<TimeInterval> excluded = NormalizeIntervals(options.excluded, from, end);
  Sweep<Rec> sweep(probes, excluded, end);
  IncidentBuilder<Rec> incidents(probes, options, end, &result.incidents);
  for (TimestampMs t = from; t < end;) {
    const auto step = sweep.At(t);
    AddToTotals(result.totals, step.state, step.next - t);
    Append(result.timeline, t, step.next, step.state);
    if (step.state == HealthState::kDown) {
      incidents.Down(t, step.next);
    } else {
      incidents.Close();
    }
    t = step.next;
  }
  incidents.Close();
  return result;
}

}  // namespace

UptimeResult ComputeUptime(std::span<const ProbeRun> runs, const UptimeOptions& options) {
  return ComputeUptimeOf(runs, options);
}

UptimeResult ComputeUptime(std::span<const RunSpan> spans, const UptimeOptions& options) {
  return ComputeUptimeOf(spans, options);
}

void AppendUptime(UptimeResult& into, UptimeResult next) {
  const TimestampMs seam = into.evaluated_to_ms;
  into.evaluated_to_ms = next.evaluated_to_ms;
  into.totals.window_ms += next.totals.window_ms;
  into.totals.up_ms += next.totals.up_ms;
  into.totals.down_ms += next.totals.down_ms;
  into.totals.unknown_ms += next.totals.unknown_ms;
  into.totals.excluded_ms += next.totals.excluded_ms;
  for (const StateSpan& span : next.timeline) {
    Append(into.timeline, span.start_ms, span.end_ms, span.state);
  }
  auto incident = next.incidents.begin();
  if (incident != next.incidents.end() && incident->start_ms == seam && !into.incidents.empty() &&
      into.incidents.back().end_ms == seam) {
    Incident& open = into.incidents.back();
    open.end_ms = incident->end_ms;
    open.ongoing = incident->ongoing;
    std::vector<std::string> probes;
    std::set_union(open.probes.begin(), open.probes.end(), incident->probes.begin(),
                   incident->probes.end(), std::back_inserter(probes));
    open.probes = std::move(probes);
    ++incident;
  }
  for (; incident != next.incidents.end(); ++incident) {
    // Down at the seam after a stretch that was not: not begun before the window.
    incident->began_before_window = false;
    into.incidents.push_back(std::move(*incident));
  }
  std::vector<std::string> probes;
  std::set_union(into.health_probes.begin(), into.health_probes.end(),
                 next.health_probes.begin(), next.health_probes.end(),
                 std::back_inserter(probes));
  into.health_probes = std::move(probes);
}

}  // namespace obsmon
