// A log writer for the rotation tests: appends numbered lines, a known share of them ERROR or
// CRITICAL, reopening the path for each batch (as an application that reopens after rotation).
// Header-only.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <utility>

#include "tests/support/subprocess.h"

namespace obsmon::testing {

// Runs the real logrotate once, forced (-f), with its own state file; returns its exit code
// and output (written to `state` + ".out").
inline std::pair<int, std::string> RunLogrotate(const std::string& conf, const std::string& state) {
  return RunCommand({"/usr/sbin/logrotate", "-f", "-s", state, conf}, state + ".out");
}

class LogWriter {
 public:
  LogWriter(std::string path, uint32_t seed, int64_t first_number = 1)
      : path_(std::move(path)), rng_(seed), next_(first_number) {}

  // Appends n complete lines in one write(); returns false if the write failed.
  bool Append(int n) {
    std::string text;
    for (int i = 0; i < n; ++i) {
      const int64_t id = next_++;
      const uint32_t dice = rng_() % 100;
      if (dice < 9) matches_.insert(id);
      if (dice < 7) {
        text += "2025-10-14T10:00:00Z ERROR request " + std::to_string(id) + " failed\n";
        ++errors_;
      } else if (dice < 9) {
        text += "2025-10-14T10:00:00Z CRITICAL disk " + std::to_string(id) + " gone\n";
        ++criticals_;
      } else if (dice < 12) {
        text += "2025-10-14T10:00:00Z INFO ERRORS=0 xERROR " + std::to_string(id) + "\n";
      } else {
        text += "2025-10-14T10:00:00Z INFO request " + std::to_string(id) + " ok\n";
      }
      ++lines_;
    }
    const int fd = ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) return false;
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
    ::close(fd);
    return ok;
  }

  double errors() const { return static_cast<double>(errors_); }
  double criticals() const { return static_cast<double>(criticals_); }
  double lines() const { return static_cast<double>(lines_); }
  int64_t next_number() const { return next_; }
  bool IsMatch(int64_t id) const { return matches_.count(id) > 0; }

 private:
  std::string path_;
  std::mt19937 rng_;
  int64_t next_;
  int64_t errors_ = 0, criticals_ = 0, lines_ = 0;
  std::set<int64_t> matches_;  // ids of ERROR and CRITICAL lines
};

}  // namespace obsmon::testing
