#include "probes/scrape_probe.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <unordered_set>

#include "core/up_series.h"
#include "probes/bounded_http_client.h"
#include "probes/exposition_parser.h"
#include "probes/probe_helpers.h"

namespace obsmon::probes {

namespace {

// What Prometheus 2.x sends: OpenMetrics preferred, the text format as fallback.
constexpr const char* kAcceptHeader =
    "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;"
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";

// The scrape target: an http(s) URL as probes/url.h parses it, except that a URL without a path
// scrapes /metrics (Prometheus's metrics_path default), keeping its query.
Result<HttpUrl> ParseScrapeUrl(const std::string& text) {
  auto url = ParseHttpUrl(text);
  if (!url.ok()) return url;
  const size_t authority = text.find("://") + 3;  // ParseHttpUrl required it
  const size_t path_start = text.find_first_of("/?#", authority);
  if (path_start == std::string::npos || text[path_start] != '/') {
    url->path = "/metrics" + url->path.substr(1);
  }
  return url;
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

// "timeout after 1.02s": the time since the run started.
std::string TimeoutAfter(const Clock& clock, SteadyTime start) {
  return "timeout after " +
         FormatSeconds(std::chrono::duration<double>(clock.SteadyNow() - start).count());
}

// Every timeout of the one request gets what is left of the run; no keep-alive, no redirects,
// and bodies inflated, so that the receiver (and the size limit) sees the inflated bytes.
void ConfigureClient(httplib::ClientImpl& client, std::chrono::milliseconds remaining) {
  auto secs = std::chrono::duration_cast<std::chrono::seconds>(remaining);
  auto usecs = std::chrono::duration_cast<std::chrono::microseconds>(remaining - secs);
  client.set_connection_timeout(secs.count(), usecs.count());
  client.set_read_timeout(secs.count(), usecs.count());
  client.set_write_timeout(secs.count(), usecs.count());
  client.set_keep_alive(false);
  client.set_follow_location(false);
  client.set_decompress(true);
}

// Prometheus's request headers; a configured header replaces the default of the same name.
httplib::Headers ScrapeHeaders(const std::map<std::string, std::string>& configured,
                               std::chrono::milliseconds remaining) {
  httplib::Headers headers = {{"Accept", kAcceptHeader},
                              {"Accept-Encoding", "gzip"},
                              {"User-Agent", "obsmon/0.1"},
                              {"X-Prometheus-Scrape-Timeout-Seconds",
                               std::to_string(std::chrono::duration<double>(remaining).count())}};
  for (const auto& [k, v] : configured) {
    headers.erase(k);
    headers.emplace(k, v);
  }
  return headers;
}

// One allocation of the announced size (within `limit`, 0: none) instead of doubling through a
// 10 MB body, which held twice its size at each step. Only for a 200 with a plain body.
void ReserveAnnounced(const httplib::Response& response, size_t limit, std::string* body) {
  if (response.status == 200 && response.has_header("Content-Length") &&
      response.get_header_value("Content-Encoding").empty()) {
    const uint64_t announced =
        std::strtoull(response.get_header_value("Content-Length").c_str(), nullptr, 10);
    body->reserve(
        static_cast<size_t>(std::min<uint64_t>(announced, limit > 0 ? limit : size_t{64} << 20)));
  }
}

// What the response callbacks of one scrape saw.
struct Received {
  int status = 0;          // 0 until a response head arrived
  bool too_big = false;    // the body went over body_size_limit
  bool timed_out = false;  // the deadline passed while the body was read
};

// Why a finished GET is a failed scrape, or "" when its body can be parsed. The budget's
// overflow first, then the size limit, the deadline, the status, and last httplib's error.
std::string FetchFailure(const probes::ResponseBudget& budget, const Received& got,
                         const httplib::Result& res, size_t limit, const Deadline& deadline,
                         const Clock& clock, int64_t timeout_ms) {
  if (std::string overflow = budget.Overflow(); !overflow.empty()) return overflow;
  if (got.too_big) {
    return "body size limit exceeded (more than " + std::to_string(limit) + " bytes)";
  }
  if (got.timed_out || (!res && deadline.Remaining(clock) <= std::chrono::milliseconds(50))) {
    // A read cut at the deadline fails a moment before the clock says it passed: the reason
    // names the timeout, as the http probe's does ("timeout after 0.999s" read as a bug).
    return TimeoutReason(timeout_ms);
  }
  if (got.status != 0 && got.status != 200) {
    return "server returned HTTP status " + std::to_string(got.status);
  }
  if (!res) return FetchError(res.error(), got.status);
  return "";
}

// What the parser is allowed: the body and line sizes, labels per series, and a hard cap on
// samples (the configured sample_limit is applied after relabeling, which may drop many).
ParseOptions ParseOptionsFor(const ScrapeOptions& options, bool relabels,
                                         const std::string& content_type, const Deadline& deadline,
                                         const Clock& clock) {
  ParseOptions popt;
  popt.format = FormatFromContentType(content_type);
  popt.max_body_bytes = options.body_size_limit > 0 ? options.body_size_limit : SIZE_MAX;
  const size_t limit = options.sample_limit > 0 ? options.sample_limit : 5'000'000;
  popt.max_samples = relabels ? limit * 10 : limit;
  popt.max_labels = options.label_limit;
  popt.max_line_bytes = options.line_length_limit;
  // A body that is slow to parse (millions of lines) must not outlive the probe's timeout.
  popt.expired = [&deadline, &clock] { return deadline.Expired(clock); };
  return popt;
}

// The failure of a parse with a fatal error or `malformed` (> 0) malformed lines: as
// Prometheus, one malformed line fails the whole scrape. Duplicates alone do not.
std::string ParseFailure(const ParseOutput& parsed, size_t malformed) {
  if (!parsed.fatal.empty()) return parsed.fatal;
  std::string failure;
  for (const auto& e : parsed.errors) {
    if (e.message.rfind("duplicate series", 0) == 0) continue;
    failure = "parse error: " + e.ToString();
    break;
  }
  if (malformed > 1) failure += " (" + std::to_string(malformed - 1) + " more)";
  return failure;
}

// The target labels onto an exposed series. As Prometheus, an exposed value of a target label
// moves to exported_<name> (repeating the prefix while that name is taken too), unless
// honor_labels keeps the exposed value.
void AttachTargetLabels(const Labels& target, bool honor_labels, Labels* labels) {
  for (const auto& [name, value] : target.pairs()) {
    const std::string& existing = labels->Get(name);
    if (!existing.empty()) {
      if (honor_labels) continue;
      std::string exported = "exported_" + name;
      while (labels->Has(exported)) exported = "exported_" + exported;
      labels->Set(exported, existing);
    }
    labels->Set(name, value);
  }
}

// Scraped samples that would be written into a series obsmon writes itself: the scrape's own up
// and scrape_* series (the target labels alone; Prometheus rejects such a sample as a duplicate
// of its report series), and up{job, instance, probe} of this job and instance, which is the `up`
// of an http or tcp health probe `probe` of the target (core/up_series.h): a target exposing
// `up{probe="h"} 0` would mark probe h down (fresh eyes, stop 34). Removes them; returns how many.
size_t DropImpostors(const Labels& target, std::vector<Sample>* samples) {
  static const std::set<std::string> kOwn = {"up", "scrape_duration_seconds",
                                             "scrape_samples_scraped",
                                             "scrape_samples_post_metric_relabeling"};
  const std::string& job = target.Get("job");
  const std::string& instance = target.Get("instance");
  return std::erase_if(*samples, [&](const Sample& s) {
    if (!kOwn.contains(s.name)) return false;
    if (s.labels == target) return true;
    return s.name == "up" && s.labels.size() == 3 && s.labels.Has("probe") &&
           s.labels.Get("job") == job && s.labels.Get("instance") == instance;
  });
}

// What TargetSamples made of a scrape's parsed samples.
struct Targeted {
  std::vector<Sample> kept;
  // Series made equal by honor_labels or the rules (two exposed series, one stored): the first
  // is kept, as Prometheus keeps the first sample of a series and timestamp.
  size_t duplicates = 0;
  std::string failure;  // fails the scrape, as in Prometheus; "" when none
};

// The parsed samples with the target labels, through the metric_relabel rules, checked as
// Prometheus checks them after relabeling: a series left without a name, or with more than
// `label_limit` labels counting __name__ and the target's, fails the scrape (fresh eyes, stop
// 67: the first was dropped silently, and the limit counted the exposed labels only). Stops
// early (the caller sees the deadline passed) when the deadline passes, asked every 256 samples.
Targeted TargetSamples(std::vector<ParsedSample>& parsed, const Labels& target, bool honor_labels,
                       const RelabelRules& rules, size_t label_limit, const Deadline& deadline,
                       const Clock& clock) {
  Targeted out;
  std::vector<Sample>& kept = out.kept;
  kept.reserve(parsed.size());
  // Only honor_labels and the rules can make two exposed series one (the parser drops a series
  // exposed twice, and exported_* keeps a clash apart).
  const bool may_merge = honor_labels || !rules.empty();
  std::unordered_set<std::string> seen;
  size_t relabeled = 0;
  for (auto& ps : parsed) {
    if ((++relabeled & 255) == 0 && deadline.Expired(clock)) break;
    Labels labels = std::move(ps.labels);
    // Room for the target's labels (and __name__, for the rules) at once: a sample's set grown
    // a Set at a time held room for twice its pairs, and a scrape's samples wait whole for the
    // writer (2 x 40,000 series at 5 s: 123 MB of label pairs at the peak, stop 67).
    labels.Reserve(labels.size() + target.size() + (rules.empty() ? 0 : 1));
    AttachTargetLabels(target, honor_labels, &labels);
    Sample s;
    if (rules.empty()) {
      s.name = std::move(ps.name);
    } else {
      labels.Set("__name__", ps.name);
      if (!rules.Apply(&labels)) continue;
      s.name = labels.Get("__name__");
      if (s.name.empty()) {
        out.failure = fmt::format("missing metric name (__name__ label) after metric_relabel "
                                  "(line {}: {})", ps.line, ps.name);
        return out;
      }
      labels.Remove("__name__");
    }
    if (label_limit > 0 && labels.size() + 1 > label_limit) {
      out.failure = fmt::format("label_limit exceeded (metric: {:.50}, number of labels: {}, "
                                "limit: {})", s.name + labels.ToString(), labels.size() + 1,
                                label_limit);
      return out;
    }
    if (may_merge && !seen.insert(s.name + labels.ToString()).second) {
      ++out.duplicates;
      continue;
    }
    s.labels = std::move(labels);
    s.value = ps.value;
    s.ts_ms = ps.timestamp_ms.value_or(0);
    kept.push_back(std::move(s));
  }
  return out;
}

}  // namespace

ScrapeProbe::ScrapeProbe(const ProbeSpec& spec, ScrapeOptions options, RelabelRules rules,
                         const Clock& clock)
    : spec_(spec), options_(std::move(options)), rules_(std::move(rules)), clock_(clock) {}

Result<std::unique_ptr<ScrapeProbe>> ScrapeProbe::Create(const ProbeSpec& spec,
                                                         ScrapeOptions options, RelabelRules rules,
                                                         const Clock& clock) {
  auto url = ParseScrapeUrl(options.url);
  if (!url.ok()) return url.status();
  std::unique_ptr<ScrapeProbe> probe(
      new ScrapeProbe(spec, std::move(options), std::move(rules), clock));
  probe->scheme_ = url->scheme;
  probe->host_ = url->target.host;  // without brackets, as httplib wants a host apart from its port
  probe->port_ = url->target.port;
  probe->path_ = url->path;
  probe->instance_ = url->target.ToString();
  return probe;
}

ProbeResult ScrapeProbe::Run(const Deadline& deadline) {
  const SteadyTime start = clock_.SteadyNow();
  Fetched fetched = Fetch(deadline, start);
  return Ingest(std::move(fetched.body), fetched.content_type, std::move(fetched.failure), deadline,
                start);
}

ScrapeProbe::Fetched ScrapeProbe::Fetch(const Deadline& deadline, SteadyTime start) {
  Fetched out;
  const auto remaining = deadline.Remaining(clock_);
  if (remaining.count() <= 0) {
    out.failure = "timeout before the scrape started";
    return out;
  }
  // A response head may be 64 KiB; after it, what body_size_limit allows (compressed bytes are
  // fewer than inflated ones) plus framing. probes/bounded_http_client.h says why.
  const size_t after_head =
      options_.body_size_limit > 0 ? options_.body_size_limit * 2 + 64 * 1024 : SIZE_MAX;
  probes::ResponseBudget budget(probes::ResponseLimits{
      64 * 1024, after_head, std::chrono::steady_clock::now() + remaining, deadline.cancellation});
  // Holds a reference to `budget`, which outlives it.
  std::unique_ptr<httplib::ClientImpl> client =
      probes::MakeBoundedClient(scheme_, host_, port_, budget);
  ConfigureClient(*client, remaining);
  const size_t limit = options_.body_size_limit;
  std::string& body = out.body;
  Received got;
  auto res = client->Get(
      path_, ScrapeHeaders(options_.headers, remaining),
      [&](const httplib::Response& response) {
        got.status = response.status;
        out.content_type = response.get_header_value("Content-Type");
        ReserveAnnounced(response, limit, &body);
        return got.status == 200;
      },
      [&](const char* data, size_t len) {
        if (deadline.Expired(clock_)) {
          got.timed_out = true;
          return false;
        }
        if (limit > 0 && body.size() + len > limit) {
          got.too_big = true;
          return false;
        }
        body.append(data, len);
        return true;
      });
  out.failure = FetchFailure(budget, got, res, limit, deadline, clock_, spec_.timeout_ms);
  if (!out.failure.empty()) {
    body.clear();
    body.shrink_to_fit();
  }
  return out;
}

ProbeResult ScrapeProbe::Ingest(std::string body, const std::string& content_type,
                                std::string failure, const Deadline& deadline, SteadyTime start) {
  const Labels target = ScrapeTargetLabels(spec_, instance_);

  // Parse and relabel. The deadline covers the whole run, not only the socket: a body that
  // arrived a moment before it, and a parse or relabeling that outlives it, fail the scrape as
  // Prometheus fails one that is not done within scrape_timeout.
  std::vector<Sample> kept;
  size_t scraped = 0;
  std::string detail;
  auto overran = [&] {
    return TimeoutAfter(clock_, start) + " (the body arrived; parsing it ran past the deadline)";
  };
  if (failure.empty() && deadline.Expired(clock_)) failure = overran();
  if (failure.empty()) {
    auto parsed = Parse(
        body, ParseOptionsFor(options_, !rules_.empty(), content_type, deadline, clock_));
    body.clear();
    body.shrink_to_fit();
    scraped = parsed.samples.size();
    const size_t malformed = parsed.error_count - parsed.duplicate_count;
    if (!parsed.fatal.empty() || malformed > 0) {
      failure = ParseFailure(parsed, malformed);
    } else {
      if (parsed.duplicate_count > 0) {
        detail = std::to_string(parsed.duplicate_count) + " duplicate series dropped";
        if (!parsed.errors.empty()) detail += "; first: " + parsed.errors.front().ToString();
      }
      Targeted targeted = TargetSamples(parsed.samples, target, options_.honor_labels, rules_,
                                        options_.label_limit, deadline, clock_);
      kept = std::move(targeted.kept);
      if (targeted.duplicates > 0) {
        if (!detail.empty()) detail += "; ";
        detail += std::to_string(targeted.duplicates) +
                  " series made equal to an earlier one by honor_labels or metric_relabel "
                  "dropped (the first kept)";
      }
      if (deadline.Expired(clock_)) {
        failure = overran();
      } else if (!targeted.failure.empty()) {
        failure = std::move(targeted.failure);
        kept.clear();
      } else if (options_.sample_limit > 0 && kept.size() > options_.sample_limit) {
        failure = "sample limit exceeded (" + std::to_string(kept.size()) + " > " +
                  std::to_string(options_.sample_limit) + ")";
      }
    }
  }

  const size_t post_relabel = failure.empty() ? kept.size() : 0;
  if (failure.empty()) {
    const size_t n = DropImpostors(target, &kept);
    if (n > 0) {
      if (!detail.empty()) detail += "; ";
      detail += std::to_string(n) + " scraped sample(s) dropped: named as obsmon's own up or "
                "scrape_* series of this target, or as a health probe's up{job,instance,probe}";
    }
  }
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
  auto probe = ScrapeProbe::Create(spec, std::move(options), std::move(*rules), clock);
  if (!probe.ok()) {
    settings.ErrorAt("url", probe.status().message());
    return nullptr;
  }
  return std::move(probe).value();
}

}  // namespace obsmon::probes
