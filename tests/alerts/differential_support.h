// What the two promtool differential tests (promql_differential_test.cc and
// alert_differential_test.cc, one test binary) share: the oracle's path and how a run is chosen.
#pragma once

#include <cstdint>
#include <cstdlib>

#include "tests/support/promtool.h"

namespace obsmon::alerts::differential {

using ::obsmon::testing::kPromtool;

// The environment variable `name` as a number (OBSMON_DIFF_SEED, ..._CASES), or `fallback`.
inline uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

}  // namespace obsmon::alerts::differential
