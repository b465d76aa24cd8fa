// Parsing the network targets probes are given: http(s) URLs and "host:port" addresses.
// Pure functions, thread-safe; errors are InvalidArgument Status values with a message meant for
// a config error ("url must start with http:// or https://").
#pragma once

#include <string>
#include <string_view>

#include "core/status.h"

namespace obsmon::probes {

// A host and a port, as in "example.org:443" or "[::1]:8080". `host` is stored without the
// brackets an IPv6 literal needs in text.
struct HostPort {
  std::string host;
  int port = 0;
  // "host:port", with brackets around an IPv6 literal.
  std::string ToString() const;
};

struct HttpUrl {
  std::string scheme;  // "http" or "https"
  HostPort target;     // port filled in from the scheme when the URL has none
  std::string path;    // path plus query, at least "/"; the fragment is dropped
  // "scheme://host:port" for httplib::Client.
  std::string Origin() const;
};

// Accepts only http and https, a non-empty host, a port in 1..65535, no user:password@ and no
// whitespace.
Result<HttpUrl> ParseHttpUrl(std::string_view text);

// A base URL other paths are appended to (a store's /api/v1/query): ParseHttpUrl's, without a
// ?query or a #fragment, which the appended path would land behind.
Result<HttpUrl> ParseBaseUrl(std::string_view text);

// Accepts "host:port" and "[v6]:port"; the port is required.
Result<HostPort> ParseHostPort(std::string_view text);

}  // namespace obsmon::probes
