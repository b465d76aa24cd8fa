// An HTTP/1.x response read incrementally, with every size bounded: the parser of obsmon's own
// plain-http client (plain_http_exchange.h), fed whatever each recv() returned.
//
// Bounds, as bounded_http_client.h gives cpp-httplib: a response head (status line and headers;
// each interim 1xx head counted afresh) is at most `max_head_bytes`; everything after the final
// head (body, chunk framing, trailers) at most `max_after_head_bytes`; of the body at most
// `max_body_bytes` is kept, and reading stops there (the truncated body is judged, as the http
// probe does). A chunk-size line is at most 1 KiB. Nothing here allocates more than the kept head
// (≤ max_head_bytes) and the kept body (≤ max_body_bytes).
//
// Bodies: none for a HEAD request, 1xx, 204 and 304; else chunked (Transfer-Encoding ending in
// "chunked"), Content-Length, or until the peer closes. Content-Encoding is not decoded (the
// client does not ask for one). Reusable() says whether the connection may carry another
// request after this response (RFC 9112 §9.3), for the http probe's keep_alive.
//
// Not thread-safe; one parser per response. Pure: no I/O, no clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace obsmon::probes {

// `token` among the comma-separated tokens of a Connection header's value, in any ASCII case
// ("keep-alive, Close" has "close"): what decides whether a connection is kept, read alike in
// requests (plain_http_exchange.cc) and responses.
bool ConnectionHasToken(std::string_view value, std::string_view token);

struct HttpParseLimits {
  size_t max_head_bytes = 64 * 1024;
  size_t max_after_head_bytes = 16u << 20;
  size_t max_body_bytes = 1 << 20;
  bool head_request = false;  // the request was HEAD: the response has no body
};

class HttpResponseParser {
 public:
  enum class State {
    kHead,   // reading a response head
    kBody,   // reading the body (or its chunks and trailers)
    kDone,   // the response is complete (or the kept body reached max_body_bytes)
    kError,  // the response is malformed or over a limit: error() says why
  };

  explicit HttpResponseParser(HttpParseLimits limits) : limits_(limits) {}

  // Consumes `data` (any split of the stream). Bytes after the response's end are ignored.
  State Feed(std::string_view data);
  // The peer closed the connection: a close-delimited body is complete; anything else
  // unfinished is an error ("connection closed before a response", "... while reading the
  // body").
  State FeedEof();

  State state() const { return state_; }
  // A reason for the probe's result ("response head larger than ..."); set in kError.
  const std::string& error() const { return error_; }
  // The final status code; 0 until a final head was read.
  int status() const { return status_; }
  // The Content-Length header's value as sent ("" without one).
  const std::string& content_length_header() const { return content_length_header_; }
  // The body kept (at most max_body_bytes) and the body bytes read (chunk framing excluded).
  const std::string& body() const { return body_; }
  std::string& mutable_body() { return body_; }
  uint64_t received() const { return received_; }
  // The kept body reached max_body_bytes and reading stopped.
  bool capped() const { return capped_; }
  // The response is complete and the connection can carry the next request: HTTP/1.1 without
  // "Connection: close" (HTTP/1.0 only with "Connection: keep-alive"), its end known from its
  // framing (not from the peer closing), read to the end (not capped), nothing after it, and
  // no folded header line (obs-fold: its words are not read).
  bool Reusable() const;

 private:
  enum class BodyMode { kNone, kLength, kChunked, kUntilClose };
  enum class ChunkState { kSize, kData, kDataEnd, kTrailers };

  State Fail(std::string reason);
  // Consumes head bytes from `data` at `*pos`; ends the head at its empty line.
  void FeedHead(std::string_view data, size_t* pos);
  // Parses the complete head in head_; moves to the next state.
  void EndHead();
  void FeedBody(std::string_view data, size_t* pos);
  void FeedChunked(std::string_view data, size_t* pos);
  // Appends body bytes; false once the kept body is capped.
  bool TakeBody(std::string_view bytes);

  HttpParseLimits limits_;
  State state_ = State::kHead;
  std::string error_;
  std::string head_;  // the current head, at most max_head_bytes
  bool line_empty_ = true;
  int status_ = 0;
  std::string content_length_header_;
  BodyMode mode_ = BodyMode::kNone;
  uint64_t remaining_ = 0;  // kLength: body bytes to come; kChunked kData: bytes of this chunk
  ChunkState chunk_ = ChunkState::kSize;
  std::string line_;  // a chunk-size or trailer line so far
  uint64_t after_head_ = 0;
  std::string body_;
  uint64_t received_ = 0;
  bool capped_ = false;
  bool persistent_ = false;  // the final head allows another request on the connection
  bool trailing_ = false;    // bytes came after the response's end
};

}  // namespace obsmon::probes
