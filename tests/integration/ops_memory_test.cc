// Issue 17, item 1: what holds obsmon's memory is on /metrics, and those figures are true: the
// process_* families agree with what the kernel says of the process (read here from /proc, from
// outside), and the writer's page cache stays within storage.cache_size while probes write.
#include <dirent.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>

#include "tests/integration/ops_support.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/loopback.h"
#include "tests/support/storage_writer.h"
#include "tests/support/subprocess.h"

namespace obsmon::testing {
namespace {

using namespace std::chrono_literals;

long OpenFds(int pid) {
  DIR* d = ::opendir(("/proc/" + std::to_string(pid) + "/fd").c_str());
  if (d == nullptr) return -1;
  long n = 0;
  while (const dirent* e = ::readdir(d)) n += e->d_name[0] != '.';
  ::closedir(d);
  return n;
}

double CpuSeconds(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(in, line);
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

TEST(OpsMemoryTest, ProcessFiguresAgreeWithTheKernelAndThePageCacheKeepsItsBound) {
  // The probes keep their connections (as a user's would), so obsmon's descriptors stay put
  // while the scrape is read: with a fresh connection a run, 20 probes' sockets came and went
  // faster than a reader on a loaded machine could see, and CI twice saw 35 against 28..30.
  constexpr int kProbes = 20;
  HealthTarget target(kProbes);
  ScratchDir dir;
  std::string components;
  for (int i = 0; i < kProbes; ++i) {
    components += HealthComponentYaml("c" + std::to_string(i), target.port(),
                                      "        keep_alive: 1h\n");
  }
  WriteWholeFile(dir.File("obsmon.yml"), "listen: 127.0.0.1:0\nstorage:\n  path: " +
                                             dir.File("obsmon.db") +
                                             "\n  cache_size: 64KiB\ncomponents:\n" + components);
  int port = 0;
  auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
  ASSERT_NE(port, 0) << obsmon->Output();
  httplib::Client client("127.0.0.1", port);
  // 20 probes every 200 ms: 100 runs a second. Wait until the database (with its WAL) is 8
  // times the cache, so that an unbounded cache would show.
  auto file_bytes = [&] {
    int64_t n = 0;
    for (const std::string& f : {dir.File("obsmon.db"), dir.File("obsmon.db-wal")}) {
      std::error_code ec;
      const auto size = std::filesystem::file_size(f, ec);
      if (!ec) n += static_cast<int64_t>(size);
    }
    return n;
  };
  ASSERT_TRUE(WaitUntil([&] { return file_bytes() > 8 * 64 * 1024; }, 40s)) << file_bytes();
  std::string text;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto res = client.Get("/metrics");
        return res && MetricValue(res->body, "obsmon_http_kept_connections") == kProbes;
      },
      10s));

  // Read the kernel's figures just before and after one scrape: the scrape's own must lie
  // between them (with a little room for the scrape's allocations). The open descriptors are
  // read over and over while the scrape is in flight (a kept connection the target or the
  // probe closes is connected afresh), and the scrape's figure must lie within the lowest and
  // highest seen, give or take the scrape's own connection and the directory it reads.
  const int pid = obsmon->pid();
  // The reader has read a few times before the request goes and again after its answer came,
  // so that a loaded machine that does not run it meanwhile still gives a range around it.
  std::atomic<bool> scraping{true};
  std::atomic<int> readings{0};
  long fds_low = OpenFds(pid), fds_high = fds_low;
  std::thread fd_reader([&] {
    do {
      const long n = OpenFds(pid);
      fds_low = std::min(fds_low, n);
      fds_high = std::max(fds_high, n);
      ++readings;
    } while (scraping.load());
  });
  auto read_three_more_times = [&] {
    const int now = readings.load();
    while (readings.load() < now + 3) std::this_thread::yield();
  };
  read_three_more_times();
  const long rss_before = RssKiB(pid);
  const double cpu_before = CpuSeconds(pid);
  auto res = client.Get("/metrics");
  const long rss_after = RssKiB(pid);
  const double cpu_after = CpuSeconds(pid);
  read_three_more_times();
  scraping = false;
  fd_reader.join();
  ASSERT_TRUE(res && res->status == 200);
  text = res->body;

  auto rss = MetricValue(text, "process_resident_memory_bytes");
  ASSERT_TRUE(rss.has_value()) << text;
  EXPECT_GE(*rss / 1024, std::min(rss_before, rss_after) * 0.9);
  EXPECT_LE(*rss / 1024, std::max(rss_before, rss_after) * 1.1);
  auto fds = MetricValue(text, "process_open_fds");
  ASSERT_TRUE(fds.has_value());
  std::cout << "open descriptors: the scrape's " << *fds << ", seen " << fds_low << ".." << fds_high
            << " in " << readings.load() << " readings\n";
  // The scrape's own connection may come and go between the readings.
  EXPECT_GE(*fds, fds_low - 2) << "seen " << fds_low << ".." << fds_high;
  EXPECT_LE(*fds, fds_high + 2) << "seen " << fds_low << ".." << fds_high;
  auto cpu = MetricValue(text, "process_cpu_seconds_total");
  ASSERT_TRUE(cpu.has_value());
  EXPECT_GE(*cpu, cpu_before - 0.011);
  EXPECT_LE(*cpu, cpu_after + 0.011);
  auto start = MetricValue(text, "process_start_time_seconds");
  auto obsmon_start = MetricValue(text, "obsmon_start_time_seconds");
  ASSERT_TRUE(start && obsmon_start);
  EXPECT_NEAR(*start, *obsmon_start, 2.0);  // the kernel's start and obsmon's own clock

  auto cache = MetricValue(text, "obsmon_storage_cache_bytes");
  ASSERT_TRUE(cache.has_value());
  EXPECT_GT(*cache, 16 * 1024);
  EXPECT_LE(*cache, 64 * 1024 * 5 / 4) << "storage.cache_size: 64KiB; the files: " << file_bytes();
  auto queue_rows = MetricValue(text, "obsmon_storage_queue_rows");
  ASSERT_TRUE(queue_rows.has_value());
  EXPECT_GE(*queue_rows, 0);
  auto in_use = MetricValue(text, "obsmon_heap_bytes", "in_use");
  auto free = MetricValue(text, "obsmon_heap_bytes", "free");
  ASSERT_TRUE(in_use && free);
  // SQLite's memory holds the writer's page cache (and allocates through malloc: part of in_use).
  auto sqlite_memory = MetricValue(text, "obsmon_sqlite_memory_bytes");
  ASSERT_TRUE(sqlite_memory.has_value());
  EXPECT_GE(*sqlite_memory, *cache);
  if (!kAddressSanitizer) {  // ASan replaces malloc: glibc's figures are then its own, near 0
    EXPECT_GT(*in_use, 1 << 20);
    EXPECT_LT(*in_use, *rss);
    EXPECT_LT(*sqlite_memory, *in_use);
  }
  // Each health probe writes its series: their ids are what the writer caches (at least one
  // each: probe_success), never more than its bound.
  auto series_ids = MetricValue(text, "obsmon_storage_series_id_cache_entries");
  ASSERT_TRUE(series_ids.has_value());
  EXPECT_GE(*series_ids, 20);
  EXPECT_LE(*series_ids, 50'000);
  // The SLO rules read every probe's `up`: the head holds points, 16 bytes each and room to grow.
  auto head_points = MetricValue(text, "obsmon_rule_head_points");
  auto head_bytes = MetricValue(text, "obsmon_rule_head_point_bytes");
  ASSERT_TRUE(head_points && head_bytes) << text;
  EXPECT_GT(*head_points, 0);
  EXPECT_GE(*head_bytes, *head_points * 16);
  // The head's series but their points (labels, indexes) and the writer's queue: parts of the
  // heap in use with the two above, together never more than it (each is checked against
  // malloc's own count in its unit test).
  auto index_bytes = MetricValue(text, "obsmon_rule_head_index_bytes");
  auto queue_bytes = MetricValue(text, "obsmon_storage_queue_bytes");
  ASSERT_TRUE(index_bytes && queue_bytes) << text;
  auto head_series = MetricValue(text, "obsmon_rule_head_series");
  ASSERT_TRUE(head_series.has_value());
  EXPECT_GT(*index_bytes, *head_series * 200);  // an entry, its labels and its index nodes
  EXPECT_GE(*queue_bytes, 0);
  // The live reports the refresher keeps (none yet, or some: the first refresh at start found
  // no run stored, the next is 15 s later): exported from the first refresh on, part of the heap.
  auto report_bytes = MetricValue(text, "obsmon_uptime_live_report_bytes");
  ASSERT_TRUE(report_bytes.has_value()) << text;
  if (!kAddressSanitizer) {
    EXPECT_LT(*sqlite_memory + *head_bytes + *index_bytes + *queue_bytes + *report_bytes,
              *in_use);
  }
}

std::string ProcFile(int pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The kernel's high-water mark of the process, in MB.
double PeakRssMb(int pid) {
  std::istringstream status(ProcFile(pid, "status"));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024;
  }
  return -1;
}

// The alert rules' history is read back at start one series at a time and only for the metrics
// the rules select. Before (fresh eyes, stop 66) the whole window of every metric was read into
// memory first: the last hour of large scrapes took a restarted daemon to 700 MB, and past 5
// million samples the rules started with no history. Truth: what this test wrote into the
// database before the start, 300,000 samples of a metric no rule reads and 120 of the one the
// rule reads; the daemon's peak (the kernel's VmHWM) against the same daemon started on a
// database without the 300,000.
TEST(OpsMemoryTest, ARestartReadsBackOnlyTheSeriesTheRulesSelectOneAtATime) {
  const ClosedLoopbackPort closed;
  auto start = [&](bool with_unread, double* peak_mb, std::string* log) {
    ScratchDir dir;
    const TimestampMs now = SystemClock::Instance().NowMs();
    WriteBatch b;
    for (int i = 0; i < 120; ++i) {
      b.samples.push_back({"legacy_queue_depth", Labels{{"job", "web"}}, now - 240'000 + i * 2'000,
                           1.0 * i});
    }
    for (int series = 0; with_unread && series < 3'000; ++series) {
      for (int i = 0; i < 100; ++i) {
        b.samples.push_back({"unread_scrape_metric", Labels{{"series", std::to_string(series)}},
                             now - 240'000 + i * 2'400, 1.0 * i});
      }
    }
    WriteThroughWriter(dir.File("obsmon.db"), SystemClock::Instance(), std::move(b));
    WriteWholeFile(dir.File("rules.yml"), "groups:\n  - name: web\n    rules:\n"
                                          "      - alert: QueueDeep\n"
                                          "        expr: legacy_queue_depth{job=\"web\"} > 1000\n");
    WriteWholeFile(dir.File("obsmon.yml"),
                   "listen: 127.0.0.1:0\nstorage: {path: " + dir.File("obsmon.db") +
                       "}\nrule_files: [rules.yml]\ncomponents:\n  - name: web\n    probes:\n"
                       "      - {name: health, kind: tcp, address: \"127.0.0.1:" +
                       std::to_string(closed.port()) + "\", interval: 1s, timeout: 150ms}\n");
    int port = 0;
    auto obsmon = StartObsmon(dir.File("obsmon.yml"), dir.File("obsmon.log"), &port);
    ASSERT_NE(port, 0) << obsmon->Output();
    *peak_mb = PeakRssMb(obsmon->pid());  // the read-back is done before the daemon listens
    *log = obsmon->Output();
  };
  double peak_without = 0, peak_with = 0;
  std::string log_without, log_with;
  start(false, &peak_without, &log_without);
  start(true, &peak_with, &log_with);
  for (const std::string* log : {&log_without, &log_with}) {
    EXPECT_NE(log->find("alerting: 120 samples of the last"), std::string::npos) << *log;
  }
  // The 300,000 held at once were ~75 MB; one series at a time and SQLite's sorter within the
  // read's 2 MiB cache, a few. (ASan's quarantine keeps what is freed: bounds in the normal
  // build only.)
  if (kAddressSanitizer) return;
  EXPECT_LT(peak_with, peak_without + 12)
      << "VmHWM " << peak_with << " MB with 300,000 unread samples stored, " << peak_without
      << " MB without";
}

// GLIBC_TUNABLES as the process was started with it, "" when unset. glibc's start-up parses it
// in place, writing a NUL over each ':' between tunables, so the entries after it that are
// tunables ("glibc.") are joined back.
std::string TunablesOf(int pid) {
  std::istringstream all(ProcFile(pid, "environ"));
  std::string entry, value;
  bool in = false;
  while (std::getline(all, entry, '\0')) {
    if (!in && entry.starts_with("GLIBC_TUNABLES=")) {
      value = entry.substr(15);
      in = true;
    } else if (in && entry.starts_with("glibc.")) {
      value += ":" + entry;
    } else {
      in = false;
    }
  }
  return value;
}

// The port a started daemon says it listens on ("(port N)" in its log), 0 when it did not
// within 20 s.
int ListeningPort(const Subprocess& obsmon) {
  int port = 0;
  WaitUntil(
      [&] {
        const std::string out = obsmon.Output();
        const auto at = out.find("(port ");
        if (at != std::string::npos) port = std::stoi(out.substr(at + 6));
        return port != 0;
      },
      20s);
  return port;
}

// The daemon listens and answers /healthz with 200.
void ExpectServing(const Subprocess& obsmon) {
  const int port = ListeningPort(obsmon);
  ASSERT_NE(port, 0) << obsmon.Output();
  httplib::Client client("127.0.0.1", port);
  auto res = client.Get("/healthz");
  ASSERT_TRUE(res) << obsmon.Output();
  EXPECT_EQ(res->status, 200);
}

// The value of `name` in an `env` listing, nullopt when absent.
std::optional<std::string> EnvValue(const std::string& listing, const std::string& name) {
  std::istringstream lines(listing);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.starts_with(name + "=")) return line.substr(name.size() + 1);
  }
  return std::nullopt;
}

// Stop 65: `obsmon run` executes itself again with glibc's per-thread caches off (they are read
// only at start, from GLIBC_TUNABLES), keeping its pid, a user's own tunables, and the name the
// kernel gave it (the file it was started as: a symlink's own name, as for any program); a
// user's own tcache_count wins. Its children (an exec probe's command) get the user's
// environment, not the daemon's setting (fresh eyes, stop 65: every exec probe ran with it).
TEST(OpsMemoryTest, TheDaemonRunsWithoutThreadCachesUnderItsOwnNameAndPid) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan's allocator is not glibc's: nothing to set";
  HealthTarget target(1);
  ScratchDir links;
  const std::string link = links.File("obsmon-staging");
  ASSERT_EQ(::symlink(kObsmonBinary.c_str(), link.c_str()), 0);
  const char* before = std::getenv("GLIBC_TUNABLES");
  const std::string saved = before != nullptr ? before : "";
  struct Case {
    const char* users;  // the user's GLIBC_TUNABLES, nullptr: unset
    std::string expected;
    std::string binary;
    const char* own_name = nullptr;  // a user's OBSMON_EXEC_NAME (fresh eyes, stop 65: obeyed)
  };
  for (const Case& c :
       {Case{nullptr, "glibc.malloc.tcache_count=0", kObsmonBinary},
        Case{"glibc.malloc.mxfast=0", "glibc.malloc.mxfast=0:glibc.malloc.tcache_count=0",
             kObsmonBinary},
        Case{"glibc.malloc.tcache_count=5", "glibc.malloc.tcache_count=5", kObsmonBinary},
        // Not a tcache_count: the setting is still added (a substring match took it for one).
        Case{"glibc.malloc.tcache_countx=1",
             "glibc.malloc.tcache_countx=1:glibc.malloc.tcache_count=0", kObsmonBinary},
        Case{nullptr, "glibc.malloc.tcache_count=0", link},
        Case{nullptr, "glibc.malloc.tcache_count=0", kObsmonBinary, "sshd"}}) {
    SCOPED_TRACE((c.users != nullptr ? c.users : "GLIBC_TUNABLES unset") + (" " + c.binary));
    if (c.users != nullptr) {
      ::setenv("GLIBC_TUNABLES", c.users, 1);
    } else {
      ::unsetenv("GLIBC_TUNABLES");
    }
    if (c.own_name != nullptr) {
      ::setenv("OBSMON_EXEC_NAME", c.own_name, 1);
    } else {
      ::unsetenv("OBSMON_EXEC_NAME");
    }
    ScratchDir dir;
    const std::string child_env = dir.File("child.env");
    WriteWholeFile(dir.File("obsmon.yml"),
                   "listen: 127.0.0.1:0\nstorage:\n  path: " + dir.File("obsmon.db") +
                       "\ncomponents:\n" + HealthComponentYaml("c", target.port(), "") +
                       "      - name: env\n        kind: exec\n        interval: 1s\n"
                       "        command: [/bin/sh, -c, \"env > " + child_env + ".new && mv " +
                       child_env + ".new " + child_env + "\"]\n");
    Subprocess obsmon({c.binary, "run", "--config", dir.File("obsmon.yml")}, dir.File("log"));
    ExpectServing(obsmon);
    if (HasFatalFailure()) return;
    // The process started is the one serving, and named as the kernel names any program.
    EXPECT_EQ(TunablesOf(obsmon.pid()), c.expected);
    const std::string name = std::filesystem::path(c.binary).filename().string();
    EXPECT_EQ(ProcFile(obsmon.pid(), "comm"), name.substr(0, 15) + "\n");
    ASSERT_TRUE(WaitUntil([&] { return std::filesystem::exists(child_env); }, 20s));
    const std::string listing = ReadWholeFile(child_env);
    if (c.users != nullptr) {
      EXPECT_EQ(EnvValue(listing, "GLIBC_TUNABLES"), std::string(c.users)) << listing;
    } else {
      EXPECT_EQ(EnvValue(listing, "GLIBC_TUNABLES"), std::nullopt) << listing;
    }
    // OBSMON_EXEC_* are obsmon's own names (operations.md): a user's neither names the process
    // nor stops the setting (checked above), and none reaches the children.
    EXPECT_EQ(listing.find("OBSMON_EXEC_"), std::string::npos) << listing;
    EXPECT_EQ(obsmon.Output().find("per-thread caches stay on"), std::string::npos);
  }
  ::unsetenv("OBSMON_EXEC_NAME");
  if (before != nullptr) {
    ::setenv("GLIBC_TUNABLES", saved.c_str(), 1);
  } else {
    ::unsetenv("GLIBC_TUNABLES");
  }
}

// Started through the dynamic loader (`ld-linux-x86-64.so.2 obsmon run`, as bundled installs
// do), /proc/self/exe is the loader: executed again with obsmon's arguments it failed at once
// ("run: cannot open shared object file", fresh eyes, stop 65). It now starts once and says its
// caches stay on.
TEST(OpsMemoryTest, StartedThroughTheDynamicLoaderItStartsOnceAndSaysItsCachesStayOn) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan's allocator is not glibc's: nothing to set";
  const std::string loader = "/lib64/ld-linux-x86-64.so.2";
  if (!std::filesystem::exists(loader)) GTEST_SKIP() << "no " << loader << " (not x86-64)";
  HealthTarget target(1);
  ScratchDir dir;
  WriteWholeFile(dir.File("obsmon.yml"), "listen: 127.0.0.1:0\nstorage:\n  path: " +
                                             dir.File("obsmon.db") + "\ncomponents:\n" +
                                             HealthComponentYaml("c", target.port(), ""));
  Subprocess obsmon({loader, kObsmonBinary, "run", "--config", dir.File("obsmon.yml")},
                    dir.File("log"));
  ExpectServing(obsmon);
  if (HasFatalFailure()) return;
  EXPECT_NE(obsmon.Output().find("per-thread caches stay on: started through the dynamic loader"),
            std::string::npos)
      << obsmon.Output();
}

// A binary given a file capability (to listen on port 80, say) and run by another user starts
// in secure mode, where glibc drops GLIBC_TUNABLES: executed again it saw no setting and
// executed again, forever, at a core's worth of CPU, never listening (fresh eyes, stop 65). It
// now starts once, with the caches on, and says so.
TEST(OpsMemoryTest, ABinaryWithAFileCapabilityStartsOnceAndSaysItsCachesStayOn) {
  if (kAddressSanitizer) GTEST_SKIP() << "ASan's allocator is not glibc's: nothing to set";
  if (::geteuid() != 0) GTEST_SKIP() << "setcap and setpriv need root";
  ScratchDir dir;
  ::chmod(dir.path().c_str(), 0777);  // the other user writes its database here
  const std::string binary = dir.File("obsmon-cap");
  std::filesystem::copy_file(kObsmonBinary, binary);
  const auto [cap_code, cap_out] =
      RunCommand({"setcap", "cap_net_bind_service+ep", binary}, dir.File("setcap.out"));
  // A file system without extended attributes, or a container without CAP_SETFCAP, cannot give
  // one: then there is no secure mode to start in.
  if (cap_code != 0) {
    GTEST_SKIP() << "setcap (libcap2-bin) cannot set a capability here: " << cap_out;
  }
  HealthTarget target(1);
  WriteWholeFile(dir.File("obsmon.yml"), "listen: 127.0.0.1:0\nstorage:\n  path: " +
                                             dir.File("obsmon.db") + "\ncomponents:\n" +
                                             HealthComponentYaml("c", target.port(), ""));
  Subprocess obsmon({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary, "run",
                     "--config", dir.File("obsmon.yml")},
                    dir.File("log"));
  ExpectServing(obsmon);
  if (HasFatalFailure()) return;
  EXPECT_EQ(ProcFile(obsmon.pid(), "comm"), "obsmon-cap\n");
  EXPECT_NE(obsmon.Output().find("per-thread caches stay on: the binary runs in secure mode"),
            std::string::npos)
      << obsmon.Output();
}

}  // namespace
}  // namespace obsmon::testing
