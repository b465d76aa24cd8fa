#include "runtime/due_walk.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <random>

namespace obsmon {
namespace {

struct FakeEntry {
  SteadyTime next_due;
  bool startable = true;
  int claimant = -1;
};
using Index = std::multimap<SteadyTime, std::shared_ptr<FakeEntry>>;

struct Schedule {
  Index by_due;
  std::vector<FakeEntry*> claimed;
  std::multiset<SteadyTime> unstartable_due;
};

// `n` entries due within `spread_ms` (many share a millisecond), each claimed with probability
// `p_claim` and not Startable with probability `p_unstartable`.
Schedule Random(std::mt19937& rng, int n, int spread_ms, double p_claim, double p_unstartable) {
  Schedule s;
  std::uniform_int_distribution<int> at(0, spread_ms);
  std::bernoulli_distribution claim(p_claim), unstartable(p_unstartable);
  for (int i = 0; i < n; ++i) {
    auto e = std::make_shared<FakeEntry>();
    e->next_due = SteadyTime(std::chrono::milliseconds(at(rng)));
    e->startable = !unstartable(rng);
    if (claim(rng)) {
      e->claimant = i;
      s.claimed.push_back(e.get());
    }
    if (!e->startable) s.unstartable_due.insert(e->next_due);
    s.by_due.emplace(e->next_due, std::move(e));
  }
  return s;
}

// The index of an iterator's place, for messages (end() is the size).
size_t Place(Index& by_due, Index::iterator it) {
  return static_cast<size_t>(std::distance(by_due.begin(), it));
}

TEST(DueWalkTest, TheJumpingSearchFindsWhatTheWalkFinds) {
  std::mt19937 rng(20261207);
  int answered_past_a_claim = 0, jumped = 0;
  for (int round = 0; round < 20'000; ++round) {
    const int n = std::uniform_int_distribution<int>(0, 120)(rng);
    const int spread = std::uniform_int_distribution<int>(1, 2'000)(rng);
    const double p_claim = std::uniform_real_distribution<double>(0, 0.3)(rng);
    const double p_unstartable = round % 3 == 0 ? 0.0 : 0.1;
    Schedule s = Random(rng, n, spread, p_claim, p_unstartable);
    const bool batching = round % 7 != 0;
    const auto window = std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 300)(rng));
    const auto walked = FirstUncoveredByWalking(s.by_due, batching, window);
    const auto found = FirstUncovered(s.by_due, batching, window, s.claimed, s.unstartable_due);
    ASSERT_EQ(Place(s.by_due, found), Place(s.by_due, walked))
        << "round " << round << ": " << n << " entries over " << spread << " ms, window "
        << window.count() << " ms, batching " << batching;
    if (walked != s.by_due.begin()) ++answered_past_a_claim;
    size_t covered = 0;  // unclaimed runs the walk passed: what the search jumps over
    for (auto it = s.by_due.begin(); it != walked; ++it) covered += it->second->claimant < 0;
    if (covered >= 5) ++jumped;
  }
  // The rounds exercised what matters: answers past claims and past covered runs.
  EXPECT_GT(answered_past_a_claim, 2'000);
  EXPECT_GT(jumped, 1'000);
}

TEST(DueWalkTest, ARunThatIsNotStartableEndsACoveredStretch) {
  Schedule s;
  const auto at = [](int ms) { return SteadyTime(std::chrono::milliseconds(ms)); };
  for (int ms : {0, 10, 20, 30, 40}) {
    auto e = std::make_shared<FakeEntry>();
    e->next_due = at(ms);
    s.by_due.emplace(e->next_due, e);
  }
  s.by_due.begin()->second->claimant = 0;  // claims 0 ms, covering up to 100 ms
  s.claimed.push_back(s.by_due.begin()->second.get());
  auto thirty = s.by_due.find(at(30));
  thirty->second->startable = false;
  s.unstartable_due.insert(at(30));
  const auto window = std::chrono::milliseconds(100);
  EXPECT_EQ(FirstUncovered(s.by_due, true, window, s.claimed, s.unstartable_due), thirty);
  thirty->second->startable = true;  // all Startable: nothing left uncovered
  s.unstartable_due.clear();
  EXPECT_EQ(FirstUncovered(s.by_due, true, window, s.claimed, s.unstartable_due), s.by_due.end());
}

}  // namespace
}  // namespace obsmon
