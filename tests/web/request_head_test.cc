// When the connection gate may hand a request to a worker: whole head, and whole body when it has
// a length within the limit; everything unusual is left to the worker.
#include "web/request_head.h"

#include <gtest/gtest.h>

#include <string>

namespace obsmon {
namespace {

using State = RequestHeadScan::State;

RequestHeadScan Scan(const std::string& data, size_t max_head = 1024, size_t max_body = 64) {
  return ScanRequestHead(data, max_head, max_body);
}

TEST(RequestHeadTest, HeadWithoutItsBlankLineIsIncomplete) {
  EXPECT_EQ(Scan("").state, State::kIncomplete);
  EXPECT_EQ(Scan("GET /healthz HTTP/1.1\r\nHost: a\r\n").state, State::kIncomplete);
  EXPECT_EQ(Scan("GET /healthz HTTP/1.1\r\nHost: a\r\n\r").state, State::kIncomplete);
}

TEST(RequestHeadTest, CrlfAndBareLfHeadsEndAtTheirBlankLine) {
  const std::string crlf = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
  auto scan = Scan(crlf + "GET /next");
  EXPECT_EQ(scan.state, State::kReady);
  EXPECT_EQ(scan.head_bytes, crlf.size());
  const std::string lf = "GET / HTTP/1.0\nHost: a\n\n";
  scan = Scan(lf);
  EXPECT_EQ(scan.state, State::kReady);
  EXPECT_EQ(scan.head_bytes, lf.size());
}

TEST(RequestHeadTest, BodyWithALengthMustArriveWhole) {
  const std::string head = "POST /-/reload HTTP/1.1\r\ncontent-LENGTH:  5 \r\n\r\n";
  EXPECT_EQ(Scan(head).state, State::kIncomplete);
  EXPECT_EQ(Scan(head + "abcd").state, State::kIncomplete);
  auto scan = Scan(head + "abcde");
  EXPECT_EQ(scan.state, State::kReady);
  EXPECT_EQ(scan.head_bytes, head.size());
  EXPECT_EQ(scan.body_bytes, 5u);
}

// A body after Expect goes to the worker; chunked is refused; a declared length over the limit
// is refused from the head alone (waiting for it held a worker until the request's deadline:
// eight such requests held every worker for 10 s; fresh eyes, stop 63), Expect or not.
TEST(RequestHeadTest, ExpectIsLeftToTheWorkerChunkedAndOversizedBodiesAreRefused) {
  EXPECT_EQ(Scan("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n").state,
            State::kLengthRequired);
  const auto expect = Scan("POST / HTTP/1.1\r\nExpect: 100-continue\r\n\r\n");
  EXPECT_EQ(expect.state, State::kReady);
  EXPECT_EQ(expect.body_bytes, 0u);
  EXPECT_EQ(Scan("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n").state, State::kBodyTooLarge);
  EXPECT_EQ(Scan("POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 65\r\n\r\n").state,
            State::kBodyTooLarge);
  EXPECT_EQ(Scan("POST / HTTP/1.1\r\nContent-Length: 64\r\n\r\n").state, State::kIncomplete);
}

// Regression (fresh eyes, issue 13): ambiguous framing let a request hidden in another's body
// be executed. RFC 9112 §6.3: such a request is an error and the connection is closed.
TEST(RequestHeadTest, AmbiguousFramingIsRefused) {
  for (const char* headers :
       {"Content-Length: 4\r\nTransfer-Encoding: chunked",
        "Transfer-Encoding: chunked\r\nContent-Length: 4", "Content-Length: 5\r\nContent-Length: 6",
        "Content-Length: -1", "Content-Length: 1e3", "Content-Length: 99999999999999999999",
        "Transfer-Encoding: gzip", "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked"}) {
    const std::string head = std::string("POST / HTTP/1.1\r\n") + headers + "\r\n\r\n";
    EXPECT_EQ(Scan(head).state, State::kBadFraming) << headers;
  }
  // Field lines that are not `token: value` (second fresh eyes, N2: whitespace before the colon
  // hid a Content-Length from obsmon and a POST /-/reload ran from the body).
  for (const char* line : {"Content-Length : 4", "Content-Length\t: 4", "Content-Length 4",
                           "Content Length: 4", "X: a\rContent-Length: 4", " folded: x",
                           ": empty name"}) {
    const std::string head = std::string("POST / HTTP/1.1\r\n") + line + "\r\n\r\n";
    EXPECT_EQ(Scan(head).state, State::kBadFraming) << line;
  }
  // The same length twice is one length.
  EXPECT_EQ(Scan("POST / HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok").state,
            State::kReady);
}

// Fresh eyes, issue 13, second pass F6: `Authorization: Bearer <token>\0garbage` was accepted
// (the token compared up to the NUL). RFC 9110 §5.5: control bytes are not field content.
// Two Host fields are refused too (RFC 9112 §3.2).
TEST(RequestHeadTest, ControlBytesInAFieldValueAndTwoHostsAreRefused) {
  auto with = [](const std::string& field) {
    return Scan("GET /metrics HTTP/1.1\r\nHost: x\r\n" + field + "\r\n\r\n", 64 * 1024).state;
  };
  EXPECT_EQ(with(std::string("Authorization: Bearer tok\0garbage", 33)), State::kBadFraming);
  EXPECT_EQ(with(std::string("X-A: \0", 6)), State::kBadFraming);
  EXPECT_EQ(with("X-A: a\x01b"), State::kBadFraming);
  EXPECT_EQ(with("X-A: a\x7f"), State::kBadFraming);
  EXPECT_EQ(with("Host: y"), State::kBadFraming);
  EXPECT_EQ(with("X-A: a\tb, \xc3\xa9"), State::kReady);  // tab and UTF-8 (obs-text) are fine
}

TEST(RequestHeadTest, LineLongerThanEightKiBIsTooLarge) {
  const std::string line = "X-Pad: " + std::string(kMaxHeadLineBytes, 'a');
  EXPECT_EQ(Scan("GET / HTTP/1.1\r\n" + line, 64 * 1024).state, State::kTooLarge);
  EXPECT_EQ(Scan("GET / HTTP/1.1\r\n" + line + "\r\n\r\n", 64 * 1024).state, State::kTooLarge);
  // The request line itself: a URI too long (414).
  EXPECT_EQ(Scan("GET /?q=" + std::string(kMaxHeadLineBytes, 'a'), 64 * 1024).state,
            State::kUriTooLong);
  const std::string fits = "X-Pad: " + std::string(kMaxHeadLineBytes - 8, 'a');
  EXPECT_EQ(Scan("GET / HTTP/1.1\r\n" + fits + "\r\n\r\n", 64 * 1024).state, State::kReady);
}

TEST(RequestHeadTest, HeadBeyondTheLimitIsTooLargeEvenWhenItsEndArrivesLater) {
  const std::string big = "GET / HTTP/1.1\r\nX: " + std::string(100, 'a');
  EXPECT_EQ(Scan(big, 64).state, State::kTooLarge);
  EXPECT_EQ(Scan(big + "\r\n\r\n", 64).state, State::kTooLarge);
  EXPECT_EQ(Scan(big + "\r\n\r\n", 128).state, State::kReady);
  // Exactly at the limit, with its end inside it: fine.
  const std::string exact = "GET / HTTP/1.1\r\n\r\n";
  EXPECT_EQ(Scan(exact, exact.size()).state, State::kReady);
  EXPECT_EQ(Scan(exact, exact.size() - 1).state, State::kTooLarge);
}

TEST(RequestHeadTest, ReadOnlyRequestPathIsThePathOfGetAndHeadOnly) {
  EXPECT_EQ(ReadOnlyRequestPath("GET /healthz HTTP/1.1\r\n"), "/healthz");
  EXPECT_EQ(ReadOnlyRequestPath("HEAD /-/ready?x=1 HTTP/1.1\r\n"), "/-/ready");
  EXPECT_EQ(ReadOnlyRequestPath("POST /healthz HTTP/1.1\r\n"), "");
  EXPECT_EQ(ReadOnlyRequestPath("GET /healthz"), "");  // no end of the path yet
  EXPECT_EQ(ReadOnlyRequestPath("get /healthz HTTP/1.1\r\n"), "");
}

// RFC 9112 §3.2.2: a server must accept the absolute form; routing sees the path (fresh eyes,
// stop 63: `GET http://host/api/v1/components` was a 404).
TEST(RequestHeadTest, AnAbsoluteFormTargetBecomesItsOriginForm) {
  EXPECT_EQ(OriginFormRequestLine("GET http://evil:9950/api/v1/components HTTP/1.1\r\nHost: x\r\n"),
            "GET /api/v1/components HTTP/1.1\r");
  EXPECT_EQ(OriginFormRequestLine("HEAD HTTPS://h/healthz?x=1 HTTP/1.0\n"), "HEAD /healthz?x=1 HTTP/1.0");
  EXPECT_EQ(OriginFormRequestLine("GET http://h HTTP/1.1\r\n"), "GET / HTTP/1.1\r");
  EXPECT_EQ(OriginFormRequestLine("GET http://h?q HTTP/1.1\r\n"), "GET /?q HTTP/1.1\r");
  EXPECT_EQ(OriginFormRequestLine("GET /metrics HTTP/1.1\r\n"), std::nullopt);
  EXPECT_EQ(OriginFormRequestLine("GET ftp://h/x HTTP/1.1\r\n"), std::nullopt);
  EXPECT_EQ(OriginFormRequestLine("GET http://h/x"), std::nullopt);  // no line end yet
  EXPECT_EQ(OriginFormRequestLine("GET http://h/x\r\n"), std::nullopt);  // no version
}

}  // namespace
}  // namespace obsmon
