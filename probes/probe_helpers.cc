#include "probes/probe_helpers.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "core/duration.h"

namespace obsmon::probes {

Labels ExtraSampleLabels(const ProbeSpec& spec, std::string_view instance) {
  Labels labels = spec.labels;
  labels.Set("component", spec.key.component);
  labels.Set("probe", spec.key.probe);
  labels.Set("instance", instance);
  return labels;
}

void ThrowIfOutOfResources(const char* call, int err) {
  switch (err) {
    case EMFILE:         // this process's descriptors
    case ENFILE:         // the host's
    case ENOBUFS:
    case ENOMEM:
    case EADDRNOTAVAIL:  // no local port left to connect from
      throw std::runtime_error(std::string("obsmon is out of resources for a connection (") +
                               call + ": " + std::strerror(err) + "); the target was not tried");
    default:
      return;
  }
}

std::string TimeoutReason(int64_t timeout_ms) {
  if (timeout_ms < 1000 || timeout_ms % 1000 == 0) {
    return "timeout after " + FormatDurationMs(timeout_ms);
  }
  // Seconds to the millisecond, as configured: 1250ms is "1.25s", 1999ms "1.999s" (one decimal
  // said "1.2s" and "2.0s"; fresh eyes, stop 41).
  std::string s = std::to_string(timeout_ms / 1000) + "." +
                  std::to_string(1000 + timeout_ms % 1000).substr(1);  // "250" of 1250, "001"
  while (s.back() == '0') s.pop_back();
  return "timeout after " + s + "s";
}

std::string CutText(std::string_view text, size_t max_chars) {
  if (text.size() <= max_chars) return std::string(text);
  size_t end = max_chars;
  // Step back over UTF-8 continuation bytes (10xxxxxx) so a character is never split.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end)) + "...";
}

int PollOrCancel(pollfd* fds, nfds_t n, int timeout_ms, const Deadline& deadline) {
  const int cancel_fd = deadline.CancellationFd();
  if (cancel_fd < 0 || n > 7) return ::poll(n > 0 ? fds : nullptr, n, timeout_ms);
  pollfd all[8];
  for (nfds_t i = 0; i < n; ++i) all[i] = fds[i];
  all[n] = pollfd{cancel_fd, POLLIN, 0};
  const int rc = ::poll(all, n + 1, timeout_ms);
  if (rc < 0) return rc;
  int ready = 0;
  for (nfds_t i = 0; i < n; ++i) {
    fds[i].revents = all[i].revents;
    if (all[i].revents != 0) ++ready;
  }
  return ready;
}

}  // namespace obsmon::probes
