#include "web/http_auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <optional>

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

constexpr std::string_view kBase64Alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// The '=' at the end of `in`, at most two.
size_t Padding(std::string_view in) {
  size_t pad = 0;
  while (pad < 2 && pad < in.size() && in[in.size() - 1 - pad] == '=') ++pad;
  return pad;
}

// RFC 4648 strictness that OpenSSL's EVP_DecodeBlock lacks (it skips whitespace and does not
// check where '=' stands): whole quanta, alphabet only, '=' only as the last one or two bytes.
bool IsStrictBase64(std::string_view in) {
  return in.size() % 4 == 0 && in.substr(0, in.size() - Padding(in)).find_first_not_of(
                                   kBase64Alphabet) == std::string_view::npos;
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> Base64Decode(std::string_view in) {
  if (!IsStrictBase64(in)) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  if (in.empty()) return out;
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(in.data()),
                                static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock decodes the padding as zero bytes: one fewer byte per '='.
  out.resize(static_cast<size_t>(n) - Padding(in));
  return out;
}

bool Authorized(const HttpAuthOptions& options, std::string_view authorization) {
  if (!options.enabled()) return true;
  std::string_view rest;
  if (!options.bearer_token.empty() && StripScheme(authorization, "bearer", &rest)) {
    return ConstantTimeEquals(rest, options.bearer_token);
  }
  if (!options.basic_username.empty() && StripScheme(authorization, "basic", &rest)) {
    const std::optional<std::string> decoded_or = Base64Decode(rest);
    if (!decoded_or) return false;
    const std::string& decoded = *decoded_or;
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
