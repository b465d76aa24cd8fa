#include "runtime/probe_runner.h"

#include <cmath>
#include <exception>

#include "probes/log_text.h"

namespace obsmon {

namespace {
constexpr size_t kMaxReasonBytes = 4096;
}  // namespace

Labels ProbeLabels(const ProbeSpec& spec, const std::string& instance) {
  Labels labels = spec.labels;
  labels.Set("component", spec.key.component);
  labels.Set("probe", spec.key.probe);
  labels.Set("instance", instance);
  return labels;
}

RunOutcome ProbeRunner::Execute(const ScheduledProbe& probe, ProbeResult* result) {
  const ProbeSpec& spec = probe.spec;
  RunOutcome out;
  out.spec = &spec;
  out.instance = probe.probe->Instance();

  const TimestampMs started_ms = clock_.NowMs();
  const SteadyTime start = clock_.SteadyNow();
  const Deadline deadline{start + std::chrono::milliseconds(spec.timeout_ms)};
  try {
    *result = probe.probe->Run(deadline);
  } catch (const std::exception& e) {
    // Probes must not throw; if one does, it is obsmon's bug: not a crash, and not a down run
    // charged to the component's uptime either.
    out.internal_error = e.what();
    if (out.internal_error.empty()) out.internal_error = "exception without a message";
  } catch (...) {
    out.internal_error = "unknown exception";
  }
  if (!out.internal_error.empty()) {
    *result = ProbeResult::Down("internal error: " + out.internal_error);
  }
  // A reason may quote what a target sent (an exec probe's output, a tcp banner): stored and
  // shown as log lines are, NUL and invalid UTF-8 as \xNN and backslashes doubled, at most
  // 4 KiB, or sqlite3 cut it at a NUL and reports printed raw bytes (fresh eyes, issue 13).
  if (!result->reason.empty()) result->reason = probes::CleanLine(result->reason, kMaxReasonBytes);
  const double seconds = std::chrono::duration<double>(clock_.SteadyNow() - start).count();

  out.result = result;
  out.run.key = spec.key;
  out.run.role = spec.role;
  out.run.ts_ms = started_ms;
  out.run.success = result->success;
  out.run.duration_seconds = seconds;
  out.run.valid_for_ms = static_cast<int64_t>(std::llround(spec.interval_ms * tolerance_));
  out.run.reason = result->success ? "" : result->reason;
  if (!result->success && out.run.reason.empty()) out.run.reason = "failed (no reason given)";

  const Labels labels = ProbeLabels(spec, out.instance);
  out.samples.reserve(result->samples.size() + 3);
  out.samples.push_back({"probe_success", labels, started_ms, result->success ? 1.0 : 0.0});
  out.samples.push_back({"probe_duration_seconds", labels, started_ms, seconds});
  // A scrape reports its own `up{job,instance}`, as Prometheus's does: a second one here would
  // make every `up == 0` alert fire twice per target (issue 14, item 5).
  if (spec.role == ProbeRole::kHealth && spec.kind != "scrape") {
    // Rules see a health probe's verdict as Prometheus's `up{job,instance}`, so the seeds'
    // `up{job="tta-staging-carbon"} == 0` works as written.
    // `probe` is kept so that two health probes of one target (http and tcp, say) stay two
    // series instead of one that flaps between their verdicts.
    Labels up_labels{
        {"job", spec.labels.Get("job")}, {"instance", out.instance}, {"probe", spec.key.probe}};
    out.samples.push_back({"up", up_labels, started_ms, result->success ? 1.0 : 0.0});
  }
  // Moved, not copied: a scrape may bring tens of thousands of samples, and the sinks read
  // them from the outcome only.
  for (Sample& s : result->samples) {
    out.samples.push_back(std::move(s));
    if (out.samples.back().ts_ms == 0) out.samples.back().ts_ms = started_ms;
  }
  result->samples.clear();
  return out;
}

void ProbeRunner::Run(const ScheduledProbe& probe, TimestampMs /*due_wall_ms*/,
                      uint64_t state_epoch) {
  ProbeResult result;
  RunOutcome outcome = Execute(probe, &result);
  if (!outcome.internal_error.empty()) {
    if (on_internal_error_) on_internal_error_(probe.spec.key, outcome.internal_error);
    return;
  }
  outcome.state_epoch = state_epoch;
  for (ResultSink* sink : sinks_) sink->OnRun(outcome);
}

}  // namespace obsmon
