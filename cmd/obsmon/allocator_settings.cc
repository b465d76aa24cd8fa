#include "cmd/obsmon/allocator_settings.h"

#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#define OBSMON_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OBSMON_ASAN 1
#endif
#endif

extern char** environ;

namespace obsmon {

void SetAllocatorOptions() {
  // glibc gives each thread that allocates its own heap arena (up to 8 per core), and freed
  // memory stays in the arena it came from: with eight probe workers, the HTTP threads and the
  // writer, a target sending 45,000 new series a second held 650 MB of RSS for 160 MB of live
  // heap; two arenas hold 250 MB.
  if (std::getenv("MALLOC_ARENA_MAX") == nullptr) mallopt(M_ARENA_MAX, 2);
  // glibc serves a block of 128 KiB or more with its own mmap, returned to the kernel on free,
  // but after the first such free it raises that threshold to the freed size (up to 32 MiB):
  // from then on the refresh's large transient buffers (a report's spans, the latency
  // selection's 4 MiB) come from the arenas, and what they leave between long-lived blocks is
  // kept, fragmented (1,000 probes: 40 MB resident above the heap in use after 30 minutes,
  // malloc_trim after every refresh notwithstanding). A fixed threshold keeps them mmapped.
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 256 << 10);
}

void ExecAgainWithoutThreadCaches(int argc, char** argv) {
#ifndef OBSMON_ASAN
  // Each of the daemon's ~25 threads keeps up to 7 freed blocks of each size to 1 KiB for
  // itself (up to ~240 KiB a thread), which malloc_trim cannot return and mallinfo counts as in
  // use: they filled over hours as reports and reloads touched new sizes, the slope of the
  // operated soaks (docs/benchmarks.md, "Stop 65").
  if (argc < 2 || std::string_view(argv[1]) != "run") return;
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const std::string current = tunables != nullptr ? tunables : "";
  if (current.find("glibc.malloc.tcache_count") != std::string::npos) return;
  const std::string setting =
      "GLIBC_TUNABLES=" + current + (current.empty() ? "" : ":") + "glibc.malloc.tcache_count=0";
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0) env.push_back(*e);
  }
  env.push_back(const_cast<char*>(setting.c_str()));
  env.push_back(nullptr);
  // The binary's own path, not /proc/self/exe: the kernel names the process after the file
  // executed, and `pgrep obsmon`, `ps` and systemd would see "exe". A binary replaced since it
  // started reads as "... (deleted)" and is not executed again.
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof self - 1) return;
  self[n] = '\0';
  if (std::string_view(self).ends_with(" (deleted)") || ::access(self, X_OK) != 0) return;
  ::execve(self, argv, env.data());
#else
  (void)argc;
  (void)argv;
#endif
}

}  // namespace obsmon
