// What Reader::StreamSuccessDurations holds on the C++ heap while it reads the head: the
// daemon's refresh reads every component's latency every 15 s, and the head (storage/head.h)
// holds up to 75 s of every probe's runs. Held as whole ProbeRuns (key, reason: ~200 bytes each)
// the head of 1,000 probes at 1 s was the daemon's largest transient, 17 MB at each refresh (a
// heap profile of a 1,000-probe daemon, stop 66). This binary counts the bytes every operator new
// hands out and every delete takes back (its own replacement, so the figure is the C++ runtime's,
// not the code's own estimate), and keeps the peak.
#include <malloc.h>

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <string>

#include "storage/storage.h"
#include "tests/support/scratch_dir.h"
#include "tests/support/storage_writer.h"

namespace {
std::atomic<long> g_live{0}, g_peak{0};

void Count(long bytes) {
  const long live = g_live.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  long peak = g_peak.load(std::memory_order_relaxed);
  while (live > peak && !g_peak.compare_exchange_weak(peak, live, std::memory_order_relaxed)) {
  }
}
}  // namespace

void* operator new(size_t n) {
  void* p = std::malloc(n == 0 ? 1 : n);
  if (p == nullptr) throw std::bad_alloc();
  Count(static_cast<long>(malloc_usable_size(p)));
  return p;
}
void operator delete(void* p) noexcept {
  if (p == nullptr) return;
  Count(-static_cast<long>(malloc_usable_size(p)));
  std::free(p);
}
void operator delete(void* p, size_t) noexcept { operator delete(p); }

namespace obsmon::storage {
namespace {

// Counts the durations handed on, in one pass.
class CountDurations final : public HourDurationsPasses {
 public:
  void Visit(const HourDurations& group) override { durations += group.seconds.size(); }
  bool AnotherPass() override { return false; }
  size_t durations = 0;
};

// 1,000 probes, one run each a second for 75 s, every tenth failed, all still in the head (the
// move interval is 10 minutes): the reader hands on every successful duration, and the heap it
// holds for that at once stays a few bytes a run.
TEST(SuccessDurationsMemoryTest, TheHeadIsReadAtAFewBytesARun) {
  constexpr int kProbes = 1'000, kSeconds = 75;
  testing::ScratchDir dir;
  FakeClock clock;
  StorageOptions o;
  o.path = dir.File("obsmon.db");
  o.clock = &clock;
  o.head_move_interval_ms = 600'000;
  const TimestampMs from = clock.NowMs();
  size_t successes = 0;
  {
    auto w = testing::StartWriterOrFail(o);
    ASSERT_TRUE(w);
    for (int second = 0; second < kSeconds; ++second) {
      WriteBatch b;
      for (int i = 0; i < kProbes; ++i) {
        ProbeRun& r = b.runs.emplace_back();
        r.key = {"c", "probe-with-a-realistic-name-" + std::to_string(i)};
        r.role = ProbeRole::kHealth;
        r.ts_ms = clock.NowMs() + i;
        r.success = (second + i) % 10 != 0;
        r.duration_seconds = 0.001 * (1 + (second * 7 + i) % 50);
        r.valid_for_ms = 1500;
        if (!r.success) r.reason = "connect: connection refused (a reason of some length)";
        successes += r.success ? 1 : 0;
      }
      ASSERT_TRUE(w->Enqueue(std::move(b)));
      ASSERT_TRUE(w->Flush().ok());
      clock.Advance(1000);
    }
  }
  auto reader = testing::OpenReaderOrFail(o.path);
  ASSERT_TRUE(reader);
  CountDurations count;
  const long before = g_live.load();
  g_peak.store(before);
  ASSERT_TRUE(reader
                  ->StreamSuccessDurations("c", ProbeRole::kHealth, from, clock.NowMs() + kProbes,
                                           {}, count)
                  .ok());
  const long held = g_peak.load() - before;
  EXPECT_EQ(count.durations, successes);
  // 16 bytes a successful run (time, duration) in vectors that double: 29 a run here (2.2 MB),
  // under 48 allowed. Whole ProbeRuns held 240 a run (18.0 MB).
  EXPECT_LT(held, static_cast<long>(48 * kProbes * kSeconds))
      << "held " << held << " bytes for " << kProbes * kSeconds << " runs";
}

}  // namespace
}  // namespace obsmon::storage
