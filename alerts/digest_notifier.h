// The notifier of one digest destination (core/digest_records.h): a day's comment or a period's
// final assessment, in markdown, posted to a GitHub issue, a Slack or Microsoft Teams incoming
// webhook, or a webhook whose body is a template (docs/digest.md). Bodies go through the durable
// outbox like alerts; Render() of alerts gives nothing (a digest destination takes no alerts).
//
// Deliveries are retried on any failure, 4xx included, for up to 30 days (max_age_ms): a comment
// refused because a token expired must go out once the token is replaced, not be dropped.
// The GitHub token is read from its file at each delivery (at most 4 KB) and never appears in an
// error or a log. Thread-safe (each Deliver uses its own client).
#pragma once

#include <string>
#include <vector>

#include "alerts/notifier.h"
#include "core/digest_records.h"

namespace obsmon::alerts {

// One message: what the destination shows.
struct DigestMessage {
  std::string component;
  std::string item;      // "day 3" | "final"
  std::string title;     // "carbon: observation period #3, Day 3"
  std::string markdown;  // render/report_format.h: RenderDayMarkdown, RenderAssessmentMarkdown
};

class DigestNotifier final : public Notifier {
 public:
  static constexpr int64_t kMaxAgeMs = 30LL * 86'400'000;

  // `name` is the outbox receiver ("digest:carbon:github:owner/name#42").
  DigestNotifier(std::string name, DigestDestination destination);
  const std::string& name() const override { return name_; }
  std::vector<std::string> Render(const std::vector<OutgoingAlert>&) const override { return {}; }
  Status Deliver(const std::string& body) override;
  int64_t max_age_ms() const override { return kMaxAgeMs; }

  // The HTTP body for `message`, in the destination's format:
  //   github:  {"body": markdown}
  //   slack:   {"text": markdown}
  //   teams:   {"type": "message", "attachments": [{"contentType":
  //            "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard",
  //            "version": "1.4", "body": [{"type": "TextBlock", "text": markdown, "wrap": true}]}}]}
  //   webhook: body_template with its placeholders replaced.
  std::string Body(const DigestMessage& message) const;
  // Where Deliver posts: {api_url}/repos/{repo}/issues/{issue}/comments for GitHub, else `url`.
  std::string Url() const;

 private:
  std::string name_;
  DigestDestination d_;
};

}  // namespace obsmon::alerts
