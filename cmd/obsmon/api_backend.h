// The daemon's answers to the HTTP API: current state from MonitorState and UptimeBoard, reports
// computed from storage with a Reader opened per request (SQLite connections are cheap, and a
// Reader is not thread-safe). Thread-safe.
#pragma once

#include <chrono>
#include <functional>
#include <mutex>
#include <string>

#include "core/mutex.h"
#include "core/storage_health.h"
#include "web/http_server.h"
#include "config/config.h"
#include "runtime/monitor_state.h"
#include "report/report.h"
#include "source/store_reader.h"
#include "runtime/uptime_board.h"

namespace obsmon {

class ApiBackendImpl final : public ApiBackend {
 public:
  // References outlive this object. `metrics_text` serializes /metrics.
  ApiBackendImpl(const MonitorState& state, const UptimeBoard& uptime, std::string db_path,
                 const Clock& clock, std::function<std::string()> metrics_text,
                 std::function<std::string()> alerts_json);

  // Objectives per component, replaced on reload. `coverage_tolerance` (the config's) is for
  // the components read from a store (`source:`).
  void SetComponents(const std::vector<ComponentConfig>& components,
                     double coverage_tolerance = 1.5);

  std::string MetricsText() override { return metrics_text_(); }
  nlohmann::json Components() override;
  std::optional<nlohmann::json> ComponentJson(const std::string& name) override;
  std::optional<int64_t> ObjectiveWindowMs(const std::string& name) override;
  Result<HttpBody> Report(const ReportQuery& query) override;
  std::string AlertsJson() override { return alerts_json_(); }
  std::string IndexHtml() override;
  Result<HttpBody> BadgeSvg(const std::string& component) override;
  void SetVersion(std::string version) { version_ = std::move(version); }
  // Where reads of storage report their outcome, and what /healthz says (both set once, before
  // serving).
  void SetHealth(StorageHealth* health, std::function<std::string()> failure) {
    health_ = health;
    health_failure_ = std::move(failure);
  }
  std::string HealthFailure() override { return health_failure_ ? health_failure_() : ""; }
  std::string DatabaseId() override { return database_id_; }
  // Periods and maintenance over HTTP (cmd/obsmon/manage_api.h), checked against the components
  // of the last SetComponents. `config_path` names the config in messages; `on_change` runs after
  // each change that succeeded, with what it did (cmd/obsmon/manage_api.h DescribeChange) and
  // whether it may move durations (ManageReply::durations_changed): the daemon logs it and
  // re-reads its maintenance calendar and figures. Set once, before serving.
  using OnChange = std::function<void(const std::string& what, bool durations_changed)>;
  // `on_failure` runs after each change that failed for want of the database (a status of 500
  // or more: a write lock held past storage.busy_timeout, another change waiting), with what was
  // asked and why it was not done: the daemon logs it.
  // `busy_timeout_ms`: how long a change waits for a write lock another connection holds
  // (storage.busy_timeout, as the CLI's commands given --config wait; a reload keeps it).
  using OnFailure = std::function<void(const std::string& what)>;
  void SetManagement(std::string config_path, OnChange on_change, OnFailure on_failure,
                     int busy_timeout_ms) {
    config_path_ = std::move(config_path);
    on_change_ = std::move(on_change);
    on_failure_ = std::move(on_failure);
    busy_timeout_ms_ = busy_timeout_ms;
  }
  ManageReply Manage(const ManageRequest& request) override;
  // The live report the live figures were taken from (the daemon's refresher sets it with them),
  // so the overview and the badge show exactly what /api/v1/components and /metrics show.
  // Without a report (no stored run in the window yet) the component's is forgotten, so the page
  // computes it when asked rather than show the previous window's. Kept compacted
  // (report/overview_report.h): its figures, not its incidents.
  void SetLiveReport(const std::string& name, std::optional<obsmon::Report> report);
  // The report SetLiveReport last kept for `name`, or null (the refresher carries its latency
  // figures over to the next refresh's report).
  std::shared_ptr<const obsmon::Report> LastLiveReport(const std::string& name);
  // The heap the kept live reports hold (report/report_memory.h), for /metrics.
  uint64_t LiveReportBytes() const;

 private:
  nlohmann::json ToJson(const ComponentState& c) const;
  // The report of a component with `source:`, read from its store (windows only: periods and
  // days are obsmon's database's).
  Result<HttpBody> StoreReport(const ReportQuery& q, const source::SourceOptions& source,
                               const Objective& objective, const ReportOptions& options);
  std::optional<Objective> FindObjective(const std::string& name) const;
  // The component's live report (the active period, else the objective window ending then), with
  // its log lines: the one of the last refresh (SetLiveReport), computed now before the first.
  // NotFound for an unknown component or one without a stored run.
  Result<obsmon::Report> LiveReport(const std::string& name);

  const MonitorState& state_;
  const UptimeBoard& uptime_;
  const std::string db_path_;
  const std::string database_id_;  // DatabaseIdentity(db_path_)
  const Clock& clock_;
  std::function<std::string()> metrics_text_;
  std::function<std::string()> alerts_json_;
  std::string version_;  // set once before serving
  StorageHealth* health_ = nullptr;                 // set once before serving
  std::function<std::string()> health_failure_;     // set once before serving
  mutable Mutex mu_;
  std::map<std::string, Objective> objectives_ GUARDED_BY(mu_);
  std::map<std::string, ReportOptions> report_options_ GUARDED_BY(mu_);
  // Every component's job, once (not a copy in each component's options: N x N).
  AlertComponents alert_components_ GUARDED_BY(mu_);
  // Held by the change that is being made (Manage); a second waits this long for it.
  std::timed_mutex change_gate_;
  static constexpr std::chrono::milliseconds kChangeGateWait{500};
  // Components with `source:`: their reports are read from that store (cmd/obsmon/store_report.h).
  std::map<std::string, source::SourceOptions> sources_ GUARDED_BY(mu_);
  std::vector<ComponentConfig> components_ GUARDED_BY(mu_);
  // Shared, never changed once set: the refresher reads the last one without copying it.
  std::map<std::string, std::shared_ptr<const obsmon::Report>> live_reports_ GUARDED_BY(mu_);
  // Each live report's HeapBytesOf, measured once when it is kept.
  std::map<std::string, uint64_t> live_report_bytes_ GUARDED_BY(mu_);
  std::string config_path_;            // set once before serving
  OnChange on_change_;  // set once before serving
  OnFailure on_failure_;  // set once before serving
  int busy_timeout_ms_ = 5'000;  // set once before serving
};

// What a report needs to know of a component's config beyond storage: only the configured health
// probes decide (a probe removed from the config stops counting).
ReportOptions ReportOptionsFor(const ComponentConfig& component);

// Renders a report in `format` (json | markdown | text) with its content type.
Result<HttpBody> RenderReport(const std::string& db_path, const std::string& component,
                              const Objective& objective, TimestampMs from_ms, TimestampMs to_ms,
                              TimestampMs now_ms, const std::string& format,
                              const ReportOptions& options = {});

}  // namespace obsmon
