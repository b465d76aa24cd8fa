#include "core/run_span.h"

#include <algorithm>

namespace obsmon {

RunSpan SpanOfRun(const ProbeRun& run) {
  RunSpan s;
  s.key = run.key;
  s.role = run.role;
  s.start_ms = run.ts_ms;
  s.last_run_ms = run.ts_ms;
  s.end_ms = run.ts_ms + std::max<int64_t>(0, run.valid_for_ms);
  s.success = run.success;
  s.runs = 1;
  s.reason = run.reason;
  return s;
}

void ExtendSpan(RunSpan& span, const ProbeRun& run) {
  span.last_run_ms = run.ts_ms;
  // The new run takes over: coverage now ends where its own does, even if that is earlier.
  span.end_ms = run.ts_ms + std::max<int64_t>(0, run.valid_for_ms);
  ++span.runs;
}

std::vector<const ProbeRun*> RunsInStorageOrder(std::span<const ProbeRun> runs) {
  std::vector<const ProbeRun*> order;
  order.reserve(runs.size());
  for (const ProbeRun& run : runs) order.push_back(&run);
  auto before = [](const ProbeRun* x, const ProbeRun* y) {
    if (x->key != y->key) return x->key < y->key;
    return x->ts_ms < y->ts_ms;
  };
  // Stable: of two runs of one probe at the same ms the first given stays first.
  if (!std::is_sorted(order.begin(), order.end(), before)) {
    std::stable_sort(order.begin(), order.end(), before);
  }
  auto same = [](const ProbeRun* x, const ProbeRun* y) {
    return x->ts_ms == y->ts_ms && x->key == y->key;
  };
  order.erase(std::unique(order.begin(), order.end(), same), order.end());
  return order;
}

std::vector<RunSpan> CompressRuns(std::span<const ProbeRun> runs) {
  return CompressOrderedRuns(RunsInStorageOrder(runs));
}

std::vector<RunSpan> CompressOrderedRuns(std::span<const ProbeRun* const> ordered) {
  std::vector<RunSpan> out;
  for (const ProbeRun* run : ordered) {
    if (!out.empty() && out.back().key == run->key && ExtendsSpan(out.back(), *run)) {
      ExtendSpan(out.back(), *run);
    } else {
      out.push_back(SpanOfRun(*run));
    }
  }
  return out;
}

ProbeRun SpanAsRun(const RunSpan& span) {
  ProbeRun r;
  r.key = span.key;
  r.role = span.role;
  r.ts_ms = span.start_ms;
  r.success = span.success;
  r.duration_seconds = 0;
  r.valid_for_ms = span.end_ms - span.start_ms;
  r.reason = span.reason;
  return r;
}

}  // namespace obsmon
