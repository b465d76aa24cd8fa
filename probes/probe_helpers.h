// Small pieces the network and exec probes share: labels for the extra samples a probe emits,
// the wording of timeout reasons, and a poll() that a stopping daemon wakes. Thread-safe.
#pragma once

#include <poll.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "core/labels.h"
#include "probes/probe.h"

namespace obsmon::probes {

// Labels for a probe's extra samples (probe.h: the caller adds nothing to those): the spec's
// labels (job and the component's own) plus component, probe and instance.
Labels ExtraSampleLabels(const ProbeSpec& spec, std::string_view instance);

// "timeout after 2s", "timeout after 500ms", "timeout after 1.5s".
std::string TimeoutReason(int64_t timeout_ms);

// Cuts `text` to at most `max_chars` bytes, appending "..." when it was cut. Never splits a UTF-8
// sequence.
std::string CutText(std::string_view text, size_t max_chars);

// Throws std::runtime_error when `err` (socket()'s or connect()'s errno) says this process or
// host ran out of what a connection needs (descriptors, buffers, local ports), naming `call`:
// the target was never tried, so the run is obsmon's failure (unknown, counted and logged by
// the runner), not the target's down time. Returns when it is anything else.
void ThrowIfOutOfResources(const char* call, int err);

// poll() on `fds` (at most 7) for at most `timeout_ms`, woken too when `deadline` is cancelled
// (the daemon stopping): then it returns what poll() saw on `fds`, often 0 as on a timeout, and
// the caller's next look at the deadline finds it expired. Without a cancellation, plain poll().
int PollOrCancel(pollfd* fds, nfds_t n, int timeout_ms, const Deadline& deadline);

}  // namespace obsmon::probes
