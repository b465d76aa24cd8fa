// Neumaier's compensated sum, shared by the percentile summaries (percentiles.cc and
// latency_selection.cc) so that both compute a mean the same way, bit for bit.
#pragma once

#include <cmath>

namespace obsmon {

// The rounding error of each addition is carried along, so the result is (nearly always) the
// correctly rounded sum whatever the order of the values, and a mean computed from hourly sets
// equals the one computed from all values at once. Not thread-safe (a plain value).
class CompensatedSum {
 public:
  void Add(double v) {
    const double t = sum_ + v;
    compensation_ += std::abs(sum_) >= std::abs(v) ? (sum_ - t) + v : (v - t) + sum_;
    sum_ = t;
  }
  double value() const { return sum_ + compensation_; }

 private:
  double sum_ = 0;
  double compensation_ = 0;
};

}  // namespace obsmon
