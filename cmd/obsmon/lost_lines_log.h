// Says in the daemon's own log when a log probe could not count lines it should have: rotated
// files it may not open (probes/log_follower.h, FollowOutput::unreadable_bytes), and files gone
// before they were read to their end (FollowOutput::files_missed). The run's detail says it too,
// but a detail lasts one run; an operator reads journalctl. A ResultSink.
#pragma once

#include <spdlog/spdlog.h>

#include <memory>
#include <string_view>

#include "core/run_outcome.h"

namespace obsmon {

class LostLinesLog final : public ResultSink {
 public:
  explicit LostLinesLog(std::shared_ptr<spdlog::logger> log) : log_(std::move(log)) {}

  void OnRun(const RunOutcome& outcome) override {
    if (outcome.result == nullptr) return;
    const std::string& detail = outcome.result->detail;
    if (const std::string notes = Notes(detail, "are not counted"); !notes.empty()) {
      double bytes = 0;
      for (const auto& c : outcome.result->counters) {
        if (c.name == "obsmon_log_unreadable_bytes_total") bytes += c.delta;
      }
      log_->warn("{}/{}: rotated log files could not be read and are not counted ({:.0f} bytes "
                 "known, added to obsmon_log_unreadable_bytes_total): {}",
                 outcome.run.key.component, outcome.run.key.probe, bytes, notes);
    }
    if (const std::string notes = Notes(detail, "may be lost"); !notes.empty()) {
      log_->warn("{}/{}: a log file was gone before it was read to its end (counted in "
                 "obsmon_log_files_missed_total; rotate less often or poll more often): {}",
                 outcome.run.key.component, outcome.run.key.probe, notes);
    }
  }

 private:
  // The detail's lines holding `marker` (the unreadable files: ReportLost(); the files missed:
  // PlanAfterRotation(), probes/log_follower.cc), joined on one log line.
  static std::string Notes(std::string_view detail, std::string_view marker) {
    std::string out;
    while (!detail.empty()) {
      const size_t end = detail.find('\n');
      const std::string_view line = detail.substr(0, end);
      if (line.find(marker) != std::string_view::npos) {
        if (!out.empty()) out += "; ";
        out += line;
      }
      if (end == std::string_view::npos) break;
      detail.remove_prefix(end + 1);
    }
    return out;
  }

  std::shared_ptr<spdlog::logger> log_;
};

}  // namespace obsmon
