#include "probes/url.h"

#include "core/text_escape.h"

#include <cctype>
#include <charconv>

namespace obsmon::probes {

namespace {

bool ParsePort(std::string_view text, int* port) {
  if (text.empty() || text.size() > 5) return false;
  int value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return false;
  if (value < 1 || value > 65535) return false;
  *port = value;
  return true;
}

bool ValidHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_';
}

// Splits an authority ("host", "host:port", "[v6]", "[v6]:port"). `port` stays 0 when absent.
Status SplitAuthority(std::string_view text, HostPort* out, bool port_required) {
  std::string_view host;
  std::string_view port_text;
  bool has_port = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::InvalidArgument("unterminated '[' in host '" + std::string(text) + "'");
    }
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::InvalidArgument("unexpected text after ']' in '" + std::string(text) + "'");
      }
      has_port = true;
      port_text = rest.substr(1);
    }
    for (char c : host) {
      if (!(std::isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return Status::InvalidArgument("bad IPv6 address '" + std::string(host) + "'");
      }
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) {
        return Status::InvalidArgument("IPv6 addresses must be in brackets: '[" +
                                       std::string(text.substr(0, colon)) + "]:port'");
      }
      has_port = true;
      host = text.substr(0, colon);
      port_text = text.substr(colon + 1);
    } else {
      host = text;
    }
    for (char c : host) {
      if (!ValidHostChar(c)) {
        return Status::InvalidArgument("bad character '" + std::string(1, c) + "' in host '" +
                                       std::string(host) + "'");
      }
    }
  }
  if (host.empty()) return Status::InvalidArgument("missing host in '" + std::string(text) + "'");
  if (has_port) {
    if (!ParsePort(port_text, &out->port)) {
      return Status::InvalidArgument("bad port '" + std::string(port_text) +
                                     "' (expected 1-65535)");
    }
  } else if (port_required) {
    return Status::InvalidArgument("missing port in '" + std::string(text) +
                                   "' (expected host:port)");
  }
  out->host = std::string(host);
  return Status::Ok();
}

}  // namespace

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return "[" + host + "]:" + std::to_string(port);
  return host + ":" + std::to_string(port);
}

std::string HttpUrl::Origin() const { return scheme + "://" + target.ToString(); }

Result<HttpUrl> ParseHttpUrl(std::string_view text) {
  for (char c : text) {
    // Whitespace and control bytes are not URL characters (RFC 3986): sent as they are they would
    // end or forge the request line, or a header.
    if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) {
      return Status::InvalidArgument("url must not contain whitespace or control characters: '" +
                                     EscapeControlAndInvalidUtf8(text) + "'");
    }
  }
  HttpUrl url;
  size_t sep = text.find("://");
  if (sep == std::string_view::npos) {
    return Status::InvalidArgument("url must start with http:// or https://: '" +
                                   std::string(text) + "'");
  }
  std::string scheme(text.substr(0, sep));
  for (char& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (scheme != "http" && scheme != "https") {
    return Status::InvalidArgument("unsupported url scheme '" + scheme + "' (use http or https)");
  }
  url.scheme = scheme;
  std::string_view rest = text.substr(sep + 3);
  size_t path_start = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, path_start);
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument(
        "credentials in the url are not supported; use an Authorization header");
  }
  if (Status s = SplitAuthority(authority, &url.target, /*port_required=*/false); !s.ok()) {
    return Status::InvalidArgument("bad url '" + std::string(text) + "': " + s.message());
  }
  if (url.target.port == 0) url.target.port = scheme == "https" ? 443 : 80;
  std::string_view path =
      path_start == std::string_view::npos ? std::string_view() : rest.substr(path_start);
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  url.path = std::string(path);
  if (url.path.empty() || url.path.front() != '/') url.path.insert(url.path.begin(), '/');
  return url;
}

Result<HttpUrl> ParseBaseUrl(std::string_view text) {
  auto url = ParseHttpUrl(text);
  if (url.ok() && text.find_first_of("?#") != std::string_view::npos) {
    return Status::InvalidArgument("url '" + std::string(text) +
                                   "' must be a base URL, without ?query or #fragment");
  }
  return url;
}

Result<HostPort> ParseHostPort(std::string_view text) {
  HostPort out;
  if (Status s = SplitAuthority(text, &out, /*port_required=*/true); !s.ok()) {
    return Status::InvalidArgument("bad address '" + std::string(text) + "': " + s.message());
  }
  return out;
}

}  // namespace obsmon::probes
