#include "core/run_span.h"

#include <algorithm>
#include <numeric>

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

std::vector<RunSpan> CompressRuns(std::span<const ProbeRun> runs) {
  std::vector<size_t> order(runs.size());
  std::iota(order.begin(), order.end(), size_t{0});
  // Stable: of two runs of one probe at the same ms the first given is kept.
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const ProbeRun& x = runs[a];
    const ProbeRun& y = runs[b];
    if (x.key != y.key) return x.key < y.key;
    return x.ts_ms < y.ts_ms;
  });
  std::vector<RunSpan> out;
  for (size_t i : order) {
    const ProbeRun& run = runs[i];
    if (!out.empty() && out.back().key == run.key) {
      RunSpan& last = out.back();
      if (run.ts_ms == last.last_run_ms) continue;  // a duplicate: storage keeps the first
      if (ExtendsSpan(last, run)) {
        ExtendSpan(last, run);
        continue;
      }
    }
    out.push_back(SpanOfRun(run));
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
