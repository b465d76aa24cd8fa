#include "config/config_loader.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/support/scratch_dir.h"
#include "tests/support/subprocess.h"

namespace obsmon {
namespace {

std::string Testdata(const std::string& name) {
  return std::string(OBSMON_SOURCE_DIR) + "/tests/config/testdata/" + name;
}

TEST(ConfigLoaderTest, LoadsValidConfigWithDefaults) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfig(Testdata("valid.yml"), clock, &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  EXPECT_EQ(config->listen, "127.0.0.1:0");
  // Relative storage paths resolve against the config file's directory.
  EXPECT_EQ(config->storage.path, Testdata("obsmon-test.db"));
  ASSERT_EQ(config->components.size(), 2u);
  const auto& carbon = config->components[0];
  EXPECT_EQ(carbon.labels.Get("job"), "tta-staging-carbon");
  EXPECT_EQ(carbon.labels.Get("env"), "staging");
  EXPECT_DOUBLE_EQ(carbon.objective.uptime_percent, 99.5);
  EXPECT_EQ(carbon.objective.window_ms, 7 * 86'400'000LL);
  ASSERT_EQ(carbon.probes.size(), 3u);
  EXPECT_EQ(carbon.probes[0].spec.interval_ms, 10'000);
  EXPECT_EQ(carbon.probes[0].spec.timeout_ms, 2'000);
  EXPECT_EQ(carbon.probes[0].spec.role, ProbeRole::kHealth);
  // Global default interval; timeout defaults to 5s.
  EXPECT_EQ(carbon.probes[1].spec.interval_ms, 30'000);
  EXPECT_EQ(carbon.probes[1].spec.timeout_ms, 5'000);
  EXPECT_EQ(carbon.probes[2].spec.role, ProbeRole::kIntegration);
  // `job` defaults to the component's name.
  EXPECT_EQ(config->components[1].labels.Get("job"), "other");
  for (const auto& p : carbon.probes) EXPECT_NE(p.probe, nullptr);
}

// Issue 15: without `latency_probes`, the SLA is about the component's http health probes; a
// component without one has none named (every health probe, pooled).
TEST(ConfigLoaderTest, LatencyProbesDefaultToHttpHealthProbes) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfig(Testdata("valid.yml"), clock, &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  EXPECT_EQ(config->components[0].objective.latency_probes, std::vector<std::string>{"health"});
  EXPECT_TRUE(config->components[1].objective.latency_probes.empty());
}

// Issue 16, item 3: a component read from a Prometheus-compatible store needs no probe of
// obsmon's; its listed probes describe the series (role, interval).
TEST(ConfigLoaderTest, AComponentWithASourceNeedsNoProbes) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfigFromString(R"(
components:
  - name: site
    source: {url: "http://127.0.0.1:9090", selector: '{job="blackbox"}', probe_label: instance}
  - name: carbon
    source: {url: "https://vm.example/select/0/prometheus"}
    probes:
      - {name: e2e, kind: exec, role: integration, command: [/bin/true], interval: 10m}
)",
                                     "inline.yml", clock, &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  const auto& site = config->components[0];
  ASSERT_TRUE(site.source.has_value());
  EXPECT_EQ(site.source->url, "http://127.0.0.1:9090");
  EXPECT_EQ(site.source->selector, R"({job="blackbox"})");
  EXPECT_EQ(site.source->probe_label, "instance");
  EXPECT_TRUE(site.probes.empty());
  ASSERT_TRUE(config->components[1].source.has_value());
  EXPECT_EQ(config->components[1].source->probe_label, "probe");
  EXPECT_EQ(config->components[1].probes.size(), 1u);
}

TEST(ConfigLoaderTest, ASourceNeedsAnHttpUrlAndKnownKeys) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfigFromString(R"(
components:
  - name: site
    source: {url: "127.0.0.1:9090", probe: x}
  - name: other
    source: {selector: '{job="a"}'}
  - name: none
)",
                                     "inline.yml", clock, &errors);
  EXPECT_FALSE(config.has_value());
  const std::string text = errors.ToString();
  EXPECT_NE(text.find("inline.yml:4:"), std::string::npos) << text;
  EXPECT_NE(text.find("source url: url must start with http:// or https://"), std::string::npos)
      << text;
  EXPECT_NE(text.find("probe"), std::string::npos) << text;
  EXPECT_NE(text.find("url"), std::string::npos) << text;
  // Without a source, probes are still required.
  EXPECT_NE(text.find("probes"), std::string::npos) << text;
  EXPECT_EQ(errors.errors().size(), 4u) << text;
}

struct InvalidCase {
  const char* file;
  const char* position;  // "line:column"
  const char* message;   // a substring of the message
};

class InvalidConfigTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidConfigTest, NamesFileLineColumn) {
  const InvalidCase& c = GetParam();
  FakeClock clock;
  ConfigErrors errors;
  const std::string path = Testdata(c.file);
  auto config = LoadConfig(path, clock, &errors);
  EXPECT_FALSE(config.has_value());
  ASSERT_FALSE(errors.empty());
  const std::string want_prefix = path + ":" + c.position + ": ";
  bool found = false;
  for (const auto& e : errors.errors()) {
    const std::string text = e.ToString();
    if (text.rfind(want_prefix, 0) == 0 && text.find(c.message) != std::string::npos) found = true;
  }
  EXPECT_TRUE(found) << "want " << want_prefix << "..." << c.message << "\ngot:\n"
                     << errors.ToString();
}

INSTANTIATE_TEST_SUITE_P(
    Files, InvalidConfigTest,
    ::testing::Values(
        InvalidCase{"invalid-unknown-key.yml", "7:9", "unknown key 'intervall'"},
        InvalidCase{"invalid-bad-duration.yml", "7:19", "bad duration for 'interval'"},
        InvalidCase{"invalid-wrong-type.yml", "4:15", "'uptime' must be a number"},
        InvalidCase{"invalid-duplicate-probe.yml", "7:15", "duplicate probe name 'health'"},
        InvalidCase{"invalid-duplicate-component.yml", "5:11", "duplicate component name 'carbon'"},
        InvalidCase{"invalid-bad-url.yml", "6:14", "unsupported url scheme 'htp'"},
        InvalidCase{"invalid-unknown-kind.yml", "5:15", "unknown probe kind 'htp'"},
        InvalidCase{"invalid-timeout-over-interval.yml", "8:18",
                    "must not be greater than interval"},
        InvalidCase{"invalid-yaml-syntax.yml", "4:7", ""},
        InvalidCase{"invalid-objective-range.yml", "4:15", "between 0 and 100"},
        InvalidCase{"invalid-missing-components.yml", "1:1", "missing required key 'components'"},
        InvalidCase{"invalid-bad-listen.yml", "1:9", "listen must be host:port"},
        InvalidCase{"invalid-bad-role.yml", "4:68", "unknown role 'critical'"},
        // Issue 13: each of these aborted `obsmon check` or passed silently.
        InvalidCase{"invalid-component-without-name.yml", "2:5", "missing required key 'name'"},
        InvalidCase{"invalid-merge-key.yml", "6:9", "merge keys ('<<') are not supported"},
        InvalidCase{"invalid-nan-uptime.yml", "3:25", "'uptime' must be a finite number"},
        InvalidCase{"invalid-duplicate-key.yml", "3:5", "duplicate key 'name' (first at line 2"},
        InvalidCase{"invalid-token-file-device.yml", "4:24", "'/dev/zero' is not a regular file"},
        InvalidCase{"invalid-maintenance-too-long.yml", "6:42",
                    "maintenance window of 3652 days is longer than the longest window of a "
                    "component without a declared period (31 days)"},
        InvalidCase{"invalid-maintenance-longer-than-period.yml", "7:41",
                    "maintenance window of 3 days is longer than its observation period (2 days)"},
        InvalidCase{"invalid-maintenance-bad-weekly.yml", "6:18",
                    "'sunday at two' is not a day and time"},
        InvalidCase{"invalid-maintenance-bad-timezone.yml", "6:50",
                    "unknown time zone 'Europe/Berln'"},
        // Issue 15: a latency SLA names health probes of its component.
        InvalidCase{"invalid-latency-probe-unknown.yml", "5:29",
                    "latency_probes: no probe 'helth' in component 'carbon'"},
        InvalidCase{"invalid-latency-probe-not-health.yml", "3:58",
                    "latency_probes: probe 'smoke' is not a health probe"},
        // A `source:` is checked as the report will read it (core/label_selector.h).
        InvalidCase{"invalid-source-selector.yml", "5:17",
                    "selector '{job=blackbox}' is not a list of label matchers such as "
                    "{job=\"blackbox\"}: expected a quoted value at character 5"},
        InvalidCase{"invalid-source-probe-label.yml", "3:57",
                    "probe_label 'probe-name' is not a label name"},
        // As Prometheus's relabel.Config.Validate (probes/metric_relabel.h).
        InvalidCase{"invalid-relabel-target-label.yml", "9:27",
                    "'1st_code' is not a valid target_label for action replace"}),
    [](const ::testing::TestParamInfo<InvalidCase>& info) {
      std::string name = info.param.file;
      name = name.substr(8, name.size() - 12);  // strip "invalid-" and ".yml"
      for (char& ch : name) {
        if (ch == '-') ch = '_';
      }
      return name;
    });

TEST(ConfigLoaderTest, ReportsEveryErrorAtOnce) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfigFromString(R"(
components:
  - name: a
    bogus: 1
    probes:
      - {name: x, kind: tcp, address: "127.0.0.1:1", interval: 5 minutes}
)",
                                     "inline.yml", clock, &errors);
  EXPECT_FALSE(config.has_value());
  EXPECT_EQ(errors.errors().size(), 2u) << errors.ToString();
}

// Two scrape probes with the same target labels would write one set of series (up, scrape_*,
// every scraped one) for two targets (fresh eyes, stop 33): the second is refused at its url,
// wherever the first is (same component or another with the same job). Only the target labels
// count: another path on the same host:port is the same instance, as in Prometheus; a label of
// the probe's own (or another port) makes them two targets.
TEST(ConfigLoaderTest, TwoProbesWritingTheSameUpSeriesAreRefusedAtTheSecond) {
  FakeClock clock;
  {
    ConfigErrors errors;
    auto config = LoadConfigFromString(R"(components:
  - name: a
    probes:
      - {name: m, kind: scrape, url: "http://127.0.0.1:9100/metrics"}
      - {name: f, kind: scrape, url: "http://127.0.0.1:9100/federate"}
)",
                                       "inline.yml", clock, &errors);
    EXPECT_FALSE(config.has_value());
    ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
    const std::string text = errors.ToString();
    EXPECT_NE(text.find("inline.yml:5:"), std::string::npos) << text;
    EXPECT_NE(text.find("'a/f'"), std::string::npos) << text;
    EXPECT_NE(text.find("'a/m'"), std::string::npos) << text;
    EXPECT_NE(text.find(R"({instance="127.0.0.1:9100",job="a"})"), std::string::npos) << text;
    EXPECT_NE(text.find("labels: {job: a-f}"), std::string::npos) << text;
  }
  {
    ConfigErrors errors;
    auto config = LoadConfigFromString(R"(components:
  - name: a
    labels: {job: shared}
    probes:
      - {name: m, kind: scrape, url: "http://127.0.0.1:9100/metrics"}
  - name: b
    labels: {job: shared}
    probes:
      - {name: m, kind: scrape, url: "http://127.0.0.1:9100/metrics"}
)",
                                       "inline.yml", clock, &errors);
    EXPECT_FALSE(config.has_value());
    const std::string text = errors.ToString();
    EXPECT_NE(text.find("inline.yml:9:"), std::string::npos) << text;
    EXPECT_NE(text.find("'b/m'"), std::string::npos) << text;
    EXPECT_NE(text.find("'a/m'"), std::string::npos) << text;
  }
  // Fresh eyes, stop 34: a scrape whose labels name an http health probe of the same target
  // wrote that probe's up{job, instance, probe}; two components given one job, each with a
  // health probe `health` of one target, wrote one up{job, instance, probe} for both.
  for (const char* yaml : {R"(components:
  - name: a
    probes:
      - {name: hp, kind: http, url: "http://127.0.0.1:9100/health"}
      - {name: m1, kind: scrape, url: "http://127.0.0.1:9100/metrics", labels: {probe: hp}}
)",
                           R"(components:
  - name: a
    labels: {job: j}
    probes:
      - {name: health, kind: http, url: "http://127.0.0.1:9100/health"}
  - name: b
    labels: {job: j}
    probes:
      - {name: health, kind: tcp, address: "127.0.0.1:9100"}
)"}) {
    ConfigErrors errors;
    EXPECT_FALSE(LoadConfigFromString(yaml, "inline.yml", clock, &errors).has_value()) << yaml;
    const std::string text = errors.ToString();
    EXPECT_NE(text.find("would write the same series up{"), std::string::npos) << text;
    EXPECT_NE(text.find("inline.yml:"), std::string::npos) << text;
  }
  ConfigErrors errors;
  auto config = LoadConfigFromString(R"(components:
  - name: a
    probes:
      - {name: m, kind: scrape, url: "http://127.0.0.1:9100/metrics"}
      - {name: f, kind: scrape, url: "http://127.0.0.1:9100/federate", labels: {job: federate}}
      - {name: o, kind: scrape, url: "http://127.0.0.1:9101/metrics"}
      - {name: h, kind: http, url: "http://127.0.0.1:9100/metrics"}
      - {name: t, kind: tcp, address: "127.0.0.1:9100"}
      - {name: i, kind: http, url: "http://127.0.0.1:9100/metrics", role: integration}
  - name: b
    probes:
      - {name: m, kind: scrape, url: "http://127.0.0.1:9100/metrics"}
      - {name: h, kind: http, url: "http://127.0.0.1:9100/metrics"}
)",
                                     "inline.yml", clock, &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  EXPECT_EQ(config->components.size(), 2u);
}

// An interval that overflowed in the scheduler (a hot loop: 4,127 runs in 7.5 s) or that is
// longer than an observation period is a located config error.
TEST(ConfigLoaderTest, RefreshCpuShareIsAPercentageFromAHundredthTo100) {
  FakeClock clock;
  const std::string probes =
      "components:\n  - name: a\n    probes:\n      - {name: x, kind: tcp, address: "
      "\"127.0.0.1:1\"}\n";
  for (const char* bad : {"0", "0.005", "1e-300", "-1", "101", "abc", "5%", ".nan"}) {
    ConfigErrors errors;
    EXPECT_FALSE(
        LoadConfigFromString(std::string("uptime_refresh_max_cpu_percent: ") + bad + "\n" + probes,
                             "inline.yml", clock, &errors)
            .has_value())
        << bad;
    EXPECT_NE(errors.ToString().find("inline.yml:1:"), std::string::npos)
        << bad << ": " << errors.ToString();
  }
  for (const char* good : {"0.01", "0.1", "2", "100"}) {
    ConfigErrors errors;
    auto config =
        LoadConfigFromString(std::string("uptime_refresh_max_cpu_percent: ") + good + "\n" + probes,
                             "inline.yml", clock, &errors);
    ASSERT_TRUE(config.has_value()) << good << ": " << errors.ToString();
    EXPECT_EQ(config->uptime_refresh_max_cpu_percent, std::stod(good));
  }
  ConfigErrors errors;
  EXPECT_EQ(
      LoadConfigFromString(probes, "inline.yml", clock, &errors)->uptime_refresh_max_cpu_percent,
      0.1);
}

TEST(ConfigLoaderTest, IntervalsAreBounded) {
  FakeClock clock;
  struct Case {
    const char* interval;
    const char* message;
  };
  for (const Case& c : {Case{"9223372036854775807ms", "bad duration for 'interval'"},
                        Case{"292471208y1000w", "bad duration for 'interval'"},
                        Case{"8d", "interval (8d) must be at most 1w"},
                        Case{"50ms", "interval must be at least 100ms"}}) {
    ConfigErrors errors;
    const std::string yaml = std::string("components:\n  - name: a\n    probes:\n") +
                             "      - {name: x, kind: tcp, address: \"127.0.0.1:1\", interval: " +
                             c.interval + "}\n";
    EXPECT_FALSE(LoadConfigFromString(yaml, "inline.yml", clock, &errors).has_value())
        << c.interval;
    EXPECT_NE(errors.ToString().find(c.message), std::string::npos)
        << c.interval << ": " << errors.ToString();
    EXPECT_NE(errors.ToString().find("inline.yml:4:"), std::string::npos) << errors.ToString();
  }
  ConfigErrors errors;
  EXPECT_TRUE(LoadConfigFromString("components:\n  - name: a\n    probes:\n      - {name: x, "
                                   "kind: tcp, address: \"127.0.0.1:1\", interval: 7d}\n",
                                   "inline.yml", clock, &errors)
                  .has_value())
      << errors.ToString();
}

// storage.busy_timeout: 5s unless set; a value out of range is reported at its position.
TEST(ConfigLoaderTest, StorageBusyTimeoutIsAnOption) {
  FakeClock clock;
  const std::string probes =
      "components:\n  - name: c\n    probes:\n"
      "      - {name: p, kind: tcp, address: \"127.0.0.1:1\"}\n";
  ConfigErrors errors;
  auto defaults = LoadConfigFromString(probes, "default.yml", clock, &errors);
  ASSERT_TRUE(defaults.has_value()) << errors.ToString();
  EXPECT_EQ(defaults->storage.busy_timeout_ms, 5'000);
  auto set = LoadConfigFromString("storage: {busy_timeout: 250ms}\n" + probes, "set.yml", clock,
                                  &errors);
  ASSERT_TRUE(set.has_value()) << errors.ToString();
  EXPECT_EQ(set->storage.busy_timeout_ms, 250);
  ConfigErrors bad_errors;
  EXPECT_FALSE(LoadConfigFromString("storage: {busy_timeout: 2h}\n" + probes, "bad.yml", clock,
                                    &bad_errors)
                   .has_value());
  ASSERT_EQ(bad_errors.errors().size(), 1u) << bad_errors.ToString();
  EXPECT_EQ(bad_errors.errors()[0].line, 1);
}

// The storage durations: commit_interval (the group-commit wait, 1s unless set, 1ms-1h) and
// head_move_interval (how often the head's rows move, 60s unless set, 1s-10m).
TEST(ConfigLoaderTest, StorageIntervalsAreOptionsWithBounds) {
  FakeClock clock;
  const std::string probes =
      "components:\n  - name: c\n    probes:\n"
      "      - {name: p, kind: tcp, address: \"127.0.0.1:1\"}\n";
  struct Case {
    const char* key;
    int64_t StorageConfig::*field;
    int64_t default_ms;
    const char* set;
    int64_t set_ms;
    std::vector<const char*> bad;
  };
  for (const Case& c : {Case{"commit_interval", &StorageConfig::commit_interval_ms, 1000, "1h",
                             3'600'000, {"0s", "2h"}},
                        Case{"head_move_interval", &StorageConfig::head_move_interval_ms, 60'000,
                             "10m", 600'000, {"999ms", "11m", "0s", "-1s", "[1s]", "{a: 1}"}}}) {
    SCOPED_TRACE(c.key);
    ConfigErrors errors;
    auto defaults = LoadConfigFromString(probes, "default.yml", clock, &errors);
    ASSERT_TRUE(defaults.has_value()) << errors.ToString();
    EXPECT_EQ(defaults->storage.*c.field, c.default_ms);
    auto set = LoadConfigFromString(std::string("storage: {") + c.key + ": " + c.set + "}\n" +
                                        probes,
                                    "set.yml", clock, &errors);
    ASSERT_TRUE(set.has_value()) << errors.ToString();
    EXPECT_EQ(set->storage.*c.field, c.set_ms);
    for (const char* bad : c.bad) {
      ConfigErrors bad_errors;
      EXPECT_FALSE(LoadConfigFromString(std::string("storage: {") + c.key + ": " + bad + "}\n" +
                                            probes,
                                        "bad.yml", clock, &bad_errors)
                       .has_value())
          << bad;
      ASSERT_EQ(bad_errors.errors().size(), 1u) << bad_errors.ToString();
      EXPECT_NE(bad_errors.errors()[0].message.find(c.key), std::string::npos)
          << bad_errors.ToString();
      EXPECT_EQ(bad_errors.errors()[0].file, "bad.yml") << bad_errors.ToString();
      EXPECT_EQ(bad_errors.errors()[0].line, 1) << bad_errors.ToString();
      // A list or a map is named as such, not quoted as '' (fresh eyes, stop 37).
      if (bad[0] == '[' || bad[0] == '{') {
        EXPECT_NE(bad_errors.errors()[0].message.find(bad[0] == '[' ? "a list" : "a map"),
                  std::string::npos)
            << bad_errors.ToString();
      }
    }
  }
}

// Issue 17: the writer's page cache is a size, written as Prometheus writes sizes.
TEST(ConfigLoaderTest, StorageCacheSizeIsASizeWithAUnit) {
  FakeClock clock;
  const std::string probes =
      "components:\n  - name: c\n    probes:\n"
      "      - {name: p, kind: tcp, address: \"127.0.0.1:1\"}\n";
  ConfigErrors errors;
  auto defaults = LoadConfigFromString(probes, "default.yml", clock, &errors);
  ASSERT_TRUE(defaults.has_value()) << errors.ToString();
  EXPECT_EQ(defaults->storage.cache_bytes, 64 << 20);
  for (auto [text, bytes] : {std::pair{"512KiB", 512 << 10}, {"8MB", 8 << 20},
                             {"1048576", 1 << 20}, {"1GiB", 1 << 30}}) {
    ConfigErrors e;
    auto set = LoadConfigFromString("storage: {cache_size: " + std::string(text) + "}\n" + probes,
                                    "set.yml", clock, &e);
    ASSERT_TRUE(set.has_value()) << text << ": " << e.ToString();
    EXPECT_EQ(set->storage.cache_bytes, bytes) << text;
  }
  for (const char* bad : {"4 parsecs", "12XB", "-1MiB", "32KiB", "2GiB", "MiB", "1.5MiB"}) {
    ConfigErrors e;
    EXPECT_FALSE(LoadConfigFromString("storage:\n  cache_size: " + std::string(bad) + "\n" +
                                          probes, "bad.yml", clock, &e)
                     .has_value())
        << bad;
    ASSERT_EQ(e.errors().size(), 1u) << bad << ": " << e.ToString();
    EXPECT_EQ(e.errors()[0].line, 2) << bad;
    EXPECT_NE(e.errors()[0].message.find("cache_size"), std::string::npos) << e.ToString();
  }
}

// A batch's runs to one server in flight at once: 4 unless set, 0 for no limit, and a value out
// of range named at its line.
TEST(ConfigLoaderTest, BatchInFlightPerServerHasADefaultALimitAndItsPlaceWhenBad) {
  FakeClock clock;
  const std::string probes =
      "components:\n  - name: web\n    probes:\n"
      "      - {name: port, kind: tcp, address: '127.0.0.1:1'}\n";
  ConfigErrors errors;
  auto config = LoadConfigFromString(probes, "default.yml", clock, &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  EXPECT_EQ(config->batch_in_flight_per_server, 4);
  EXPECT_EQ(config->batch_window_ms, 250);
  config = LoadConfigFromString("batch_in_flight_per_server: 0\n" + probes, "none.yml", clock,
                                &errors);
  ASSERT_TRUE(config.has_value()) << errors.ToString();
  EXPECT_EQ(config->batch_in_flight_per_server, 0);
  for (const char* bad : {"-1", "1001", "two", "[4]"}) {
    ConfigErrors e;
    EXPECT_FALSE(LoadConfigFromString("\nbatch_in_flight_per_server: " + std::string(bad) + "\n" +
                                          probes, "bad.yml", clock, &e)
                     .has_value())
        << bad;
    ASSERT_EQ(e.errors().size(), 1u) << bad << ": " << e.ToString();
    EXPECT_EQ(e.errors()[0].line, 2) << bad;
    EXPECT_NE(e.errors()[0].message.find("batch_in_flight_per_server"), std::string::npos)
        << e.ToString();
  }
}

// Issue 13: no YAML type error may escape as an exception; each is reported where it is.
TEST(ConfigLoaderTest, TypeErrorsEverywhereAreReportedNotThrown) {
  FakeClock clock;
  ConfigErrors errors;
  auto config = LoadConfigFromString(R"(
listen: [a]
storage: 5
workers: {a: 1}
components:
  - name: [a]
    labels: [x]
    objective: 7
    defaults: [1]
    probes:
      - {name: {x: 1}, kind: [tcp], address: 5}
      - {name: y, kind: log, paths: {a: b}, severities: [a]}
      - {name: z, kind: http, url: [1], headers: [1], expect_status: {a: 1}}
      - {name: w, kind: scrape, url: x, label_limit: [1], metric_relabel: 5}
      - 7
  - probes: 5
)",
                                     "types.yml", clock, &errors);
  EXPECT_FALSE(config.has_value());
  EXPECT_GE(errors.errors().size(), 10u) << errors.ToString();
  for (const auto& e : errors.errors()) EXPECT_GT(e.line, 0) << e.ToString();
}

TEST(ConfigLoaderTest, MissingFileIsAnError) {
  FakeClock clock;
  ConfigErrors errors;
  EXPECT_FALSE(LoadConfig("/nonexistent/obsmon.yml", clock, &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u);
  EXPECT_EQ(errors.errors()[0].ToString(), "/nonexistent/obsmon.yml: cannot open file");
}

// Fresh eyes, issue 13, second pass: a 7 MB config sent by SIGHUP took the daemon to 1.6 GB
// while yaml-cpp parsed it (a 14.7 MB one took 49 s and 3.4 GB in `check`). At most 1 MiB.
TEST(ConfigLoaderTest, ConfigOverOneMebibyteIsRefusedBeforeParsing) {
  testing::ScratchDir dir;
  std::string text = "components:\n  - name: web\n    probes:\n"
                     "      - {name: port, kind: tcp, address: '127.0.0.1:1'}\n# ";
  text += std::string((1u << 20) + 1 - text.size(), 'x');
  testing::WriteWholeFile(dir.File("big.yml"), text);
  FakeClock clock;
  ConfigErrors errors;
  EXPECT_FALSE(LoadConfig(dir.File("big.yml"), clock, &errors).has_value());
  ASSERT_EQ(errors.errors().size(), 1u) << errors.ToString();
  EXPECT_NE(errors.ToString().find("is larger than 1048576 bytes"), std::string::npos)
      << errors.ToString();
  text.pop_back();  // exactly 1 MiB: fine
  testing::WriteWholeFile(dir.File("big.yml"), text);
  ConfigErrors none;
  EXPECT_TRUE(LoadConfig(dir.File("big.yml"), clock, &none).has_value()) << none.ToString();
}

TEST(ConfigLoaderTest, FingerprintChangesOnlyWithSettings) {
  FakeClock clock;
  ConfigErrors errors;
  const char* base = R"(
components:
  - name: a
    probes:
      - {name: x, kind: tcp, address: "127.0.0.1:1", interval: 10s}
      - {name: y, kind: tcp, address: "127.0.0.1:2", interval: 10s}
)";
  const char* changed = R"(
components:
  - name: a
    probes:
      - {name: x, kind: tcp, address: "127.0.0.1:1", interval: 10s}
      - {name: y, kind: tcp, address: "127.0.0.1:2", interval: 20s}
)";
  auto a = LoadConfigFromString(base, "a.yml", clock, &errors);
  auto b = LoadConfigFromString(changed, "b.yml", clock, &errors);
  ASSERT_TRUE(a && b) << errors.ToString();
  EXPECT_EQ(a->components[0].probes[0].fingerprint, b->components[0].probes[0].fingerprint);
  EXPECT_NE(a->components[0].probes[1].fingerprint, b->components[0].probes[1].fingerprint);
}

// A probe that sets no interval or timeout of its own has the defaults': a reload that changed
// only them rebuilt no probe, and the old schedule and timeout went on (fresh eyes, stop 70).
TEST(ConfigLoaderTest, FingerprintChangesWithTheDefaultsAProbeInherits) {
  FakeClock clock;
  ConfigErrors errors;
  const auto load = [&](const std::string& global, const std::string& component) {
    return LoadConfigFromString("defaults: {" + global + "}\n"
                                "components:\n"
                                "  - name: a\n"
                                "    defaults: {" + component + "}\n"
                                "    probes:\n"
                                "      - {name: x, kind: tcp, address: \"127.0.0.1:1\"}\n"
                                "      - {name: y, kind: tcp, address: \"127.0.0.1:2\", "
                                "interval: 4s, timeout: 1s}\n",
                                "a.yml", clock, &errors);
  };
  auto base = load("interval: 4s, timeout: 2s", "");
  auto interval = load("interval: 1s, timeout: 500ms", "");
  auto component = load("interval: 4s, timeout: 2s", "timeout: 500ms");
  ASSERT_TRUE(base && interval && component) << errors.ToString();
  const auto& x = [](const auto& c) { return c->components[0].probes[0].fingerprint; };
  const auto& y = [](const auto& c) { return c->components[0].probes[1].fingerprint; };
  EXPECT_NE(x(base), x(interval));
  EXPECT_NE(x(base), x(component));
  EXPECT_EQ(y(base), y(interval));  // its own settings: the defaults do not reach it
  EXPECT_EQ(y(base), y(component));
}

}  // namespace
}  // namespace obsmon
