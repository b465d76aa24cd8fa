// Small pieces the network and exec probes share: labels for the extra samples a probe emits and
// the wording of timeout reasons. Pure functions, thread-safe.
#pragma once

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

}  // namespace obsmon::probes
