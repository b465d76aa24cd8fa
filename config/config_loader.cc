#include "config/config_loader.h"

#include <filesystem>
#include <map>
#include <set>

#include <re2/re2.h>

#include "core/duration.h"
#include "core/label_selector.h"
#include "core/up_series.h"
#include "core/byte_size.h"
#include "config/web_config.h"
#include "config/digest_config.h"
#include "config/period_config.h"
#include "probes/probe_registry.h"
#include "probes/url.h"

namespace obsmon {

namespace {

constexpr int64_t kDefaultIntervalMs = 15'000;
constexpr int64_t kMaxIntervalMs = 7LL * 86'400'000;  // one observation period
constexpr int64_t kDefaultTimeoutMs = 5'000;

bool ValidName(const std::string& name) {
  static const RE2 kName("[A-Za-z0-9][A-Za-z0-9_.-]*");
  return RE2::FullMatch(name, kName);
}

bool ValidLabelName(const std::string& name) {
  static const RE2 kLabel("[a-zA-Z_][a-zA-Z0-9_]*");
  return RE2::FullMatch(name, kLabel) && name.rfind("__", 0) != 0;
}

std::string ResolvePath(const std::string& base_file, const std::string& path) {
  if (path.empty() || path.front() == '/') return path;
  std::filesystem::path dir = std::filesystem::path(base_file).parent_path();
  if (dir.empty()) return path;
  return (dir / path).lexically_normal().string();
}

std::optional<ProbeRole> ParseRole(const std::string& text) {
  if (text == "health") return ProbeRole::kHealth;
  if (text == "integration") return ProbeRole::kIntegration;
  if (text == "none") return ProbeRole::kNone;
  return std::nullopt;
}

std::string JoinKinds() {
  std::string out;
  for (const auto& k : probes::ProbeKindNames()) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

// Reads a labels mapping, checking Prometheus label-name rules.
Labels ReadLabels(ConfigNode& node, const std::string& key) {
  Labels labels;
  auto map = node.StringMap(key);
  if (!map) return labels;
  for (const auto& [name, value] : *map) {
    if (!ValidLabelName(name)) {
      node.ErrorAt(key, "invalid label name '" + name +
                            "' (must match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
      continue;
    }
    labels.Set(name, value);
  }
  return labels;
}

struct Defaults {
  int64_t interval_ms = kDefaultIntervalMs;
  int64_t timeout_ms = kDefaultTimeoutMs;
};

void ReadDefaults(ConfigNode& node, Defaults* defaults) {
  if (auto v = node.DurationMs("interval")) defaults->interval_ms = *v;
  if (auto v = node.DurationMs("timeout")) defaults->timeout_ms = *v;
}

void ReadObjective(ConfigNode& node, Objective* objective) {
  if (auto v = node.Number("uptime")) {
    if (*v <= 0 || *v >= 100) {
      node.ErrorAt("uptime", "objective uptime must be a percentage between 0 and 100 (exclusive)");
    } else {
      objective->uptime_percent = *v;
    }
  }
  // Up to what rollups keep by default (400d): a window reports over stored evidence.
  if (auto v = node.DurationInRange("window", 60'000, 400LL * 86'400'000)) objective->window_ms = *v;
  if (auto v = node.Number("min_coverage")) {
    if (*v < 0 || *v > 100) {
      node.ErrorAt("min_coverage", "min_coverage must be a percentage between 0 and 100");
    } else {
      objective->min_coverage_percent = *v;
    }
  }
  if (auto v = node.DurationInRange("latency_p95", 1, 3'600'000)) {
    objective->latency_p95_ms = static_cast<double>(*v);
  }
  // Checked against the probes by ResolveLatencyProbes, once they are read.
  if (auto v = node.StringList("latency_probes")) objective->latency_probes = *v;
  node.CheckUnknownKeys();
}

// The probes a latency SLA is about: each named one must be a health probe of the component
// (reported at its list item), and without names the component's http health probes. A
// component with none leaves the list empty: every health probe, pooled (core/objective.h).
void ResolveLatencyProbes(const std::optional<ConfigNode>& objective_node, ComponentConfig& c) {
  auto role_of = [&c](const std::string& name) -> const ProbeSpec* {
    for (const auto& p : c.probes) {
      if (p.spec.key.probe == name) return &p.spec;
    }
    return nullptr;
  };
  if (objective_node && objective_node->Has("latency_probes")) {
    const YAML::Node list = objective_node->raw()["latency_probes"];
    for (size_t i = 0; i < c.objective.latency_probes.size(); ++i) {
      const std::string& name = c.objective.latency_probes[i];
      const YAML::Mark mark = list.IsSequence() ? list[i].Mark() : list.Mark();
      const ProbeSpec* spec = role_of(name);
      if (!spec) {
        objective_node->errors()->Add(objective_node->file(), mark,
                                      "latency_probes: no probe '" + name + "' in component '" +
                                          c.name + "'");
      } else if (spec->role != ProbeRole::kHealth) {
        objective_node->errors()->Add(
            objective_node->file(), mark,
            "latency_probes: probe '" + name + "' is not a health probe (only successful health "
            "runs are timed for the SLA)");
      }
    }
    return;
  }
  for (const auto& p : c.probes) {
    if (p.spec.role == ProbeRole::kHealth && p.spec.kind == "http") {
      c.objective.latency_probes.push_back(p.spec.key.probe);
    }
  }
}

std::optional<ProbeConfig> ReadProbe(ConfigNode& node, const ComponentConfig& component,
                                     const Defaults& defaults,
                                     const probes::ProbeContext& probe_context) {
  ProbeConfig pc;
  ProbeSpec& spec = pc.spec;
  spec.key.component = component.name;
  auto name = node.String("name", /*required=*/true);
  auto kind_name = node.String("kind", /*required=*/true);
  bool ok = name.has_value() && kind_name.has_value();
  if (name && !ValidName(*name)) {
    node.ErrorAt("name", "invalid probe name '" + *name + "' (letters, digits, '_', '.', '-')");
    ok = false;
  }
  const probes::ProbeKind* kind = kind_name ? probes::FindProbeKind(*kind_name) : nullptr;
  if (kind_name && !kind) {
    node.ErrorAt("kind", "unknown probe kind '" + *kind_name + "' (known: " + JoinKinds() + ")");
    ok = false;
  }
  if (name) spec.key.probe = *name;
  if (kind) {
    spec.kind = std::string(kind->name);
    spec.role = kind->default_role;
  }
  if (auto role = node.String("role")) {
    if (auto r = ParseRole(*role)) {
      spec.role = *r;
    } else {
      node.ErrorAt("role", "unknown role '" + *role + "' (known: health, integration, none)");
      ok = false;
    }
  }
  spec.interval_ms = node.DurationMs("interval").value_or(defaults.interval_ms);
  spec.timeout_ms = std::min(node.DurationMs("timeout").value_or(defaults.timeout_ms),
                             node.Has("timeout") ? INT64_MAX : spec.interval_ms);
  if (spec.interval_ms < 100) {
    node.ErrorAt("interval", "interval must be at least 100ms");
    ok = false;
  } else if (spec.interval_ms > kMaxIntervalMs) {
    // Longer than the observation period: such a probe could not give evidence, and the
    // scheduler's arithmetic on steady time must stay far from overflow.
    node.ErrorAt("interval", "interval (" + FormatDurationMs(spec.interval_ms) +
                                 ") must be at most " + FormatDurationMs(kMaxIntervalMs));
    ok = false;
  }
  if (spec.timeout_ms <= 0) {
    node.ErrorAt("timeout", "timeout must be positive");
    ok = false;
  } else if (spec.timeout_ms > spec.interval_ms) {
    node.ErrorAt("timeout", "timeout (" + FormatDurationMs(spec.timeout_ms) +
                                ") must not be greater than interval (" +
                                FormatDurationMs(spec.interval_ms) + ")");
    ok = false;
  }
  spec.labels = component.labels;
  // Named: a range-for over a member of a temporary would dangle.
  const Labels probe_labels = ReadLabels(node, "labels");
  for (const auto& [k, v] : probe_labels.pairs()) spec.labels.Set(k, v);

  // What the probe inherits is part of it too: a reload that changed only `defaults.interval`
  // or `defaults.timeout` rebuilt no probe (fresh eyes, stop 70).
  pc.fingerprint = YAML::Dump(node.raw()) + "\n#labels " + component.labels.ToString() +
                   "\n#interval " + std::to_string(spec.interval_ms) + " timeout " +
                   std::to_string(spec.timeout_ms);
  if (kind && ok) {
    size_t errors_before = node.errors()->errors().size();
    try {
      pc.probe = kind->factory(spec, node, probe_context);
    } catch (const std::exception& e) {
      // Factories report through `node`; an exception here is a bug, but must not stop the
      // loader from reporting it where it happened.
      node.Error(std::string("cannot build probe: ") + e.what());
    }
    if (!pc.probe && node.errors()->errors().size() == errors_before) {
      node.Error("cannot build probe '" + spec.key.probe + "'");
    }
  } else if (kind) {
    // Still let the factory report its own key errors, so one run lists everything.
    try {
      (void)kind->factory(spec, node, probe_context);
    } catch (const std::exception&) {
    }
  }
  node.CheckUnknownKeys();
  if (!ok || !pc.probe) return std::nullopt;
  return pc;
}

// Where each `up` series was first claimed ("component/probe"), by its labels' text.
using UpSeries = std::map<std::string, std::string>;

// Two probes that write the same `up` series (core/up_series.h) write one series for two
// targets: an `up == 0` alert would flap between their verdicts, and a scrape's series are all
// written over each other too. That is two scrapes with the same target labels (another path
// on one host:port of one job), two health probes of one name and target in two components
// given the same `job`, or a scrape whose labels name an http health probe of the target.
// Prometheus refuses the like (a job name twice in scrape_configs); so the second one is an error
// at its url (or its name), naming the first.
void CheckUpSeriesUnique(ConfigNode& pnode, const ProbeConfig& pc, UpSeries* seen) {
  if (!pc.probe) return;
  const auto up = UpSeriesLabels(pc.spec, pc.probe->Instance());
  if (!up) return;
  const std::string where = pc.spec.key.component + "/" + pc.spec.key.probe;
  auto [first, inserted] = seen->emplace(up->ToString(), where);
  if (inserted) return;
  pnode.ErrorAt(pnode.Has("url") ? "url" : "name",
                "probe '" + where + "' would write the same series up" + up->ToString() +
                    " as probe '" + first->second + "'" +
                    (pc.spec.kind == "scrape" ? " (and every scraped one)" : "") +
                    ": give one of them its own labels, e.g. labels: {job: " +
                    pc.spec.key.component + "-" + pc.spec.key.probe + "}");
}

// A component's `source:`. Its keys are checked as the report will use them, so that `obsmon
// check`, the start and a reload refuse a typo at its place rather than the store answering 400
// at the first report.
ComponentSource ReadSource(ConfigNode& src) {
  ComponentSource cs;
  if (auto url = src.String("url", /*required=*/true)) {
    if (auto base = probes::ParseBaseUrl(*url); !base.ok()) {
      src.ErrorAt("url", "source url: " + base.status().message());
    }
    cs.url = *url;
  }
  if (auto sel = src.String("selector")) {
    if (auto m = SelectorMatchers(*sel); !m.ok()) src.ErrorAt("selector", m.status().message());
    cs.selector = *sel;
  }
  if (auto label = src.String("probe_label")) {
    if (!ValidLabelName(*label)) {
      src.ErrorAt("probe_label", "probe_label '" + *label + "' is not a label name (must " +
                                     "match [a-zA-Z_][a-zA-Z0-9_]* and not start with __)");
    }
    cs.probe_label = *label;
  }
  src.CheckUnknownKeys();
  return cs;
}

std::optional<ComponentConfig> ReadComponent(ConfigNode& node, const Defaults& global_defaults,
                                             const probes::ProbeContext& probe_context,
                                             UpSeries* up_series) {
  ComponentConfig c;
  auto name = node.String("name", /*required=*/true);
  bool ok = name.has_value();
  if (name && !ValidName(*name)) {
    node.ErrorAt("name", "invalid component name '" + *name + "' (letters, digits, '_', '.', '-')");
    ok = false;
  }
  if (name) c.name = *name;
  c.labels = ReadLabels(node, "labels");
  if (!c.labels.Has("job")) c.labels.Set("job", c.name);
  std::optional<ConfigNode> objective_node = node.Map("objective");
  if (objective_node) ReadObjective(*objective_node, &c.objective);
  Defaults defaults = global_defaults;
  if (auto d = node.Map("defaults")) {
    ReadDefaults(*d, &defaults);
    d->CheckUnknownKeys();
  }
  {
    PeriodDeclarations declared = ParsePeriodDeclarations(node, c.name, c.objective);
    c.declared_periods = std::move(declared.periods);
    c.declared_maintenance = std::move(declared.maintenance);
  }
  c.digest = ParseDigestDestinations(node);
  if (auto src = node.Map("source")) c.source = ReadSource(*src);
  std::set<std::string> probe_names;
  // A component read from a store needs no probe of obsmon's (they only describe the series).
  if (auto probes = node.MapList("probes", /*required=*/!c.source.has_value())) {
    if (probes->empty() && !c.source) node.ErrorAt("probes", "a component needs at least one probe");
    for (auto& pnode : *probes) {
      // Not raw()["name"].IsScalar(): a missing key there threw YAML::InvalidNode (issue 13).
      auto pname = pnode.PeekScalar("name");
      if (pname && !probe_names.insert(*pname).second) {
        pnode.ErrorAt("name", "duplicate probe name '" + *pname + "' in component '" +
                                  c.name + "'");
        ok = false;
      }
      if (auto pc = ReadProbe(pnode, c, defaults, probe_context)) {
        CheckUpSeriesUnique(pnode, *pc, up_series);
        c.probes.push_back(std::move(*pc));
      } else {
        ok = false;
      }
    }
  } else if (!c.source) {
    ok = false;
  }
  ResolveLatencyProbes(objective_node, c);
  node.CheckUnknownKeys();
  if (!ok) return std::nullopt;
  return c;
}

std::optional<Config> LoadFromNode(const YAML::Node& root, const std::string& file,
                                   const probes::ProbeContext& probe_context,
                                   ConfigErrors* errors) {
  size_t errors_before = errors->errors().size();
  if (!root.IsMap()) {
    errors->Add(file, root.Mark(), "the config must be a YAML mapping");
    return std::nullopt;
  }
  ConfigNode node(root, file, errors);
  Config config;
  config.file = file;
  if (auto v = node.String("listen")) {
    static const RE2 kListen(R"((\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):([0-9]{1,5}))");
    std::string port;
    if (!RE2::FullMatch(*v, kListen, nullptr, &port) || std::stoi(port) > 65535) {
      node.ErrorAt("listen", "listen must be host:port (e.g. 127.0.0.1:9950), got '" + *v + "'");
    } else {
      config.listen = *v;
    }
  }
  if (auto w = node.Map("web")) ReadWebConfig(*w, file, &config.web);
  if (auto s = node.Map("storage")) {
    if (auto v = s->String("path")) config.storage.path = ResolvePath(file, *v);
    // Raw runs for at least a day (a report of today needs them), rollups at least as long.
    const int64_t kTenYears = 3650LL * 86'400'000;
    if (auto v = s->DurationInRange("retention", 86'400'000, kTenYears)) {
      config.storage.retention_ms = *v;
    }
    if (auto v = s->DurationInRange("rollup_retention", 86'400'000, kTenYears)) {
      config.storage.rollup_retention_ms = *v;
    }
    if (auto v = s->DurationInRange("busy_timeout", 1, 3'600'000)) {
      config.storage.busy_timeout_ms = *v;
    }
    if (auto v = s->DurationInRange("commit_interval", 1, 3'600'000)) {
      config.storage.commit_interval_ms = *v;
    }
    // Below 1 s a move per commit undoes the head; above 10 min the head a read of recent data
    // scans holds 10 minutes of every series.
    if (auto v = s->DurationInRange("head_move_interval", 1'000, 600'000)) {
      config.storage.head_move_interval_ms = *v;
    }
    // 64 KiB is SQLite's floor for a useful cache; 1 GiB is far beyond what an append needs.
    if (auto v = ByteSizeInRange(*s, "cache_size", 64 << 10, int64_t{1} << 30)) {
      config.storage.cache_bytes = *v;
    }
    if (auto v = s->DurationInRange("remote_write_hold_max", 0, kTenYears)) {
      config.storage.remote_write_hold_max_ms = *v;
    }
    if (config.storage.rollup_retention_ms < config.storage.retention_ms) {
      s->ErrorAt("rollup_retention", "rollup_retention must not be shorter than retention");
    }
    s->CheckUnknownKeys();
  } else {
    config.storage.path = ResolvePath(file, config.storage.path);
  }
  if (auto v = node.Number("coverage_tolerance")) {
    if (*v < 1.0 || *v > 10.0) {
      node.ErrorAt("coverage_tolerance", "coverage_tolerance must be between 1 and 10");
    } else {
      config.coverage_tolerance = *v;
    }
  }
  if (auto v = node.Int("workers")) {
    if (*v < 1 || *v > 256) {
      node.ErrorAt("workers", "workers must be between 1 and 256");
    } else {
      config.workers = static_cast<int>(*v);
    }
  }
  if (auto v = node.DurationInRange("batch_window", 0, 1'000)) {
    config.batch_window_ms = *v;
  }
  if (auto v = node.Int("batch_in_flight_per_server")) {
    if (*v < 0 || *v > 1'000) {
      node.ErrorAt("batch_in_flight_per_server",
                   "batch_in_flight_per_server must be between 0 (no limit) and 1000");
    } else {
      config.batch_in_flight_per_server = static_cast<int>(*v);
    }
  }
  if (auto v = node.DurationInRange("uptime_refresh", 100, 3'600'000)) {
    config.uptime_refresh_ms = *v;
  }
  if (auto v = node.Number("uptime_refresh_max_cpu_percent")) {
    if (!(*v >= 0.01 && *v <= 100)) {
      node.ErrorAt("uptime_refresh_max_cpu_percent",
                   "uptime_refresh_max_cpu_percent must be a percentage of one core from 0.01 "
                   "to 100");
    } else {
      config.uptime_refresh_max_cpu_percent = *v;
    }
  }
  if (auto v = node.StringList("rule_files")) {
    for (const auto& f : *v) config.rule_files.push_back(ResolvePath(file, f));
  }
  Defaults defaults;
  if (auto d = node.Map("defaults")) {
    ReadDefaults(*d, &defaults);
    d->CheckUnknownKeys();
  }
  if (node.Has("alerting")) config.alerting = node.raw()["alerting"];
  (void)node.Map("alerting");  // its keys are validated by alerts/ when it is wired
  if (node.Has("remote_write")) config.remote_write = node.raw()["remote_write"];
  (void)node.MapList("remote_write");  // each entry's keys are validated by remote/
  if (auto labels = node.StringMap("external_labels")) {
    static const RE2 kLabelName("[a-zA-Z_][a-zA-Z0-9_]*");
    for (const auto& [name, value] : *labels) {
      if (!RE2::FullMatch(name, kLabelName) || name.rfind("__", 0) == 0) {
        node.ErrorAt("external_labels", "'" + name + "' is not a valid label name");
      } else if (value.empty()) {
        node.ErrorAt("external_labels", "external label '" + name + "' has an empty value");
      } else {
        config.external_labels.Set(name, value);
      }
    }
  }
  std::set<std::string> names;
  UpSeries up_series;
  if (auto comps = node.MapList("components", /*required=*/true)) {
    for (auto& cnode : *comps) {
      auto cname = cnode.PeekScalar("name");
      if (cname && !names.insert(*cname).second) {
        cnode.ErrorAt("name", "duplicate component name '" + *cname + "'");
      }
      if (auto c = ReadComponent(cnode, defaults, probe_context, &up_series)) {
        config.components.push_back(std::move(*c));
      }
    }
  }
  node.CheckUnknownKeys();
  if (errors->errors().size() != errors_before) return std::nullopt;
  return config;
}

}  // namespace

std::optional<Config> LoadConfig(const std::string& path,
                                 const probes::ProbeContext& probe_context,
                                 ConfigErrors* errors) {
  auto root = LoadYamlFile(path, errors);
  if (!root) return std::nullopt;
  return LoadFromNode(*root, path, probe_context, errors);
}

std::optional<Config> LoadConfigFromString(const std::string& yaml, const std::string& file_name,
                                           const probes::ProbeContext& probe_context,
                                           ConfigErrors* errors) {
  auto root = LoadYamlText(yaml, file_name, errors);
  if (!root) return std::nullopt;
  return LoadFromNode(*root, file_name, probe_context, errors);
}

}  // namespace obsmon
