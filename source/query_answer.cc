#include "source/query_answer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>

#include <nlohmann/json.hpp>

#include "core/json_depth.h"

namespace obsmon::source {
namespace {

using nlohmann::json;

Status Bad(std::string_view what, std::string_view body) {
  return Status::InvalidArgument(
      fmt::format("not a matrix answer of the query API: {} (answer: {})", what, Excerpt(body)));
}

// strtod on a bounded copy: the API's values are strings ("0.123", "NaN", "+Inf").
bool ParseNumber(const std::string& text, double* out) {
  if (text.empty() || text.size() > 64) return false;
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return false;
  *out = v;
  return true;
}

// A matrix answer nests 5 deep; a hostile one a million deep would make the parser and the
// value's destructor recurse.
constexpr int kMaxAnswerDepth = 16;

}  // namespace

TimestampMs SecondsToMs(double seconds) { return std::llround(seconds * 1000.0); }

std::string Excerpt(std::string_view text, size_t max_bytes) {
  std::string out;
  for (char c : text.substr(0, max_bytes)) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u >= 0x7f ? ' ' : c);
  }
  if (text.size() > max_bytes) out += "...";
  return out;
}

Result<ParsedAnswer> ParseMatrixAnswer(std::string_view body, size_t max_points) {
  // No exceptions out of here: allow_exceptions=false gives a discarded value on bad syntax, and
  // the accessors below check types before reading.
  if (JsonNestingDepth(body, kMaxAnswerDepth) > kMaxAnswerDepth) {
    return Bad("nested deeper than a matrix answer", body);
  }
  const json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Bad("not JSON", body);
  if (!doc.is_object()) return Bad("not a JSON object", body);
  const auto status = doc.find("status");
  if (status == doc.end() || !status->is_string()) return Bad("no \"status\"", body);
  if (*status != "success") {
    std::string type, error;
    if (auto t = doc.find("errorType"); t != doc.end() && t->is_string()) type = *t;
    if (auto e = doc.find("error"); e != doc.end() && e->is_string()) error = *e;
    return Status::InvalidArgument(fmt::format("the store answered status \"{}\": {}: {}",
                                               Excerpt(status->get<std::string>(), 40),
                                               Excerpt(type, 60), Excerpt(error, 300)));
  }
  const auto data = doc.find("data");
  if (data == doc.end() || !data->is_object()) return Bad("no \"data\" object", body);
  const auto type = data->find("resultType");
  if (type == data->end() || !type->is_string()) return Bad("no \"data.resultType\"", body);
  if (*type != "matrix") {
    return Bad(fmt::format("resultType \"{}\", not \"matrix\"",
                           Excerpt(type->get<std::string>(), 40)),
               body);
  }
  const auto result = data->find("result");
  if (result == data->end() || !result->is_array()) return Bad("no \"data.result\" array", body);
  ParsedAnswer out;
  size_t points = 0;
  for (const json& item : *result) {
    if (!item.is_object()) return Bad("a series is not an object", body);
    StoreSeries s;
    const auto metric = item.find("metric");
    if (metric == item.end() || !metric->is_object()) return Bad("a series without \"metric\"", body);
    std::vector<Labels::Pair> pairs;
    for (const auto& [name, value] : metric->items()) {
      if (!value.is_string()) return Bad("a label value is not a string", body);
      pairs.emplace_back(name, value.get<std::string>());
    }
    s.labels = Labels(std::move(pairs));
    const auto values = item.find("values");
    if (values == item.end() || !values->is_array()) return Bad("a series without \"values\"", body);
    s.points.reserve(values->size());
    for (const json& v : *values) {
      if (!v.is_array() || v.size() != 2 || !v[0].is_number() || !v[1].is_string()) {
        return Bad("a sample is not [time, \"value\"]", body);
      }
      const double t = v[0].get<double>();
      // Beyond ±1e13 s (year 300,000) milliseconds leave int64 or lose their exactness.
      if (!std::isfinite(t) || std::fabs(t) > 1e13) return Bad("a sample time out of range", body);
      double value = 0;
      if (!ParseNumber(v[1].get<std::string>(), &value)) {
        return Bad("a sample value is not a number", body);
      }
      if (!std::isfinite(value)) {
        ++out.non_finite;
        continue;
      }
      if (++points > max_points) {
        return Status::InvalidArgument(
            fmt::format("the answer holds more than {} samples (a smaller chunk is needed)",
                        max_points));
      }
      s.points.emplace_back(SecondsToMs(t), value);
    }
    out.series.push_back(std::move(s));
  }
  return out;
}

}  // namespace obsmon::source
