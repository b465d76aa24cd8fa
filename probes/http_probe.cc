#include "probes/http_probe.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <utility>

#include "core/text_escape.h"
#include "probes/bounded_http_client.h"
#include "probes/kept_connections.h"
#include "probes/pending_run.h"
#include "probes/probe_helpers.h"
#include "probes/tcp_connect.h"

namespace obsmon::probes {

namespace {

// As Go's client and blackbox_exporter: at most 10 redirects are followed.
constexpr int kMaxRedirects = 10;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

// The URL a Location header points at, from the URL that answered with it: absolute,
// scheme-relative ("//host/path"), absolute path or relative path (RFC 3986 §5.2, without dot
// segment removal: the target gets the path as written).
Result<HttpUrl> ResolveLocation(const HttpUrl& base, std::string location) {
  if (auto hash = location.find('#'); hash != std::string::npos) location.resize(hash);
  if (location.find("://") != std::string::npos) return ParseHttpUrl(location);
  if (location.rfind("//", 0) == 0) return ParseHttpUrl(base.scheme + ":" + location);
  for (char c : location) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return Status::InvalidArgument("control character or space in the location");
    }
  }
  HttpUrl next = base;
  if (location.empty()) return next;
  if (location.front() == '/') {
    next.path = location;
  } else if (location.front() == '?') {
    next.path = base.path.substr(0, base.path.find('?')) + location;
  } else {
    const std::string path = base.path.substr(0, base.path.find('?'));
    next.path = path.substr(0, path.rfind('/') + 1) + location;
  }
  return next;
}

// A read that fails this close to the deadline is the read timeout firing, not the peer.
constexpr std::chrono::milliseconds kTimeoutSlack(50);

constexpr const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"};

bool IsNumericHost(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool ParseCode(std::string_view text, int* out) {
  if (text.size() != 3) return false;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && ptr == text.data() + text.size() && *out >= 100 && *out <= 599;
}

void SetTimeouts(httplib::ClientImpl& client, std::chrono::milliseconds left) {
  time_t sec = static_cast<time_t>(left.count() / 1000);
  time_t usec = static_cast<time_t>((left.count() % 1000) * 1000);
  client.set_connection_timeout(sec, usec);
  client.set_read_timeout(sec, usec);
  client.set_write_timeout(sec, usec);
}

// Compiles one RE2 option, reporting a bad pattern at the key's position.
std::shared_ptr<const re2::RE2> CompilePattern(ConfigNode& settings, const std::string& key,
                                               bool* ok) {
  auto pattern = settings.String(key);
  if (!pattern) {
    if (settings.Has(key)) *ok = false;
    return nullptr;
  }
  RE2::Options opts;
  opts.set_log_errors(false);
  auto re = std::make_shared<const re2::RE2>(*pattern, opts);
  if (!re->ok()) {
    settings.ErrorAt(key, "invalid " + key + " pattern /" + *pattern + "/: " + re->error());
    *ok = false;
    return nullptr;
  }
  return re;
}

// The request: method, path, the configured headers, and the body with a default type.
httplib::Request BuildRequest(const HttpUrl& url, const std::string& method,
                              const std::map<std::string, std::string>& headers,
                              const std::optional<std::string>& request_body) {
  httplib::Request req;
  req.method = method;
  req.path = url.path;
  for (const auto& [name, value] : headers) req.set_header(name, value);
  if (request_body) {
    req.body = *request_body;
    if (!req.has_header("Content-Type")) req.set_header("Content-Type", "text/plain");
  }
  return req;
}

// Points the client at the host's address (resolved here: httplib reports a failed lookup like
// any other failed connection; Host and SNI keep the name) and gives it what is `left` of the
// deadline. The reason the exchange cannot start, or nullopt.
std::optional<std::string> PrepareClient(httplib::ClientImpl& client, const HttpUrl& url,
                                         std::chrono::milliseconds left, bool tls_skip_verify,
                                         const Deadline& deadline, const Clock& clock,
                                         const std::string& timeout_reason) {
  if (!IsNumericHost(url.target.host)) {
    Result<std::string> ip = ResolveHost(url.target.host);
    if (!ip.ok()) return ip.status().message();
    client.set_hostname_addr_map({{url.target.host, *ip}});
    left = deadline.Remaining(clock);
    if (left.count() <= 0) return timeout_reason;
  }
  SetTimeouts(client, left);
  client.set_keep_alive(false);
  if (url.scheme == "https") client.enable_server_certificate_verification(!tls_skip_verify);
  return std::nullopt;
}

// How the body callback stopped reading, if it did.
struct BodyStop {
  bool capped = false;        // at max_body_bytes: enough to judge the truncated body
  bool deadline_hit = false;  // the deadline passed between two chunks
};

// The body callback: keeps at most `max_body_bytes` in *body, counts every byte in *received.
// Checking the deadline per chunk is what stops a server that trickles bytes forever: httplib's
// read timeout applies per read, not to the whole body. The pointers outlive the send().
httplib::ContentReceiverWithProgress BodyReceiver(std::string* body, uint64_t* received,
                                                  size_t max_body_bytes, BodyStop* stop,
                                                  const Deadline& deadline, const Clock& clock) {
  return [=, &deadline, &clock](const char* data, size_t n, uint64_t, uint64_t) {
    if (deadline.Expired(clock)) {
      stop->deadline_hit = true;
      return false;
    }
    *received += n;
    size_t room = max_body_bytes - body->size();
    body->append(data, std::min(n, room));
    if (n > room) {
      stop->capped = true;  // enough to judge: stop reading, judge the truncated body
      return false;
    }
    return true;
  };
}

// How a send() that returned false ended, as HttpProbe::Exchange saw it.
struct FailedSend {
  httplib::Error error;
  bool capped;         // the body callback stopped at max_body_bytes
  bool deadline_hit;   // the body callback or the watchdog saw the deadline pass
  bool near_deadline;  // within kTimeoutSlack of the deadline when send() returned
  int status;          // the response's status, 0 before one arrived
};

// The reason a failed send() is a down result, or nullopt when the response is complete enough
// to judge (stopped at max_body_bytes).
std::optional<std::string> FailedSendReason(const FailedSend& f, const std::string& timeout_reason,
                                            const HttpUrl& url, const Deadline& deadline,
                                            const Clock& clock) {
  switch (f.error) {
    case httplib::Error::Canceled:
      if (f.capped) return std::nullopt;
      return f.deadline_hit ? timeout_reason : "request canceled";
    case httplib::Error::ConnectionTimeout:
      return timeout_reason;
    case httplib::Error::Connection: {
      // httplib does not say why; ask the socket once more, within what is left.
      ConnectOutcome why = TcpConnect(url.target, deadline, clock);
      if (why.ok()) {
        close(why.fd);
        return "connection failed";
      }
      if (why.kind == ConnectOutcome::Kind::kTimeout) return timeout_reason;
      return why.reason;
    }
    case httplib::Error::Read:
      if (f.near_deadline || f.deadline_hit) return timeout_reason;
      return f.status == 0 ? "connection closed before a response"
                           : "connection closed while reading the body";
    case httplib::Error::Write:
      if (f.near_deadline) return timeout_reason;
      return "error sending the request";
    case httplib::Error::SSLConnection:
      if (f.near_deadline) return timeout_reason;
      return "tls handshake failed";
    case httplib::Error::SSLServerVerification:
      return "tls certificate verification failed";
    case httplib::Error::SSLLoadingCerts:
      return "tls: cannot load CA certificates";
    case httplib::Error::Compression:
      return "cannot decompress the response body";
    default:
      if (f.near_deadline) return timeout_reason;
      return "request failed: " + httplib::to_string(f.error);
  }
}

}  // namespace

std::optional<StatusRange> ParseStatusRange(const std::string& text) {
  std::string t = text;
  t.erase(std::remove_if(t.begin(), t.end(), [](unsigned char c) { return std::isspace(c); }),
          t.end());
  if (t.size() == 3 && std::isdigit(static_cast<unsigned char>(t[0])) &&
      (t[1] == 'x' || t[1] == 'X') && (t[2] == 'x' || t[2] == 'X')) {
    int d = t[0] - '0';
    if (d < 1 || d > 5) return std::nullopt;
    return StatusRange{d * 100, d * 100 + 99};
  }
  size_t dash = t.find('-');
  StatusRange r;
  if (dash == std::string::npos) {
    if (!ParseCode(t, &r.lo)) return std::nullopt;
    r.hi = r.lo;
    return r;
  }
  std::string_view sv(t);
  if (!ParseCode(sv.substr(0, dash), &r.lo) || !ParseCode(sv.substr(dash + 1), &r.hi) ||
      r.lo > r.hi) {
    return std::nullopt;
  }
  return r;
}

HttpProbe::HttpProbe(ProbeSpec spec, HttpProbeOptions options, const Clock& clock,
                     std::shared_ptr<DeadlineWatchdog> watchdog)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      clock_(clock),
      // Its thread starts only when a request is first watched, so a probe built just to
      // validate a config starts no thread (PreparePlainHttp may check, once a process, that
      // the kernel stamps answers: receive_timestamps.h).
      watchdog_(watchdog ? std::move(watchdog) : std::make_shared<DeadlineWatchdog>(clock)) {
  if (!options_.follow_redirects) {
    plain_ = PreparePlainHttp(options_.url, options_.method, options_.headers, options_.body,
                              options_.keep_alive_ms > 0);
    if (plain_) server_ = options_.url.target.ToString();
  }
  sample_labels_ = ExtraSampleLabels(spec_, Instance());
}

class HttpProbe::PlainRun final : public PendingRun {
 public:
  explicit PlainRun(HttpProbe& probe)
      : probe_(probe),
        exchange_(*probe.plain_,
                  HttpParseLimits{probe.options_.max_header_bytes,
                                  probe.options_.max_body_bytes * 2 + 64 * 1024,
                                  probe.options_.max_body_bytes, false}),
        started_(probe.clock_.SteadyNow()) {
    int kept = probe_.TakeKept();
    if (kept >= 0 && started_ - probe_.kept_since_ >=
                         std::chrono::milliseconds(probe_.options_.keep_alive_ms)) {
      ::close(kept);  // used for keep_alive already: this run connects afresh
      kept = -1;
    }
    exchange_.Start(kept);
  }
  int fd() const override { return exchange_.fd(); }
  short events() const override { return exchange_.events(); }
  void OnReady(short revents) override { exchange_.OnReady(revents); }
  void OnDeadline() override { exchange_.TimedOut(); }
  bool done() const override { return exchange_.done(); }
  // Only while the run is on a connection kept for it. The server closes a fresh one after its
  // answer, and a FIN that comes before a late read makes the kernel stamp the whole unread
  // answer with the FIN's arrival (tcp_try_coalesce carries the later segment's timestamp):
  // fresh eyes, stop 55, stored 0.8 ms answers of a server closing 2 ms later as 3.5 ms, and,
  // with keep_alive, runs whose kept connection was found closed and made afresh.
  std::optional<std::chrono::nanoseconds> ExpectedAnswer() const override {
    if (!exchange_.reused()) return std::nullopt;
    return probe_.answer_after_;
  }
  ProbeResult TakeResult() override {
    ProbeResult result = Result();
    result.answer_waited = exchange_.answer_waited();
    probe_.answer_after_ = AnswerAfter();  // for a run on the connection kept (ExpectedAnswer)
    // Before the result goes out (and the probe's next run can start): the connection is the
    // next run's when the response allowed it, the run was up (a down run's next run starts
    // afresh, as the docs promise: fresh eyes found a 503 kept it) and the process's budget of
    // kept connections allows; its age counts from its connect.
    if (const int fd = exchange_.TakeReusable(); fd >= 0) {
      if (result.success && KeptConnections::Instance().TryKeep()) {
        if (!exchange_.reused()) probe_.kept_since_ = started_;
        probe_.kept_fd_ = fd;
      } else {
        ::close(fd);
      }
    }
    return result;
  }

 private:
  // A response up to 16 KiB fits the socket's receive buffer (64 KiB or more on Linux) whole,
  // so a reader that comes late never slows its sender: its timing is the kernel's either way.
  static constexpr uint64_t kAnswerReadLateBytes = 16 * 1024;

  // When this run's answer arrived after its start, for the next run's ExpectedAnswer().
  std::optional<std::chrono::nanoseconds> AnswerAfter() const {
    if (exchange_.timed_out() || !exchange_.failure().empty() || !exchange_.answer_stamped() ||
        exchange_.bytes_received() > kAnswerReadLateBytes) {
      return std::nullopt;
    }
    const auto arrived = probe_.clock_.SteadyNow() - exchange_.answer_waited();
    return std::max(std::chrono::nanoseconds(0),
                    std::chrono::duration_cast<std::chrono::nanoseconds>(arrived - started_));
  }

  ProbeResult Result() {
    if (exchange_.timed_out()) return ProbeResult::Down(TimeoutReason(probe_.spec_.timeout_ms));
    if (!exchange_.failure().empty()) return ProbeResult::Down(exchange_.failure());
    HttpResponseParser& r = exchange_.response();
    return probe_.Judge(r.status(), r.content_length_header(), r.body(), r.received());
  }

  HttpProbe& probe_;
  PlainHttpExchange exchange_;
  const SteadyTime started_;
};

int HttpProbe::TakeKept() {
  const int fd = std::exchange(kept_fd_, -1);
  if (fd >= 0) KeptConnections::Instance().Release();
  return fd;
}

std::unique_ptr<PendingRun> HttpProbe::Start() {
  if (!plain_) return nullptr;
  return std::make_unique<PlainRun>(*this);
}

HttpProbe::~HttpProbe() {
  if (const int fd = TakeKept(); fd >= 0) ::close(fd);
}

HttpProbe::HttpExchange HttpProbe::Exchange(const HttpUrl& url, const std::string& method,
                                            const std::optional<std::string>& request_body,
                                            const Deadline& deadline) {
  const auto Down = [](ProbeResult down) {
    HttpExchange failed;
    failed.down = std::move(down);
    return failed;
  };
  const std::string timeout_reason = TimeoutReason(spec_.timeout_ms);
  auto left = deadline.Remaining(clock_);
  if (left.count() <= 0) return Down(ProbeResult::Down(timeout_reason));

  ResponseBudget budget(ResponseLimits{options_.max_header_bytes,
                                       options_.max_body_bytes * 2 + 64 * 1024,
                                       std::chrono::steady_clock::now() + left,
                                       // The cut, not the client's stop(), ends a TLS handshake.
                                       deadline.cancellation});
  std::unique_ptr<httplib::ClientImpl> made =
      MakeBoundedClient(url.scheme, url.target.host, url.target.port, budget);
  httplib::ClientImpl& client = *made;
  if (auto reason = PrepareClient(client, url, left, options_.tls_skip_verify, deadline, clock_,
                                  timeout_reason)) {
    return Down(ProbeResult::Down(std::move(*reason)));
  }

  httplib::Request req = BuildRequest(url, method, options_.headers, request_body);

  // What the callbacks learn; they run on this thread inside send().
  HttpExchange x;
  BodyStop stop;
  req.response_handler = [&x](const httplib::Response& res) {
    x.status = res.status;
    x.content_length_header = res.get_header_value("Content-Length");
    x.location = res.get_header_value("Location");
    return true;
  };
  req.content_receiver =
      BodyReceiver(&x.body, &x.received, options_.max_body_bytes, &stop, deadline, clock_);

  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  auto watch = watchdog_->Arm(deadline, [&client] { client.stop(); });
  bool sent = client.send(req, res, error);
  if (watch->fired()) stop.deadline_hit = true;
  watch.reset();
  bool near_deadline = deadline.Remaining(clock_) <= kTimeoutSlack;
  if (std::string overflow = budget.Overflow(); !overflow.empty()) {
    return Down(ProbeResult::Down(std::move(overflow)));
  }

  if (!sent) {
    const FailedSend failed{error, stop.capped, stop.deadline_hit, near_deadline, x.status};
    if (auto reason = FailedSendReason(failed, timeout_reason, url, deadline, clock_)) {
      return Down(ProbeResult::Down(std::move(*reason)));
    }
  }
  if (sent) x.status = res.status;

  return x;
}

ProbeResult HttpProbe::Run(const Deadline& deadline) {
  if (plain_) {
    if (deadline.Expired(clock_)) return ProbeResult::Down(TimeoutReason(spec_.timeout_ms));
    PlainRun run(*this);
    return RunToEnd(run, deadline, clock_);
  }
  HttpUrl url = options_.url;
  std::string method = options_.method;
  std::optional<std::string> request_body = options_.body;
  HttpExchange x;
  for (int hop = 0;; ++hop) {
    x = Exchange(url, method, request_body, deadline);
    if (x.down) return std::move(*x.down);
    if (!options_.follow_redirects || !IsRedirect(x.status) || x.location.empty()) break;
    if (hop == kMaxRedirects) {
      return ProbeResult::Down("too many redirects (more than " + std::to_string(kMaxRedirects) +
                               ")");
    }
    Result<HttpUrl> next = ResolveLocation(url, x.location);
    if (!next.ok()) {
      return ProbeResult::Down("bad redirect to '" + EscapeControlAndInvalidUtf8(x.location) +
                               "': " + next.status().message());
    }
    url = std::move(next.value());
    // As browsers and Go's client do: 303 always, 301/302 after a POST, continue with a GET.
    if (x.status == 303 || ((x.status == 301 || x.status == 302) && method == "POST")) {
      method = "GET";
      request_body.reset();
    }
  }
  return Judge(x.status, x.content_length_header, x.body, x.received);
}

ProbeResult HttpProbe::Judge(int status, const std::string& content_length_header,
                             const std::string& body, uint64_t received) const {
  ProbeResult result;
  result.samples.reserve(2);
  result.samples.push_back(
      Sample{"probe_http_status_code", sample_labels_, 0, static_cast<double>(status)});
  double length = static_cast<double>(received);
  if (!content_length_header.empty()) {
    uint64_t v = 0;
    const char* b = content_length_header.data();
    const char* e = b + content_length_header.size();
    if (auto [p, ec] = std::from_chars(b, e, v); ec == std::errc() && p == e) {
      length = static_cast<double>(v);
    }
  }
  result.samples.push_back(Sample{"probe_http_content_length_bytes", sample_labels_, 0, length});

  bool status_ok =
      std::any_of(options_.expect_status.begin(), options_.expect_status.end(),
                  [&](const StatusRange& r) { return status >= r.lo && status <= r.hi; });
  if (!status_ok) {
    result.reason = "status " + std::to_string(status);
    return result;
  }
  if (options_.body_match && !RE2::PartialMatch(body, *options_.body_match)) {
    result.reason = "body did not match /" + options_.body_match->pattern() + "/";
    return result;
  }
  if (options_.body_not_match && RE2::PartialMatch(body, *options_.body_not_match)) {
    result.reason = "body matched forbidden /" + options_.body_not_match->pattern() + "/";
    return result;
  }
  result.success = true;
  return result;
}

namespace {

// The factory's parts. Each records its errors in `settings` (file:line:column); the factory
// fails when any was recorded. A key of the wrong type is reported by ConfigNode itself.
void ReadRequest(ConfigNode& settings, HttpProbeOptions& opts) {
  if (auto url = settings.String("url", /*required=*/true)) {
    Result<HttpUrl> parsed = ParseHttpUrl(*url);
    if (parsed.ok()) {
      opts.url = std::move(parsed.value());
    } else {
      settings.ErrorAt("url", parsed.status().message());
    }
  }
  if (auto method = settings.String("method")) {
    std::string upper = *method;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::find(std::begin(kMethods), std::end(kMethods), upper) == std::end(kMethods)) {
      settings.ErrorAt("method", "unsupported method '" + *method +
                                     "' (use GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)");
    }
    opts.method = upper;
  }
  if (auto headers = settings.StringMap("headers")) opts.headers = std::move(*headers);
  if (auto body = settings.String("body")) opts.body = std::move(*body);
  if (auto follow = settings.Bool("follow_redirects")) opts.follow_redirects = *follow;
  if (auto skip = settings.Bool("tls_skip_verify")) opts.tls_skip_verify = *skip;
}

// keep_alive: a duration (0 is off), only where obsmon's own client serves the probe and a
// request may be sent again: on a kept connection the server closed as the request went, the
// run sends it once more on a fresh one, which a POST or PATCH must not be (RFC 9110 §9.2.2).
void ReadKeepAlive(ConfigNode& settings, HttpProbeOptions& opts) {
  auto ms = settings.DurationMs("keep_alive");
  if (!ms || *ms == 0 || opts.url.scheme.empty()) return;  // (a bad url is reported already)
  constexpr int64_t kMaxMs = 24 * 3600 * 1000;
  std::string why;
  if (*ms < 0 || *ms > kMaxMs) {
    why = "keep_alive must be between 0 (off) and 24h";
  } else if (opts.url.scheme != "http" || !IsNumericHost(opts.url.target.host)) {
    why = "keep_alive needs a plain http:// URL to a numeric address (as 127.0.0.1 or [::1]): "
          "obsmon's own client keeps connections, the one for https and host names does not";
  } else if (opts.follow_redirects) {
    why = "keep_alive does not work with follow_redirects";
  } else if (opts.method == "POST" || opts.method == "PATCH") {
    why = "keep_alive needs an idempotent method (GET, HEAD, PUT, DELETE or OPTIONS): a request "
          "on a kept connection the server closed is sent again, which a " + opts.method +
          " must not be";
  }
  if (!why.empty()) {
    settings.ErrorAt("keep_alive", why);
    return;
  }
  opts.keep_alive_ms = *ms;
}

void ReadExpectations(ConfigNode& settings, HttpProbeOptions& opts) {
  if (auto codes = settings.StringList("expect_status")) {
    opts.expect_status.clear();
    for (const auto& text : *codes) {
      if (auto range = ParseStatusRange(text)) {
        opts.expect_status.push_back(*range);
      } else {
        settings.ErrorAt("expect_status",
                         "bad status '" + text + "' in expect_status (use 200, 200-299 or 2xx)");
      }
    }
    if (codes->empty()) settings.ErrorAt("expect_status", "expect_status must not be empty");
  }
  bool patterns_ok = true;  // CompilePattern reports its own errors
  opts.body_match = CompilePattern(settings, "body_match", &patterns_ok);
  opts.body_not_match = CompilePattern(settings, "body_not_match", &patterns_ok);
}

// `key` in [min, max] into `field`, else an error with the range.
void ReadSize(ConfigNode& settings, const std::string& key, int64_t min, int64_t max,
              size_t* field) {
  auto value = settings.Int(key);
  if (!value) return;
  if (*value < min || *value > max) {
    settings.ErrorAt(key, key + " must be between " + std::to_string(min) + " and " +
                              std::to_string(max));
    return;
  }
  *field = static_cast<size_t>(*value);
}

}  // namespace

std::unique_ptr<Probe> MakeHttpProbe(const ProbeSpec& spec, ConfigNode& settings,
                                     const Clock& clock,
                                     std::shared_ptr<DeadlineWatchdog> watchdog) {
  const size_t errors_before = settings.errors()->errors().size();
  HttpProbeOptions opts;
  ReadRequest(settings, opts);
  ReadExpectations(settings, opts);
  ReadKeepAlive(settings, opts);
  // At most 256 MiB: the body judged is held in memory (`max_body_bytes * 2` is the probe's
  // read budget, which 1e14 would overflow).
  ReadSize(settings, "max_body_bytes", 1, int64_t{256} << 20, &opts.max_body_bytes);
  ReadSize(settings, "max_header_bytes", 1024, 16 << 20, &opts.max_header_bytes);
  if (settings.errors()->errors().size() != errors_before) return nullptr;
  return std::make_unique<HttpProbe>(spec, std::move(opts), clock, std::move(watchdog));
}

}  // namespace obsmon::probes
