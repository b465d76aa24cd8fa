#include "probes/url.h"

#include <gtest/gtest.h>

namespace obsmon::probes {
namespace {

TEST(UrlTest, ParsesHttpUrlWithDefaultsAndQuery) {
  Result<HttpUrl> url = ParseHttpUrl("HTTP://Carbon.example:8080/health?deep=1#top");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->scheme, "http");
  EXPECT_EQ(url->target.host, "Carbon.example");
  EXPECT_EQ(url->target.port, 8080);
  EXPECT_EQ(url->path, "/health?deep=1");
  EXPECT_EQ(url->Origin(), "http://Carbon.example:8080");

  Result<HttpUrl> bare = ParseHttpUrl("https://example.org");
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->target.port, 443);
  EXPECT_EQ(bare->path, "/");

  Result<HttpUrl> query_only = ParseHttpUrl("http://h?x=1");
  ASSERT_TRUE(query_only.ok());
  EXPECT_EQ(query_only->path, "/?x=1");
}

TEST(UrlTest, ParsesBracketedIpv6) {
  Result<HttpUrl> url = ParseHttpUrl("http://[::1]:9090/metrics");
  ASSERT_TRUE(url.ok()) << url.status().message();
  EXPECT_EQ(url->target.host, "::1");
  EXPECT_EQ(url->target.ToString(), "[::1]:9090");
  Result<HostPort> hp = ParseHostPort("[fe80::1]:22");
  ASSERT_TRUE(hp.ok());
  EXPECT_EQ(hp->host, "fe80::1");
  EXPECT_EQ(hp->port, 22);
}

TEST(UrlTest, RejectsBadUrlsWithReason) {
  struct Case {
    const char* text;
    const char* message_start;
  };
  const Case cases[] = {
      {"ftp://h/", "unsupported url scheme 'ftp'"},
      {"h:80/x", "url must start with http:// or https://"},
      {"http://", "bad url 'http://': missing host"},
      {"http://h:0/", "bad url 'http://h:0/': bad port '0'"},
      {"http://h:65536/", "bad url 'http://h:65536/': bad port '65536'"},
      {"http://h:8x/", "bad url 'http://h:8x/': bad port '8x'"},
      {"http://user:pw@h/", "credentials in the url are not supported"},
      {"http://h o/", "url must not contain whitespace"},
      {"http://h$/", "bad url 'http://h$/': bad character '$' in host 'h$'"},
      {"http://[::1/", "bad url 'http://[::1/': unterminated '['"},
      // Control bytes would end or forge the request line; shown escaped.
      {"http://h/a\x01" "b",
       "url must not contain whitespace or control characters: 'http://h/a\\x01b'"},
      {"http://h/a\x7f", "url must not contain whitespace or control characters"},
      {"http://h/\r\nX: y", "url must not contain whitespace or control characters"},
  };
  for (const Case& c : cases) {
    Result<HttpUrl> url = ParseHttpUrl(c.text);
    ASSERT_FALSE(url.ok()) << c.text;
    EXPECT_TRUE(url.status().IsInvalidArgument());
    EXPECT_EQ(url.status().message().rfind(c.message_start, 0), 0u)
        << c.text << " -> " << url.status().message();
  }
}

TEST(UrlTest, ABaseUrlHasNoQueryNorFragment) {
  EXPECT_TRUE(ParseBaseUrl("http://victoria:8428").ok());
  EXPECT_TRUE(ParseBaseUrl("https://mimir.example/prometheus").ok());
  for (const char* text : {"http://h:9090#f", "http://h:9090/?x=1"}) {
    auto url = ParseBaseUrl(text);
    ASSERT_FALSE(url.ok()) << text;
    EXPECT_NE(url.status().message().find("must be a base URL, without ?query or #fragment"),
              std::string::npos)
        << url.status().message();
  }
  EXPECT_FALSE(ParseBaseUrl("127.0.0.1:9090").ok());  // ParseHttpUrl's refusals stand
}

TEST(UrlTest, HostPortRequiresPort) {
  EXPECT_FALSE(ParseHostPort("db.internal").ok());
  EXPECT_FALSE(ParseHostPort(":5432").ok());
  Result<HostPort> ok = ParseHostPort("db.internal:5432");
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->ToString(), "db.internal:5432");
}

}  // namespace
}  // namespace obsmon::probes
