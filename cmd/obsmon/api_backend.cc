#include "cmd/obsmon/api_backend.h"

#include <algorithm>
#include <cmath>

#include "cmd/obsmon/allocator_settings.h"
#include "cmd/obsmon/daemon_client.h"
#include "cmd/obsmon/manage_api.h"
#include "cmd/obsmon/store_report.h"
#include "render/badge_svg.h"
#include "render/index_page.h"
#include "report/figure_format.h"
#include "report/overview_report.h"
#include "report/periods.h"
#include "report/report.h"
#include "report/report_memory.h"
#include "render/report_format.h"
#include "storage/storage.h"

namespace obsmon {

namespace {

const char* RoleName(ProbeRole role) {
  switch (role) {
    case ProbeRole::kHealth: return "health";
    case ProbeRole::kIntegration: return "integration";
    case ProbeRole::kNone: return "none";
  }
  return "none";
}

nlohmann::json LabelsJson(const Labels& labels) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [k, v] : labels.pairs()) out[k] = v;
  return out;
}

}  // namespace

ApiBackendImpl::ApiBackendImpl(const MonitorState& state, const UptimeBoard& uptime,
                               std::string db_path, const Clock& clock,
                               std::function<std::string()> metrics_text,
                               std::function<std::string()> alerts_json)
    : state_(state),
      uptime_(uptime),
      db_path_(std::move(db_path)),
      database_id_(DatabaseIdentity(db_path_)),
      clock_(clock),
      metrics_text_(std::move(metrics_text)),
      alerts_json_(std::move(alerts_json)) {}

void ApiBackendImpl::SetComponents(const std::vector<ComponentConfig>& components,
                                   double coverage_tolerance) {
  MutexLock lock(mu_);
  objectives_.clear();
  report_options_.clear();
  sources_.clear();
  components_ = components;
  const auto gone = [&](const auto& kv) {
    return std::none_of(components.begin(), components.end(),
                        [&](const ComponentConfig& c) { return c.name == kv.first; });
  };
  std::erase_if(live_reports_, gone);
  std::erase_if(live_report_bytes_, gone);
  alert_components_ = AlertComponentsOf(components);
  for (const auto& c : components) {
    objectives_[c.name] = c.objective;
    report_options_[c.name] = ReportOptionsFor(c);
    if (c.source) sources_[c.name] = SourceOptionsFor(c, coverage_tolerance);
  }
}

ManageReply ApiBackendImpl::Manage(const ManageRequest& request) {
  // One change at a time waits for the database: a change waits up to storage.busy_timeout
  // for another connection's write lock, on one of the few HTTP threads, and four of them
  // waiting held /metrics for as long (fresh eyes 2: 24 s with 20 changes). The others get
  // 503 after a moment, which a client retries.
  std::unique_lock<std::timed_mutex> gate(change_gate_, std::defer_lock);
  if (IsChange(request.op) && !gate.try_lock_for(kChangeGateWait)) {
    ManageReply busy;
    busy.status = 503;
    busy.error = "another change is waiting for the database (a write lock held by another "
                 "connection?); retry";
    if (on_failure_) on_failure_(DescribeFailedChange(request, busy));
    return busy;
  }
  PeriodScope scope;
  scope.db_path = db_path_;
  scope.has_config = true;
  scope.config_name = config_path_;
  scope.source = "api";
  {
    MutexLock lock(mu_);
    scope.components = components_;
  }
  scope.busy_timeout_ms = busy_timeout_ms_;
  auto manager = LocalPeriodManager(std::move(scope), clock_);
  ManageReply reply = RunManage(request, *manager, clock_.NowMs());
  if (IsChange(request.op) && reply.status < 300 && on_change_) {
    on_change_(DescribeChange(request, reply.data), reply.durations_changed);
  }
  if (IsChange(request.op) && reply.status >= 500 && on_failure_) {
    on_failure_(DescribeFailedChange(request, reply));
  }
  return reply;
}

std::optional<Objective> ApiBackendImpl::FindObjective(const std::string& name) const {
  MutexLock lock(mu_);
  auto it = objectives_.find(name);
  if (it == objectives_.end()) return std::nullopt;
  return it->second;
}

nlohmann::json ApiBackendImpl::ToJson(const ComponentState& c) const {
  nlohmann::json j;
  j["name"] = c.name;
  j["labels"] = LabelsJson(c.labels);
  j["state"] = ToString(c.health);
  j["reason"] = c.reason;
  j["objective"] = {{"uptime_ratio", c.objective.uptime_percent / 100.0},
                    {"window_seconds", c.objective.window_ms / 1000.0},
                    {"min_coverage_ratio", c.objective.min_coverage_percent / 100.0}};
  if (auto f = uptime_.Get(c.name)) {
    j["window"] = {
        {"uptime_ratio", f->uptime_ratio ? nlohmann::json(*f->uptime_ratio) : nlohmann::json()},
        {"coverage_ratio", f->coverage_ratio ? nlohmann::json(*f->coverage_ratio) : nlohmann::json()},
        {"down_seconds", f->down_seconds},
        {"error_budget_remaining_seconds", f->budget_remaining_seconds
                                               ? nlohmann::json(*f->budget_remaining_seconds)
                                               : nlohmann::json()},
        {"objective_ratio", f->objective_ratio},
        {"from", FormatRfc3339Ms(f->from_ms)},
        {"to", FormatRfc3339Ms(f->to_ms)},
        {"period_id", f->period_id ? nlohmann::json(*f->period_id) : nlohmann::json()},
        {"computed_at", FormatRfc3339Ms(f->computed_at_ms)}};
  } else {
    j["window"] = nullptr;
  }
  nlohmann::json probes = nlohmann::json::array();
  for (const auto& p : c.probes) {
    nlohmann::json pj = {{"name", p.spec.key.probe},
                         {"kind", p.spec.kind},
                         {"role", RoleName(p.spec.role)},
                         {"instance", p.instance},
                         {"interval_seconds", p.spec.interval_ms / 1000.0},
                         {"runs_success", p.runs_success},
                         {"runs_failure", p.runs_failure}};
    if (p.last_run) {
      pj["last_run"] = {{"time", FormatRfc3339Ms(p.last_run->ts_ms)},
                        {"success", p.last_run->success},
                        {"duration_seconds", p.last_run->duration_seconds},
                        {"reason", p.last_run->reason},
                        // Notes beside the verdict (a log probe's unreadable rotated file, an
                        // exec probe's output tail): the last run's only.
                        {"detail", p.detail}};
    } else {
      pj["last_run"] = nullptr;
    }
    probes.push_back(std::move(pj));
  }
  j["probes"] = std::move(probes);
  return j;
}

nlohmann::json ApiBackendImpl::Components() {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& c : state_.Snapshot()) out.push_back(ToJson(c));
  return out;
}

std::optional<nlohmann::json> ApiBackendImpl::ComponentJson(const std::string& name) {
  auto c = state_.Component(name);
  if (!c) return std::nullopt;
  return ToJson(*c);
}

std::optional<int64_t> ApiBackendImpl::ObjectiveWindowMs(const std::string& name) {
  auto o = FindObjective(name);
  if (!o) return std::nullopt;
  return o->window_ms;
}

Result<HttpBody> ApiBackendImpl::Report(const ReportQuery& q) {
  auto objective = FindObjective(q.component);
  if (!objective) return Status::NotFound("no component '" + q.component + "'");
  ReportOptions options;
  std::optional<source::SourceOptions> source;
  {
    MutexLock lock(mu_);
    options = report_options_[q.component];
    options.alert_components = alert_components_;
    if (auto it = sources_.find(q.component); it != sources_.end()) source = it->second;
  }
  if (q.max_listed) options.max_listed = *q.max_listed;
  options.cancelled = q.cancelled;
  // What a burst of reports freed goes back to the kernel, not kept in the arenas.
  struct Trim {
    ~Trim() { ReturnFreedMemory(); }
  } trim;
  if (source) return StoreReport(q, *source, *objective, options);
  PeriodReportRequest request;
  request.db_path = db_path_;
  request.component = q.component;
  request.period_id = q.period_id;
  if (q.explicit_window) request.window = TimeInterval{q.from_ms, q.to_ms};
  request.objective = *objective;
  request.health_probes = options.health_probes;
  request.alert_components = options.alert_components;
  request.format = q.format;
  request.now_ms = clock_.NowMs();
  request.day = q.day;
  request.max_listed = options.max_listed;
  request.cancelled = options.cancelled;
  // Read as the refresh reads (no map of the file, a 2 MiB cache): a map's pages count in the
  // daemon's memory as far as the window reaches (fresh eyes, stop 62: 89 MB of a 30-day file),
  // and the report of a flapping week took as long either way (0.12-0.19 s; a steady week's
  // 15-20 ms).
  request.read_memory = storage::kLiveRead;
  auto rendered = RenderPeriodReport(request);
  if (health_) health_->Record("read", rendered.status());
  if (!rendered.ok()) return rendered.status();
  return HttpBody{rendered->content_type, rendered->body};
}

Result<HttpBody> ApiBackendImpl::StoreReport(const ReportQuery& q,
                                             const source::SourceOptions& source,
                                             const Objective& objective,
                                             const ReportOptions& options) {
  // Periods and Day N comments live in obsmon's database, beside runs a store does not have.
  if (q.period_id || q.day) {
    return Status::InvalidArgument("component '" + q.component +
                                   "' is read from a store (source:): give from/to or last, "
                                   "not a period or a day");
  }
  StoreReportRequest request;
  request.source = source;
  request.component = q.component;
  request.objective = objective;
  request.options = options;
  request.now_ms = clock_.NowMs();
  request.to_ms = q.explicit_window ? q.to_ms : request.now_ms;
  request.from_ms = q.explicit_window ? q.from_ms : request.to_ms - objective.window_ms;
  request.format = q.format;
  return RenderStoreReport(request);
}

void ApiBackendImpl::SetLiveReport(const std::string& name,
                                   std::optional<obsmon::Report> report) {
  MutexLock lock(mu_);
  if (report) {
    // Only the figures the overview and the badge show stay: a week of a flapping component's
    // incidents would otherwise be held here, per component, between refreshes.
    CompactForOverview(*report);
    live_report_bytes_[name] = HeapBytesOf(*report);
    live_reports_[name] = std::make_shared<const obsmon::Report>(std::move(*report));
  } else {
    live_reports_.erase(name);
    live_report_bytes_.erase(name);
  }
}

uint64_t ApiBackendImpl::LiveReportBytes() const {
  MutexLock lock(mu_);
  uint64_t total = 0;
  for (const auto& [name, bytes] : live_report_bytes_) total += bytes;
  return total;
}

std::shared_ptr<const obsmon::Report> ApiBackendImpl::LastLiveReport(const std::string& name) {
  MutexLock lock(mu_);
  if (auto it = live_reports_.find(name); it != live_reports_.end()) return it->second;
  return nullptr;
}

Result<obsmon::Report> ApiBackendImpl::LiveReport(const std::string& name) {
  auto objective = FindObjective(name);
  if (!objective) return Status::NotFound("no component '" + name + "'");
  {
    MutexLock lock(mu_);
    if (auto it = live_reports_.find(name); it != live_reports_.end()) return *it->second;
  }
  PeriodReportRequest request;
  request.db_path = db_path_;
  request.component = name;
  request.objective = *objective;
  {
    MutexLock lock(mu_);
    request.health_probes = report_options_[name].health_probes;
    request.alert_components = alert_components_;
  }
  const auto figures = uptime_.Get(name);
  request.now_ms = figures ? figures->computed_at_ms : clock_.NowMs();
  request.live = true;
  auto report = BuildPeriodReport(request);
  if (health_ && !report.status().IsNotFound()) health_->Record("read", report.status());
  return report;
}

std::string ApiBackendImpl::IndexHtml() {
  const TimestampMs now = clock_.NowMs();
  IndexPage page;
  page.version = version_;
  page.now_ms = now;
  auto periods = CurrentPeriods(db_path_, now);
  if (health_) health_->Record("read", periods.status());
  for (const auto& c : state_.Snapshot()) {
    IndexComponent ic;
    ic.name = c.name;
    ic.state = ToString(c.health);
    ic.objective_percent = c.objective.uptime_percent;
    ic.window_ms = c.objective.window_ms;
    if (auto report = LiveReport(c.name); report.ok()) ic.report = std::move(*report);
    if (periods.ok()) {
      // The period is shown with the report only when the report is of it: a stopped or
      // finished period's card shows the objective window ending now, not that period.
      if (auto it = periods->find(c.name);
          it != periods->end() && (!ic.report || ic.report->period_id == it->second.id)) {
        IndexPeriod ip;
        ip.id = it->second.id;
        ip.start_ms = it->second.start_ms;
        ip.end_ms = PeriodEnd(it->second);
        ip.state = PeriodStateName(StateOf(it->second, now));
        ic.period = ip;
      }
    }
    page.components.push_back(std::move(ic));
  }
  return RenderIndexPage(page);
}

Result<HttpBody> ApiBackendImpl::BadgeSvg(const std::string& component) {
  if (!FindObjective(component)) return Status::NotFound("no component '" + component + "'");
  auto report = LiveReport(component);
  if (report.ok()) return HttpBody{"image/svg+xml; charset=utf-8", RenderBadgeSvg(*report)};
  if (!report.status().IsNotFound()) return report.status();
  return HttpBody{"image/svg+xml; charset=utf-8", RenderBadgeSvg(component, "NO DATA", "#999999")};
}

ReportOptions ReportOptionsFor(const ComponentConfig& component) {
  ReportOptions options;
  for (const auto& p : component.probes) {
    if (p.spec.role == ProbeRole::kHealth) options.health_probes.push_back(p.spec.key.probe);
  }
  return options;
}

Result<HttpBody> RenderReport(const std::string& db_path, const std::string& component,
                              const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                              TimestampMs now_ms, const std::string& format,
                              const ReportOptions& options) {
  // Through the period renderer, so maintenance windows, log lines and alert history are in.
  PeriodReportRequest request;
  request.db_path = db_path;
  request.component = component;
  request.window = TimeInterval{from_ms, to_ms};
  request.objective = objective;
  request.health_probes = options.health_probes;
  request.alert_components = options.alert_components;
  request.format = format;
  request.now_ms = now_ms;
  request.max_listed = options.max_listed;
  auto rendered = RenderPeriodReport(request);
  if (!rendered.ok()) return rendered.status();
  return HttpBody{rendered->content_type, rendered->body};
}

}  // namespace obsmon
