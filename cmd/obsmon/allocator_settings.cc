#include "cmd/obsmon/allocator_settings.h"

#include <malloc.h>
#include <sys/prctl.h>
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
  if (current.find("glibc.malloc.tcache_count") != std::string::npos) {
    // Started again through /proc/self/exe, the kernel named this process "exe": it takes back
    // the name it was started under, for `pgrep obsmon`, `ps -C` and `top`.
    char comm[32] = {};
    if (::prctl(PR_GET_NAME, comm) == 0 && std::string_view(comm) == "exe") {
      const std::string_view invoked = argv[0];
      const std::string name(invoked.substr(invoked.rfind('/') + 1).substr(0, 15));
      if (!name.empty()) ::prctl(PR_SET_NAME, name.c_str());
    }
    return;
  }
  const std::string setting =
      "GLIBC_TUNABLES=" + current + (current.empty() ? "" : ":") + "glibc.malloc.tcache_count=0";
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "GLIBC_TUNABLES=", 15) != 0) env.push_back(*e);
  }
  env.push_back(const_cast<char*>(setting.c_str()));
  env.push_back(nullptr);
  // /proc/self/exe: the very file running, wherever it was found (PATH, a symlink), even one
  // replaced on disk since.
  ::execve("/proc/self/exe", argv, env.data());
#else
  (void)argc;
  (void)argv;
#endif
}

void ReturnFreedMemory() {
#ifndef OBSMON_ASAN
  malloc_trim(0);
#endif
}

}  // namespace obsmon
