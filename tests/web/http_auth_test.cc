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
    EXPECT_EQ(Base64Decode(in), std::optional<std::string>(want)) << in;
  }
}

TEST(Base64DecodeTest, RefusesMalformedInput) {
  // Whitespace too: OpenSSL's decoder would skip it.
  for (const char* bad : {"Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "=Zm9", "Zm=v", " Zm9v", "Zm9 v",
                          "Zm9v\n", "Zm9vYg=\n"}) {
    EXPECT_EQ(Base64Decode(bad), std::nullopt) << bad;
  }
  // Every byte value survives the round trip (the password may hold anything but ':').
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(Base64Decode(
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLS4vMDEyMzQ1Njc4OTo7PD0+"
                "P0BBQkNERUZHSElKS0xNTk9QUVJTVFVWV1hZWltcXV5fYGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn+"
                "AgYKDhIWGh4iJiouMjY6PkJGSk5SVlpeYmZqbnJ2en6ChoqOkpaanqKmqq6ytrq+wsbKztLW2t7i5uru8vb6/"
                "wMHCw8TFxsfIycrLzM3Oz9DR0tPU1dbX2Nna29zd3t/g4eLj5OXm5+jp6uvs7e7v8PHy8/T19vf4+fr7/P3+/w=="),
            std::optional<std::string>(all));
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
