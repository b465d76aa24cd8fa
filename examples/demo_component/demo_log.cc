#include "examples/demo_component/demo_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>

#include "core/time_format.h"

namespace obsmon::demo {

DemoLog::DemoLog(LogOptions options, const Clock& clock, const FailureSchedule& schedule)
    : options_(std::move(options)), clock_(clock), schedule_(schedule), rng_(options_.seed) {}

bool DemoLog::Write(const std::string& level, const std::string& text) {
  TimestampMs now = clock_.NowMs();
  std::string line = FormatRfc3339(now - now % 1000) + " " + level + " carbon: " + text + "\n";
  int fd = open(options_.path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  // One write() per line: with O_APPEND a line is never interleaved or split by a rotation.
  bool ok = write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  close(fd);
  return ok;
}

bool DemoLog::Tick() {
  std::uniform_real_distribution<double> unit(0, 1);
  char text[160];
  double kg = 0.00005 + unit(rng_) * 0.0002;
  std::snprintf(text, sizeof text, "measured %.6f kg CO2eq (energy %.6f kWh) over %s", kg, kg / 0.4,
                options_.interval_text.c_str());
  bool ok = Write("INFO", text);

  bool in_window = schedule_.InWindow(clock_.NowMs());
  if (in_window && !was_in_window_) {
    ok &= Write("ERROR", "health check failing: emissions tracker not responding");
  } else if (!in_window && was_in_window_) {
    ok &= Write("INFO", "health check recovered");
  }
  was_in_window_ = in_window;

  double roll = unit(rng_);
  if (roll < options_.critical_ratio) {
    ok &= Write("CRITICAL", "emissions tracker crashed; restarting it");
  } else if (roll < options_.critical_ratio + options_.error_ratio) {
    ok &= Write("ERROR", "failed to flush emissions.csv: resource temporarily unavailable");
  }
  return ok;
}

}  // namespace obsmon::demo
