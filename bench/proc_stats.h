// What a benchmark reads of another process from /proc: CPU time, resident memory now (whole and
// anonymous) and its peak. The figures a user's `ps`/`top` would show, taken from outside.
#pragma once

#include <sys/types.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

namespace obsmon::bench {

struct ProcStats {
  double cpu_seconds = 0;  // utime + stime
  double rss_mb = 0;       // VmRSS
  double anon_mb = 0;      // RssAnon: the heap and the stacks, not the mapped binary
  double peak_rss_mb = 0;  // VmHWM
};

inline ProcStats ReadProc(pid_t pid) {
  ProcStats s;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  // Fields after the command name (which may contain spaces) start after the last ')'.
  if (line.rfind(')') == std::string::npos) return s;
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14 || i == 15) s.cpu_seconds += std::stod(field) / sysconf(_SC_CLK_TCK);
  }
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  auto mb = [&line](size_t key_len) { return std::stod(line.substr(key_len)) / 1024.0; };
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) s.peak_rss_mb = mb(6);
    if (line.rfind("VmRSS:", 0) == 0) s.rss_mb = mb(6);
    if (line.rfind("RssAnon:", 0) == 0) s.anon_mb = mb(8);
  }
  return s;
}

}  // namespace obsmon::bench
