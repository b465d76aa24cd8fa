// A hand-written parser for the Prometheus text exposition format (0.0.4) and OpenMetrics 1.0.
//
// Input is one scrape body; output is every sample with its labels, the metric families'
// HELP/TYPE/UNIT, and a structured list of problems with 1-based line numbers. Malformed lines
// and duplicate series are reported and skipped, never thrown. Two limits refuse a body as a
// whole, with the reason Prometheus gives: a body larger than max_body_bytes ("body size limit
// exceeded") and more than max_samples samples ("sample limit exceeded").
//
// Histograms and summaries come out as the plain series Prometheus stores (_bucket{le},
// _sum, _count, {quantile}). OpenMetrics exemplars are skipped. Pure function, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/labels.h"

namespace obsmon::probes {

enum class Format { kPrometheusText, kOpenMetrics };

// The format a Content-Type header announces; the Prometheus text format for anything else, as
// Prometheus falls back to it.
Format FormatFromContentType(std::string_view content_type);

enum class MetricType {
  kUnknown,
  kCounter,
  kGauge,
  kHistogram,
  kGaugeHistogram,
  kSummary,
  kInfo,
  kStateSet,
  kUntyped
};
std::string_view MetricTypeName(MetricType type);

struct ParsedSample {
  std::string name;
  Labels labels;
  double value = 0;
  // Milliseconds since the epoch when the exposition carries a timestamp (0.0.4 writes ms,
  // OpenMetrics seconds; both are converted to ms).
  std::optional<int64_t> timestamp_ms;
  int line = 0;  // 1-based line it came from
};

struct MetricFamily {
  std::string name;
  MetricType type = MetricType::kUnknown;
  std::string help;
  std::string unit;  // OpenMetrics only
};

struct ParseError {
  int line = 0;  // 1-based; 0 for the body as a whole
  std::string message;
  std::string ToString() const;  // "line 12: message"
};

struct ParseOptions {
  Format format = Format::kPrometheusText;
  size_t max_body_bytes = 10u << 20;  // 10 MiB
  size_t max_samples = 50'000;
  // Labels on one series (Prometheus's label_limit); more refuse the body ("label limit
  // exceeded"). 0: no limit.
  size_t max_labels = 64;
  // Bytes in one line; a longer line refuses the body ("line length limit exceeded"). 0: none.
  size_t max_line_bytes = 64u << 10;
  // Errors kept in ParseOutput::errors; more are only counted.
  size_t max_errors = 100;
  // Asked every 256 lines or 256 KiB; true refuses the body ("deadline exceeded while parsing"),
  // so a probe's timeout holds inside parsing too. Empty: never.
  std::function<bool()> expired;
};

struct ParseOutput {
  std::vector<ParsedSample> samples;
  std::vector<MetricFamily> families;  // in order of first appearance
  std::vector<ParseError> errors;      // malformed lines, duplicates; at most max_errors
  size_t error_count = 0;              // all errors, including those not kept
  size_t duplicate_count = 0;          // duplicate series among error_count (dropped)
  // Set when the body was refused as a whole: "body size limit exceeded", "sample limit
  // exceeded", "label limit exceeded", "line length limit exceeded", "deadline exceeded while
  // parsing" or (OpenMetrics) "missing # EOF". samples then holds what was read before it.
  std::string fatal;
  bool ok() const { return fatal.empty() && error_count == 0; }
};

// Parses `body`. Never throws for bad input; the cost is linear in the body size.
ParseOutput Parse(std::string_view body, const ParseOptions& options = {});

// Helpers shared with the tests and the relabeler.
bool IsValidMetricName(std::string_view name);
bool IsValidLabelName(std::string_view name);
// Parses a Prometheus float ("1.5e3", "NaN", "+Inf", "-Inf", "Inf"); nullopt otherwise.
std::optional<double> ParseValue(std::string_view text);

}  // namespace obsmon::probes
