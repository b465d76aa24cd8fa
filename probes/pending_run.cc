#include "probes/pending_run.h"

#include <poll.h>

#include <algorithm>
#include <chrono>

#include "probes/probe_helpers.h"

namespace obsmon::probes {

ProbeResult RunToEnd(PendingRun& run, const Deadline& deadline, const Clock& clock) {
  while (!run.done()) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline.at - clock.SteadyNow());
    if (left.count() <= 0 || run.fd() < 0 || deadline.Cancelled()) {
      run.OnDeadline();
      break;
    }
    pollfd p{run.fd(), run.events(), 0};
    const int rc =
        PollOrCancel(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)), deadline);
    if (rc > 0) run.OnReady(p.revents);
  }
  return run.TakeResult();
}

}  // namespace obsmon::probes
