#include "exporters/request_head.h"

#include <algorithm>
#include <cctype>

namespace obsmon {

namespace {

bool EqualsIgnoringCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
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
  if (end == std::string_view::npos) {
    if (data.size() >= max_head_bytes) scan.state = RequestHeadScan::State::kTooLarge;
    return scan;
  }
  scan.head_bytes = end;
  // The declared body decides whether to wait for more bytes; anything unusual (chunked, an
  // Expect, a length that is not plain digits or too large) goes to the worker, whose reads are
  // bounded by the request deadline and whose parser answers what is wrong.
  bool streamed = false;
  size_t length = 0;
  bool have_length = false;
  std::string_view head = data.substr(0, end);
  size_t line_start = head.find('\n');  // skip the request line
  while (line_start != std::string_view::npos && line_start + 1 < head.size()) {
    const size_t next = head.find('\n', line_start + 1);
    std::string_view line = head.substr(line_start + 1, next == std::string_view::npos
                                                           ? std::string_view::npos
                                                           : next - line_start - 1);
    line_start = next;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = Trim(line.substr(colon + 1));
    if (EqualsIgnoringCase(name, "transfer-encoding") || EqualsIgnoringCase(name, "expect")) {
      streamed = true;
    } else if (EqualsIgnoringCase(name, "content-length")) {
      if (have_length || value.empty() || value.size() > 18 ||
          !std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        streamed = true;  // duplicated or not a number: httplib answers 400
        continue;
      }
      have_length = true;
      length = 0;
      for (char c : value) length = length * 10 + static_cast<size_t>(c - '0');
    }
  }
  if (!streamed && have_length && length <= max_body_bytes) {
    if (data.size() - end < length) return scan;  // body still arriving
    scan.body_bytes = length;
  }
  scan.state = RequestHeadScan::State::kReady;
  return scan;
}

}  // namespace obsmon
