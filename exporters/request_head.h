// How much of an HTTP/1.x request has arrived: the connection gate (exporters/gated_server.h)
// hands a connection to a worker only once its whole request is buffered, so a client that
// dribbles its headers costs a poll slot, never a worker. Pure, so it is unit-tested and fuzzed.
#pragma once

#include <cstddef>
#include <string_view>

namespace obsmon {

struct RequestHeadScan {
  enum class State {
    kIncomplete,  // the blank line that ends the head has not arrived yet
    kReady,       // head (and body, when it has a length) buffered: a worker may serve it now
    kTooLarge,    // the head is longer than allowed: answer 431 and close
  };
  State state = State::kIncomplete;
  size_t head_bytes = 0;  // through the blank line (kReady)
  // kReady with a Content-Length body: its length. A chunked body, `Expect: 100-continue` or a
  // length beyond the body limit is left to the worker (which reads it within the request's
  // deadline and answers 413 when it is too large); then `body_bytes` is 0.
  size_t body_bytes = 0;
};

// Scans `data`, the bytes received so far on a connection, for the first request in it. The head
// ends at an empty line (CRLF CRLF, or LF LF as lenient servers accept); a head larger than
// `max_head_bytes` is kTooLarge; a body declared up to `max_body_bytes` long must be buffered too
// before the request is kReady.
RequestHeadScan ScanRequestHead(std::string_view data, size_t max_head_bytes,
                                size_t max_body_bytes);

}  // namespace obsmon
