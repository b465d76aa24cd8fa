#include "probes/scrape_probe.h"

#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "probes/bounded_http_client.h"
#include "probes/exposition_parser.h"

namespace obsmon::probes {

namespace {

// What Prometheus 2.x sends: OpenMetrics preferred, the text format as fallback.
constexpr const char* kAcceptHeader =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

struct ParsedUrl {
  std::string scheme, host, port, path;
};

std::optional<ParsedUrl> ParseUrl(const std::string& url, std::string* error) {
  ParsedUrl u;
  size_t sep = url.find("://");
  if (sep == std::string::npos) {
    *error = "url must start with http:// or https://";
    return std::nullopt;
  }
  u.scheme = url.substr(0, sep);
  if (u.scheme != "http" && u.scheme != "https") {
    *error = "unsupported url scheme '" + u.scheme + "'";
    return std::nullopt;
  }
  std::string rest = url.substr(sep + 3);
  size_t slash = rest.find_first_of("/?");
  std::string authority = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/metrics" : rest.substr(slash);
  if (!u.path.empty() && u.path[0] == '?') u.path = "/metrics" + u.path;
  if (authority.empty()) {
    *error = "url has no host";
    return std::nullopt;
  }
  if (authority[0] == '[') {  // [v6]:port
    size_t close = authority.find(']');
    if (close == std::string::npos) {
      *error = "bad IPv6 address in url";
      return std::nullopt;
    }
    u.host = authority.substr(0, close + 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':') {
      u.port = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    u.host = authority.substr(0, colon);
    if (colon != std::string::npos) u.port = authority.substr(colon + 1);
  }
  if (u.port.empty()) u.port = u.scheme == "https" ? "443" : "80";
  if (u.port.find_first_not_of("0123456789") != std::string::npos || u.port.size() > 5) {
    *error = "bad port '" + u.port + "' in url";
    return std::nullopt;
  }
  return u;
}

// A failed fetch in words (httplib's own names, "Read", "SSLServerVerification", are not).
std::string FetchError(httplib::Error error, int status) {
  switch (error) {
    case httplib::Error::Connection:
      return "connection refused or unreachable";
    case httplib::Error::Read:
      return status == 0 ? "connection closed before a response"
                         : "connection closed while reading the body";
    case httplib::Error::Write:
      return "error sending the request";
    case httplib::Error::SSLConnection:
      return "tls handshake failed";
    case httplib::Error::SSLServerVerification:
      return "tls certificate verification failed";
    case httplib::Error::SSLLoadingCerts:
      return "tls: cannot load CA certificates";
    case httplib::Error::Compression:
      return "cannot decompress the response body";
    case httplib::Error::ConnectionTimeout:
      return "connection timed out";
    default:
      return "request failed: " + httplib::to_string(error);
  }
}

std::string FormatSeconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", s);
  return buf;
}

}  // namespace

ScrapeProbe::ScrapeProbe(const ProbeSpec& spec, ScrapeOptions options, RelabelRules rules,
                         const Clock& clock)
    : spec_(spec), options_(std::move(options)), rules_(std::move(rules)), clock_(clock) {}

std::unique_ptr<ScrapeProbe> ScrapeProbe::Create(const ProbeSpec& spec, ScrapeOptions options,
                                                 RelabelRules rules, const Clock& clock,
                                                 std::string* error) {
  auto url = ParseUrl(options.url, error);
  if (!url) return nullptr;
  std::unique_ptr<ScrapeProbe> probe(
      new ScrapeProbe(spec, std::move(options), std::move(rules), clock));
  probe->scheme_ = url->scheme;
  // httplib wants an IPv6 literal without its brackets when given host and port apart.
  probe->host_ = url->host.size() > 2 && url->host.front() == '['
                     ? url->host.substr(1, url->host.size() - 2)
                     : url->host;
  probe->port_ = std::stoi(url->port);
  probe->path_ = url->path;
  probe->instance_ = url->host + ":" + url->port;
  return probe;
}

ProbeResult ScrapeProbe::Run(const Deadline& deadline) {
  const SteadyTime start = clock_.SteadyNow();
  std::string body, content_type;
  std::string failure = Fetch(deadline, start, &body, &content_type);
  return Ingest(std::move(body), content_type, std::move(failure), deadline, start);
}

std::string ScrapeProbe::Fetch(const Deadline& deadline, SteadyTime start, std::string* body_out,
                               std::string* content_type_out) {
  std::string& body = *body_out;
  std::string& content_type = *content_type_out;
  std::string failure;
  int status = 0;
  bool too_big = false, timed_out = false;
  {
    auto remaining = deadline.Remaining(clock_);
    if (remaining.count() <= 0) {
      failure = "timeout before the scrape started";
    } else {
      // A response head may be 64 KiB; after it, what body_size_limit allows (compressed bytes
      // are fewer than inflated ones) plus framing. probes/bounded_http_client.h says why.
      const size_t after_head = options_.body_size_limit > 0
                                    ? options_.body_size_limit * 2 + 64 * 1024
                                    : SIZE_MAX;
      probes::ResponseBudget budget(probes::ResponseLimits{
          64 * 1024, after_head, std::chrono::steady_clock::now() + remaining});
      std::unique_ptr<httplib::ClientImpl> made =
          probes::MakeBoundedClient(scheme_, host_, port_, budget);
      httplib::ClientImpl& client = *made;
      auto secs = std::chrono::duration_cast<std::chrono::seconds>(remaining);
      auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(remaining - secs);
      client.set_connection_timeout(secs.count(), usecs.count());
      client.set_read_timeout(secs.count(), usecs.count());
      client.set_write_timeout(secs.count(), usecs.count());
      client.set_keep_alive(false);
      client.set_follow_location(false);
      client.set_decompress(true);  // the receiver sees inflated bytes, so the limit holds
      httplib::Headers headers = {
          {"Accept", kAcceptHeader},
          {"Accept-Encoding", "gzip"},
          {"User-Agent", "obsmon/0.1"},
          {"X-Prometheus-Scrape-Timeout-Seconds",
           std::to_string(std::chrono::duration<double>(remaining).count())}};
      for (const auto& [k, v] : options_.headers) {
        headers.erase(k);
        headers.emplace(k, v);
      }
      const size_t limit = options_.body_size_limit;
      auto res = client.Get(
          path_, headers,
          [&](const httplib::Response& response) {
            status = response.status;
            content_type = response.get_header_value("Content-Type");
            // One allocation of the announced size (within the limit) instead of doubling
            // through a 10 MB body, which held twice its size at each step.
            if (status == 200 && response.has_header("Content-Length") &&
                response.get_header_value("Content-Encoding").empty()) {
              const uint64_t announced =
                  std::strtoull(response.get_header_value("Content-Length").c_str(), nullptr, 10);
              body.reserve(static_cast<size_t>(std::min<uint64_t>(
                  announced, limit > 0 ? limit : size_t{64} << 20)));
            }
            return status == 200;
          },
          [&](const char* data, size_t len) {
            if (deadline.Expired(clock_)) {
              timed_out = true;
              return false;
            }
            if (limit > 0 && body.size() + len > limit) {
              too_big = true;
              return false;
            }
            body.append(data, len);
            return true;
          });
      if (std::string overflow = budget.Overflow(); !overflow.empty()) {
        failure = std::move(overflow);
      } else if (too_big) {
        failure = "body size limit exceeded (more than " + std::to_string(limit) + " bytes)";
      } else if (timed_out ||
                 (!res && deadline.Remaining(clock_) <= std::chrono::milliseconds(50))) {
        // A read cut at the deadline fails a moment before the clock says it passed.
        failure = "timeout after " +
                  FormatSeconds(std::chrono::duration<double>(clock_.SteadyNow() - start).count());
      } else if (status != 0 && status != 200) {
        failure = "server returned HTTP status " + std::to_string(status);
      } else if (!res) {
        failure = FetchError(res.error(), status);
      }
      if (!failure.empty()) {
        body.clear();
        body.shrink_to_fit();
      }
    }
  }
  return failure;
}

ProbeResult ScrapeProbe::Ingest(std::string body, const std::string& content_type,
                                std::string failure, const Deadline& deadline, SteadyTime start) {
  Labels target = spec_.labels;
  target.Set("instance", instance_);

  // Parse and relabel. The deadline covers the whole run, not only the socket: a body that
  // arrived a moment before it, and a parse or relabeling that outlives it, fail the scrape as
  // Prometheus fails one that is not done within scrape_timeout.
  std::vector<Sample> kept;
  size_t scraped = 0;
  std::string detail;
  auto overran = [&] {
    return "timeout after " +
           FormatSeconds(std::chrono::duration<double>(clock_.SteadyNow() - start).count()) +
           " (the body arrived; parsing it ran past the deadline)";
  };
  if (failure.empty() && deadline.Expired(clock_)) failure = overran();
  if (failure.empty()) {
    ParseOptions popt;
    popt.format = FormatFromContentType(content_type);
    popt.max_body_bytes = options_.body_size_limit > 0 ? options_.body_size_limit : SIZE_MAX;
    // Hard cap on what the parser holds; the configured limit is applied after relabeling.
    const size_t limit = options_.sample_limit > 0 ? options_.sample_limit : 5'000'000;
    popt.max_samples = rules_.empty() ? limit : limit * 10;
    popt.max_labels = options_.label_limit;
    popt.max_line_bytes = options_.line_length_limit;
    // A body that is slow to parse (millions of lines) must not outlive the probe's timeout.
    popt.expired = [&] { return deadline.Expired(clock_); };
    auto parsed = Parse(body, popt);
    body.clear();
    body.shrink_to_fit();
    scraped = parsed.samples.size();
    const size_t malformed = parsed.error_count - parsed.duplicate_count;
    if (!parsed.fatal.empty()) {
      failure = parsed.fatal;
    } else if (malformed > 0) {
      // As Prometheus: one malformed line fails the whole scrape.
      for (const auto& e : parsed.errors) {
        if (e.message.rfind("duplicate series", 0) == 0) continue;
        failure = "parse error: " + e.ToString();
        break;
      }
      if (malformed > 1) failure += " (" + std::to_string(malformed - 1) + " more)";
    } else {
      if (parsed.duplicate_count > 0) {
        detail = std::to_string(parsed.duplicate_count) + " duplicate series dropped";
        if (!parsed.errors.empty()) detail += "; first: " + parsed.errors.front().ToString();
      }
      kept.reserve(parsed.samples.size());
      size_t relabeled = 0;
      for (auto& ps : parsed.samples) {
        if ((++relabeled & 255) == 0 && deadline.Expired(clock_)) break;
        Labels labels = std::move(ps.labels);
        for (const auto& [name, value] : target.pairs()) {
          const std::string& existing = labels.Get(name);
          if (!existing.empty()) {
            if (options_.honor_labels) continue;
            // As Prometheus: the exposed value moves to exported_<name> (repeating the prefix
            // while that name is taken too).
            std::string exported = "exported_" + name;
            while (labels.Has(exported)) exported = "exported_" + exported;
            labels.Set(exported, existing);
          }
          labels.Set(name, value);
        }
        labels.Set("__name__", ps.name);
        if (!rules_.empty() && !rules_.Apply(&labels)) continue;
        Sample s;
        s.name = labels.Get("__name__");
        labels.Remove("__name__");
        s.labels = std::move(labels);
        s.value = ps.value;
        s.ts_ms = ps.timestamp_ms.value_or(0);
        kept.push_back(std::move(s));
      }
      if (deadline.Expired(clock_)) {
        failure = overran();
      } else if (options_.sample_limit > 0 && kept.size() > options_.sample_limit) {
        failure = "sample limit exceeded (" + std::to_string(kept.size()) + " > " +
                  std::to_string(options_.sample_limit) + ")";
      }
    }
  }

  const size_t post_relabel = failure.empty() ? kept.size() : 0;
  const double duration = std::chrono::duration<double>(clock_.SteadyNow() - start).count();
  ProbeResult result = failure.empty() ? ProbeResult::Up() : ProbeResult::Down(failure);
  result.detail = detail;
  if (failure.empty()) result.samples = std::move(kept);
  auto add = [&](const char* name, double value) {
    result.samples.push_back(Sample{name, target, 0, value});
  };
  add("up", failure.empty() ? 1 : 0);
  add("scrape_duration_seconds", duration);
  add("scrape_samples_scraped", failure.empty() ? static_cast<double>(scraped) : 0);
  add("scrape_samples_post_metric_relabeling", static_cast<double>(post_relabel));
  return result;
}

std::unique_ptr<Probe> MakeScrapeProbe(const ProbeSpec& spec, ConfigNode& settings,
                                       const Clock& clock) {
  ScrapeOptions options;
  auto url = settings.String("url", /*required=*/true);
  if (auto v = settings.StringMap("headers")) options.headers = *v;
  if (auto v = settings.Bool("honor_labels")) options.honor_labels = *v;
  if (auto v = settings.Int("sample_limit")) {
    if (*v < 0) {
      settings.ErrorAt("sample_limit", "sample_limit must be >= 0");
    } else {
      options.sample_limit = static_cast<size_t>(*v);
    }
  }
  if (auto v = settings.Int("body_size_limit")) {
    if (*v < 0) {
      settings.ErrorAt("body_size_limit", "body_size_limit must be >= 0 (bytes)");
    } else {
      options.body_size_limit = static_cast<size_t>(*v);
    }
  }
  for (auto [key, field] : {std::pair{"label_limit", &options.label_limit},
                            std::pair{"line_length_limit", &options.line_length_limit}}) {
    if (auto v = settings.Int(key)) {
      if (*v < 0) {
        settings.ErrorAt(key, std::string(key) + " must be >= 0");
      } else {
        *field = static_cast<size_t>(*v);
      }
    }
  }
  auto rules = RelabelRules::FromConfig(settings, "metric_relabel");
  if (!url || !rules) return nullptr;
  options.url = *url;
  std::string error;
  auto probe = ScrapeProbe::Create(spec, std::move(options), std::move(*rules), clock, &error);
  if (!probe) {
    settings.ErrorAt("url", error);
    return nullptr;
  }
  return probe;
}

}  // namespace obsmon::probes
