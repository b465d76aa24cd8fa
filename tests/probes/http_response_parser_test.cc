#include "probes/http_response_parser.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace obsmon::probes {
namespace {

using State = HttpResponseParser::State;

// Feeds `text` `step` bytes at a time (0: at once), then closes.
HttpResponseParser ParseIn(const std::string& text, size_t step, HttpParseLimits limits = {}) {
  HttpResponseParser p(limits);
  if (step == 0) step = text.size() + 1;
  for (size_t i = 0; i < text.size() && (p.state() == State::kHead || p.state() == State::kBody);
       i += step) {
    p.Feed(std::string_view(text).substr(i, step));
  }
  p.FeedEof();
  return p;
}

TEST(HttpResponseParserTest, ContentLengthBodyInAnySplit) {
  const std::string r = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: y\r\n\r\nhelloIGNORED";
  for (size_t step : {0, 1, 2, 7}) {
    HttpResponseParser p = ParseIn(r, step);
    EXPECT_EQ(p.state(), State::kDone) << step;
    EXPECT_EQ(p.status(), 200);
    EXPECT_EQ(p.body(), "hello");
    EXPECT_EQ(p.received(), 5u);
    EXPECT_EQ(p.content_length_header(), "5");
  }
}

TEST(HttpResponseParserTest, ChunkedWithExtensionsAndTrailers) {
  const std::string r =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
      "5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n";
  for (size_t step : {0, 1, 3}) {
    HttpResponseParser p = ParseIn(r, step);
    EXPECT_EQ(p.state(), State::kDone) << step;
    EXPECT_EQ(p.body(), "hello0123456789");
  }
}

TEST(HttpResponseParserTest, InterimHeadsAreSkipped) {
  HttpResponseParser p = ParseIn(
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: x\r\n\r\n"
      "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\ndown",
      0);
  EXPECT_EQ(p.state(), State::kDone);
  EXPECT_EQ(p.status(), 503);
  EXPECT_EQ(p.body(), "down");
}

TEST(HttpResponseParserTest, CloseDelimitedBodyEndsAtEof) {
  HttpResponseParser p(HttpParseLimits{});
  EXPECT_EQ(p.Feed("HTTP/1.0 200 OK\r\n\r\npart one "), State::kBody);
  EXPECT_EQ(p.Feed("part two"), State::kBody);
  EXPECT_EQ(p.FeedEof(), State::kDone);
  EXPECT_EQ(p.body(), "part one part two");
}

TEST(HttpResponseParserTest, NoBodyForHeadRequest204And304) {
  HttpParseLimits head;
  head.head_request = true;
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", 0, head).state(),
            State::kDone);
  EXPECT_EQ(ParseIn("HTTP/1.1 204 No Content\r\n\r\n", 0).state(), State::kDone);
  HttpResponseParser p(HttpParseLimits{});
  EXPECT_EQ(p.Feed("HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"), State::kDone);
}

TEST(HttpResponseParserTest, EofBeforeTheEndSaysWhere) {
  EXPECT_EQ(ParseIn("", 0).error(), "connection closed before a response");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nConte", 0).error(), "connection closed before a response");
  HttpResponseParser p = ParseIn("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 0);
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_EQ(p.status(), 200);
  EXPECT_EQ(p.error(), "connection closed while reading the body");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", 0).error(),
            "connection closed while reading the body");
}

TEST(HttpResponseParserTest, HeadOverTheLimitIsAnErrorWithoutKeepingIt) {
  HttpParseLimits limits;
  limits.max_head_bytes = 1024;
  HttpResponseParser p(limits);
  p.Feed("HTTP/1.1 200 OK\r\nX: ");
  // A 10 MB header line, fed in pieces: the parser stops at the limit.
  const std::string piece(64 * 1024, 'a');
  for (int i = 0; i < 160 && p.state() == State::kHead; ++i) p.Feed(piece);
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_EQ(p.error(), "response head larger than 1024 bytes (status line and headers)");
}

TEST(HttpResponseParserTest, InterimHeadsAreCountedAfresh) {
  HttpParseLimits limits;
  limits.max_head_bytes = 64;
  std::string r;
  for (int i = 0; i < 100; ++i) r += "HTTP/1.1 100 Continue\r\n\r\n";  // 25 bytes each
  r += "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
  EXPECT_EQ(ParseIn(r, 0, limits).state(), State::kDone);
}

TEST(HttpResponseParserTest, AfterHeadBytesAreBoundedChunkFramingIncluded) {
  HttpParseLimits limits;
  limits.max_after_head_bytes = 100;
  std::string r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 100; ++i) r += "1\r\nx\r\n";  // 6 bytes of framing per body byte
  HttpResponseParser p = ParseIn(r, 0, limits);
  EXPECT_EQ(p.state(), State::kError);
  EXPECT_EQ(p.error(),
            "response larger than 100 bytes after its head (body, chunk framing and trailers)");
}

TEST(HttpResponseParserTest, BodyIsCappedAtMaxBodyBytesAndJudged) {
  HttpParseLimits limits;
  limits.max_body_bytes = 10;
  HttpResponseParser p(limits);
  p.Feed("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
  EXPECT_EQ(p.Feed(std::string(4096, 'b')), State::kDone);
  EXPECT_TRUE(p.capped());
  EXPECT_EQ(p.body(), std::string(10, 'b'));
}

TEST(HttpResponseParserTest, MalformedResponsesAreErrorsWithReasons) {
  EXPECT_EQ(ParseIn("SSH-2.0-OpenSSH_9.2\r\n\r\n", 0).error(),
            "invalid response: not an HTTP/1.x status line");
  EXPECT_EQ(ParseIn("HTTP/1.1 2000 OK\r\n\r\n", 0).state(), State::kError);
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0).error(),
            "invalid response: bad Content-Length");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 0)
                .error(),
            "invalid response: bad Content-Length");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0).error(),
            "invalid response: bad chunk size");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "ffffffffffffffff\r\n",
                    0)
                .error(),
            "invalid response: bad chunk size");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n", 0)
                .error(),
            "invalid response: chunk data longer than its size");
  EXPECT_EQ(ParseIn("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" +
                        std::string(2000, '1'),
                    0)
                .state(),
            State::kError);
}

// Feeds all of `text`, `step` bytes at a time, and never closes: what a kept connection has
// read when the response ends.
HttpResponseParser FeedAll(const std::string& text, size_t step, HttpParseLimits limits = {}) {
  HttpResponseParser p(limits);
  for (size_t i = 0; i < text.size(); i += step) p.Feed(std::string_view(text).substr(i, step));
  return p;
}

// RFC 9112 §9.3: which responses leave the connection for the next request.
TEST(HttpResponseParserTest, ReusableOnlyWhenTheResponseAllowsAndEndsByItsFraming) {
  struct Case {
    std::string response;
    bool reusable;
    HttpParseLimits limits;
  };
  HttpParseLimits head;
  head.head_request = true;
  HttpParseLimits small_body;
  small_body.max_body_bytes = 3;
  const std::vector<Case> cases = {
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", true, {}},
      {"HTTP/1.1 503 Unavailable\r\nContent-Length: 4\r\n\r\ndown", true, {}},
      {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n", true, {}},
      {"HTTP/1.1 204 No Content\r\n\r\n", true, {}},
      {"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, head},
      {"HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\nHTTP/1.1 200 OK\r\n"
       "Content-Length: 0\r\n\r\n", true, {}},
      {"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", false, {}},
      {"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 2\r\n\r\nok", false,
       {}},
      {"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", false, {}},
      {"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", true, {}},
      // Its end is the peer's close: nothing can follow on that connection.
      {"HTTP/1.1 200 OK\r\n\r\nuntil close", false, {}},
      // Bytes after the response: out of step with the server.
      {"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n", false, {}},
      {"HTTP/1.1 204 No Content\r\n\r\nX", false, {}},
      // Cut at max_body_bytes: the rest of the body is still on the connection.
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", false, small_body},
      {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel", false, {}},  // not complete
      {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", false, {}},     // an error
      // obs-fold: a "close" folded onto the Connection header (fresh eyes) is not read.
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: keep-alive,\r\n close\r\n\r\n", false,
       {}},
      {"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-A: 1\r\n\t2\r\n\r\n", false, {}},
  };
  for (const Case& c : cases) {
    for (size_t step : {size_t{1}, size_t{4}, c.response.size()}) {
      EXPECT_EQ(FeedAll(c.response, step, c.limits).Reusable(), c.reusable)
          << c.response << " in steps of " << step;
    }
  }
}

}  // namespace
}  // namespace obsmon::probes
