#include "probes/http_response_parser.h"

#include <algorithm>
#include <cstring>

#include "core/ascii_case.h"

namespace obsmon::probes {

namespace {

constexpr size_t kMaxChunkLine = 1024;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

// "HTTP/1.x NNN[ reason]": the code, or 0 when the line is not a status line.
int StatusCode(std::string_view line) {
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ') {
    return 0;
  }
  int code = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return 0;
    code = code * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ') return 0;
  return code >= 100 && code <= 599 ? code : 0;
}

// Decimal digits only, at most 18 of them (no overflow); nullopt-like false otherwise.
bool ParseLength(std::string_view text, uint64_t* out) {
  if (text.empty() || text.size() > 18) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// The chunk-size line's hex size before any ";extension"; false when there is none or it has
// more than 15 digits.
bool ParseChunkSize(std::string_view line, uint64_t* out) {
  line = Trim(line);
  size_t end = 0;
  uint64_t v = 0;
  for (; end < line.size(); ++end) {
    const char c = line[end];
    int d;
    if (c >= '0' && c <= '9') {
      d = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      d = c - 'a' + 10;
    } else if (c >= 'A' && c <= 'F') {
      d = c - 'A' + 10;
    } else {
      break;
    }
    if (end == 15) return false;
    v = v * 16 + static_cast<uint64_t>(d);
  }
  if (end == 0) return false;
  std::string_view rest = Trim(line.substr(end));
  if (!rest.empty() && rest.front() != ';') return false;
  *out = v;
  return true;
}

}  // namespace

bool ConnectionHasToken(std::string_view value, std::string_view token) {
  while (!value.empty()) {
    const size_t comma = value.find(',');
    if (EqualsIgnoreAsciiCase(Trim(value.substr(0, comma)), token)) return true;
    value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
  }
  return false;
}

HttpResponseParser::State HttpResponseParser::Fail(std::string reason) {
  state_ = State::kError;
  error_ = std::move(reason);
  return state_;
}

HttpResponseParser::State HttpResponseParser::Feed(std::string_view data) {
  size_t pos = 0;
  while (pos < data.size()) {
    if (state_ == State::kHead) {
      FeedHead(data, &pos);
    } else if (state_ == State::kBody) {
      // At most one byte past the budget is consumed: the verdict does not depend on how the
      // stream was split.
      const uint64_t budget = limits_.max_after_head_bytes - after_head_;
      const std::string_view view =
          data.substr(0, pos + static_cast<size_t>(std::min<uint64_t>(data.size() - pos,
                                                                        budget + 1)));
      const size_t before = pos;
      FeedBody(view, &pos);
      if (state_ == State::kError) break;
      after_head_ += pos - before;
      // A response that ended within what was read (or was cut at max_body_bytes) is judged.
      if (state_ == State::kBody && after_head_ > limits_.max_after_head_bytes) {
        return Fail("response larger than " + std::to_string(limits_.max_after_head_bytes) +
                    " bytes after its head (body, chunk framing and trailers)");
      }
    } else {
      break;
    }
  }
  if (state_ == State::kDone && pos < data.size()) trailing_ = true;
  return state_;
}

bool HttpResponseParser::Reusable() const {
  return state_ == State::kDone && persistent_ && !capped_ && !trailing_ &&
         mode_ != BodyMode::kUntilClose;
}

HttpResponseParser::State HttpResponseParser::FeedEof() {
  if (state_ == State::kHead) return Fail("connection closed before a response");
  if (state_ == State::kBody) {
    if (mode_ == BodyMode::kUntilClose) {
      state_ = State::kDone;
    } else {
      return Fail("connection closed while reading the body");
    }
  }
  return state_;
}

void HttpResponseParser::FeedHead(std::string_view data, size_t* pos) {
  while (*pos < data.size() && state_ == State::kHead) {
    // Up to the next line end at once; the head is bounded before it is appended.
    const char* start = data.data() + *pos;
    const size_t avail = data.size() - *pos;
    const void* nl = std::memchr(start, '\n', avail);
    const size_t take = nl ? static_cast<size_t>(static_cast<const char*>(nl) - start) + 1 : avail;
    if (head_.size() + take > limits_.max_head_bytes) {
      Fail("response head larger than " + std::to_string(limits_.max_head_bytes) +
           " bytes (status line and headers)");
      return;
    }
    const std::string_view piece(start, take);
    head_.append(piece);
    *pos += take;
    // The line so far: empty unless it has something besides "\r".
    for (char c : piece) {
      if (c != '\r' && c != '\n') {
        line_empty_ = false;
        break;
      }
    }
    if (!nl) continue;
    // An empty line ends the head (empty lines before the status line are skipped).
    if (line_empty_ && head_.find_first_not_of("\r\n") != std::string::npos) {
      EndHead();
    } else if (line_empty_) {
      head_.clear();
    }
    line_empty_ = true;
  }
}

void HttpResponseParser::EndHead() {
  std::string_view head(head_);
  size_t eol = head.find('\n');
  const std::string_view status_line = Trim(head.substr(0, eol));
  const int code = StatusCode(status_line);
  if (code == 0) {
    Fail("invalid response: not an HTTP/1.x status line");
    return;
  }
  if (code < 200) {  // interim (100 Continue, 103 Early Hints): another head follows
    head_.clear();
    return;
  }
  status_ = code;
  // HTTP/1.1 keeps the connection unless "close" is among the Connection header's tokens;
  // HTTP/1.0 only with "keep-alive" among them (RFC 9112 §9.3).
  const bool http11 = status_line[7] != '0';
  bool close_token = false;
  bool keep_alive_token = false;
  bool folded = false;
  bool chunked = false;
  bool has_length = false;
  uint64_t length = 0;
  while (eol != std::string_view::npos && eol + 1 < head.size()) {
    const size_t next = head.find('\n', eol + 1);
    const std::string_view line =
        head.substr(eol + 1, next == std::string_view::npos ? std::string_view::npos
                                                            : next - eol - 1);
    eol = next;
    // obs-fold (RFC 9112 §5.2): a line that continues the header before it. Its words (a
    // "close" folded onto a Connection header) are not read, so such a connection is not
    // kept (fresh eyes: a folded close kept it, and the server then answered nothing on it).
    if (!line.empty() && (line.front() == ' ' || line.front() == '\t')) {
      folded = true;
      continue;  // part of the header before it, not a header of its own
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = Trim(line.substr(0, colon));
    const std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoreAsciiCase(name, "Transfer-Encoding")) {
      const size_t comma = value.rfind(',');
      const std::string_view last =
          Trim(comma == std::string_view::npos ? value : value.substr(comma + 1));
      chunked = EqualsIgnoreAsciiCase(last, "chunked");
    } else if (EqualsIgnoreAsciiCase(name, "Connection")) {
      close_token = close_token || ConnectionHasToken(value, "close");
      keep_alive_token = keep_alive_token || ConnectionHasToken(value, "keep-alive");
    } else if (EqualsIgnoreAsciiCase(name, "Content-Length")) {
      uint64_t v = 0;
      if (!ParseLength(value, &v) || (has_length && v != length)) {
        Fail("invalid response: bad Content-Length");
        return;
      }
      if (!has_length) content_length_header_ = std::string(value);
      has_length = true;
      length = v;
    }
  }
  persistent_ = !folded && (http11 ? !close_token : keep_alive_token && !close_token);
  head_.clear();
  head_.shrink_to_fit();
  state_ = State::kBody;
  if (limits_.head_request || status_ == 204 || status_ == 304) {
    mode_ = BodyMode::kNone;
    state_ = State::kDone;
  } else if (chunked) {
    mode_ = BodyMode::kChunked;
  } else if (has_length) {
    mode_ = BodyMode::kLength;
    remaining_ = length;
    if (length == 0) state_ = State::kDone;
  } else {
    mode_ = BodyMode::kUntilClose;
  }
}

bool HttpResponseParser::TakeBody(std::string_view bytes) {
  received_ += bytes.size();
  const size_t room = limits_.max_body_bytes - body_.size();
  body_.append(bytes.data(), std::min(bytes.size(), room));
  if (bytes.size() > room) {
    capped_ = true;  // enough to judge: stop reading
    state_ = State::kDone;
    return false;
  }
  return true;
}

void HttpResponseParser::FeedBody(std::string_view data, size_t* pos) {
  const std::string_view rest = data.substr(*pos);
  switch (mode_) {
    case BodyMode::kNone:
      state_ = State::kDone;
      return;
    case BodyMode::kUntilClose:
      *pos = data.size();
      TakeBody(rest);
      return;
    case BodyMode::kLength: {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(remaining_, rest.size()));
      *pos += take;
      remaining_ -= take;
      if (TakeBody(rest.substr(0, take)) && remaining_ == 0) state_ = State::kDone;
      return;
    }
    case BodyMode::kChunked:
      FeedChunked(data, pos);
      return;
  }
}

void HttpResponseParser::FeedChunked(std::string_view data, size_t* pos) {
  while (*pos < data.size() && state_ == State::kBody) {
    if (chunk_ == ChunkState::kData) {
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(remaining_, data.size() - *pos));
      const std::string_view bytes = data.substr(*pos, take);
      *pos += take;
      remaining_ -= take;
      if (!TakeBody(bytes)) return;
      if (remaining_ == 0) chunk_ = ChunkState::kDataEnd;
      continue;
    }
    // A line: a chunk size, the CRLF after a chunk's data, or a trailer.
    const char c = data[(*pos)++];
    if (c != '\n') {
      if (chunk_ == ChunkState::kTrailers) {
        if (c != '\r') line_empty_ = false;
        continue;  // trailers are counted, not kept
      }
      if (line_.size() == kMaxChunkLine) {
        Fail("invalid response: chunk size line longer than " + std::to_string(kMaxChunkLine) +
             " bytes");
        return;
      }
      line_ += c;
      continue;
    }
    switch (chunk_) {
      case ChunkState::kSize: {
        uint64_t size = 0;
        if (!ParseChunkSize(line_, &size)) {
          Fail("invalid response: bad chunk size");
          return;
        }
        line_.clear();
        if (size == 0) {
          chunk_ = ChunkState::kTrailers;
          line_empty_ = true;
        } else {
          remaining_ = size;
          chunk_ = ChunkState::kData;
        }
        break;
      }
      case ChunkState::kDataEnd:
        if (!(line_.empty() || line_ == "\r")) {
          Fail("invalid response: chunk data longer than its size");
          return;
        }
        line_.clear();
        chunk_ = ChunkState::kSize;
        break;
      case ChunkState::kTrailers:
        if (line_empty_) {
          state_ = State::kDone;
          return;
        }
        line_empty_ = true;
        break;
      case ChunkState::kData:
        break;  // not reached: handled above
    }
  }
}

}  // namespace obsmon::probes
