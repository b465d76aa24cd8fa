// kind: http — one HTTP(S) request per run, judged by status code and body patterns.
//
// Config keys (besides the common ones): url (required), method (GET), headers (map), body,
// expect_status (codes or ranges, "200", "200-299", "2xx"; default 2xx), body_match and
// body_not_match (RE2), max_body_bytes (1 MiB), max_header_bytes (64 KiB: the status line and
// headers of a response; beyond, the run is down), follow_redirects (false; at most 10 hops),
// tls_skip_verify (false), keep_alive (0: off).
//
// Every run opens a fresh connection unless keep_alive is set, so a run measures what a new
// client sees. With keep_alive (a duration, plain http to a numeric address, an idempotent
// method) a run sends on the connection of the probe's previous run when the server kept it
// open, and a connection is used for at most keep_alive from its connect: a server that stops
// accepting connections is seen within that time (docs/configuration.md, "keep_alive").
// Plain http to a numeric address with follow_redirects off goes through obsmon's own
// non-blocking client (plain_http_exchange.h), and such a probe is Startable(): its runs can
// share a thread with others. Everything else goes through cpp-httplib.
// Not thread-safe: Run() is never called concurrently for one probe (probe.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config_node.h"
#include "probes/deadline_watchdog.h"
#include "probes/plain_http_exchange.h"
#include "probes/probe.h"
#include "probes/url.h"

namespace re2 {
class RE2;
}

namespace obsmon::probes {

// An inclusive range of accepted status codes; a single code has lo == hi.
struct StatusRange {
  int lo = 200;
  int hi = 299;
  friend bool operator==(const StatusRange&, const StatusRange&) = default;
};

// Parses "200", "200-299" or "2xx". Returns nullopt for anything else or codes outside 100-599.
std::optional<StatusRange> ParseStatusRange(const std::string& text);

struct HttpProbeOptions {
  HttpUrl url;
  std::string method = "GET";
  std::map<std::string, std::string> headers;
  std::optional<std::string> body;
  std::vector<StatusRange> expect_status = {StatusRange{200, 299}};
  std::shared_ptr<const re2::RE2> body_match;      // null when not configured
  std::shared_ptr<const re2::RE2> body_not_match;  // null when not configured
  size_t max_body_bytes = 1 << 20;
  size_t max_header_bytes = 64 * 1024;
  bool follow_redirects = false;
  bool tls_skip_verify = false;
  int64_t keep_alive_ms = 0;  // 0: a fresh connection every run
};

class HttpProbe final : public Probe {
 public:
  // `clock` must outlive the probe. `watchdog` (shared with other probes; the daemon owns one)
  // stops requests that outlive their deadline; null makes one for this probe alone.
  HttpProbe(ProbeSpec spec, HttpProbeOptions options, const Clock& clock,
            std::shared_ptr<DeadlineWatchdog> watchdog = nullptr);
  ~HttpProbe() override;

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override { return options_.url.target.ToString(); }
  bool Startable() const override { return plain_.has_value(); }
  std::unique_ptr<PendingRun> Start() override;
  std::string_view Server() const override { return server_; }

  const HttpProbeOptions& options() const { return options_; }

 private:
  // One request and what came back; `down` set when there is no response to judge.
  struct HttpExchange {
    std::optional<ProbeResult> down;
    int status = 0;
    std::string location;
    std::string content_length_header;
    std::string body;        // at most max_body_bytes of it
    uint64_t received = 0;   // body bytes read
  };
  class PlainRun;  // a run through PlainHttpExchange (http_probe.cc)

  // The result of a response: the status and content-length samples, the status and body
  // checks.
  ProbeResult Judge(int status, const std::string& content_length_header, const std::string& body,
                    uint64_t received) const;
  HttpExchange Exchange(const HttpUrl& url, const std::string& method,
                        const std::optional<std::string>& request_body, const Deadline& deadline);
  // The kept connection (its place in the process's budget given back), or -1.
  int TakeKept();

  ProbeSpec spec_;
  HttpProbeOptions options_;
  const Clock& clock_;
  // Set when obsmon's own client serves this probe (built once: the request's bytes, the
  // address).
  std::optional<PlainHttpTarget> plain_;
  std::string server_;  // "address:port" when plain_ is set (Server())
  Labels sample_labels_;  // the labels of this probe's own samples, built once
  // The connection the previous run left open (keep_alive), and when it was opened. Runs of a
  // probe never overlap (probe.h), so no lock.
  int kept_fd_ = -1;
  SteadyTime kept_since_{};
  // When the previous run's answer came, after its start (PendingRun::ExpectedAnswer()); unset
  // when it is not known or reading it late could change the next run's figures. Used only by
  // a run on the connection kept for it (PlainRun::ExpectedAnswer()).
  std::optional<std::chrono::nanoseconds> answer_after_;
  // Stops a request that outlives its deadline inside httplib (see deadline_watchdog.h).
  std::shared_ptr<DeadlineWatchdog> watchdog_;
};

// The registry's factory for kind "http": reads the keys above from `settings`, reporting each bad
// value at its file:line:column, and returns nullptr when any was bad.
std::unique_ptr<Probe> MakeHttpProbe(const ProbeSpec& spec, ConfigNode& settings,
                                     const Clock& clock,
                                     std::shared_ptr<DeadlineWatchdog> watchdog = nullptr);

}  // namespace obsmon::probes
