#include "core/labels.h"

#include <gtest/gtest.h>

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

TEST(LabelsTest, EscapesValues) {
  Labels l{{"path", "C:\\x \"y\"\nz"}};
  EXPECT_EQ(l.ToString(), R"({path="C:\\x \"y\"\nz"})");
}

}  // namespace
}  // namespace obsmon
