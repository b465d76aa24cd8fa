// `digest:` destinations of a component and `observation.timezone`: parsed with their positions.
#include "config/digest_config.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "config/period_config.h"

namespace obsmon {
namespace {

TEST(DigestConfigTest, EveryKind) {
  const std::string yaml = R"(
digest:
  - {kind: github, repo: theinterneti/TTA, issue: 24, token_file: /etc/obsmon/github-token}
  - {kind: slack, url: "https://hooks.slack.com/services/T/B/X"}
  - {kind: teams, url: "https://example.webhook.office.com/webhookb2/x", timeout: 5s}
  - {kind: webhook, url: "http://127.0.0.1:9/h", body_template: '{"m": "{{text}}"}'}
  - {kind: slack, url: "https://hooks.slack.com/services/T/B/Y"}
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(yaml), "obsmon.yml", &errors);
  auto d = ParseDigestDestinations(node);
  node.CheckUnknownKeys();
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(d.size(), 5u);
  EXPECT_EQ(d[0].kind, DigestDestination::Kind::kGithub);
  EXPECT_EQ(d[0].repo, "theinterneti/TTA");
  EXPECT_EQ(d[0].issue, 24);
  EXPECT_EQ(d[0].api_url, "https://api.github.com");
  EXPECT_EQ(d[0].id, "github:theinterneti/TTA#24");
  // The kind and a hash of the URL: the same whatever the list around it (checked below).
  EXPECT_EQ(d[1].id.rfind("slack:", 0), 0u) << d[1].id;
  EXPECT_EQ(d[1].id.size(), std::string("slack:").size() + 12);
  EXPECT_EQ(d[1].id.find("hooks.slack.com"), std::string::npos);  // the secret URL is not in it
  EXPECT_EQ(d[2].timeout_ms, 5000);
  EXPECT_EQ(d[3].body_template, R"({"m": "{{text}}"})");
  EXPECT_NE(d[4].id, d[1].id);  // two Slack destinations stay apart

  // Without the first two (the fresh eyes' case: a destination removed on reload), the others
  // keep their ids, so their digests already posted are not posted again.
  const std::string fewer = R"(
digest:
  - {kind: webhook, url: "http://127.0.0.1:9/h", body_template: '{"m": "{{text}}"}'}
  - {kind: slack, url: "https://hooks.slack.com/services/T/B/Y"}
)";
  ConfigErrors errors2;
  ConfigNode node2(YAML::Load(fewer), "obsmon.yml", &errors2);
  auto d2 = ParseDigestDestinations(node2);
  ASSERT_EQ(d2.size(), 2u);
  EXPECT_EQ(d2[0].id, d[3].id);
  EXPECT_EQ(d2[1].id, d[4].id);
}

TEST(DigestConfigTest, TheSameDestinationTwiceIsAnError) {
  const std::string yaml = R"(
digest:
  - {kind: slack, url: "https://hooks.slack.com/services/T/B/Y"}
  - {kind: slack, url: "https://hooks.slack.com/services/T/B/Y"}
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(yaml), "obsmon.yml", &errors);
  auto d = ParseDigestDestinations(node);
  EXPECT_EQ(d.size(), 1u);
  EXPECT_NE(errors.ToString().find("obsmon.yml:4:"), std::string::npos) << errors.ToString();
  EXPECT_NE(errors.ToString().find("the same digest destination twice"), std::string::npos);
}

TEST(DigestConfigTest, ErrorsNameFileLineAndColumn) {
  const std::string yaml = R"(
digest:
  - {kind: github, repo: "not a repo", issue: 0, token_file: /t}
  - {kind: pigeon, url: "https://x"}
  - {kind: slack, url: "ftp://x"}
  - {kind: teams}
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(yaml), "obsmon.yml", &errors);
  ParseDigestDestinations(node);
  const std::string text = errors.ToString();
  EXPECT_NE(text.find("obsmon.yml:3:"), std::string::npos) << text;
  EXPECT_NE(text.find("'not a repo' is not owner/name"), std::string::npos) << text;
  EXPECT_NE(text.find("issue must be a positive issue number"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon.yml:4:"), std::string::npos) << text;
  EXPECT_NE(text.find("unknown digest kind 'pigeon'"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon.yml:5:"), std::string::npos) << text;
  EXPECT_NE(text.find("'ftp://x' is not an http:// or https:// URL"), std::string::npos) << text;
  EXPECT_NE(text.find("obsmon.yml:6:"), std::string::npos) << text;  // url missing
}

TEST(DigestConfigTest, ObservationTimeZone) {
  const std::string good = R"(
observation: {start: 2026-10-14T06:36:00Z, timezone: Europe/Berlin}
)";
  ConfigErrors errors;
  ConfigNode node(YAML::Load(good), "obsmon.yml", &errors);
  auto d = ParsePeriodDeclarations(node, "carbon", Objective{});
  ASSERT_TRUE(errors.empty()) << errors.ToString();
  ASSERT_EQ(d.periods.size(), 1u);
  EXPECT_EQ(d.periods[0].time_zone, "Europe/Berlin");

  const std::string bad = R"(
observation: {start: 2026-10-14T06:36:00Z, timezone: Mars/Olympus_Mons}
)";
  ConfigErrors bad_errors;
  ConfigNode bad_node(YAML::Load(bad), "obsmon.yml", &bad_errors);
  ParsePeriodDeclarations(bad_node, "carbon", Objective{});
  EXPECT_NE(bad_errors.ToString().find("obsmon.yml:2:"), std::string::npos)
      << bad_errors.ToString();
}

}  // namespace
}  // namespace obsmon
