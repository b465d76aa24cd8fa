#include "web/http_auth.h"

#include <gtest/gtest.h>

namespace obsmon {
namespace {

TEST(Base64DecodeTest, DecodesRfc4648Vectors) {
  // RFC 4648 section 10 test vectors.
  const std::pair<const char*, const char*> vectors[] = {{"", ""},
                                                         {"Zg==", "f"},
                                                         {"Zm8=", "fo"},
                                                         {"Zm9v", "foo"},
                                                         {"Zm9vYg==", "foob"},
                                                         {"Zm9vYmE=", "fooba"},
                                                         {"Zm9vYmFy", "foobar"}};
  for (const auto& [in, want] : vectors) {
    std::string out;
    EXPECT_TRUE(Base64Decode(in, &out)) << in;
    EXPECT_EQ(out, want) << in;
  }
}

TEST(Base64DecodeTest, RefusesMalformedInput) {
  std::string out;
  for (const char* bad : {"Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zm9", "Zm=v"}) {
    EXPECT_FALSE(Base64Decode(bad, &out)) << bad;
  }
}

TEST(AuthorizedTest, NoSchemeConfiguredAllowsAll) {
  EXPECT_TRUE(Authorized({}, ""));
  EXPECT_TRUE(Authorized({}, "Bearer anything"));
}

TEST(AuthorizedTest, BearerAndBasicAreCheckedExactly) {
  HttpAuthOptions o;
  o.bearer_token = "tok";
  o.basic_username = "u";
  o.basic_password = "p";
  EXPECT_TRUE(Authorized(o, "Bearer tok"));
  EXPECT_TRUE(Authorized(o, "bearer tok"));  // schemes are case-insensitive (RFC 7235)
  EXPECT_FALSE(Authorized(o, "Bearer tok2"));
  EXPECT_FALSE(Authorized(o, "Bearer to"));
  EXPECT_FALSE(Authorized(o, "Bearertok"));
  EXPECT_FALSE(Authorized(o, ""));
  EXPECT_TRUE(Authorized(o, "Basic dTpw"));   // base64("u:p")
  EXPECT_FALSE(Authorized(o, "Basic dTpx"));  // base64("u:q")
  EXPECT_FALSE(Authorized(o, "Basic dQ=="));  // base64("u"): no colon
  EXPECT_FALSE(Authorized(o, "Basic %%%%"));
  EXPECT_EQ(AuthChallenges(o).size(), 2u);
}

TEST(ConstantTimeEqualsTest, ComparesContentAndLength) {
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_TRUE(ConstantTimeEquals("", ""));
}

}  // namespace
}  // namespace obsmon
