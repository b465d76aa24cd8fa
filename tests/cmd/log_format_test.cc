#include "cmd/obsmon/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace obsmon {
namespace {

TEST(LogFormatTest, JsonFormatWritesOneParsableLinePerEvent) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
  spdlog::logger logger("obsmon", sink);
  ASSERT_TRUE(ApplyLogFormat(logger, "json"));
  const std::string message =
      "reload refused:\nobsmon.yml:3:5: bad \"duration\"\tx\\y \xff\xfe caf\xc3\xa9";
  logger.error("{}", message);
  logger.info("second");
  logger.flush();
  std::istringstream lines(out.str());
  std::string line;
  std::vector<nlohmann::json> events;
  while (std::getline(lines, line)) {
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(j.is_discarded()) << line;
    events.push_back(j);
  }
  ASSERT_EQ(events.size(), 2u) << out.str();
  EXPECT_EQ(events[0]["level"], "error");
  EXPECT_EQ(events[0]["logger"], "obsmon");
  // Valid text round-trips; the two invalid UTF-8 bytes become U+00FF and U+00FE escapes.
  EXPECT_EQ(events[0]["msg"].get<std::string>(),
            "reload refused:\nobsmon.yml:3:5: bad \"duration\"\tx\\y \xc3\xbf\xc3\xbe caf\xc3\xa9");
  EXPECT_EQ(events[1]["msg"], "second");
  EXPECT_FALSE(events[0]["ts"].get<std::string>().empty());
}

TEST(LogFormatTest, UnknownFormatIsRefused) {
  spdlog::logger logger("obsmon");
  EXPECT_FALSE(ApplyLogFormat(logger, "xml"));
  EXPECT_TRUE(ApplyLogFormat(logger, "text"));
}

TEST(LogFormatTest, JsonEscapeHandlesControlBytesAndTruncatedUtf8) {
  EXPECT_EQ(JsonEscape(std::string("a\0b\x01", 4)), "a\\u0000b\\u0001");
  EXPECT_EQ(JsonEscape("\xc3"), "\\u00c3");               // a lone lead byte at the end
  EXPECT_EQ(JsonEscape("\xe2\x82\xac"), "\xe2\x82\xac");  // the euro sign stays as it is
}

}  // namespace
}  // namespace obsmon
