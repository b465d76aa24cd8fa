// The answer of the Prometheus HTTP query API (`/api/v1/query` with a range selector) read into
// plain series: what Prometheus 2.x and VictoriaMetrics both return for `name{...}[range]`, a
// "matrix" of raw samples. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"
#include "core/status.h"

namespace obsmon::source {

// One series of a matrix answer: its labels (with __name__ when the store sends it) and its
// samples in the order the store sent them (time order in both stores).
struct StoreSeries {
  Labels labels;
  std::vector<std::pair<TimestampMs, double>> points;
};

struct ParsedAnswer {
  std::vector<StoreSeries> series;
  // Samples whose value is not a finite number ("NaN", "+Inf", a stale marker a store let
  // through): left out of `series` and counted here, so a caller can say so.
  size_t non_finite = 0;
};

// Converts the API's float seconds to milliseconds exactly: both stores print the timestamp
// with at most three decimals, so the nearest millisecond is the stored one (rounding, not
// truncating: 1700000000.123 is 1700000000122.9999 as a double).
TimestampMs SecondsToMs(double seconds);

// Reads `body`, the whole answer. Fails (InvalidArgument, a message that quotes at most a short
// excerpt of `body`) unless it is {"status":"success","data":{"resultType":"matrix",
// "result":[{"metric":{...},"values":[[t,"v"],...]},...]}}; an error answer's errorType and
// error are in the message. A value must be a string holding a number (the API's form).
// At most `max_points` samples in all (a bound on memory for a hostile answer).
Result<ParsedAnswer> ParseMatrixAnswer(std::string_view body, size_t max_points);

// At most `max_bytes` of `text`, on one line, for error messages.
std::string Excerpt(std::string_view text, size_t max_bytes = 200);

}  // namespace obsmon::source
