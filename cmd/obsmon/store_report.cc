#include "cmd/obsmon/store_report.h"

#include "render/report_format.h"

namespace obsmon {

source::SourceOptions SourceOptionsFor(const ComponentConfig& component,
                                       double coverage_tolerance) {
  source::SourceOptions o;
  if (component.source) {
    o.url = component.source->url;
    o.selector = component.source->selector;
    o.mapping.probe_label = component.source->probe_label;
  }
  o.mapping.tolerance = coverage_tolerance;
  for (const auto& p : component.probes) {
    o.mapping.known[p.spec.key.probe] = {p.spec.role, p.spec.interval_ms};
  }
  return o;
}

Result<Report> BuildStoreReport(const StoreReportRequest& req, std::vector<std::string>* notes) {
  auto reader = source::OpenStoreReader(req.source);
  if (!reader.ok()) return reader.status();
  ReportOptions options = req.options;
  options.max_log_events = 0;
  options.log_evidence_unavailable = kNoLogEvidence;
  auto report = BuildReport(**reader, req.component, req.objective, req.from_ms, req.to_ms,
                            req.now_ms, options);
  if (const source::MappingNotes* n = source::NotesOf(**reader); n && notes) {
    *notes = source::DescribeNotes(*n, req.source.mapping.probe_label);
  }
  if (report.status().IsNotFound()) {
    return Status::NotFound(req.source.url + " holds no probe_success series of component '" +
                            req.component + "' between the window's start (minus the lookback) "
                            "and its end (selector: " +
                            (req.source.selector.empty() ? "component=\"" + req.component + "\""
                                                         : req.source.selector) +
                            ")");
  }
  return report;
}

Result<HttpBody> RenderStoreReport(const StoreReportRequest& req,
                                   std::vector<std::string>* notes) {
  auto report = BuildStoreReport(req, notes);
  if (!report.ok()) return report.status();
  auto rendered = RenderReportAs(*report, req.format);
  if (!rendered.ok()) return rendered.status();
  return HttpBody{rendered->content_type, rendered->body};
}

}  // namespace obsmon
