#include "web/http_auth.h"

#include <cstdint>

namespace obsmon {

namespace {

// Case-insensitive "<scheme> " prefix match, as RFC 7235 says schemes are case-insensitive.
bool StripScheme(std::string_view header, std::string_view scheme, std::string_view* rest) {
  if (header.size() <= scheme.size() || header[scheme.size()] != ' ') return false;
  for (size_t i = 0; i < scheme.size(); ++i) {
    char c = header[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != scheme[i]) return false;
  }
  *rest = header.substr(scheme.size() + 1);
  while (!rest->empty() && rest->front() == ' ') rest->remove_prefix(1);
  while (!rest->empty() && rest->back() == ' ') rest->remove_suffix(1);
  return true;
}

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
  }
  return diff == 0;
}

bool Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) return false;
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int j = 0; j < 4; ++j) {
      const char c = in[i + j];
      if (c == '=') {
        // Padding only in the last quantum, only in its last two places, and only at the end.
        if (i + 4 != in.size() || j < 2) return false;
        ++pad;
        v[j] = 0;
        continue;
      }
      if (pad > 0) return false;
      v[j] = Base64Value(c);
      if (v[j] < 0) return false;
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out->push_back(static_cast<char>((n >> 16) & 0xFF));
    if (pad < 2) out->push_back(static_cast<char>((n >> 8) & 0xFF));
    if (pad < 1) out->push_back(static_cast<char>(n & 0xFF));
  }
  return true;
}

bool Authorized(const HttpAuthOptions& options, std::string_view authorization) {
  if (!options.enabled()) return true;
  std::string_view rest;
  if (!options.bearer_token.empty() && StripScheme(authorization, "bearer", &rest)) {
    return ConstantTimeEquals(rest, options.bearer_token);
  }
  if (!options.basic_username.empty() && StripScheme(authorization, "basic", &rest)) {
    std::string decoded;
    if (!Base64Decode(rest, &decoded)) return false;
    const auto colon = decoded.find(':');
    if (colon == std::string::npos) return false;
    // Evaluate both comparisons so timing does not tell which half was wrong.
    const bool user_ok =
        ConstantTimeEquals(std::string_view(decoded).substr(0, colon), options.basic_username);
    const bool pass_ok =
        ConstantTimeEquals(std::string_view(decoded).substr(colon + 1), options.basic_password);
    return user_ok && pass_ok;
  }
  return false;
}

std::vector<std::string> AuthChallenges(const HttpAuthOptions& options) {
  std::vector<std::string> out;
  if (!options.bearer_token.empty()) out.push_back("Bearer realm=\"obsmon\"");
  if (!options.basic_username.empty()) out.push_back("Basic realm=\"obsmon\", charset=\"UTF-8\"");
  return out;
}

}  // namespace obsmon
