#include "probes/tcp_probe.h"

#include <errno.h>
#include <poll.h>
#include <re2/re2.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "probes/probe_helpers.h"
#include "probes/tcp_connect.h"

namespace obsmon::probes {

namespace {

// Closes the socket on every return path.
struct FdCloser {
  int fd;
  ~FdCloser() {
    if (fd >= 0) close(fd);
  }
};

// Waits until `fd` is ready for `events` or the deadline passes. false on timeout.
bool WaitFor(int fd, short events, const Deadline& deadline, const Clock& clock) {
  while (true) {
    auto left = deadline.Remaining(clock);
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    int n = PollOrCancel(&p, 1, static_cast<int>(left.count()), deadline);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the read/write report the error
  }
}

// Shows control characters as escapes so that a reason stays on one line.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

TcpProbe::TcpProbe(ProbeSpec spec, TcpProbeOptions options, const Clock& clock)
    : spec_(std::move(spec)), options_(std::move(options)), clock_(clock) {}

TcpProbe::~TcpProbe() = default;

ProbeResult TcpProbe::Run(const Deadline& deadline) {
  const std::string timeout_reason = TimeoutReason(spec_.timeout_ms);
  if (deadline.Expired(clock_)) return ProbeResult::Down(timeout_reason);
  ConnectOutcome conn = TcpConnect(options_.address, deadline, clock_);
  if (!conn.ok()) {
    return ProbeResult::Down(conn.kind == ConnectOutcome::Kind::kTimeout ? timeout_reason
                                                                         : conn.reason);
  }
  FdCloser closer{conn.fd};

  if (options_.send) {
    const std::string& data = *options_.send;
    size_t sent = 0;
    while (sent < data.size()) {
      if (!WaitFor(conn.fd, POLLOUT, deadline, clock_)) return ProbeResult::Down(timeout_reason);
      ssize_t n =
          ::send(conn.fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return ProbeResult::Down(std::string("send failed: ") + strerror(errno));
      }
      sent += static_cast<size_t>(n);
    }
  }

  if (options_.expect) {
    std::string got;
    char buf[4096];
    while (true) {
      if (RE2::PartialMatch(got, *options_.expect)) break;
      if (got.size() >= options_.max_read_bytes) {
        return ProbeResult::Down("expect /" + options_.expect->pattern() +
                                 "/ did not match the first " + std::to_string(got.size()) +
                                 " bytes");
      }
      if (!WaitFor(conn.fd, POLLIN, deadline, clock_)) {
        return ProbeResult::Down(timeout_reason + " waiting for /" + options_.expect->pattern() +
                                 "/");
      }
      ssize_t n = recv(conn.fd, buf, std::min(sizeof buf, options_.max_read_bytes - got.size()),
                       MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) continue;
        return ProbeResult::Down(std::string("read failed: ") + strerror(errno));
      }
      if (n == 0) {
        return ProbeResult::Down("connection closed before /" + options_.expect->pattern() +
                                 "/ matched (got \"" + Printable(CutText(got, 80)) + "\")");
      }
      got.append(buf, static_cast<size_t>(n));
    }
  }
  return ProbeResult::Up();
}

std::unique_ptr<Probe> MakeTcpProbe(const ProbeSpec& spec, ConfigNode& settings,
                                    const Clock& clock) {
  bool ok = true;
  TcpProbeOptions opts;
  if (auto address = settings.String("address", /*required=*/true)) {
    Result<HostPort> parsed = ParseHostPort(*address);
    if (parsed.ok()) {
      opts.address = std::move(parsed.value());
    } else {
      settings.ErrorAt("address", parsed.status().message());
      ok = false;
    }
  } else {
    ok = false;
  }
  if (auto send = settings.String("send")) {
    opts.send = std::move(*send);
  } else if (settings.Has("send")) {
    ok = false;
  }
  if (auto expect = settings.String("expect")) {
    RE2::Options re_opts;
    re_opts.set_log_errors(false);
    auto re = std::make_shared<const re2::RE2>(*expect, re_opts);
    if (re->ok()) {
      opts.expect = std::move(re);
    } else {
      settings.ErrorAt("expect", "invalid expect pattern /" + *expect + "/: " + re->error());
      ok = false;
    }
  } else if (settings.Has("expect")) {
    ok = false;
  }
  if (!ok) return nullptr;
  return std::make_unique<TcpProbe>(spec, std::move(opts), clock);
}

}  // namespace obsmon::probes
