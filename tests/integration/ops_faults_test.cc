// Faults the real obsmon binary must survive or refuse clearly: a second obsmon on the same
// database, a corrupt database file (never silently recreated), and a full disk (writes fail
// with a clear error and metric, probing goes on, writing resumes when space returns and the
// runs probed meanwhile are stored).
#include <gtest/gtest.h>
#include <sys/mount.h>

#include <fstream>
#include <iostream>

#include "core/clock.h"
#include "storage/storage.h"
#include "tests/integration/ops_support.h"

namespace obsmon {
namespace {

using namespace std::chrono_literals;
using testing::HealthTarget;
using testing::MetricValue;
using testing::ReadWholeFile;
using testing::RunCommand;
using testing::ScratchDir;
using testing::StartObsmon;
using testing::WaitUntil;
using testing::WriteWholeFile;

std::string Config(const std::string& db, int target_port, int probes = 1) {
  std::string text =
      "listen: 127.0.0.1:0\n"
      "uptime_refresh: 500ms\n"
      "storage:\n  path: " +
      db +
      "\n"
      "components:\n"
      "  - name: web\n"
      "    probes:\n";
  for (int i = 0; i < probes; ++i) {
    text += "      - name: health" + std::to_string(i) +
            "\n"
            "        kind: http\n"
            "        url: http://127.0.0.1:" +
            std::to_string(target_port) +
            "/health\n"
            "        interval: 100ms\n"
            "        timeout: 90ms\n";
  }
  return text;
}

std::string Metrics(int port) {
  httplib::Client c("127.0.0.1", port);
  auto res = c.Get("/metrics");
  return res && res->status == 200 ? res->body : "";
}

TEST(OpsFaultsTest, SecondObsmonOnSameDatabaseRefusesClearly) {
  ScratchDir dir;
  HealthTarget target;
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config, Config(dir.File("obsmon.db"), target.port()));
  int port = 0;
  auto first = StartObsmon(config, dir.File("first.log"), &port);
  ASSERT_GT(port, 0) << first->Output();

  auto [code, out] =
      RunCommand({testing::kObsmonBinary, "run", "--config", config}, dir.File("second.log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("is in use by another obsmon (pid " + std::to_string(first->pid()) + ")"),
            std::string::npos)
      << out;
  // The first keeps working.
  EXPECT_FALSE(Metrics(port).empty());
  first->Signal(SIGTERM);
  EXPECT_EQ(first->Wait(), 0) << first->Output();
}

TEST(OpsFaultsTest, CorruptDatabaseIsRefusedAndNeverRecreated) {
  ScratchDir dir;
  HealthTarget target;
  const std::string db = dir.File("obsmon.db");
  std::string garbage(64 * 1024, '\0');
  for (size_t i = 0; i < garbage.size(); ++i) garbage[i] = static_cast<char>((i * 131 + 7) % 251);
  WriteWholeFile(db, garbage);
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config, Config(db, target.port()));
  auto [code, out] =
      RunCommand({testing::kObsmonBinary, "run", "--config", config}, dir.File("run.log"));
  EXPECT_EQ(code, 1) << out;
  EXPECT_NE(out.find("cannot start"), std::string::npos) << out;
  EXPECT_NE(out.find(db), std::string::npos) << "the error must name the file: " << out;
  EXPECT_EQ(ReadWholeFile(db), garbage) << "the corrupt file was modified or recreated";
}

// A tmpfs of its own, so the disk can fill without touching anyone else's. Needs CAP_SYS_ADMIN.
class SmallFilesystem {
 public:
  explicit SmallFilesystem(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string opts = "size=" + size + ",mode=0755";
    mounted_ = ::mount("tmpfs", path.c_str(), "tmpfs", 0, opts.c_str()) == 0;
  }
  ~SmallFilesystem() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

  // Writes a filler file until the filesystem is full; returns its size.
  size_t Fill(const std::string& name) {
    std::FILE* f = std::fopen((path_ + "/" + name).c_str(), "wb");
    if (!f) return 0;
    std::setvbuf(f, nullptr, _IONBF, 0);
    const std::string block(4096, 'f');
    size_t written = 0;
    for (;;) {
      size_t n = std::fwrite(block.data(), 1, block.size(), f);
      written += n;
      if (n < block.size()) break;
    }
    std::fclose(f);
    return written;
  }

 private:
  std::string path_;
  bool mounted_ = false;
};

TEST(OpsFaultsTest, DiskFullFailsWritesVisiblyThenResumesWithoutLosingRuns) {
  ScratchDir dir;
  SmallFilesystem fs(dir.File("disk"), "8m");
  if (!fs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)";
  HealthTarget target;
  const std::string db = dir.File("disk/obsmon.db");
  const std::string config = dir.File("obsmon.yml");
  WriteWholeFile(config, Config(db, target.port(), /*probes=*/20));
  int port = 0;
  auto obsmon = StartObsmon(config, dir.File("obsmon.log"), &port);
  ASSERT_GT(port, 0) << obsmon->Output();
  ASSERT_TRUE(WaitUntil([&] {
    auto rows = MetricValue(Metrics(port), "obsmon_storage_committed_rows_total");
    return rows && *rows > 100;
  })) << obsmon->Output();

  // The disk fills up.
  ASSERT_GT(fs.Fill("filler"), 0u);
  const TimestampMs full_from = SystemClock::Instance().NowMs();
  std::string m;
  ASSERT_TRUE(WaitUntil(
      [&] {
        m = Metrics(port);
        auto errors = MetricValue(m, "obsmon_storage_write_errors_total");
        // Several failed attempts (one retry a second): the failure persists, not a one-off.
        return errors && *errors >= 3 &&
               MetricValue(m, "obsmon_storage_last_write_successful") == 0.0;
      },
      60s))
      << m << obsmon->Output();
  // Probing goes on meanwhile.
  // obsmon's own count of health0's successful runs (labels are in name order).
  const std::string health0_ok = "probe=\"health0\",result=\"success\"";
  const double runs_at_full = *MetricValue(m, "obsmon_probe_runs_total", health0_ok);
  double runs_at_end = runs_at_full;  // the same count at full_to
  ASSERT_TRUE(WaitUntil([&] {
    auto runs = MetricValue(Metrics(port), "obsmon_probe_runs_total", health0_ok);
    if (runs) runs_at_end = *runs;
    return runs && *runs >= runs_at_full + 10;
  })) << "probing stopped while the disk was full";
  const TimestampMs full_to = SystemClock::Instance().NowMs();
  const std::string log_during = obsmon->Output();
  std::cout << "write errors while full: "
            << *MetricValue(Metrics(port), "obsmon_storage_write_errors_total") << "\n";
  EXPECT_NE(log_during.find("storage writes failing"), std::string::npos) << log_during;
  EXPECT_TRUE(log_during.find("full") != std::string::npos ||
              log_during.find("FULL") != std::string::npos)
      << "no clear disk-full error in the log:\n"
      << log_during;

  // Space returns: writing resumes on its own.
  std::filesystem::remove(dir.File("disk/filler"));
  ASSERT_TRUE(WaitUntil(
      [&] { return MetricValue(Metrics(port), "obsmon_storage_last_write_successful") == 1.0; },
      30s))
      << obsmon->Output();
  const std::string after = Metrics(port);
  EXPECT_EQ(MetricValue(after, "obsmon_storage_dropped_batches_total"), 0.0);
  obsmon->Signal(SIGTERM);
  EXPECT_EQ(obsmon->Wait(), 0) << obsmon->Output();

  // The runs probed while the disk was full were kept in memory and written afterwards.
  auto reader = storage::Reader::Open(db);
  ASSERT_TRUE(reader.ok()) << reader.status().message();
  auto runs = (*reader)->ProbeRuns("web", full_from, full_to);
  ASSERT_TRUE(runs.ok());
  size_t during = 0;
  for (const ProbeRun& r : *runs) {
    if (r.key.probe == "health0" && r.ts_ms >= full_from + 500 && r.ts_ms < full_to) ++during;
  }
  // Every successful run obsmon counted until full_to (10 or more while the disk was full) is
  // stored: its own count, not the 100 ms schedule, which a loaded sanitized run need not keep.
  auto all = (*reader)->ProbeRuns("web", 0, SystemClock::Instance().NowMs() + 60'000);
  ASSERT_TRUE(all.ok());
  size_t stored = 0;
  for (const ProbeRun& r : *all) stored += r.key.probe == "health0" && r.success;
  EXPECT_GE(static_cast<double>(stored), runs_at_end)
      << "runs probed during the full disk were lost (" << runs_at_end - runs_at_full
      << " while it was full)";
  const double expected = (full_to - full_from - 500) / 100.0;
  std::cout << "disk full for " << (full_to - full_from)
            << " ms; health0 runs stored from then: " << during << " (about " << expected
            << " expected)\n";
}

}  // namespace
}  // namespace obsmon
