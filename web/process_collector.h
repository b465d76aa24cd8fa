// The process_* families every Prometheus client library exports (resident and virtual memory,
// CPU seconds, open and maximum file descriptors, start time), read from /proc/self at each
// scrape, plus glibc's heap figures: what a user needs to see that obsmon's memory is flat and
// where it is held (docs/operations.md, "Memory"). Linux only, as obsmon.
#pragma once

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <optional>
#include <vector>

namespace obsmon {

// One reading of the process's own figures; fields the kernel did not give stay empty.
struct ProcessFigures {
  std::optional<double> cpu_seconds;       // utime + stime
  std::optional<double> resident_bytes;    // VmRSS
  std::optional<double> virtual_bytes;     // VmSize
  std::optional<double> start_time_seconds;  // Unix time
  std::optional<double> open_fds;
  std::optional<double> max_fds;           // the soft RLIMIT_NOFILE
  double heap_in_use_bytes = 0;            // malloc'ed and not freed (mallinfo2: uordblks + hblkhd)
  double heap_free_bytes = 0;              // freed but kept by the allocator (fordblks)
};

// Reads /proc/self/stat, /proc/self/status, /proc/self/fd and mallinfo2(). Bounded reads only.
ProcessFigures ReadProcessFigures();

class ProcessCollector final : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace obsmon
