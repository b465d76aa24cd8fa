// The log probe against the real logrotate (Debian's /usr/sbin/logrotate, run with -f and its own
// state file): create, copytruncate, and compress + delaycompress, while a writer appends lines
// with known numbers of ERROR and CRITICAL lines and the probe scans concurrently. Rotations
// happen between scans and several at a time; the committed counts must equal what was written.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "core/config_node.h"
#include "probes/log_probe.h"
#include "probes/probe_registry.h"
#include "tests/integration/log_writer.h"
#include "tests/probes/log_test_util.h"

namespace obsmon {
namespace {

using obsmon::testing::ScratchDir;
using obsmon::testing::WriteWholeFile;
using obsmon::testing::RunLogrotate;

// Commits results as storage does: cursors replaced, counter deltas added, events appended.
class CommittedState final : public ProbeStateSource {
 public:
  void Commit(const ProbeResult& r) {
    for (const auto& c : r.log_cursors) cursors_[c.path] = c;
    for (const auto& d : r.counters) {
      auto& v = counters_[d.name + d.labels.ToString()];
      v.name = d.name;
      v.labels = d.labels;
      v.value += d.delta;
    }
    for (const auto& e : r.log_events) events.push_back(e.line);
  }
  std::vector<LogCursor> LogCursors(const ProbeKey&) override {
    std::vector<LogCursor> out;
    for (const auto& [p, c] : cursors_) out.push_back(c);
    return out;
  }
  std::vector<CounterValue> Counters(const ProbeKey&) override {
    std::vector<CounterValue> out;
    for (const auto& [k, v] : counters_) out.push_back(v);
    return out;
  }
  double Total(const std::string& name, const std::string& severity) const {
    double sum = 0;
    for (const auto& [k, v] : counters_) {
      if (v.name == name && v.labels.Get("severity") == severity) sum += v.value;
    }
    return sum;
  }
  std::vector<std::string> events;

 private:
  std::map<std::string, LogCursor> cursors_;
  std::map<std::string, CounterValue> counters_;
};

struct Scenario {
  const char* name;
  const char* directives;
};

class LogRotateTest : public ::testing::TestWithParam<Scenario> {};

TEST_P(LogRotateTest, CountsEqualWrittenCountsExactly) {
  ASSERT_TRUE(std::filesystem::exists("/usr/sbin/logrotate"));
  ScratchDir dir;
  const std::string log = dir.File("carbon.log");
  const std::string conf = dir.File("logrotate.conf");
  WriteWholeFile(conf, log + " {\n  rotate 1000\n  missingok\n" + GetParam().directives + "}\n");
  ::chmod(conf.c_str(), 0644);
  WriteWholeFile(log, "");

  ConfigErrors errors;
  ConfigNode node(YAML::Load("paths: [" + log + "]\nread_chunk_bytes: 8192\n"), "t.yml", &errors);
  ProbeSpec spec;
  spec.key = {"carbon", "logs"};
  spec.labels = Labels{{"job", "carbon"}};
  const Clock& clock = SystemClock::Instance();
  std::unique_ptr<Probe> probe = probes::FindProbeKind("log")->factory(spec, node, clock);
  ASSERT_NE(probe, nullptr) << errors.ToString();
  CommittedState state;
  std::vector<std::string> details;  // the runs' remarks, shown on failure
  probe->Restore(state);
  const auto run = [&] {
    ProbeResult r = probe->Run({clock.SteadyNow() + std::chrono::seconds(10)});
    if (!r.detail.empty()) details.push_back(r.detail);
    state.Commit(r);
  };

  // The first run takes a cursor on the (empty) file: history before it is not the probe's.
  run();
  // Then the probe scans concurrently with the writer and logrotate.
  std::atomic<bool> stop{false};
  std::thread scanner([&] {
    std::mt19937 rng(5);
    while (!stop) {
      run();
      std::this_thread::sleep_for(std::chrono::microseconds(rng() % 3000));
    }
  });

  testing::LogWriter writer(log, /*seed=*/42);
  std::mt19937 rng(9);
  int rotations = 0;
  for (int step = 0; step < 60; ++step) {
    writer.Append(1 + static_cast<int>(rng() % 200));
    if (rng() % 3 == 0) {
      const int n = 1 + static_cast<int>(rng() % 3);  // several rotations between two scans
      for (int i = 0; i < n; ++i) {
        const auto [code, out] = RunLogrotate(conf, dir.File("state"));
        ASSERT_EQ(code, 0) << out;
        ++rotations;
        writer.Append(static_cast<int>(rng() % 20));
      }
    }
  }
  stop = true;
  scanner.join();
  run();  // catch up

  EXPECT_GT(rotations, 10);
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "error"), writer.errors());
  EXPECT_EQ(state.Total("obsmon_log_matches_total", "critical"), writer.criticals());
  EXPECT_EQ(state.Total("obsmon_log_lines_read_total", ""), writer.lines());
  // Every kept event is a distinct written line.
  EXPECT_EQ(std::set<std::string>(state.events.begin(), state.events.end()).size(),
            state.events.size());
  EXPECT_EQ(state.events.size(), static_cast<size_t>(writer.errors() + writer.criticals()));
  if (HasFailure()) {  // say which line numbers went missing, for the diagnosis
    std::set<int64_t> seen;
    for (const auto& e : state.events) {
      const size_t p = e.find_first_of("0123456789", 21);
      if (p != std::string::npos) seen.insert(std::stoll(e.substr(p)));
    }
    std::string missing;
    for (int64_t id = 1; id < writer.next_number() && missing.size() < 400; ++id) {
      if (!seen.count(id) && writer.IsMatch(id)) missing += std::to_string(id) + " ";
    }
    std::string remarks;
    for (const auto& d : details) remarks += d + "\n";
    ADD_FAILURE() << "missing matched lines: " << missing << "\nremarks:\n"
                  << remarks.substr(0, 3000);
  }
}

INSTANTIATE_TEST_SUITE_P(Logrotate, LogRotateTest,
                         ::testing::Values(Scenario{"create", "  create\n"},
                                           Scenario{"copytruncate", "  copytruncate\n"},
                                           Scenario{"compress_delaycompress",
                                                    "  compress\n  delaycompress\n  create\n"},
                                           Scenario{"compress", "  compress\n  create\n"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace obsmon
