#include "web/process_collector.h"

#include <dirent.h>
#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace obsmon {

namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Reads at most 4 KiB of a /proc file (stat and status are well under it).
std::string ReadProcFile(const char* path) {
  std::string out;
  if (FILE* f = std::fopen(path, "re")) {
    char buf[4096];
    size_t n = std::fread(buf, 1, sizeof buf, f);
    out.assign(buf, n);
    std::fclose(f);
  }
  return out;
}

// "VmRSS:\t  1234 kB" -> 1234 * 1024.
std::optional<double> StatusKib(const std::string& status, const char* key) {
  size_t at = status.find(key);
  if (at == std::string::npos) return std::nullopt;
  return std::strtod(status.c_str() + at + std::strlen(key), nullptr) * 1024.0;
}

std::optional<double> CountOpenFds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) return std::nullopt;
  double n = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  ::closedir(dir);
  return n - 1;  // the descriptor opendir itself holds
}

// Fields 14, 15 (utime, stime) and 22 (starttime, in ticks since boot) of /proc/self/stat; the
// command name (field 2) may hold spaces and parentheses, so fields are counted after the last ')'.
void ReadStat(ProcessFigures* out) {
  const std::string stat = ReadProcFile("/proc/self/stat");
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return;
  const long ticks = ::sysconf(_SC_CLK_TCK);
  double utime = 0, stime = 0, start = 0;
  const char* p = stat.c_str() + close + 1;
  for (int field = 3; field <= 22 && *p != '\0'; ++field) {
    char* end = nullptr;
    while (*p == ' ') ++p;
    if (field == 3) {  // the state letter
      ++p;
      continue;
    }
    const double v = std::strtod(p, &end);
    if (end == p) return;
    if (field == 14) utime = v;
    if (field == 15) stime = v;
    if (field == 22) start = v;
    p = end;
  }
  if (ticks <= 0) return;
  out->cpu_seconds = (utime + stime) / static_cast<double>(ticks);
  // Boot time from /proc/stat's btime line.
  const std::string sys = ReadProcFile("/proc/stat");
  if (size_t at = sys.find("\nbtime "); at != std::string::npos) {
    out->start_time_seconds = std::strtod(sys.c_str() + at + 7, nullptr) + start / ticks;
  }
}

MetricFamily Gauge(const char* name, const char* help, double value, MetricType type) {
  MetricFamily f;
  f.name = name;
  f.help = help;
  f.type = type;
  ClientMetric m;
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

ProcessFigures ReadProcessFigures() {
  ProcessFigures f;
  ReadStat(&f);
  const std::string status = ReadProcFile("/proc/self/status");
  f.resident_bytes = StatusKib(status, "VmRSS:");
  f.virtual_bytes = StatusKib(status, "VmSize:");
  f.open_fds = CountOpenFds();
  if (rlimit lim{}; ::getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur != RLIM_INFINITY) {
    f.max_fds = static_cast<double>(lim.rlim_cur);
  }
  const struct mallinfo2 mi = ::mallinfo2();
  f.heap_in_use_bytes = static_cast<double>(mi.uordblks + mi.hblkhd);
  f.heap_free_bytes = static_cast<double>(mi.fordblks);
  return f;
}

std::vector<MetricFamily> ProcessCollector::Collect() const {
  const ProcessFigures f = ReadProcessFigures();
  std::vector<MetricFamily> out;
  auto add = [&out](const char* name, const char* help, std::optional<double> v,
                    MetricType type = MetricType::Gauge) {
    if (v) out.push_back(Gauge(name, help, *v, type));
  };
  add("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.",
      f.cpu_seconds, MetricType::Counter);
  add("process_resident_memory_bytes", "Resident memory size in bytes.", f.resident_bytes);
  add("process_virtual_memory_bytes", "Virtual memory size in bytes.", f.virtual_bytes);
  add("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
      f.start_time_seconds);
  add("process_open_fds", "Number of open file descriptors.", f.open_fds);
  add("process_max_fds", "Maximum number of open file descriptors.", f.max_fds);
  MetricFamily heap;
  heap.name = "obsmon_heap_bytes";
  heap.help =
      "The C heap (glibc malloc, all arenas): in_use = allocated and not freed; free = freed "
      "but kept by the allocator (fragmentation or reuse), part of the resident memory.";
  heap.type = MetricType::Gauge;
  for (auto [state, v] : {std::pair{"in_use", f.heap_in_use_bytes}, {"free", f.heap_free_bytes}}) {
    ClientMetric m;
    m.label.push_back({"state", state});
    m.gauge.value = v;
    heap.metric.push_back(std::move(m));
  }
  out.push_back(std::move(heap));
  return out;
}

}  // namespace obsmon
