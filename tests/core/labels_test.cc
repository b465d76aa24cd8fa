#include "core/labels.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace obsmon {
namespace {

TEST(LabelsTest, SortedAndCanonical) {
  Labels a{{"job", "carbon"}, {"env", "staging"}};
  Labels b{{"env", "staging"}, {"job", "carbon"}};
  EXPECT_EQ(a, b);
  EXPECT_EQ(a.Hash(), b.Hash());
  EXPECT_EQ(a.ToString(), R"({env="staging",job="carbon"})");
}

TEST(LabelsTest, EmptyValueRemovesLabel) {
  Labels l{{"a", "1"}, {"b", ""}};
  EXPECT_EQ(l.size(), 1u);
  l.Set("a", "");
  EXPECT_TRUE(l.empty());
  EXPECT_EQ(l.ToString(), "");
}

// Annotations keep empty values (SetAllowingEmpty); removing one removes it, shared or not
// (webhooks' commonAnnotations drop an annotation whose values differ this way).
TEST(LabelsTest, AnEmptyValueKeptByAnAnnotationIsRemovedByRemove) {
  Labels annotations;
  annotations.SetAllowingEmpty("summary", "");
  annotations.SetAllowingEmpty("runbook", "r");
  Labels shared = annotations;
  annotations.Remove("summary");
  EXPECT_EQ(annotations.ToString(), R"({runbook="r"})");
  shared.Set("summary", "");
  EXPECT_EQ(shared.ToString(), R"({runbook="r"})");
}

TEST(LabelsTest, EscapesValues) {
  Labels l{{"path", "C:\\x \"y\"\nz"}};
  EXPECT_EQ(l.ToString(), R"({path="C:\\x \"y\"\nz"})");
}

// Copies share their pairs until one of them changes (labels.h): the one changed has its own,
// the others keep what they had, and each hash is that of its content.
TEST(LabelsTest, ChangingACopyLeavesTheOthersAsTheyWere) {
  const Labels original{{"component", "carbon"}, {"probe", "health"}};
  const size_t original_hash = original.Hash();
  Labels set = original, removed = original, annotated = original, same = original;
  set.Set("probe", "latency");
  removed.Remove("probe");
  annotated.SetAllowingEmpty("note", "");
  same.Set("probe", "health");  // nothing to change
  same.Remove("absent");
  EXPECT_EQ(original.ToString(), R"({component="carbon",probe="health"})");
  EXPECT_EQ(original.Hash(), original_hash);
  EXPECT_EQ(set.ToString(), R"({component="carbon",probe="latency"})");
  EXPECT_EQ(removed.ToString(), R"({component="carbon"})");
  EXPECT_EQ(annotated.ToString(), R"({component="carbon",note="",probe="health"})");
  EXPECT_EQ(same, original);
  // Each hash is the one a set built afresh with that content has.
  EXPECT_EQ(set.Hash(), (Labels{{"probe", "latency"}, {"component", "carbon"}}).Hash());
  EXPECT_EQ(removed.Hash(), (Labels{{"component", "carbon"}}).Hash());
  EXPECT_NE(set, original);
  // A hash read before a change is not kept after it.
  Labels changed = original;
  const size_t before = changed.Hash();
  changed.Set("component", "other");
  EXPECT_NE(changed.Hash(), before);
  EXPECT_EQ(changed.Hash(), (Labels{{"component", "other"}, {"probe", "health"}}).Hash());
  // Moved from: empty, and usable.
  Labels source = original;
  Labels taken = std::move(source);
  EXPECT_EQ(taken, original);
  EXPECT_TRUE(source.empty());  // NOLINT(bugprone-use-after-move): what a moved-from set is
  source.Set("a", "1");
  EXPECT_EQ(source.ToString(), R"({a="1"})");
}

TEST(LabelsTest, EqualSetsAreOneKeyOfAHashTable) {
  std::unordered_set<Labels> keys;
  keys.insert(Labels{{"a", "1"}, {"b", "2"}});
  Labels copy = *keys.begin();
  EXPECT_FALSE(keys.insert(copy).second);
  EXPECT_FALSE(keys.insert(Labels{{"b", "2"}, {"a", "1"}}).second);
  EXPECT_TRUE(keys.insert(Labels{{"a", "1"}}).second);
  EXPECT_EQ(keys.size(), 2u);
}

// Copies read and copied on several threads while each thread changes copies of its own (as a
// probe's label set goes to the sinks of several workers). Under ASan a shared set freed or
// changed while read is an error; here, each thread checks what it reads.
TEST(LabelsTest, CopiesAreReadAndChangedOnSeveralThreadsAtOnce) {
  const Labels shared{{"component", "carbon"}, {"instance", "127.0.0.1:9100"}};
  const std::string text = shared.ToString();
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        Labels mine = shared;
        if (mine.Hash() != shared.Hash() || mine.ToString() != text) ++wrong;
        mine.Set("thread", std::to_string(t));
        if (mine.Get("thread") != std::to_string(t) || mine.size() != 3) ++wrong;
        Labels again = mine;
        again.Remove("thread");
        if (!(again == shared)) ++wrong;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(shared.ToString(), text);
}

}  // namespace
}  // namespace obsmon
