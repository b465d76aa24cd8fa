// Drives one PendingRun (probe.h) to its end on the calling thread: what a probe's Run() does
// when it also offers Start(), so that both ways of running it share one code path.
#pragma once

#include "core/clock.h"
#include "probes/probe.h"

namespace obsmon::probes {

// Polls the run's socket until it is done or `deadline` passes (then OnDeadline()), and returns
// its result. Time comes from `clock`; the waits are poll()'s, bounded by the deadline.
ProbeResult RunToEnd(PendingRun& run, const Deadline& deadline, const Clock& clock);

}  // namespace obsmon::probes
