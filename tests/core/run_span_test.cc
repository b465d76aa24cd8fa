#include "core/run_span.h"

#include <gtest/gtest.h>

#include <vector>

namespace obsmon {
namespace {

ProbeRun MakeRun(const char* probe, TimestampMs ts, bool ok, int64_t valid_for = 1500,
             const char* reason = "") {
  ProbeRun r;
  r.key = {"c", probe};
  r.ts_ms = ts;
  r.success = ok;
  r.valid_for_ms = valid_for;
  r.reason = ok ? "" : reason;
  return r;
}

TEST(RunSpanTest, SameVerdictWithoutHoleIsOneSpan) {
  std::vector<ProbeRun> runs;
  for (int i = 0; i < 10; ++i) runs.push_back(MakeRun("h", 1000 * i, true));
  auto spans = CompressRuns(runs);
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].start_ms, 0);
  EXPECT_EQ(spans[0].last_run_ms, 9000);
  EXPECT_EQ(spans[0].end_ms, 10'500);
  EXPECT_EQ(spans[0].runs, 10u);
  EXPECT_TRUE(spans[0].success);
}

TEST(RunSpanTest, VerdictChangeAndCoverageHoleStartNewSpans) {
  // up, up, down (reason a), down (reason b), hole (next run after 1500 ms), down.
  std::vector<ProbeRun> runs = {MakeRun("h", 0, true),           MakeRun("h", 1000, true),
                                MakeRun("h", 2000, false, 1500, "a"), MakeRun("h", 3000, false, 1500, "b"),
                                MakeRun("h", 4501, false, 1500, "c")};
  auto spans = CompressRuns(runs);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_TRUE(spans[0].success);
  EXPECT_EQ(spans[0].end_ms, 2500);
  EXPECT_FALSE(spans[1].success);
  EXPECT_EQ(spans[1].start_ms, 2000);
  EXPECT_EQ(spans[1].end_ms, 4500);
  EXPECT_EQ(spans[1].reason, "a");  // the first run's reason
  EXPECT_EQ(spans[1].runs, 2u);
  EXPECT_EQ(spans[2].start_ms, 4501);
  EXPECT_EQ(spans[2].reason, "c");
}

TEST(RunSpanTest, RunStartingExactlyAtCoverageEndContinues) {
  auto spans = CompressRuns(std::vector<ProbeRun>{MakeRun("h", 0, true, 1000), MakeRun("h", 1000, true)});
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].end_ms, 2500);
}

TEST(RunSpanTest, ShorterValidityOfLastRunEndsTheSpanEarlier) {
  auto spans =
      CompressRuns(std::vector<ProbeRun>{MakeRun("h", 0, true, 60'000), MakeRun("h", 1000, true, 500)});
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(spans[0].end_ms, 1500);
}

TEST(RunSpanTest, GroupsByProbeSortsByTimeAndKeepsTheFirstDuplicate) {
  std::vector<ProbeRun> runs = {MakeRun("b", 1000, true), MakeRun("a", 2000, false, 1500, "x"),
                                MakeRun("a", 0, true),    MakeRun("a", 2000, true),
                                MakeRun("b", 0, true)};
  auto spans = CompressRuns(runs);
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].key.probe, "a");
  EXPECT_TRUE(spans[0].success);
  EXPECT_EQ(spans[1].key.probe, "a");
  EXPECT_FALSE(spans[1].success);  // the first of the two runs at 2000
  EXPECT_EQ(spans[1].reason, "x");
  EXPECT_EQ(spans[2].key.probe, "b");
  EXPECT_EQ(spans[2].runs, 2u);
}

TEST(RunSpanTest, SpanAsRunCoversWhatTheSpanCovers) {
  RunSpan s = CompressRuns(std::vector<ProbeRun>{MakeRun("h", 100, false, 1500, "r"),
                                                 MakeRun("h", 1100, false, 1500, "q")})[0];
  ProbeRun r = SpanAsRun(s);
  EXPECT_EQ(r.ts_ms, 100);
  EXPECT_EQ(r.valid_for_ms, 2500);
  EXPECT_FALSE(r.success);
  EXPECT_EQ(r.reason, "r");
}

}  // namespace
}  // namespace obsmon
