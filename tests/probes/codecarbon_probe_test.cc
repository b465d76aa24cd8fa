#include "probes/codecarbon_probe.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "probes/csv_records.h"
#include "tests/support/subprocess.h"

#include "tests/support/files.h"

namespace obsmon::probes {
namespace {

// The header codecarbon 2.x writes (31 columns).
const char* kHeader =
    "timestamp,project_name,run_id,duration,emissions,emissions_rate,cpu_power,gpu_power,"
    "ram_power,cpu_energy,gpu_energy,ram_energy,energy_consumed,country_name,country_iso_code,"
    "region,cloud_provider,cloud_region,os,python_version,codecarbon_version,cpu_count,cpu_model,"
    "gpu_count,gpu_model,longitude,latitude,ram_total_size,tracking_mode,on_cloud,pue\n";

// One row in codecarbon 2.x's shape; cpu_model is quoted because it holds a comma.
std::string Row(const std::string& project, const std::string& run, double emissions, double rate,
                double energy) {
  char buf[1024];
  std::snprintf(buf, sizeof buf,
                "2025-10-08T12:00:00,%s,%s,600.5,%.10g,%.10g,42.5,0.0,11.7,0.007,0,0.002,%.10g,"
                "Canada,CAN,quebec,,,Linux-6.1-x86_64,3.12.1,2.4.2,8,\"Intel(R) Xeon(R), 2.2GHz\","
                ",,-71.2,46.8,31.3,machine,N,1.0\n",
                project.c_str(), run.c_str(), emissions, rate, energy);
  return buf;
}

// Plays storage: keeps what the probe committed (cursors by path, counters summed), as the
// writer would, so a new probe can be restored from it.
class FakeState final : public ProbeStateSource {
 public:
  void Commit(const ProbeResult& r) {
    for (const auto& c : r.log_cursors) cursors_[c.path] = c;
    for (const auto& d : r.counters)
      counters_[{d.name, d.labels.ToString()}].first = d.labels,
                         counters_[{d.name, d.labels.ToString()}].second += d.delta;
  }
  std::vector<LogCursor> LogCursors(const ProbeKey&) override {
    std::vector<LogCursor> out;
    for (const auto& [path, c] : cursors_) out.push_back(c);
    return out;
  }
  std::vector<CounterValue> Counters(const ProbeKey&) override {
    std::vector<CounterValue> out;
    for (const auto& [key, v] : counters_) out.push_back({key.first, v.first, v.second});
    return out;
  }

 private:
  std::map<std::string, LogCursor> cursors_;
  std::map<std::pair<std::string, std::string>, std::pair<Labels, double>> counters_;
};

class CodecarbonProbeTest : public ::testing::Test {
 protected:
  std::unique_ptr<CodecarbonProbe> NewProbe() {
    ProbeSpec spec;
    spec.key = {"carbon", "emissions"};
    spec.kind = "codecarbon";
    spec.labels = Labels{{"job", "tta-staging-carbon"}};
    CodecarbonOptions options;
    options.dir = dir_.path();
    auto probe = std::make_unique<CodecarbonProbe>(spec, options, clock_);
    probe->Restore(state_);
    return probe;
  }
  ProbeResult RunAndCommit(CodecarbonProbe& probe) {
    auto r = probe.Run(Deadline{clock_.SteadyNow() + std::chrono::seconds(5)});
    state_.Commit(r);
    clock_.Advance(15'000);
    return r;
  }
  static double Gauge(const ProbeResult& r, const std::string& name, const std::string& project) {
    for (const auto& s : r.samples) {
      if (s.name == name && s.labels.Get("project") == project) return s.value;
    }
    return -1;
  }
  std::string Csv() const { return dir_.File("emissions.csv"); }

  testing::ScratchDir dir_;
  FakeClock clock_;
  FakeState state_;
};

TEST_F(CodecarbonProbeTest, ReadsRowsIncrementallyAndWaitsForAHalfWrittenRow) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-a", 0.25, 1e-5, 0.5));
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-b", 0.5, 2e-5, 1.0));
  testing::AppendToFile(Csv(), Row("Other", "run-c", 0.125, 3e-5, 0.25));
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_energy_consumed_kwh", "TTA-Staging"), 1.5);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_rate_kg_per_second", "TTA-Staging"), 2e-5);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "Other"), 0.125);
  for (const auto& s : r.samples) {
    EXPECT_EQ(s.labels.Get("job"), "tta-staging-carbon");
    EXPECT_EQ(s.labels.Get("component"), "carbon");
  }
  ASSERT_EQ(r.log_cursors.size(), 1u);
  EXPECT_EQ(r.log_cursors[0].offset, static_cast<int64_t>(std::filesystem::file_size(Csv())));

  // A flush of run-a (its running total grew to 0.75) arrives half-written: nothing changes.
  std::string flush = Row("TTA-Staging", "run-a", 0.75, 4e-5, 1.5);
  testing::AppendToFile(Csv(), flush.substr(0, 40));
  r = RunAndCommit(*probe);
  EXPECT_TRUE(r.counters.empty());
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
  // Completed: run-a now counts 0.75 (its latest cumulative value), not 0.25 + 0.75.
  testing::AppendToFile(Csv(), flush.substr(40));
  r = RunAndCommit(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 1.25);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_rate_kg_per_second", "TTA-Staging"), 4e-5);
  ASSERT_EQ(r.counters.size(), 2u);
  EXPECT_DOUBLE_EQ(r.counters[0].delta, 0.5);
  EXPECT_EQ(r.counters[0].labels.Get("run_id"), "run-a");
}

TEST_F(CodecarbonProbeTest, RestartFromCursorAndCountersCountsEachRowOnce) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-a", 0.25, 1e-5, 0.5));
  {
    auto probe = NewProbe();
    ASSERT_TRUE(RunAndCommit(*probe).success);
  }
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-b", 0.5, 1e-5, 1.0));
  auto restarted = NewProbe();  // restored from what "storage" committed
  auto r = RunAndCommit(*restarted);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
  ASSERT_EQ(r.counters.size(), 2u);  // only run-b's emissions and energy
  EXPECT_EQ(r.counters[0].labels.Get("run_id"), "run-b");

  // Even if the cursor were lost, re-reading the file cannot double count.
  auto again = NewProbe();
  r = RunAndCommit(*again);
  EXPECT_TRUE(r.counters.empty());
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
}

// The daemon restores a running probe when storage lost one of its batches after accepting it:
// the rows of that run are then read and counted again, once, even a run's first rows, of which
// storage has no total.
TEST_F(CodecarbonProbeTest, ARunStorageLostIsCountedAgainAfterARestoreOfTheSameProbe) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-a", 0.25, 1e-5, 0.5));
  auto probe = NewProbe();
  ASSERT_TRUE(RunAndCommit(*probe).success);
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-b", 0.5, 1e-5, 1.0));
  auto lost = probe->Run(Deadline{clock_.SteadyNow() + std::chrono::seconds(5)});  // lost
  ASSERT_EQ(lost.counters.size(), 2u);
  probe->Restore(state_);
  auto r = RunAndCommit(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  ASSERT_EQ(r.counters.size(), 2u);  // run-b's emissions and energy, again
  EXPECT_EQ(r.counters[0].labels.Get("run_id"), "run-b");
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
  // What storage now holds is the file's truth: a new probe restored from it reads nothing new.
  auto restarted = NewProbe();
  r = RunAndCommit(*restarted);
  EXPECT_TRUE(r.counters.empty());
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 0.75);
}

TEST_F(CodecarbonProbeTest, ChangedHeaderIsAReasonAndTheFileIsReReadByItsNewColumns) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("TTA-Staging", "run-a", 0.25, 1e-5, 0.5));
  auto probe = NewProbe();
  ASSERT_TRUE(RunAndCommit(*probe).success);
  // codecarbon upgraded: the file is replaced with fewer, reordered columns.
  std::filesystem::remove(Csv());
  testing::AppendToFile(Csv(), "run_id,timestamp,emissions,project_name,energy_consumed\n");
  testing::AppendToFile(Csv(), "run-a,2025-10-09T00:00:00,0.25,TTA-Staging,0.5\n");
  testing::AppendToFile(Csv(), "run-d,2025-10-09T00:01:00,1.0,TTA-Staging,2.0\n");
  auto r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("header changed"), std::string::npos) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "TTA-Staging"), 1.25);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_energy_consumed_kwh", "TTA-Staging"), 2.5);
  r = RunAndCommit(*probe);
  EXPECT_TRUE(r.success) << r.reason;  // the reason is given once
}

TEST_F(CodecarbonProbeTest, RotationDoesNotDoubleCount) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("P", "run-a", 0.25, 1e-5, 0.5));
  auto probe = NewProbe();
  ASSERT_TRUE(RunAndCommit(*probe).success);
  std::filesystem::rename(Csv(), dir_.File("emissions.csv.bak"));
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("P", "run-a", 0.25, 1e-5, 0.5));  // copied over by the rotation
  testing::AppendToFile(Csv(), Row("P", "run-e", 0.5, 1e-5, 1.0));
  auto r = RunAndCommit(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "P"), 0.75);
}

TEST_F(CodecarbonProbeTest, MalformedRowsAndAMissingColumnAreReasons) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), "2025-10-08T12:00:00,P,run-x,1\n");  // too few fields
  testing::AppendToFile(Csv(), Row("P", "run-a", 0.25, 1e-5, 0.5));
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("1 malformed row"), std::string::npos) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "P"), 0.25);

  std::filesystem::remove(Csv());
  testing::AppendToFile(Csv(), "timestamp,project_name,duration\n2025,P,1\n");
  r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("no 'emissions' column"), std::string::npos) << r.reason;
}

TEST_F(CodecarbonProbeTest, ReadsJsonEmissionFiles) {
  std::ofstream(dir_.File("emissions.json"))
      << R"([{"project_name":"J","run_id":"r1","emissions":0.5,"energy_consumed":1.5,)"
      << R"("emissions_rate":1e-4},{"project_name":"J","run_id":"r2","emissions":"0.25"}])";
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  ASSERT_TRUE(r.success) << r.reason;  // no emissions.csv is fine when JSON is there
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "J"), 0.75);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_energy_consumed_kwh", "J"), 1.5);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_rate_kg_per_second", "J"), 1e-4);
  // Unchanged file: not read again; rewritten with a grown r1: only the growth counts.
  r = RunAndCommit(*probe);
  EXPECT_TRUE(r.log_cursors.empty());
  std::ofstream(dir_.File("emissions.json"))
      << R"({"project_name":"J","run_id":"r1","emissions":0.625,"energy_consumed":1.5})"
      << "\n";
  r = RunAndCommit(*probe);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "J"), 0.875);
}

TEST_F(CodecarbonProbeTest, MissingDirectoryOrOutputIsAReason) {
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "no codecarbon output in " + dir_.path());
  ProbeSpec spec;
  spec.key = {"c", "p"};
  CodecarbonOptions options;
  options.dir = dir_.File("nope");
  CodecarbonProbe missing(spec, options, clock_);
  EXPECT_EQ(missing.Run(Deadline{clock_.SteadyNow()}).reason,
            "no such directory " + dir_.File("nope"));
}

// Issue 13: a 200 KB file of nested arrays crashed obsmon (copying and destroying the parsed value
// recursed once per level).
TEST_F(CodecarbonProbeTest, DeeplyNestedJsonIsAReasonNotACrash) {
  testing::AppendToFile(dir_.File("emissions.json"), std::string(200'000, '[') + std::string(200'000, ']'));
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("emissions.json: JSON nested deeper than 32 levels"), std::string::npos)
      << r.reason;
}

TEST_F(CodecarbonProbeTest, BracketsInsideStringsDoNotCountAsNesting) {
  testing::AppendToFile(dir_.File("emissions.json"),
         "{\"project_name\": \"" + std::string(100, '[') + "\\\"\", \"run_id\": \"r\", "
         "\"emissions\": 0.5}\n");
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  EXPECT_EQ(r.reason.find("nested deeper"), std::string::npos) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", std::string(100, '[') + "\""), 0.5);
}

// Issue 13: a FIFO named emissions.csv blocked the probe's worker forever.
TEST_F(CodecarbonProbeTest, FifoIsAReasonNotAHang) {
  ASSERT_EQ(::mkfifo(Csv().c_str(), 0600), 0);
  auto probe = NewProbe();
  auto r = RunAndCommit(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("emissions.csv: not a regular file"), std::string::npos) << r.reason;
}

// Fuzz campaign (issue 13): every run allocated and zeroed max_read_bytes per file, whatever the
// file held. A huge limit must not be allocated: the buffer follows the file.
TEST_F(CodecarbonProbeTest, ReadBufferFollowsTheFileNotTheReadLimit) {
  testing::AppendToFile(Csv(), kHeader);
  testing::AppendToFile(Csv(), Row("P", "run-a", 0.25, 1e-5, 0.5));
  std::ofstream(dir_.File("emissions.json"))
      << R"({"project_name":"J","run_id":"r1","emissions":0.5})" << "\n";
  ProbeSpec spec;
  spec.key = {"carbon", "emissions"};
  CodecarbonOptions options;
  options.dir = dir_.path();
  options.max_read_bytes = size_t{1} << 40;  // 1 TiB: allocating it would fail
  CodecarbonProbe probe(spec, options, clock_);
  auto r = probe.Run(Deadline{clock_.SteadyNow() + std::chrono::seconds(5)});
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "P"), 0.25);
  EXPECT_DOUBLE_EQ(Gauge(r, "carbon_emissions_kg", "J"), 0.5);
  // Nothing new past the cursor: an empty read, no error.
  r = probe.Run(Deadline{clock_.SteadyNow() + std::chrono::seconds(5)});
  EXPECT_TRUE(r.success) << r.reason;
  EXPECT_TRUE(r.counters.empty());
}

TEST(CsvRecordsTest, QuotesEscapesAndIncompleteRecords) {
  auto r = Split("a,\"b,c\",\"d\"\"e\"\n\n1,,\"multi\nline\"\r\nhalf,wri");
  ASSERT_EQ(r.rows.size(), 2u);
  EXPECT_EQ(r.rows[0], (std::vector<std::string>{"a", "b,c", "d\"e"}));
  EXPECT_EQ(r.rows[1], (std::vector<std::string>{"1", "", "multi\nline"}));
  EXPECT_EQ(r.consumed, std::string("a,\"b,c\",\"d\"\"e\"\n\n1,,\"multi\nline\"\r\n").size());
}

}  // namespace
}  // namespace obsmon::probes
