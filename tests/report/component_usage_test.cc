#include "report/component_usage.h"

#include <gtest/gtest.h>

#include "storage/storage.h"
#include "tests/support/scratch_dir.h"

namespace obsmon {
namespace {

constexpr TimestampMs kT0 = 1'760'400'000'000;

Sample At(const std::string& name, Labels labels, int minute, double value) {
  labels.Set("component", "carbon");
  return Sample{name, labels, kT0 + minute * 60'000LL, value};
}

TEST(ComponentUsageTest, IncreaseCountsFromAResetInsteadOfSubtracting) {
  EXPECT_DOUBLE_EQ(IncreaseOf({}), 0);
  EXPECT_DOUBLE_EQ(IncreaseOf({0.1, 0.3, 0.6}), 0.5);
  // 0.1 -> 0.6 is +0.5; the drop to 0.2 is a reset (+0.2); 0.2 -> 0.5 is +0.3.
  EXPECT_DOUBLE_EQ(IncreaseOf({0.1, 0.6, 0.2, 0.5}), 1.0);
}

TEST(ComponentUsageTest, NearestRankPercentiles) {
  std::vector<double> v = {50, 10, 40, 20, 30, 60, 70, 80, 90, 100};
  // n = 10: p50 is rank ceil(5) = 5 -> 50; p95 is rank ceil(9.5) = 10 -> 100.
  EXPECT_EQ(NearestRankPercentile(v, 500), 50);
  EXPECT_EQ(NearestRankPercentile(v, 950), 100);
  std::vector<double> none;
  EXPECT_FALSE(NearestRankPercentile(none, 500).has_value());
}

TEST(ComponentUsageTest, ReadsEmissionsAndResourcesOfTheWindowFromStorage) {
  obsmon::testing::ScratchDir dir;
  storage::StorageOptions options;
  options.path = dir.File("obsmon.db");
  auto writer = storage::Writer::Start(options);
  ASSERT_TRUE(writer.ok()) << writer.status().message();
  WriteBatch batch;
  // Two projects; minute -5 lies before the window and must not count.
  for (auto [minute, kg] : std::vector<std::pair<int, double>>{{-5, 0.05}, {0, 0.1}, {10, 0.4},
                                                               {20, 0.9}}) {
    batch.samples.push_back(At("carbon_emissions_kg", {{"project", "TTA-Staging"}}, minute, kg));
    batch.samples.push_back(
        At("carbon_energy_consumed_kwh", {{"project", "TTA-Staging"}}, minute, kg * 4));
  }
  batch.samples.push_back(At("carbon_emissions_kg", {{"project", "batch"}}, 1, 2.0));
  batch.samples.push_back(At("carbon_emissions_kg", {{"project", "batch"}}, 2, 2.5));
  // Another component's process must not leak in.
  Sample foreign{"process_cpu_percent", Labels{{"component", "other"}}, kT0 + 60'000, 99};
  batch.samples.push_back(foreign);
  const std::vector<double> cpu = {12, 8, 30, 15, 9, 11, 14, 10, 13, 95};
  for (size_t i = 0; i < cpu.size(); ++i) {
    batch.samples.push_back(At("process_cpu_percent", {}, static_cast<int>(i), cpu[i]));
    batch.samples.push_back(
        At("process_resident_memory_bytes", {}, static_cast<int>(i), (100 + 10 * i) * 1048576.0));
  }
  for (auto [minute, restarts] : std::vector<std::pair<int, double>>{{0, 3}, {5, 3}, {9, 5}}) {
    batch.samples.push_back(At("process_restarts_total", {}, minute, restarts));
  }
  ASSERT_TRUE((*writer)->Enqueue(batch));
  ASSERT_TRUE((*writer)->Flush().ok());

  auto reader = storage::Reader::Open(options.path);
  ASSERT_TRUE(reader.ok());
  auto usage = ReadComponentUsage(**reader, "carbon", kT0, kT0 + 3'600'000);
  ASSERT_TRUE(usage.ok()) << usage.status().message();
  ASSERT_EQ(usage->emissions.size(), 2u);
  EXPECT_EQ(usage->emissions[0].project, "TTA-Staging");
  EXPECT_NEAR(usage->emissions[0].emissions_kg, 0.8, 1e-12);  // 0.9 - 0.1
  EXPECT_NEAR(usage->emissions[0].energy_kwh, 3.2, 1e-12);    // 3.6 - 0.4
  EXPECT_EQ(usage->emissions[1].project, "batch");
  EXPECT_NEAR(usage->emissions[1].emissions_kg, 0.5, 1e-12);
  ASSERT_TRUE(usage->resources.has_value());
  const ResourceUsage& r = *usage->resources;
  // Sorted CPU: 8 9 10 11 12 13 14 15 30 95 -> p50 rank 5 = 12, p95 rank 10 = 95.
  EXPECT_EQ(r.cpu_samples, 10u);
  EXPECT_EQ(r.cpu_p50_percent, 12);
  EXPECT_EQ(r.cpu_p95_percent, 95);
  // Memory 100..190 MB: p50 rank 5 = 140 MB, max 190 MB.
  EXPECT_EQ(r.memory_p50_mb, 140);
  EXPECT_EQ(r.memory_max_mb, 190);
  EXPECT_EQ(r.restarts, 2);
  // A component without those probes has no usage at all.
  auto none = ReadComponentUsage(**reader, "nothing", kT0, kT0 + 3'600'000);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

}  // namespace
}  // namespace obsmon
