// The response parser of obsmon's own plain-http client (probes/http_response_parser.h), fed
// the input in pieces whose sizes the first bytes choose, then closed. Checks its bounds: the
// kept body never passes max_body_bytes, a finished response has a final status, an error has a
// reason, and feeding the same bytes in one piece gives the same verdict when no piece boundary
// matters (the state and status must agree). Reusable() (keep_alive) only for a finished, uncut
// response, and the same in pieces and whole when every byte is fed and the peer never closes
// (as a kept connection reads it).
// Seeds: Content-Length, chunked with extensions and trailers, 100 Continue, close-delimited,
// HEAD-like 204/304, bad sizes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "probes/http_response_parser.h"

using obsmon::probes::HttpParseLimits;
using obsmon::probes::HttpResponseParser;

namespace {

HttpResponseParser::State Parse(std::string_view in, const HttpParseLimits& limits,
                                const uint8_t* cuts, size_t ncuts, HttpResponseParser* p) {
  size_t i = 0;
  while (!in.empty() && p->state() != HttpResponseParser::State::kDone &&
         p->state() != HttpResponseParser::State::kError) {
    size_t n = ncuts > 0 ? static_cast<size_t>(cuts[i++ % ncuts]) + 1 : in.size();
    if (n > in.size()) n = in.size();
    p->Feed(in.substr(0, n));
    in.remove_prefix(n);
  }
  return p->FeedEof();
}

void Check(const HttpResponseParser& p, const HttpParseLimits& limits) {
  if (p.body().size() > limits.max_body_bytes) __builtin_trap();
  if (p.body().size() > p.received()) __builtin_trap();
  if (p.state() == HttpResponseParser::State::kDone && (p.status() < 200 || p.status() > 599)) {
    __builtin_trap();
  }
  if (p.state() == HttpResponseParser::State::kError && p.error().empty()) __builtin_trap();
  if (p.state() != HttpResponseParser::State::kDone &&
      p.state() != HttpResponseParser::State::kError) {
    __builtin_trap();  // after FeedEof the response is over one way or the other
  }
}

// Feeds every byte, also after the response ended, and never closes.
void FeedAll(std::string_view in, const uint8_t* cuts, size_t ncuts, HttpResponseParser* p) {
  size_t i = 0;
  while (!in.empty()) {
    size_t n = ncuts > 0 ? static_cast<size_t>(cuts[i++ % ncuts]) + 1 : in.size();
    if (n > in.size()) n = in.size();
    p->Feed(in.substr(0, n));
    in.remove_prefix(n);
  }
}

void CheckReusable(const HttpResponseParser& p) {
  if (p.Reusable() && (p.state() != HttpResponseParser::State::kDone || p.capped() ||
                       p.status() < 200)) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 4) return 0;
  HttpParseLimits limits;
  limits.max_head_bytes = 64 + data[0] * 16;   // small bounds so that the fuzzer reaches them
  limits.max_after_head_bytes = 64 + data[1] * 64;
  limits.max_body_bytes = 1 + data[2] * 8;
  limits.head_request = (data[3] & 1) != 0;
  const size_t ncuts = (data[3] >> 1) & 7;
  if (size < 4 + ncuts) return 0;
  const uint8_t* cuts = data + 4;
  std::string_view in(reinterpret_cast<const char*>(data + 4 + ncuts), size - 4 - ncuts);

  HttpResponseParser pieces(limits);
  Parse(in, limits, cuts, ncuts, &pieces);
  Check(pieces, limits);
  HttpResponseParser whole(limits);
  Parse(in, limits, nullptr, 0, &whole);
  Check(whole, limits);
  if (pieces.state() != whole.state() || pieces.status() != whole.status() ||
      pieces.body() != whole.body()) {
    __builtin_trap();
  }
  CheckReusable(pieces);
  CheckReusable(whole);
  HttpResponseParser kept_pieces(limits);
  FeedAll(in, cuts, ncuts, &kept_pieces);
  HttpResponseParser kept_whole(limits);
  FeedAll(in, nullptr, 0, &kept_whole);
  CheckReusable(kept_pieces);
  CheckReusable(kept_whole);
  if (kept_pieces.Reusable() != kept_whole.Reusable()) __builtin_trap();
  return 0;
}
