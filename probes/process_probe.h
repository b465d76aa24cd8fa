// kind: process — finds a component's process by pid file or by a command-line match and records,
// from /proc (Linux only):
//   process_cpu_percent            CPU time (utime+stime) used between two runs over the wall
//                                  time between them, in percent of one core; absent on the
//                                  first run and on the first run after a restart
//   process_resident_memory_bytes  resident set size
//   process_open_fds               entries of /proc/PID/fd (absent when not readable)
//   process_start_time_seconds     when the process started (Unix time; boot time + its start
//                                  ticks, as Prometheus client libraries export it)
//   process_restarts_total         times the process changed (pid or start time), persisted;
//                                  a restart while obsmon itself was down counts too: the first
//                                  run after obsmon starts compares the process's start time
//                                  with the last one stored
// success = the process runs. A pid file that names a dead process, or a process whose command
// line does not match `match`, is a reason, never a crash.
//
// Config keys: pid_file and/or match (RE2, searched unanchored in the command line with its NUL
// separators read as spaces, like `pgrep -f`). With match alone the oldest matching process is
// chosen (obsmon itself is never chosen). Run() is not reentrant (the scheduler guarantees it).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "core/config_node.h"
#include "core/status.h"
#include "probes/probe.h"

namespace re2 {
class RE2;
}

namespace obsmon::probes {

struct ProcessOptions {
  std::string pid_file;
  std::string match;                // RE2; empty: none
  std::string proc_root = "/proc";  // tests may point it elsewhere
};

// What /proc says about one process at one moment.
struct ProcessStat {
  int pid = 0;
  uint64_t cpu_ticks = 0;    // utime + stime, in clock ticks
  uint64_t start_ticks = 0;  // start time after boot, in clock ticks (identifies a pid's owner)
  uint64_t rss_bytes = 0;
};

// The boot time (Unix seconds) from <proc_root>/stat's btime line; nullopt when unreadable.
std::optional<double> ReadBootTimeSeconds(const std::string& proc_root);

// Reads /proc/<pid>/stat; nullopt when the process does not exist.
std::optional<ProcessStat> ReadProcessStat(const std::string& proc_root, int pid);
// The command line with NULs as spaces, without the trailing one; "" when unreadable.
std::string ReadCommandLine(const std::string& proc_root, int pid);

class ProcessProbe final : public Probe {
 public:
  // InvalidArgument when `match` does not compile or neither key is given.
  static Result<std::unique_ptr<ProcessProbe>> Create(const ProbeSpec& spec, ProcessOptions options,
                                                      const Clock& clock);
  ~ProcessProbe() override;

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override;
  void Restore(ProbeStateSource& state) override;

 private:
  ProcessProbe(const ProbeSpec& spec, ProcessOptions options, const Clock& clock);
  // The pid to look at, or (NotFound) the reason why there is none.
  Result<int> FindPid() const;
  bool Matches(int pid) const;

  ProbeSpec spec_;
  ProcessOptions options_;
  const Clock& clock_;
  std::unique_ptr<re2::RE2> match_;
  // The previous observation, for CPU deltas and restart detection.
  std::optional<ProcessStat> last_;
  SteadyTime last_time_{};
  double restarts_ = 0;
  // The process's start time stored before obsmon (re)started, until the first run compares it.
  std::optional<double> stored_start_time_;
};

std::unique_ptr<Probe> MakeProcessProbe(const ProbeSpec& spec, ConfigNode& settings,
                                        const Clock& clock);

}  // namespace obsmon::probes
