// The report of a component read from a Prometheus-compatible store (`obsmon report --source`,
// a component's `source:`): source/'s Reader under report/'s BuildReport, rendered like any
// report. What the store cannot hold is said in the report, not shown as zero: log lines
// (LogLineSummary::unavailable), failure reasons (source::kStoreFailureReason).
// docs/report-from-store.md. Thread-safe (each call opens its own reader).
#pragma once

#include <string>

#include "config/config.h"
#include "core/status.h"
#include "report/report.h"
#include "source/store_reader.h"
#include "web/http_server.h"

namespace obsmon {

struct StoreReportRequest {
  source::SourceOptions source;
  std::string component;
  Objective objective;
  ReportOptions options;
  TimestampMs from_ms = 0, to_ms = 0, now_ms = 0;
  std::string format = "json";
};

// The store's source options of a component with `source:` (url, selector, probe label) and,
// for every component, what its configured probes tell the store's series cannot: each
// probe's role and interval, and the config's coverage tolerance.
// `coverage_tolerance` is the config's (Config::coverage_tolerance).
source::SourceOptions SourceOptionsFor(const ComponentConfig& component,
                                       double coverage_tolerance);

// What the report says of log lines read from a store.
inline constexpr char kNoLogEvidence[] =
    "log evidence not available from the store (log lines are kept in obsmon's database only)";

// `notes`, when given, receives what the reader could not take as it is (intervals inferred,
// runs without a duration ...: source::DescribeNotes), for the CLI to print on stderr.
Result<Report> BuildStoreReport(const StoreReportRequest& request,
                                std::vector<std::string>* notes = nullptr);
Result<HttpBody> RenderStoreReport(const StoreReportRequest& request,
                                   std::vector<std::string>* notes = nullptr);

}  // namespace obsmon
