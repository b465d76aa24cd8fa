// Floating-point operations as Prometheus 2.42 (Go) computes them, so that obsmon's rule values
// have the same bits as promtool's, not merely close ones (issue 14, item 6):
//   - GoPow: Go's math.Pow. For an integral exponent it multiplies by repeated squaring on
//     frexp's mantissa (exact 2^k scaling kept apart), which rounds differently from C's pow:
//     0.3 ^ 3 is 0.027 in Go, 0.026999999999999996 from glibc; 1e3 ^ 30 is 1.0000000000000001e90.
//   - KahanSumInc: Prometheus's Kahan-Babuska-Neumaier step (promql/functions.go kahanSumInc),
//     used by sum_over_time and avg_over_time; the compensation is added once at the end.
// Written from the algorithms' descriptions; both are pure.
#pragma once

#include <cmath>

namespace obsmon::alerts {

double GoPow(double x, double y);

struct KahanSum {
  double sum = 0;
  double c = 0;  // the running compensation
  // Inline: range functions add every point of every series they read.
  void Add(double inc) {
    const double t = sum + inc;
    // Neumaier's improvement: compensate with whichever term is larger.
    if (std::fabs(sum) >= std::fabs(inc)) {
      c += (sum - t) + inc;
    } else {
      c += (inc - t) + sum;
    }
    sum = t;
  }
  // sum + c, or sum alone when it is infinite (c would be NaN then).
  double Value() const;
};

}  // namespace obsmon::alerts
