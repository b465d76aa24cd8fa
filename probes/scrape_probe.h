// kind: scrape — fetches a component's own /metrics (Prometheus text 0.0.4 or OpenMetrics) and
// ingests its series as Prometheus would, with the target labels (the spec's labels, among them
// `job`, plus `instance` = host:port) and the synthetic series up, scrape_duration_seconds,
// scrape_samples_scraped and scrape_samples_post_metric_relabeling.
//
// Config keys: url (required, http:// or https://, with the path), headers, honor_labels
// (default false), metric_relabel, sample_limit (default 50000, applied after relabeling as in
// Prometheus), body_size_limit (bytes, default 10 MiB), label_limit (labels per series, default
// 64), line_length_limit (bytes per exposition line, default 65536). The timeout covers the whole
// run: a scrape whose parse or relabeling is not done by then fails ("timeout after ...") even
// when its body arrived in time.
//
// Trouble ends the scrape with a reason and up=0: a body over the limit stops reading at the
// limit; a target that never finishes is cut at the deadline; garbage is a parse error. Memory
// stays bounded by body_size_limit. Run() is not reentrant (the scheduler never calls it twice
// at once for one probe); the probe keeps no state between runs.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include "core/config_node.h"
#include "core/status.h"
#include "probes/metric_relabel.h"
#include "probes/probe.h"
#include "probes/url.h"

namespace obsmon::probes {

struct ScrapeOptions {
  std::string url;  // scheme://host[:port]/path[?query]
  std::map<std::string, std::string> headers;
  bool honor_labels = false;
  size_t sample_limit = 50'000;        // 0: no limit beyond the parser's hard cap
  size_t body_size_limit = 10u << 20;  // bytes
  size_t label_limit = 64;             // labels per series; 0: none
  size_t line_length_limit = 64u << 10;  // bytes per line; 0: none
};

class ScrapeProbe final : public Probe {
 public:
  // `clock` outlives the probe. InvalidArgument, saying why, for a URL it cannot use.
  static Result<std::unique_ptr<ScrapeProbe>> Create(const ProbeSpec& spec, ScrapeOptions options,
                                                     RelabelRules rules, const Clock& clock);

  ProbeResult Run(const Deadline& deadline) override;
  std::string Instance() const override { return instance_; }

  // Run's second half: parses and relabels a fetched body (or reports the fetch's `failure`)
  // into the result with the synthetic series. Public so that a deadline passing between the
  // fetch and the parse can be tested without a slow network.
  ProbeResult Ingest(std::string body, const std::string& content_type, std::string failure,
                     const Deadline& deadline, SteadyTime start);

 private:
  // What Run's first half got: the body, or why there is none. A failed scrape is a result of
  // the probe (up 0 with its reason), not an error of obsmon's, hence a reason and not a Status.
  struct Fetched {
    std::string body;
    std::string content_type;
    std::string failure;  // "" when the body is good to parse
  };
  // Run's first half: GET with the limits.
  Fetched Fetch(const Deadline& deadline, SteadyTime start);

  ScrapeProbe(const ProbeSpec& spec, ScrapeOptions options, RelabelRules rules,
              const Clock& clock);

  ProbeSpec spec_;
  ScrapeOptions options_;
  RelabelRules rules_;
  const Clock& clock_;
  std::string scheme_;  // "http" or "https"
  std::string host_;    // without brackets
  int port_ = 0;
  std::string path_;              // "/metrics?x=y"
  std::string instance_;          // "host:port"
};

// The registry's factory for kind "scrape".
std::unique_ptr<Probe> MakeScrapeProbe(const ProbeSpec& spec, ConfigNode& settings,
                                       const Clock& clock);

}  // namespace obsmon::probes
