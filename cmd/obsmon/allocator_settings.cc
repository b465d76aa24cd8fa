#include "cmd/obsmon/allocator_settings.h"

#include <malloc.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
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

namespace {

// Why the caches stayed on, for the daemon's log; nullptr when they are off or were never asked.
const char* thread_caches_note = nullptr;

#ifndef OBSMON_ASAN
// Carried across the exec, then taken out of the environment: the pid that executed itself again
// (the markers count only in that same process: a user's own OBSMON_EXEC_* variables are theirs,
// left alone), the name the kernel first gave the process, and the user's GLIBC_TUNABLES ("-"
// when unset, "=" and its value when set), which the daemon's children (exec probes) get back.
constexpr char kPidBefore[] = "OBSMON_EXEC_PID";
constexpr char kNameBefore[] = "OBSMON_EXEC_NAME";
constexpr char kTunablesBefore[] = "OBSMON_EXEC_GLIBC_TUNABLES";

// Whether `tunables` (name=value pairs separated by ':') sets glibc.malloc.tcache_count.
bool SetsThreadCacheCount(std::string_view tunables) {
  while (!tunables.empty()) {
    const size_t colon = tunables.find(':');
    if (tunables.substr(0, colon).starts_with("glibc.malloc.tcache_count=")) return true;
    if (colon == std::string_view::npos) break;
    tunables.remove_prefix(colon + 1);
  }
  return false;
}

// The second start: takes back the name and the user's GLIBC_TUNABLES, drops the markers.
void RestoreAfterExec() {
  ::prctl(PR_SET_NAME, std::string(std::getenv(kNameBefore)).substr(0, 15).c_str());
  const char* before = std::getenv(kTunablesBefore);
  if (before != nullptr && before[0] == '=') {
    ::setenv("GLIBC_TUNABLES", before + 1, 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
  ::unsetenv(kPidBefore);
  ::unsetenv(kNameBefore);
  ::unsetenv(kTunablesBefore);
}

#endif  // OBSMON_ASAN

}  // namespace

void ExecAgainWithoutThreadCaches(int argc, char** argv) {
#ifndef OBSMON_ASAN
  // Each of the daemon's ~25 threads keeps up to 7 freed blocks of each size to 1 KiB for
  // itself (up to ~240 KiB a thread), which malloc_trim cannot return and mallinfo counts as in
  // use: they filled over hours as reports and reloads touched new sizes, the slope of the
  // operated soaks (docs/benchmarks.md, "Stop 65").
  if (argc < 2 || std::string_view(argv[1]) != "run") return;
  // The daemon's signals are blocked from here on (CmdRun waits for them): the mask and a signal
  // pending survive the exec, so a SIGTERM or SIGHUP in the first milliseconds is handled, not
  // the default action that killed the process without a word.
  sigset_t signals;
  sigemptyset(&signals);
  for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&signals, sig);
  ::sigprocmask(SIG_BLOCK, &signals, nullptr);
  const std::string self_pid = std::to_string(::getpid());
  if (const char* pid = std::getenv(kPidBefore);
      pid != nullptr && self_pid == pid && std::getenv(kNameBefore) != nullptr) {
    RestoreAfterExec();  // whatever its environment says now, it never executes again
    return;
  }
  // A program with file capabilities or setuid, run by another user, starts in secure mode, in
  // which glibc drops GLIBC_TUNABLES: executed again it would see no setting and loop.
  if (::getauxval(AT_SECURE) != 0) {
    thread_caches_note = "the binary runs in secure mode (a file capability or setuid), in which "
                         "glibc ignores GLIBC_TUNABLES; give the capability as an ambient one "
                         "instead (systemd: AmbientCapabilities=CAP_NET_BIND_SERVICE)";
    return;
  }
  // Started as `ld-linux-x86-64.so.2 obsmon run` the kernel ran the loader (no interpreter
  // mapped: AT_BASE 0), and /proc/self/exe is the loader, not obsmon.
  if (::getauxval(AT_BASE) == 0) {
    thread_caches_note = "started through the dynamic loader; set "
                         "GLIBC_TUNABLES=glibc.malloc.tcache_count=0 to turn them off";
    return;
  }
  // A preloaded library (valgrind, heaptrack, another allocator) belongs to the process it was
  // given to: valgrind refuses the exec and heaptrack stops recording at it.
  if (const char* preload = std::getenv("LD_PRELOAD"); preload != nullptr && *preload != '\0') {
    thread_caches_note = "a library is preloaded (LD_PRELOAD); set "
                         "GLIBC_TUNABLES=glibc.malloc.tcache_count=0 to turn them off";
    return;
  }
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  const std::string current = tunables != nullptr ? tunables : "";
  if (SetsThreadCacheCount(current)) return;  // the user's
  char name[17] = {};
  if (::prctl(PR_GET_NAME, name) != 0) name[0] = '\0';
  const std::string setting =
      "GLIBC_TUNABLES=" + current + (current.empty() ? "" : ":") + "glibc.malloc.tcache_count=0";
  const std::string pid_before = std::string(kPidBefore) + "=" + self_pid;
  const std::string name_before = std::string(kNameBefore) + "=" + name;
  const std::string tunables_before = std::string(kTunablesBefore) + "=" +
                                      (tunables != nullptr ? "=" + current : std::string("-"));
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry = *e;
    if (entry.starts_with("GLIBC_TUNABLES=") || entry.starts_with("OBSMON_EXEC_PID=") ||
        entry.starts_with("OBSMON_EXEC_NAME=") ||
        entry.starts_with("OBSMON_EXEC_GLIBC_TUNABLES=")) {
      continue;  // ours replace them
    }
    env.push_back(*e);
  }
  for (const std::string* added : {&setting, &pid_before, &name_before, &tunables_before}) {
    env.push_back(const_cast<char*>(added->c_str()));
  }
  env.push_back(nullptr);
  // /proc/self/exe: the very file running, wherever it was found (PATH, a symlink), even one
  // replaced on disk since; the kernel then names the process "exe", and the second start takes
  // back the name it had.
  ::execve("/proc/self/exe", argv, env.data());
  thread_caches_note = "executing /proc/self/exe again failed";
#else
  (void)argc;
  (void)argv;
#endif
}

const char* ThreadCachesNote() { return thread_caches_note; }

void ReturnFreedMemory() {
#ifndef OBSMON_ASAN
  malloc_trim(0);
#endif
}

}  // namespace obsmon
