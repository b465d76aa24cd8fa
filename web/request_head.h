// How much of an HTTP/1.x request has arrived: the connection gate (web/gated_server.h)
// hands a connection to a worker only once its whole request is buffered, so a client that
// dribbles its headers costs a poll slot, never a worker. Pure, so it is unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace obsmon {

struct RequestHeadScan {
  enum class State {
    kIncomplete,  // the blank line that ends the head has not arrived yet
    kReady,       // head (and body, when it has a length) buffered: a worker may serve it now
    kTooLarge,    // the head, or one line of it, is longer than allowed: answer 431 and close
    kBadFraming,  // where the request ends is ambiguous (request smuggling's ground): 400, close
    kUriTooLong,  // the request line alone is longer than kMaxHeadLineBytes: 414, close
    kLengthRequired,  // a chunked body: obsmon's API takes none, and chunk parsers disagree: 411
    kBodyTooLarge,    // a Content-Length over the body limit: 413 at once, close (no body awaited)
  };
  State state = State::kIncomplete;
  size_t head_bytes = 0;  // through the blank line (kReady)
  // kReady with a Content-Length body: its length. A body after `Expect: 100-continue` is left
  // to the worker (which reads it within the request's deadline); then `body_bytes` is 0.
  size_t body_bytes = 0;
};

// Scans `data`, the bytes received so far on a connection, for the first request in it. The head
// ends at an empty line (CRLF CRLF, or LF LF as lenient servers accept); a head larger than
// `max_head_bytes`, or with a line longer than kMaxHeadLineBytes (cpp-httplib's own limit, which
// it answers with a 400 and then reads on), is kTooLarge; a body declared up to `max_body_bytes`
// long must be buffered too before the request is kReady. As RFC 9112 §6.3 asks of a server,
// Content-Length together with Transfer-Encoding, Content-Lengths that differ or are not
// numbers, a transfer coding other than chunked, and a header line that is not `token: value`
// (no colon, whitespace before it or in the name, a folded line, a bare CR) are kBadFraming; a
// chunked body is kLengthRequired; a declared length over `max_body_bytes` is kBodyTooLarge
// (waiting for such a body held a worker until the request's deadline, and eight such requests
// held every worker: fresh eyes, stop 63).
inline constexpr size_t kMaxHeadLineBytes = 8192;

// The path of a GET or HEAD request line at the start of `head` (without its query), or "" for
// any other method.
std::string_view ReadOnlyRequestPath(std::string_view head);

RequestHeadScan ScanRequestHead(std::string_view data, size_t max_head_bytes,
                                size_t max_body_bytes);

// The request line of `head` with an absolute-form target (`GET http://host:9950/metrics
// HTTP/1.1`, RFC 9112 §3.2.2, which a server must accept) in origin form (`GET /metrics
// HTTP/1.1`), so that routing, auth and the health lane see the path; nullopt for any other
// target. The authority is dropped, as the RFC has a server use it instead of Host, which
// obsmon, one origin, reads for nothing.
std::optional<std::string> OriginFormRequestLine(std::string_view head);

}  // namespace obsmon
