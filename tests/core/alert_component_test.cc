// core/alert_component: which component an alert is of, the one rule of the maintenance
// suppression and the reports' alert history. The cases are a reviewer's, who found the two
// disagreeing (fresh eyes, stop 67).
#include "core/alert_component.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

const AlertComponents kComponents({{"corr", "corrjob"},
                                   {"web", "web-staging"},
                                   {"w", "web"},
                                   {"a1", "shared"},
                                   {"a2", "shared"},
                                   {"bare", ""}});

TEST(AlertComponentTest, TheComponentLabelDecidesThenTheOneComponentOfTheJob) {
  EXPECT_EQ(kComponents.Of(Labels{{"component", "corr"}}), "corr");
  // Another component's label wins over the job.
  EXPECT_EQ(kComponents.Of(Labels{{"component", "db"}, {"job", "corrjob"}}), "db");
  EXPECT_EQ(kComponents.Of(Labels{{"job", "corrjob"}}), "corr");
  // "web" is w's job: not the component named web.
  EXPECT_EQ(kComponents.Of(Labels{{"job", "web"}}), "w");
  EXPECT_EQ(kComponents.Of(Labels{{"job", "web-staging"}}), "web");
}

TEST(AlertComponentTest, AJobNoComponentHasIsTheComponentOfThatName) {
  EXPECT_EQ(kComponents.Of(Labels{{"job", "corr"}}), "corr");
  EXPECT_EQ(kComponents.Of(Labels{{"job", "bare"}}), "bare");
  EXPECT_EQ(kComponents.Of(Labels{{"job", "nobody"}}), "");
  EXPECT_EQ(kComponents.Of(Labels{{"alertname", "X"}}), "");
}

TEST(AlertComponentTest, AJobSharedByComponentsIsNoneOfTheirs) {
  EXPECT_EQ(kComponents.Of(Labels{{"job", "shared"}}), "");
  EXPECT_EQ(kComponents.Of(Labels{{"job", "shared"}, {"component", "a1"}}), "a1");
  // Three sharing it: still none (the third must not make it one's again).
  const AlertComponents three({{"x", "j"}, {"y", "j"}, {"z", "j"}});
  EXPECT_EQ(three.Of(Labels{{"job", "j"}}), "");
}

TEST(AlertComponentTest, JobsThatMayBeNarrowAStoredSearch) {
  EXPECT_EQ(kComponents.JobsThatMayBe("corr"), (std::vector<std::string>{"corr", "corrjob"}));
  EXPECT_EQ(kComponents.JobsThatMayBe("bare"), (std::vector<std::string>{"bare"}));
  EXPECT_EQ(kComponents.JobsThatMayBe("unknown"), (std::vector<std::string>{"unknown"}));
}

}  // namespace
}  // namespace obsmon
