// loopback_target: the HTTP target of the daemon benchmarks (bench/loopback_targets.h) as a
// process of its own, for scripts that run the real daemon beside it (bench/probe_ab.sh with
// TARGET=httplib): prints its port, then serves until killed.
//
//   loopback_target [keep]    # keep: the epoll target that keeps connections
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "bench/loopback_targets.h"

int main(int argc, char** argv) {
  const bool keep = argc > 1 && std::strcmp(argv[1], "keep") == 0;
  const obsmon::bench::LoopbackTargets targets(keep);
  std::printf("%d\n", targets.port());
  std::fflush(stdout);
  for (;;) ::pause();
}
