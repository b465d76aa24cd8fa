#include "web/request_head.h"

#include <algorithm>
#include <cctype>
#include <cstring>

namespace obsmon {

namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 9110 §5.6.2 tchar.
bool IsToken(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return std::isalnum(c) || (c != 0 && std::strchr("!#$%&'*+-.^_`|~", c) != nullptr);
  }) && !s.empty();
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// The end of the head: the offset just past its empty line, or npos.
size_t HeadEnd(std::string_view data) {
  for (size_t i = data.find('\n'); i != std::string_view::npos; i = data.find('\n', i + 1)) {
    // An empty line: "\n" right after the previous "\n", or "\r\n" right after it.
    if (i >= 1 && data[i - 1] == '\n') return i + 1;
    if (i >= 2 && data[i - 1] == '\r' && data[i - 2] == '\n') return i + 1;
  }
  return std::string_view::npos;
}

}  // namespace

RequestHeadScan ScanRequestHead(std::string_view data, size_t max_head_bytes,
                                size_t max_body_bytes) {
  RequestHeadScan scan;
  const size_t end = HeadEnd(data.substr(0, std::min(data.size(), max_head_bytes)));
  // No line of the head (so far) may be longer than kMaxHeadLineBytes.
  const std::string_view lines = data.substr(0, end == std::string_view::npos
                                                    ? std::min(data.size(), max_head_bytes)
                                                    : end);
  for (size_t from = 0; from < lines.size();) {
    size_t nl = lines.find('\n', from);
    const size_t line_end = nl == std::string_view::npos ? lines.size() : nl;
    if (line_end - from > kMaxHeadLineBytes) {
      scan.state = from == 0 ? RequestHeadScan::State::kUriTooLong
                             : RequestHeadScan::State::kTooLarge;
      return scan;
    }
    if (nl == std::string_view::npos) break;
    from = nl + 1;
  }
  if (end == std::string_view::npos) {
    if (data.size() >= max_head_bytes) scan.state = RequestHeadScan::State::kTooLarge;
    return scan;
  }
  scan.head_bytes = end;
  // The declared body decides whether to wait for more bytes; chunked bodies and an Expect go to
  // the worker, whose reads are bounded by the request deadline.
  bool streamed = false;
  bool chunked = false;
  size_t length = 0;
  bool have_length = false;
  int hosts = 0;
  std::string_view head = data.substr(0, end);
  size_t line_start = head.find('\n');  // skip the request line
  while (line_start != std::string_view::npos && line_start + 1 < head.size()) {
    const size_t next = head.find('\n', line_start + 1);
    std::string_view line = head.substr(line_start + 1, next == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : next - line_start - 1);
    line_start = next;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the blank line ending the head
    const size_t colon = line.find(':');
    // RFC 9112 §5: a field line is token ":" value; a server must refuse whitespace before the
    // colon and obsolete line folding, and a bare CR. Lenient parsing is how a request hides in
    // another one for a proxy that reads the same bytes differently.
    if (colon == std::string_view::npos || colon == 0 || !IsToken(line.substr(0, colon)) ||
        line.find('\r') != std::string_view::npos) {
      scan.state = RequestHeadScan::State::kBadFraming;
      return scan;
    }
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = Trim(line.substr(colon + 1));
    // RFC 9110 §5.5: NUL and the other control bytes (but tab) are not field content; a value
    // cut at a NUL by one reader and not by another is a way past a check (a bearer token
    // compared up to its NUL was accepted; fresh eyes, issue 13, second pass F6).
    if (std::any_of(value.begin(), value.end(), [](char c) {
          const auto u = static_cast<unsigned char>(c);
          return (u < 0x20 && u != '\t') || u == 0x7f;
        })) {
      scan.state = RequestHeadScan::State::kBadFraming;
      return scan;
    }
    if (EqualsIgnoringCase(name, "host")) ++hosts;
    if (EqualsIgnoringCase(name, "transfer-encoding")) {
      if (!EqualsIgnoringCase(value, "chunked") || chunked) {
        scan.state = RequestHeadScan::State::kBadFraming;
        return scan;
      }
      chunked = true;
      streamed = true;
    } else if (EqualsIgnoringCase(name, "expect")) {
      streamed = true;
    } else if (EqualsIgnoringCase(name, "content-length")) {
      size_t v = 0;
      if (value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        scan.state = RequestHeadScan::State::kBadFraming;
        return scan;
      }
      for (char c : value) v = v * 10 + static_cast<size_t>(c - '0');
      if (have_length && v != length) {
        scan.state = RequestHeadScan::State::kBadFraming;
        return scan;
      }
      have_length = true;
      length = v;
    }
  }
  // RFC 9112 §3.2: 400 for a request with several Host fields. (One without Host is answered:
  // obsmon serves one origin, and health checkers written by hand often omit it.)
  if ((chunked && have_length) || hosts > 1) {
    scan.state = RequestHeadScan::State::kBadFraming;
    return scan;
  }
  if (chunked) {
    scan.state = RequestHeadScan::State::kLengthRequired;
    return scan;
  }
  if (have_length && length > max_body_bytes) {
    scan.state = RequestHeadScan::State::kBodyTooLarge;  // with Expect too (RFC 9110 §10.1.1)
    return scan;
  }
  if (!streamed && have_length) {
    if (data.size() - end < length) return scan;  // body still arriving
    scan.body_bytes = length;
  }
  scan.state = RequestHeadScan::State::kReady;
  return scan;
}

std::string_view ReadOnlyRequestPath(std::string_view head) {
  size_t at = 0;
  if (head.substr(0, 4) == "GET ") {
    at = 4;
  } else if (head.substr(0, 5) == "HEAD ") {
    at = 5;
  } else {
    return {};
  }
  const size_t end = head.find_first_of(" ?\r\n", at);
  if (end == std::string_view::npos) return {};
  return head.substr(at, end - at);
}

std::optional<std::string> OriginFormRequestLine(std::string_view head) {
  const size_t line_end = head.find('\n');
  if (line_end == std::string_view::npos) return std::nullopt;
  const std::string_view line = head.substr(0, line_end);
  const size_t target = line.find(' ');
  if (target == std::string_view::npos) return std::nullopt;
  const size_t target_end = line.find(' ', target + 1);
  if (target_end == std::string_view::npos) return std::nullopt;
  const std::string_view form = line.substr(target + 1, target_end - target - 1);
  size_t scheme = 0;
  if (EqualsIgnoringCase(form.substr(0, 7), "http://")) scheme = 7;
  if (EqualsIgnoringCase(form.substr(0, 8), "https://")) scheme = 8;
  if (scheme == 0) return std::nullopt;
  const size_t path = form.find_first_of("/?", scheme);
  std::string rest(path == std::string_view::npos ? "" : form.substr(path));
  if (rest.empty() || rest.front() == '?') rest.insert(0, "/");
  return std::string(line.substr(0, target + 1)) + rest + std::string(line.substr(target_end));
}

}  // namespace obsmon
