#include "probes/process_probe.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <thread>

#include "tests/support/subprocess.h"

namespace obsmon::probes {
namespace {

using namespace std::chrono_literals;

ProbeSpec Spec() {
  ProbeSpec spec;
  spec.key = {"carbon", "process"};
  spec.kind = "process";
  spec.labels = Labels{{"job", "tta-staging-carbon"}};
  return spec;
}

std::unique_ptr<ProcessProbe> Make(ProcessOptions options) {
  auto probe = ProcessProbe::Create(Spec(), std::move(options), SystemClock::Instance());
  EXPECT_TRUE(probe.ok()) << probe.status().message();
  return probe.ok() ? *std::move(probe) : nullptr;
}

std::optional<double> Value(const ProbeResult& r, const std::string& name) {
  for (const auto& s : r.samples) {
    if (s.name == name) return s.value;
  }
  return std::nullopt;
}

// posix_spawn returns before the child has exec'd. Waits (1 s at most) until `pid` runs the
// program (its command line starts with `prefix`) and the kernel counts its resident pages:
// right after exec(), /proc can show the new command line while RSS is still 0, which made a
// test that expects RSS > 0 flaky under load.
void WaitForExec(int pid, const std::string& prefix) {
  testing::WaitUntil(
      [&] {
        auto st = ReadProcessStat("/proc", pid);
        return ReadCommandLine("/proc", pid).rfind(prefix, 0) == 0 && st.has_value() &&
               st->rss_bytes > 0;
      },
      1s);
}

ProbeResult RunNow(Probe& probe) {
  return probe.Run(Deadline{SystemClock::Instance().SteadyNow() + 2s});
}

// Writes one byte in every page of `block`. Not instrumented: under ASan each write also reads the
// block's shadow memory, which made the child's resident memory grow by 1/8 more than the block.
__attribute__((no_sanitize_address)) void TouchPages(char* block, size_t bytes) {
  for (size_t i = 0; i < bytes; i += 4096) block[i] = static_cast<char>(i);
}

// A forked child that, when told, touches `bytes` of memory and then burns half of one core
// (10 ms busy, 10 ms asleep). The truth is read from the kernel's CPU clock of the child
// (clock_getcpuclockid), independently of the /proc parsing under test.
class Burner {
 public:
  explicit Burner(size_t bytes) {
    shared_ = static_cast<Shared*>(
        mmap(nullptr, sizeof(Shared), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    new (shared_) Shared();
    Shared* shared = shared_;
    child_ = std::make_unique<testing::ForkedChild>([shared, bytes]() -> int {
      while (!shared->go.load()) usleep(1000);
      char* block = static_cast<char*>(malloc(bytes));
      TouchPages(block, bytes);
      shared->allocated.store(true);
      volatile uint64_t sink = 0;
      while (true) {
        auto busy_until = std::chrono::steady_clock::now() + 10ms;
        while (std::chrono::steady_clock::now() < busy_until) sink = sink + block[sink % bytes];
        usleep(10'000);
      }
    });
  }
  ~Burner() {
    child_.reset();  // SIGKILL, reaped
    munmap(shared_, sizeof(Shared));
  }
  pid_t pid() const { return child_->pid(); }
  void AllocateAndBurn() {
    shared_->go.store(true);
    while (!shared_->allocated.load()) usleep(1000);
  }
  // The child's CPU time now, from the kernel's per-process CPU clock (not /proc).
  double CpuSeconds() const {
    clockid_t id;
    timespec ts{};
    if (clock_getcpuclockid(pid(), &id) != 0 || clock_gettime(id, &ts) != 0) return -1;
    return ts.tv_sec + ts.tv_nsec / 1e9;
  }

 private:
  struct Shared {
    std::atomic<bool> go{false};
    std::atomic<bool> allocated{false};
  };
  Shared* shared_ = nullptr;
  std::unique_ptr<testing::ForkedChild> child_;  // runs the burner
};

// The one test that needs real time: CPU % is CPU time over wall time.
TEST(ProcessProbeTest, CpuAndMemoryOfABurnerMatchTheTruth) {
  constexpr size_t kBytes = 64u << 20;
  Burner burner(kBytes);
  ASSERT_GT(burner.pid(), 0);
  testing::ScratchDir dir;
  std::ofstream(dir.File("carbon.pid")) << burner.pid() << "\n";
  auto probe = Make({dir.File("carbon.pid"), "", "/proc"});

  auto before = RunNow(*probe);
  ASSERT_TRUE(before.success) << before.reason;
  EXPECT_FALSE(Value(before, "process_cpu_percent").has_value());  // first run: no CPU figure
  const double rss_before = *Value(before, "process_resident_memory_bytes");

  burner.AllocateAndBurn();
  // The truth brackets each run: the child's CPU clock and the steady clock read just before and
  // just after it. The probe's CPU figure is (its CPU reading at the second run - at the first) /
  // (steady time between them), so it lies between the least and the most the brackets allow,
  // however the scheduler delays this thread on a loaded machine; /proc counts CPU in ticks, so
  // each reading may be short by one tick.
  struct Reading {
    double cpu = 0;
    std::chrono::steady_clock::time_point at;
  };
  auto read = [&] { return Reading{burner.CpuSeconds(), std::chrono::steady_clock::now()}; };
  const Reading before_first = read();
  auto first = RunNow(*probe);
  const Reading after_first = read();
  ASSERT_TRUE(first.success);
  const double rss_after = *Value(first, "process_resident_memory_bytes");
  EXPECT_NEAR(rss_after - rss_before, static_cast<double>(kBytes), 0.1 * kBytes);

  // Real time on purpose: the probe measures a real process's CPU over real time.
  std::this_thread::sleep_for(1200ms);
  const Reading before_second = read();
  auto second = RunNow(*probe);
  const Reading after_second = read();
  ASSERT_TRUE(second.success);
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  const double tick = 1.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
  const double least = 100.0 * (before_second.cpu - after_first.cpu - 2 * tick) /
                       seconds(after_second.at - before_first.at);
  const double most = 100.0 * (after_second.cpu - before_first.cpu + 2 * tick) /
                      seconds(before_second.at - after_first.at);
  const double truth = 100.0 * (after_second.cpu - after_first.cpu) /
                       seconds(after_second.at - after_first.at);
  // A busy machine gives the burner less than its half core; a few ticks are enough to measure.
  ASSERT_GT(after_second.cpu - after_first.cpu, 5 * tick) << "the burner got no CPU to measure";
  auto cpu = Value(second, "process_cpu_percent");
  ASSERT_TRUE(cpu.has_value());
  EXPECT_GE(*cpu, least) << "truth " << truth;
  EXPECT_LE(*cpu, most) << "truth " << truth;
  // On a quiet machine the brackets are a few ms wide: the figure is the truth within 10 %.
  if (most - least < 0.05 * truth) EXPECT_NEAR(*cpu, truth, 0.1 * truth);
  // Nominally half a core; a busy shared machine may give it less, never much more.
  EXPECT_LT(*cpu, 60.0);
  EXPECT_GE(*Value(second, "process_open_fds"), 3);
  EXPECT_EQ(*Value(second, "process_restarts_total"), 0);
}

// Issue 13, fresh eyes F1: a FIFO as pid_file blocked the worker in open(2) until someone
// wrote to it (27 s in the attack), and SIGTERM waited for it. Now it is refused at once.
TEST(ProcessProbeTest, PidFileThatIsAFifoIsAReasonNotAHang) {
  testing::ScratchDir dir;
  const std::string fifo = dir.File("app.pid");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  auto probe = Make({fifo, "", "/proc"});
  const auto start = std::chrono::steady_clock::now();
  auto r = RunNow(*probe);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 1s);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "cannot read pid file: '" + fifo + "' is not a regular file");
}

TEST(ProcessProbeTest, PidChangeCountsARestartAndDeadPidIsAReason) {
  testing::ScratchDir dir;
  const std::string pid_file = dir.File("app.pid");
  auto first =
      std::make_unique<testing::Subprocess>(std::vector<std::string>{"/bin/sleep", "600"});
  WaitForExec(first->pid(), "/bin/sleep");
  std::ofstream(pid_file) << first->pid() << "\n";
  auto probe = Make({pid_file, "^/bin/sleep ", "/proc"});
  auto r = RunNow(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_TRUE(r.counters.empty());

  const int old_pid = first->pid();
  first->Kill();
  r = RunNow(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "pid " + std::to_string(old_pid) + " from " + pid_file +
                          " is not running (stale pid file)");

  testing::Subprocess second({"/bin/sleep", "600"});
  WaitForExec(second.pid(), "/bin/sleep");
  std::ofstream(pid_file) << second.pid() << "\n";
  r = RunNow(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  ASSERT_EQ(r.counters.size(), 1u);
  EXPECT_EQ(r.counters[0].name, "process_restarts_total");
  EXPECT_EQ(r.counters[0].delta, 1);
  EXPECT_EQ(*Value(r, "process_restarts_total"), 1);
  r = RunNow(*probe);  // same process: no further restart
  EXPECT_TRUE(r.counters.empty());
  EXPECT_EQ(*Value(r, "process_restarts_total"), 1);
}

// What a probe reads back from storage when obsmon starts, held in memory.
class StoredState final : public ProbeStateSource {
 public:
  std::optional<double> start_time;
  double restarts = 0;
  std::vector<LogCursor> LogCursors(const ProbeKey&) override { return {}; }
  std::vector<CounterValue> Counters(const ProbeKey& key) override {
    return {{"process_restarts_total",
             Labels{{"component", key.component}, {"probe", key.probe}}, restarts}};
  }
  std::optional<Sample> LatestSample(const std::string& name, const Labels& match) override {
    if (name != "process_start_time_seconds" || !start_time) return std::nullopt;
    EXPECT_EQ(match.Get("component"), "carbon");
    EXPECT_EQ(match.Get("probe"), "process");
    return Sample{name, match, 1, *start_time};
  }
};

// The start time (boot time + the process's start ticks) of a child started a moment ago is
// about the wall clock's now; a restart of the process while obsmon was down is found by
// comparing it with the start time stored before.
TEST(ProcessProbeTest, StartTimeIsExportedAndARestartWhileObsmonWasDownCounts) {
  testing::ScratchDir dir;
  const std::string pid_file = dir.File("app.pid");
  testing::Subprocess app({"/bin/sleep", "600"});
  WaitForExec(app.pid(), "/bin/sleep");
  std::ofstream(pid_file) << app.pid() << "\n";

  // First obsmon: records the start time.
  auto first = Make({pid_file, "", "/proc"});
  auto r = RunNow(*first);
  ASSERT_TRUE(r.success) << r.reason;
  const auto start = Value(r, "process_start_time_seconds");
  ASSERT_TRUE(start.has_value());
  const double now = std::chrono::duration<double>(
                         std::chrono::system_clock::now().time_since_epoch()).count();
  EXPECT_NEAR(*start, now, 5.0);  // the child started a moment ago

  // obsmon restarts, the process did not: no restart counted.
  StoredState same;
  same.start_time = *start;
  same.restarts = 2;
  auto second = Make({pid_file, "", "/proc"});
  second->Restore(same);
  r = RunNow(*second);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_TRUE(r.counters.empty());
  EXPECT_EQ(*Value(r, "process_restarts_total"), 2);

  // obsmon restarts and the stored start time is a minute older: the process restarted while
  // nobody was looking. Counted once, on the first run only.
  StoredState older;
  older.start_time = *start - 60;
  older.restarts = 2;
  auto third = Make({pid_file, "", "/proc"});
  third->Restore(older);
  r = RunNow(*third);
  ASSERT_TRUE(r.success) << r.reason;
  ASSERT_EQ(r.counters.size(), 1u);
  EXPECT_EQ(r.counters[0].name, "process_restarts_total");
  EXPECT_EQ(r.counters[0].delta, 1);
  EXPECT_EQ(*Value(r, "process_restarts_total"), 3);
  r = RunNow(*third);
  EXPECT_TRUE(r.counters.empty());
  EXPECT_EQ(*Value(r, "process_restarts_total"), 3);
}

// The daemon restores a running probe when storage lost one of its batches after accepting it;
// the restart that batch carried is counted again, once, against the start time storage has.
TEST(ProcessProbeTest, ARestartInABatchStorageLostIsCountedAgainAfterARestore) {
  testing::ScratchDir dir;
  const std::string pid_file = dir.File("app.pid");
  auto first = std::make_unique<testing::Subprocess>(std::vector<std::string>{"/bin/sleep", "600"});
  WaitForExec(first->pid(), "/bin/sleep");
  std::ofstream(pid_file) << first->pid() << "\n";
  auto probe = Make({pid_file, "", "/proc"});
  auto r = RunNow(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  StoredState stored;  // what storage committed of that run
  stored.start_time = Value(r, "process_start_time_seconds");
  ASSERT_TRUE(stored.start_time.has_value());

  first->Kill();
  first.reset();
  // The two children start a moment apart, within the probe's slack for start times (1.5 s:
  // btime is rounded), where a restart is told by the pid only; the stored start time is made a
  // minute older, as that of a process that had run a while.
  *stored.start_time -= 60;
  testing::Subprocess second({"/bin/sleep", "600"});
  WaitForExec(second.pid(), "/bin/sleep");
  std::ofstream(pid_file) << second.pid() << "\n";
  r = RunNow(*probe);  // the restart, in a batch storage loses
  ASSERT_EQ(r.counters.size(), 1u);

  probe->Restore(stored);
  r = RunNow(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  ASSERT_EQ(r.counters.size(), 1u);
  EXPECT_EQ(r.counters[0].delta, 1);
  EXPECT_EQ(*Value(r, "process_restarts_total"), 1);
  r = RunNow(*probe);  // counted once
  EXPECT_TRUE(r.counters.empty());
  EXPECT_EQ(*Value(r, "process_restarts_total"), 1);
}

TEST(ProcessProbeTest, BootTimeComesFromTheBtimeLine) {
  testing::ScratchDir dir;
  testing::WriteWholeFile(dir.File("stat"), "cpu  1 2 3\nbtime 1760400000\nprocesses 9\n");
  EXPECT_EQ(ReadBootTimeSeconds(dir.path()), 1760400000.0);
  testing::WriteWholeFile(dir.File("stat"), "cpu  1 2 3\nbtime x\n");
  EXPECT_FALSE(ReadBootTimeSeconds(dir.path()).has_value());
  // Fuzz campaign (issue 13, fuzz_proc): more digits than uint64 holds threw std::out_of_range.
  testing::WriteWholeFile(dir.File("stat"), "btime 34228888888888888888888888888888\n");
  EXPECT_FALSE(ReadBootTimeSeconds(dir.path()).has_value());
  testing::WriteWholeFile(dir.File("stat"), "btime 18446744073709551615\n");  // UINT64_MAX
  EXPECT_EQ(ReadBootTimeSeconds(dir.path()), 18446744073709551615.0);
  EXPECT_FALSE(ReadBootTimeSeconds(dir.File("nowhere")).has_value());
}

// Fuzz campaign (issue 13): the /proc readers allocated and zeroed their whole limit (1 MB for
// /proc/stat, 64 KB per stat and cmdline) before reading; fuzz_proc ran at 66 exec/s. They now
// read in pieces: the limits hold, and /proc's size-0 files still read whole.
TEST(ProcessProbeTest, ProcReadsKeepTheirLimitsAndReadSizeZeroFiles) {
  testing::ScratchDir root;
  std::filesystem::create_directories(root.File("7"));
  // A btime line past the first MiB of /stat is not read; within it, it is.
  testing::WriteWholeFile(root.File("stat"),
                          std::string(1 << 20, '\n') + "btime 1760400000\n");
  EXPECT_FALSE(ReadBootTimeSeconds(root.path()).has_value());
  testing::WriteWholeFile(root.File("stat"),
                          std::string((1 << 20) - 20, '\n') + "btime 1760400000\n");
  EXPECT_EQ(ReadBootTimeSeconds(root.path()), 1760400000.0);
  // A command line is cut at 64 KiB.
  testing::WriteWholeFile(root.File("7/cmdline"), std::string(100'000, 'a'));
  EXPECT_EQ(ReadCommandLine(root.path(), 7), std::string(1 << 16, 'a'));
  // The real /proc/self files report size 0 and are read whole.
  EXPECT_NE(ReadCommandLine("/proc", ::getpid()).find("process_probe_test"), std::string::npos);
  ASSERT_TRUE(ReadProcessStat("/proc", ::getpid()).has_value());
  EXPECT_GT(ReadProcessStat("/proc", ::getpid())->rss_bytes, 0u);
  EXPECT_TRUE(ReadBootTimeSeconds("/proc").has_value());
}

TEST(ProcessProbeTest, ForeignPidAndGarbagePidFileAreReasons) {
  testing::ScratchDir dir;
  const std::string pid_file = dir.File("app.pid");
  std::ofstream(pid_file) << getpid() << "\n";  // this test binary, not the component
  auto probe = Make({pid_file, "carbon_component", "/proc"});
  auto r = RunNow(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_NE(r.reason.find("not a process matching 'carbon_component'"), std::string::npos)
      << r.reason;
  std::ofstream(pid_file) << "garbage\n";
  EXPECT_EQ(RunNow(*probe).reason, "pid file " + pid_file + " holds no pid");
  // One token: digits split by whitespace were joined into another pid (fresh eyes).
  for (const char* split : {"27\n317\n", "27 317\n", "1\t2\n"}) {
    std::ofstream(pid_file) << split;
    EXPECT_EQ(RunNow(*probe).reason, "pid file " + pid_file + " holds no pid") << split;
  }
  std::filesystem::remove(pid_file);
  EXPECT_EQ(RunNow(*probe).reason, "cannot read pid file: '" + pid_file + "' does not exist");
}

TEST(ProcessProbeTest, FindsTheProcessByCommandLine) {
  testing::Subprocess child({"/bin/sleep", "1234.5678"});
  WaitForExec(child.pid(), "/bin/sleep");
  auto probe = Make({"", "sleep 1234\\.5678", "/proc"});
  auto r = RunNow(*probe);
  ASSERT_TRUE(r.success) << r.reason;
  EXPECT_GT(*Value(r, "process_resident_memory_bytes"), 0);
  child.Kill();
  r = RunNow(*probe);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "no process matches 'sleep 1234\\.5678'");
}

TEST(ProcessProbeTest, ReadsStatWithSpacesAndParenthesesInTheName) {
  testing::ScratchDir root;
  std::filesystem::create_directories(root.File("42"));
  // Fields 14/15 utime/stime = 300/200, 22 starttime = 777, 24 rss = 10 pages.
  std::ofstream(root.File("42/stat"))
      << "42 (my (odd) app) S 1 42 42 0 -1 4194560 100 0 0 0 300 200 0 0 20 0 1 0 777 "
         "1000000 10 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
  auto st = ReadProcessStat(root.path(), 42);
  ASSERT_TRUE(st.has_value());
  EXPECT_EQ(st->cpu_ticks, 500u);
  EXPECT_EQ(st->start_ticks, 777u);
  EXPECT_EQ(st->rss_bytes, 10u * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)));
  EXPECT_FALSE(ReadProcessStat(root.path(), 43).has_value());
}

TEST(ProcessProbeTest, FactoryNeedsPidFileOrMatchAndAValidRegex) {
  ConfigErrors errors;
  ConfigNode empty(YAML::Load("{}"), "obsmon.yml", &errors);
  EXPECT_EQ(MakeProcessProbe(Spec(), empty, SystemClock::Instance()), nullptr);
  EXPECT_NE(errors.ToString().find("needs pid_file or match"), std::string::npos);
  ConfigErrors errors2;
  ConfigNode bad(YAML::Load("match: '(x'"), "obsmon.yml", &errors2);
  EXPECT_EQ(MakeProcessProbe(Spec(), bad, SystemClock::Instance()), nullptr);
  EXPECT_NE(errors2.ToString().find("bad regex"), std::string::npos);
}

}  // namespace
}  // namespace obsmon::probes
