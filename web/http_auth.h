// Access control for obsmon's HTTP server: bearer token and/or HTTP basic auth, checked in
// constant time. Secrets come from files or environment variables (config/config_loader reads
// them); this code never logs or echoes them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace obsmon {

struct HttpAuthOptions {
  // Empty: that scheme is off. Both empty: no authentication at all.
  std::string bearer_token;
  std::string basic_username;
  std::string basic_password;
  // Whether /metrics and the health endpoints (/healthz, /-/healthy, /-/ready) need credentials
  // too. The API, the reports and /-/reload always do when a scheme is on.
  bool protect_metrics = true;
  bool protect_health = false;

  bool enabled() const { return !bearer_token.empty() || !basic_username.empty(); }
};

// True when `authorization` (the Authorization header, possibly empty) satisfies `options`.
// Always true when no scheme is configured.
bool Authorized(const HttpAuthOptions& options, std::string_view authorization);

// The WWW-Authenticate challenge for a 401 (one scheme per value; RFC 7235 allows several
// headers).
std::vector<std::string> AuthChallenges(const HttpAuthOptions& options);

// Constant-time equality (length leaks, content does not).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Standard base64 (RFC 4648) decoding; nullopt for any invalid character or bad padding.
std::optional<std::string> Base64Decode(std::string_view in);

}  // namespace obsmon
