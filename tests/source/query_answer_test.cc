// The query API's answer parser against hand-written answers of both stores and hostile ones.
#include "source/query_answer.h"

#include <gtest/gtest.h>

#include <string>

namespace obsmon::source {
namespace {

TEST(QueryAnswerTest, ReadsAMatrixOfRawSamples) {
  // As Prometheus 2.42 answers probe_success{component="carbon"}[1h] (timestamps as numbers with
  // up to three decimals, values as strings).
  const std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"__name__":"probe_success","component":"carbon","probe":"health"},
     "values":[[1700000000.123,"1"],[1700000015,"0"],[1700000030.001,"1"]]},
    {"metric":{"__name__":"probe_success","component":"carbon","probe":"tcp"},"values":[]}]}})";
  auto parsed = ParseMatrixAnswer(body, 100);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  ASSERT_EQ(parsed->series.size(), 2u);
  EXPECT_EQ(parsed->series[0].labels.Get("probe"), "health");
  ASSERT_EQ(parsed->series[0].points.size(), 3u);
  // 1700000000.123 is 1700000000122.99998 ms as a double: rounded, not truncated.
  EXPECT_EQ(parsed->series[0].points[0].first, 1'700'000'000'123);
  EXPECT_EQ(parsed->series[0].points[0].second, 1.0);
  EXPECT_EQ(parsed->series[0].points[1].first, 1'700'000'015'000);
  EXPECT_EQ(parsed->series[0].points[1].second, 0.0);
  EXPECT_EQ(parsed->series[0].points[2].first, 1'700'000'030'001);
  EXPECT_TRUE(parsed->series[1].points.empty());
}

TEST(QueryAnswerTest, EveryMillisecondOfADayRoundTrips) {
  // The store prints ms / 1000 with three decimals; every ms must come back exactly.
  for (int64_t ms = 1'760'400'000'000; ms < 1'760'400'000'000 + 86'400'000; ms += 997) {
    const std::string text = std::to_string(ms / 1000) + "." +
                             std::string(3 - std::to_string(ms % 1000).size(), '0') +
                             std::to_string(ms % 1000);
    ASSERT_EQ(SecondsToMs(std::stod(text)), ms) << text;
  }
}

TEST(QueryAnswerTest, NonFiniteValuesAreLeftOutAndCounted) {
  const std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[
    {"metric":{"probe":"a"},"values":[[1,"NaN"],[2,"1"],[3,"+Inf"],[4,"-Inf"],[5,"0.25"]]}]}})";
  auto parsed = ParseMatrixAnswer(body, 100);
  ASSERT_TRUE(parsed.ok()) << parsed.status().ToString();
  EXPECT_EQ(parsed->non_finite, 3u);
  ASSERT_EQ(parsed->series[0].points.size(), 2u);
  EXPECT_EQ(parsed->series[0].points[1].second, 0.25);
}

TEST(QueryAnswerTest, AnErrorAnswerNamesItsTypeAndMessage) {
  auto parsed = ParseMatrixAnswer(
      R"({"status":"error","errorType":"bad_data","error":"parse error at char 5"})", 100);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("bad_data"), std::string::npos);
  EXPECT_NE(parsed.status().message().find("parse error at char 5"), std::string::npos);
}

TEST(QueryAnswerTest, HostileAnswersAreErrorsWithAnExcerpt) {
  const std::string deep(100'000, '[');
  const char* bad[] = {
      "",
      "<html>502 Bad Gateway</html>",
      "[]",
      R"({"status":1})",
      R"({"status":"success"})",
      R"({"status":"success","data":{"resultType":"vector","result":[]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":{}}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[1]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{"a":1},"values":[]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[["1","1"]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,1]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"x"]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1 "]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1e300,"1"]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[-1e14,"1"]]}]}})",
      R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[[1,"1"]]}]})",
  };
  for (const char* body : bad) {
    auto parsed = ParseMatrixAnswer(body, 100);
    EXPECT_FALSE(parsed.ok()) << body;
  }
  auto nested = ParseMatrixAnswer(deep, 100);
  ASSERT_FALSE(nested.ok());
  EXPECT_NE(nested.status().message().find("nested"), std::string::npos);
  // The message quotes a bounded excerpt, on one line.
  auto html = ParseMatrixAnswer(std::string("<html>\n") + std::string(10'000, 'x'), 100);
  ASSERT_FALSE(html.ok());
  EXPECT_LT(html.status().message().size(), 400u);
  EXPECT_EQ(html.status().message().find('\n'), std::string::npos);
}

TEST(QueryAnswerTest, TooManySamplesIsAnError) {
  std::string body = R"({"status":"success","data":{"resultType":"matrix","result":[{"metric":{},"values":[)";
  for (int i = 0; i < 11; ++i) body += (i ? "," : "") + std::string("[") + std::to_string(i) + ",\"1\"]";
  body += "]}]}}";
  EXPECT_TRUE(ParseMatrixAnswer(body, 11).ok());
  auto parsed = ParseMatrixAnswer(body, 10);
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.status().message().find("more than 10 samples"), std::string::npos);
}

}  // namespace
}  // namespace obsmon::source
