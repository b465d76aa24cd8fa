// The demo component's application log, in the shape of the Carbon component's:
//   2025-10-14T12:00:00Z INFO carbon: measured 0.000123 kg CO2eq over 1s
// with occasional ERROR and rare CRITICAL lines. The file is opened for each line (O_APPEND), so
// after logrotate renames it the next line lands in a fresh file, as a logrotate-friendly app
// behaves. Not thread-safe: one writer thread calls Tick().
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "core/clock.h"
#include "examples/demo_component/failure_schedule.h"

namespace obsmon::demo {

struct LogOptions {
  std::string path;
  double error_ratio = 0.05;      // share of ticks that also log an ERROR line
  double critical_ratio = 0.005;  // share of ticks that also log a CRITICAL line
  uint64_t seed = 1;
  std::string interval_text = "1s";  // how long each "measured" line claims to cover
};

class DemoLog {
 public:
  // `clock` and `schedule` must outlive this object.
  DemoLog(LogOptions options, const Clock& clock, const FailureSchedule& schedule);

  // Appends one "measured" line, plus an ERROR or CRITICAL line now and then (always an ERROR
  // while the health endpoint is in a failure window). Returns false when the file cannot be
  // written.
  bool Tick();

  // Appends one line "<time> <LEVEL> carbon: <text>".
  bool Write(const std::string& level, const std::string& text);

 private:
  LogOptions options_;
  const Clock& clock_;
  const FailureSchedule& schedule_;
  std::mt19937_64 rng_;
  bool was_in_window_ = false;
};

}  // namespace obsmon::demo
