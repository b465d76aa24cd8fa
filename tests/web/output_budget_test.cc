// The bytes of answers held for slow readers: lent within each client's share and the total,
// refused whole past either, and given back.
#include "web/output_budget.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(OutputBudgetTest, LendsWithinTheClientsShareAndTheTotal) {
  OutputBudget budget(/*total=*/100, /*per_client=*/40);
  EXPECT_TRUE(budget.Take("a", 30));
  EXPECT_TRUE(budget.Take("a", 10));
  EXPECT_FALSE(budget.Take("a", 1));  // its share is spent
  EXPECT_TRUE(budget.Take("b", 40));
  EXPECT_FALSE(budget.Take("c", 21));  // 80 of 100 lent: a whole 21 does not fit
  EXPECT_TRUE(budget.Take("c", 20));
  EXPECT_EQ(budget.held(), 100u);
  EXPECT_EQ(budget.HeldFor("a"), 40u);
  EXPECT_EQ(budget.HeldFor("c"), 20u);
  EXPECT_TRUE(budget.Take("d", 0));  // nothing to lend is always lent
}

TEST(OutputBudgetTest, BytesGivenBackCanBeLentAgain) {
  OutputBudget budget(100, 40);
  ASSERT_TRUE(budget.Take("a", 40));
  budget.Give("a", 15);
  EXPECT_EQ(budget.HeldFor("a"), 25u);
  EXPECT_TRUE(budget.Take("a", 15));
  budget.Give("a", 40);
  EXPECT_EQ(budget.held(), 0u);
  EXPECT_EQ(budget.HeldFor("a"), 0u);
}

TEST(OutputBudgetTest, GivingBackMoreThanWasLentChangesNothingElse) {
  OutputBudget budget(100, 40);
  ASSERT_TRUE(budget.Take("a", 10));
  ASSERT_TRUE(budget.Take("b", 10));
  budget.Give("a", 50);    // only its 10
  budget.Give("zzz", 50);  // never lent
  EXPECT_EQ(budget.held(), 10u);
  EXPECT_EQ(budget.HeldFor("b"), 10u);
}

TEST(OutputBudgetTest, AZeroBudgetLendsNothing) {
  OutputBudget budget(0, 0);
  EXPECT_FALSE(budget.Take("a", 1));
  EXPECT_EQ(budget.held(), 0u);
}

}  // namespace
}  // namespace obsmon
