// obsmon's command line: run, check, report, version (and more as capabilities arrive).
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <cstdlib>
#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "core/config_node.h"
#include "core/duration.h"
#include "core/label_selector.h"
#include "core/scaled_clock.h"
#include "core/time_format.h"
#include "alerts/rule_test_runner.h"
#include "cmd/obsmon/alerting_runtime.h"
#include "cmd/obsmon/allocator_settings.h"
#include "cmd/obsmon/api_backend.h"
#include "cmd/obsmon/cli_periods.h"
#include "cmd/obsmon/remote_write_runtime.h"
#include "config/config_loader.h"
#include "probes/exposition_parser.h"
#include "probes/url.h"
#include "cmd/obsmon/daemon.h"
#include "cmd/obsmon/log_format.h"
#include "cmd/obsmon/service_notify.h"
#include "cmd/obsmon/store_report.h"

#ifndef OBSMON_VERSION
#define OBSMON_VERSION "0.0.0"
#endif

namespace obsmon {
namespace {

constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

std::shared_ptr<spdlog::logger> MakeLogger(const std::string& level, const std::string& format) {
  auto logger = spdlog::stderr_color_mt("obsmon");
  logger->set_level(spdlog::level::from_str(level));
  ApplyLogFormat(*logger, format);  // validated by CLI11
  return logger;
}

// OBSMON_CLOCK_SPEED=N runs the daemon's clock N times faster than real time, for soak benchmarks
// (bench/soak_bench, docs/operations.md "Memory"): never set in a real deployment, so it is an
// environment variable, not a flag in --help. Unset or empty: the system clock. N is 1 to 1000 in
// plain digits (no sign, space or leading zero, as a user would read it back); anything else is
// an error naming the variable, not a silent real clock.
const Clock* ClockFromEnvironment(spdlog::logger& log) {
  const char* value = std::getenv("OBSMON_CLOCK_SPEED");
  if (value == nullptr || *value == '\0') return &SystemClock::Instance();
  const std::string_view text(value);
  const auto is_digit = [](char c) { return c >= '0' && c <= '9'; };
  const bool digits = text.size() <= 4 && text.front() != '0' &&
                      std::all_of(text.begin(), text.end(), is_digit);
  const long speed = digits ? std::stol(std::string(text)) : 0;
  if (!digits || speed < 1 || speed > 1000) {
    std::string shown;  // the value as typed, control bytes escaped: one log line, whatever it is
    for (const char c : text.substr(0, 64)) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == '"' || c == '\\') {
        shown += fmt::format("\\x{:02x}", static_cast<unsigned char>(c));
      } else {
        shown += c;
      }
    }
    log.critical("OBSMON_CLOCK_SPEED=\"{}\": not a whole number from 1 to 1000", shown);
    return nullptr;
  }
  if (speed == 1) return &SystemClock::Instance();
  static const ScaledClock clock(SystemClock::Instance(), speed);
  log.warn("OBSMON_CLOCK_SPEED={}: time runs {} times faster than real time (for soak "
           "benchmarks: stored timestamps and latencies are not real)",
           speed, speed);
  return &clock;
}

int CmdRun(const std::string& config_path, const std::string& listen, const std::string& level,
           const std::string& log_format = "text") {
  // First, while this is the only thread (it unsets NOTIFY_SOCKET).
  const ServiceNotifier manager;
  // Block the signals we handle in every thread; the main thread waits for them with sigwait.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);  // a peer closing a socket must not kill obsmon
  // Each probe's kept connection (keep_alive) is an open file: the soft limit goes up to the
  // hard one, as Go programs (Prometheus, blackbox_exporter) do at start; 1,024 is the default
  // soft limit of a shell or of systemd without LimitNOFILE.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  auto log = MakeLogger(level, log_format);
  if (const char* why = ThreadCachesNote()) {
    log->warn("glibc's per-thread caches stay on: {}; memory may rise slowly over days "
              "(docs/operations.md, \"Memory\")", why);
  }
  // The service manager hears of failures to tell it once each time they start: a manager
  // gone costs one line, a queue full for a moment one line an episode (fresh eyes).
  std::atomic<bool> telling_fails{false};
  const auto tell = [&log, &telling_fails](const std::string& error) {
    if (error.empty()) {
      telling_fails = false;
    } else if (!telling_fails.exchange(true)) {
      log->warn("could not tell the service manager ({}); said again when it happens again "
                "after a message that got through", error);
    }
  };
  DaemonOptions options;
  options.config_path = config_path;
  options.listen_override = listen;
  options.version = OBSMON_VERSION;
  options.logger = log;
  options.clock = ClockFromEnvironment(*log);
  options.before_reload = [&] { tell(manager.Reloading()); };
  options.after_reload = [&](const Status& s) {
    tell(manager.Ready(s.ok() ? "probing; reloaded"
                              : "probing; the last reload was refused (see the log)"));
  };
  if (options.clock == nullptr) return kExitFailure;
  auto started = Daemon::Start(options);
  if (started.status().IsInvalidConfig()) {
    // In JSON mode the errors are one event (one line); in text mode they are printed as
    // `obsmon check` prints them, one per line.
    if (log_format == "json") {
      log->error("{}", started.status().message());
    } else {
      std::cerr << started.status().message() << "\n";
    }
    log->critical("invalid configuration in {}; not starting", config_path);
    return kExitFailure;
  }
  if (!started.ok()) {
    log->critical("cannot start: {}", started.status().message());
    return kExitFailure;
  }
  std::unique_ptr<Daemon> daemon = *std::move(started);
  if (!manager.unusable().empty()) {
    log->warn("not telling the service manager: {}", manager.unusable());
  }
  // Listening, probing, and waiting for signals: a unit of Type=notify is started now.
  tell(manager.Ready("probing; SIGHUP reloads"));
  for (;;) {
    int sig = 0;
    if (sigwait(&signals, &sig) != 0) continue;
    if (sig == SIGHUP) {
      // sigwait takes the lowest signal first: a SIGTERM sent with or after the SIGHUP waits
      // behind its reload unless looked for (fresh eyes 2: 8.7 s for five SIGHUPs).
      sigset_t pending;
      sigemptyset(&pending);
      if (sigpending(&pending) == 0 &&
          (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1)) {
        continue;
      }
      (void)daemon->Reload();  // framed for the manager by before_reload and after_reload
      continue;
    }
    daemon->AbandonRuns();  // first: a run that fails from now on is not recorded either
    log->info("received {}, draining and exiting", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    daemon->EndReloads([&] { tell(manager.Stopping()); });
    break;
  }
  daemon->Shutdown();
  return kExitOk;
}

int CmdCheck(const std::string& config_path) {
  ConfigErrors errors;
  auto config = LoadConfig(config_path, SystemClock::Instance(), &errors);
  // Rule files and the alerting section are checked too, so one run lists every problem.
  const size_t rules = config ? CollectAlertingErrors(*config, &errors) : 0;
  const size_t remotes = config ? RemoteWriteConfigsOf(*config, &errors).size() : 0;
  if (!errors.empty()) {
    std::cerr << errors.ToString() << "\n";
    std::cerr << config_path << ": " << errors.errors().size() << " error"
              << (errors.errors().size() == 1 ? "" : "s") << "\n";
    return kExitFailure;
  }
  size_t probes = 0;
  for (const auto& c : config->components) probes += c.probes.size();
  std::cout << config_path << ": OK (" << config->components.size() << " components, " << probes
            << " probes, " << config->rule_files.size() << " rule file patterns, " << rules
            << " rules"
            << (remotes > 0 ? ", " + std::to_string(remotes) + " remote_write destinations" : "")
            << ")\n";
  return kExitOk;
}

struct ReportArgs {
  std::string component;
  std::string config_path;
  std::string db_path;
  std::string from, to, last;
  std::string format = "text";
  // --source: read the runs from a Prometheus-compatible store (docs/report-from-store.md).
  std::string source_url, selector, probe_label, chunk;
  size_t max_listed = ReportOptions{}.max_listed;
};

// The --source flags checked as the config's `source:` keys are (LoadConfig), naming the flag;
// false (said on stderr) when one is wrong.
bool CheckSourceFlags(const ReportArgs& a) {
  if (!a.source_url.empty()) {
    if (auto base = probes::ParseBaseUrl(a.source_url); !base.ok()) {
      std::cerr << "obsmon report: --source: " << base.status().message() << "\n";
      return false;
    }
  }
  if (!a.selector.empty()) {
    if (auto m = SelectorMatchers(a.selector); !m.ok()) {
      std::cerr << "obsmon report: --selector: " << m.status().message() << "\n";
      return false;
    }
  }
  if (!a.probe_label.empty() &&
      (!probes::IsValidLabelName(a.probe_label) || a.probe_label.rfind("__", 0) == 0)) {
    std::cerr << "obsmon report: --probe-label: '" << a.probe_label
              << "' is not a label name ([a-zA-Z_][a-zA-Z0-9_]*, not starting with __)\n";
    return false;
  }
  return true;
}

int CmdReport(const ReportArgs& a) {
  Objective objective;
  ReportOptions options;
  std::string db = a.db_path;
  source::SourceOptions source;
  if (!a.config_path.empty()) {
    ConfigErrors errors;
    auto config = LoadConfig(a.config_path, SystemClock::Instance(), &errors);
    if (!config) {
      std::cerr << errors.ToString() << "\n";
      return kExitFailure;
    }
    if (db.empty()) db = config->storage.path;
    const ComponentConfig* c = config->FindComponent(a.component);
    if (!c) {
      std::cerr << "obsmon report: no component '" << a.component << "' in " << a.config_path
                << "\n";
      return kExitFailure;
    }
    objective = c->objective;
    options = ReportOptionsFor(*c);
    options.alert_components = AlertComponentsOf(config->components);
    source = SourceOptionsFor(*c, config->coverage_tolerance);
  }
  options.max_listed = a.max_listed;
  // The flags win over the component's `source:`.
  if (!CheckSourceFlags(a)) return kExitUsage;
  if (!a.source_url.empty()) source.url = a.source_url;
  if (!a.selector.empty()) source.selector = a.selector;
  if (!a.probe_label.empty()) source.mapping.probe_label = a.probe_label;
  if (!a.chunk.empty()) {
    auto d = ParseDurationMs(a.chunk);
    if (!d || *d < 1000) {
      std::cerr << "obsmon report: --chunk: '" << a.chunk << "' is not a duration of 1s or more\n";
      return kExitUsage;
    }
    source.chunk_ms = *d;
  }
  const bool from_store = !source.url.empty() && a.db_path.empty();
  if (db.empty() && !from_store) {
    std::cerr << "obsmon report: give --config FILE, --db PATH or --source URL\n";
    return kExitUsage;
  }
  const TimestampMs now = SystemClock::Instance().NowMs();
  TimestampMs to = now, from = 0;
  if (!a.to.empty()) {
    auto t = ParseTimestamp(a.to);
    if (!t) {
      std::cerr << "obsmon report: --to: cannot parse '" << a.to << "' (RFC 3339 or Unix time)\n";
      return kExitUsage;
    }
    to = *t;
  }
  int64_t window = objective.window_ms;
  if (!a.last.empty()) {
    auto d = ParseDurationMs(a.last);
    if (!d || *d <= 0) {
      std::cerr << "obsmon report: --last: '" << a.last << "' is not a duration such as 7d\n";
      return kExitUsage;
    }
    window = *d;
  }
  from = to - window;
  if (!a.from.empty()) {
    auto f = ParseTimestamp(a.from);
    if (!f) {
      std::cerr << "obsmon report: --from: cannot parse '" << a.from
                << "' (RFC 3339 or Unix time)\n";
      return kExitUsage;
    }
    from = *f;
  }
  if (from >= to) {
    std::cerr << "obsmon report: --from must be before --to\n";
    return kExitUsage;
  }
  Result<HttpBody> body = Status::Internal("no report");
  if (from_store) {
    StoreReportRequest request;
    request.source = source;
    request.component = a.component;
    request.objective = objective;
    request.options = options;
    request.from_ms = from;
    request.to_ms = to;
    request.now_ms = now;
    request.format = a.format;
    std::vector<std::string> notes;
    body = RenderStoreReport(request, &notes);
    // On stderr, so that stdout stays the report (JSON for a pipe).
    for (const auto& note : notes) std::cerr << "obsmon report: note: " << note << "\n";
  } else {
    body = RenderReport(db, a.component, objective, from, to, now, a.format, options);
  }
  if (!body.ok()) {
    std::cerr << "obsmon report: " << body.status().message() << "\n";
    return kExitFailure;
  }
  std::cout << body->body;
  if (!body->body.empty() && body->body.back() != '\n') std::cout << "\n";
  return kExitOk;
}

int Main(int argc, char** argv) {
  CLI::App app{"obsmon: an observation-period reliability monitor"};
  app.require_subcommand(1);
  app.set_version_flag("--version", OBSMON_VERSION);

  std::string config_path, listen, level = "info";
  auto* run = app.add_subcommand("run", "Probe the configured components and serve /metrics and the API");
  run->add_option("-c,--config", config_path, "Config file (YAML)")->required()->check(CLI::ExistingFile);
  run->add_option("--listen", listen, "Override the config's listen address (host:port)");
  run->add_option("--log-level", level, "trace, debug, info, warn, error, critical")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "critical", "off"}));
  std::string log_format = "text";
  run->add_option("--log-format", log_format, "text or json (one JSON object per line)")
      ->check(CLI::IsMember({"text", "json"}));

  std::string check_config;
  auto* check = app.add_subcommand("check", "Validate a config file without starting");
  check->add_option("-c,--config", check_config, "Config file (YAML)")->required();

  ReportArgs ra;
  auto* report = app.add_subcommand("report", "Print a component's observation report from the database");
  report->add_option("component", ra.component, "Component name")->required();
  report->add_option("-c,--config", ra.config_path, "Config file: database path and objective");
  report->add_option("--db", ra.db_path, "Database path (default: the config's storage.path)");
  report->add_option("--from", ra.from, "Window start (RFC 3339 or Unix time)");
  report->add_option("--to", ra.to, "Window end (RFC 3339 or Unix time; default now)");
  report->add_option("--last", ra.last, "Window length ending at --to (default: the objective window, 7d)")
      ->excludes(report->get_option("--from"));
  report->add_option("--format", ra.format, "text, markdown or json")
      ->check(CLI::IsMember({"text", "markdown", "json"}));
  report->add_option("--source", ra.source_url,
                     "Read the runs from a Prometheus-compatible store at this URL "
                     "(probe_success, probe_duration_seconds) instead of the database");
  report->add_option("--selector", ra.selector,
                     "With --source: the series' label matchers, e.g. '{job=\"blackbox\"}' "
                     "(default: component=\"COMPONENT\")");
  report->add_option("--probe-label", ra.probe_label,
                     "With --source: the label naming the probe (default: probe; a "
                     "blackbox_exporter's: instance)");
  report->add_option("--chunk", ra.chunk, "With --source: the time one query reads (default 6h)");
  AddMaxListed(report, &ra.max_listed);

  AddPeriodCommands(app);  // observe, maintenance, rules slo (cmd/obsmon/cli_periods.h)
  auto* version = app.add_subcommand("version", "Print obsmon's version");

  // `obsmon test rules FILE...`: promtool's unit-test format, reported like promtool.
  std::vector<std::string> rule_tests;
  auto* test = app.add_subcommand("test", "Unit-test rule files (promtool's test format)");
  test->require_subcommand(1);
  auto* test_rules = test->add_subcommand("rules", "Run promtool-format rule unit tests");
  test_rules->add_option("files", rule_tests, "Test files (YAML)")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    if (code == 0) return kExitOk;
    // Subcommands that ran and failed (CLI::RuntimeError) keep their code; bad usage is 2.
    return dynamic_cast<const CLI::RuntimeError*>(&e) != nullptr ? code : kExitUsage;
  }
  if (*run) return CmdRun(config_path, listen, level, log_format);
  if (*check) return CmdCheck(check_config);
  if (*test_rules) return alerts::RunRuleTests(rule_tests, std::cout);
  if (*report) return CmdReport(ra);
  if (*version) {
    std::cout << "obsmon " << OBSMON_VERSION << "\n";
    return kExitOk;
  }
  return kExitUsage;
}

}  // namespace
}  // namespace obsmon

int main(int argc, char** argv) {
  obsmon::ExecAgainWithoutThreadCaches(argc, argv);  // returns when it does not
  obsmon::SetAllocatorOptions();
  return obsmon::Main(argc, argv);
}
