#include "probes/http_probe.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <re2/re2.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "probes/probe_helpers.h"
#include "probes/tcp_connect.h"

namespace obsmon::probes {

namespace {

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

void SetTimeouts(httplib::Client& client, std::chrono::milliseconds left) {
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

HttpProbe::HttpProbe(ProbeSpec spec, HttpProbeOptions options, const Clock& clock)
    : spec_(std::move(spec)),
      options_(std::move(options)),
      clock_(clock),
      watchdog_(DeadlineWatchdog::ForClock(clock)) {}

HttpProbe::~HttpProbe() = default;

ProbeResult HttpProbe::Run(const Deadline& deadline) {
  const std::string timeout_reason = TimeoutReason(spec_.timeout_ms);
  auto left = deadline.Remaining(clock_);
  if (left.count() <= 0) return ProbeResult::Down(timeout_reason);

  const HttpUrl& url = options_.url;
  httplib::Client client(url.Origin());
  // Resolve here rather than inside httplib, which reports a failed lookup like any other
  // failed connection; the numeric address is then handed to httplib (Host and SNI keep the name).
  if (!IsNumericHost(url.target.host)) {
    std::string reason;
    std::string ip = ResolveHost(url.target.host, &reason);
    if (ip.empty()) return ProbeResult::Down(reason);
    client.set_hostname_addr_map({{url.target.host, ip}});
    left = deadline.Remaining(clock_);
    if (left.count() <= 0) return ProbeResult::Down(timeout_reason);
  }
  SetTimeouts(client, left);
  client.set_keep_alive(false);
  client.set_follow_location(options_.follow_redirects);
  if (url.scheme == "https") {
    client.enable_server_certificate_verification(!options_.tls_skip_verify);
  }

  httplib::Request req;
  req.method = options_.method;
  req.path = url.path;
  for (const auto& [name, value] : options_.headers) req.set_header(name, value);
  if (options_.body) {
    req.body = *options_.body;
    if (!req.has_header("Content-Type")) req.set_header("Content-Type", "text/plain");
  }

  // What the callbacks learn; they run on this thread inside send().
  int status = 0;
  std::string content_length_header;
  std::string body;
  uint64_t received = 0;
  bool capped = false;
  bool deadline_hit = false;
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    content_length_header = res.get_header_value("Content-Length");
    return true;
  };
  // Checking the deadline per chunk is what stops a server that trickles bytes forever: httplib's
  // read timeout applies per read, not to the whole body.
  req.content_receiver = [&](const char* data, size_t n, uint64_t, uint64_t) {
    if (deadline.Expired(clock_)) {
      deadline_hit = true;
      return false;
    }
    received += n;
    size_t room = options_.max_body_bytes - body.size();
    body.append(data, std::min(n, room));
    if (n > room) {
      capped = true;  // enough to judge: stop reading, judge the truncated body
      return false;
    }
    return true;
  };

  httplib::Response res;
  httplib::Error error = httplib::Error::Success;
  auto watch = watchdog_->Arm(deadline, [&client] { client.stop(); });
  bool sent = client.send(req, res, error);
  if (watch->fired()) deadline_hit = true;
  watch.reset();
  bool near_deadline = deadline.Remaining(clock_) <= kTimeoutSlack;

  if (!sent) {
    switch (error) {
      case httplib::Error::Canceled:
        if (capped) break;  // the response is complete enough to judge
        return ProbeResult::Down(deadline_hit ? timeout_reason : "request canceled");
      case httplib::Error::ConnectionTimeout:
        return ProbeResult::Down(timeout_reason);
      case httplib::Error::Connection: {
        // httplib does not say why; ask the socket once more, within what is left.
        ConnectOutcome why = TcpConnect(url.target, deadline, clock_);
        if (why.ok()) {
          close(why.fd);
          return ProbeResult::Down("connection failed");
        }
        if (why.kind == ConnectOutcome::Kind::kTimeout) return ProbeResult::Down(timeout_reason);
        return ProbeResult::Down(why.reason);
      }
      case httplib::Error::Read:
        if (near_deadline || deadline_hit) return ProbeResult::Down(timeout_reason);
        return ProbeResult::Down(status == 0 ? "connection closed before a response"
                                             : "connection closed while reading the body");
      case httplib::Error::Write:
        if (near_deadline) return ProbeResult::Down(timeout_reason);
        return ProbeResult::Down("error sending the request");
      case httplib::Error::SSLConnection:
        if (near_deadline) return ProbeResult::Down(timeout_reason);
        return ProbeResult::Down("tls handshake failed");
      case httplib::Error::SSLServerVerification:
        return ProbeResult::Down("tls certificate verification failed");
      case httplib::Error::SSLLoadingCerts:
        return ProbeResult::Down("tls: cannot load CA certificates");
      case httplib::Error::ExceedRedirectCount:
        return ProbeResult::Down("too many redirects");
      case httplib::Error::Compression:
        return ProbeResult::Down("cannot decompress the response body");
      default:
        if (near_deadline) return ProbeResult::Down(timeout_reason);
        return ProbeResult::Down("request failed: " + httplib::to_string(error));
    }
  }
  if (sent) status = res.status;

  ProbeResult result;
  Labels labels = ExtraSampleLabels(spec_, Instance());
  result.samples.push_back(
      Sample{"probe_http_status_code", labels, 0, static_cast<double>(status)});
  double length = static_cast<double>(received);
  if (!content_length_header.empty()) {
    uint64_t v = 0;
    const char* b = content_length_header.data();
    const char* e = b + content_length_header.size();
    if (auto [p, ec] = std::from_chars(b, e, v); ec == std::errc() && p == e) {
      length = static_cast<double>(v);
    }
  }
  result.samples.push_back(Sample{"probe_http_content_length_bytes", labels, 0, length});

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

std::unique_ptr<Probe> MakeHttpProbe(const ProbeSpec& spec, ConfigNode& settings,
                                     const Clock& clock) {
  bool ok = true;
  HttpProbeOptions opts;

  if (auto url = settings.String("url", /*required=*/true)) {
    Result<HttpUrl> parsed = ParseHttpUrl(*url);
    if (parsed.ok()) {
      opts.url = std::move(parsed.value());
    } else {
      settings.ErrorAt("url", parsed.status().message());
      ok = false;
    }
  } else {
    ok = false;
  }

  if (auto method = settings.String("method")) {
    std::string upper = *method;
    for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (std::find(std::begin(kMethods), std::end(kMethods), upper) == std::end(kMethods)) {
      settings.ErrorAt("method", "unsupported method '" + *method +
                                     "' (use GET, HEAD, POST, PUT, DELETE, PATCH or OPTIONS)");
      ok = false;
    }
    opts.method = upper;
  } else if (settings.Has("method")) {
    ok = false;
  }

  if (auto headers = settings.StringMap("headers")) {
    opts.headers = std::move(*headers);
  } else if (settings.Has("headers")) {
    ok = false;
  }

  if (auto body = settings.String("body")) {
    opts.body = std::move(*body);
  } else if (settings.Has("body")) {
    ok = false;
  }

  if (auto codes = settings.StringList("expect_status")) {
    opts.expect_status.clear();
    for (const auto& text : *codes) {
      auto range = ParseStatusRange(text);
      if (!range) {
        settings.ErrorAt("expect_status",
                         "bad status '" + text + "' in expect_status (use 200, 200-299 or 2xx)");
        ok = false;
        continue;
      }
      opts.expect_status.push_back(*range);
    }
    if (codes->empty()) {
      settings.ErrorAt("expect_status", "expect_status must not be empty");
      ok = false;
    }
  } else if (settings.Has("expect_status")) {
    ok = false;
  }

  opts.body_match = CompilePattern(settings, "body_match", &ok);
  opts.body_not_match = CompilePattern(settings, "body_not_match", &ok);

  if (auto max = settings.Int("max_body_bytes")) {
    if (*max < 1) {
      settings.ErrorAt("max_body_bytes", "max_body_bytes must be at least 1");
      ok = false;
    } else {
      opts.max_body_bytes = static_cast<size_t>(*max);
    }
  } else if (settings.Has("max_body_bytes")) {
    ok = false;
  }

  if (auto follow = settings.Bool("follow_redirects")) {
    opts.follow_redirects = *follow;
  } else if (settings.Has("follow_redirects")) {
    ok = false;
  }
  if (auto skip = settings.Bool("tls_skip_verify")) {
    opts.tls_skip_verify = *skip;
  } else if (settings.Has("tls_skip_verify")) {
    ok = false;
  }

  if (!ok) return nullptr;
  return std::make_unique<HttpProbe>(spec, std::move(opts), clock);
}

}  // namespace obsmon::probes
