#include "probes/kept_connections.h"

#include <sys/resource.h>

#include <algorithm>

namespace obsmon::probes {

namespace {

// Besides half the limit, left for everything else under a small limit: the database and its
// WAL, the listener and its clients, log files, the fresh connections of a batch.
constexpr int64_t kReserved = 64;

// Read once, at the first use: after the daemon raised its soft limit (cmd/obsmon/main.cc).
int64_t Budget() {
  static const int64_t budget = [] {
    rlimit files{};
    if (::getrlimit(RLIMIT_NOFILE, &files) != 0) return int64_t{0};
    if (files.rlim_cur == RLIM_INFINITY) return int64_t{1} << 20;
    const auto limit = static_cast<int64_t>(std::min<rlim_t>(files.rlim_cur, rlim_t{1} << 21));
    return std::max<int64_t>(0, limit / 2 - kReserved);
  }();
  return budget;
}

}  // namespace

KeptConnections& KeptConnections::Instance() {
  static KeptConnections instance;
  return instance;
}

bool KeptConnections::TryKeep() {
  const int64_t budget = Budget();
  int64_t now = kept_.load();
  while (now < budget) {
    if (kept_.compare_exchange_weak(now, now + 1)) return true;
  }
  return false;
}

void KeptConnections::Release() { kept_.fetch_sub(1); }

int64_t KeptConnections::kept() const { return kept_.load(); }

int64_t KeptConnections::limit() const { return Budget(); }

}  // namespace obsmon::probes
