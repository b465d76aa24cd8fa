// Splits CSV text (RFC 4180 as pandas and Python's csv module write it: comma separated, fields
// optionally in double quotes with "" for a quote, records ending in \n or \r\n) into records.
// Only complete records count: a last record without its newline is left for the next read, so
// a file that is being appended to is never read half-written. Pure functions, thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace obsmon::probes {

struct Records {
  std::vector<std::vector<std::string>> rows;
  // Bytes of `data` the complete records span (the offset to continue from).
  size_t consumed = 0;
};

// Splits the complete records at the start of `data`. Empty lines are skipped.
Records Split(std::string_view data);

}  // namespace obsmon::probes
