#include "alerts/go_float.h"

#include <cmath>
#include <cstdint>
#include <limits>

namespace obsmon::alerts {

namespace {

bool IsOddInt(double y) {
  if (std::fabs(y) >= 9007199254740992.0) return false;  // 2^53 and beyond: all even
  double integral = 0;
  if (std::modf(y, &integral) != 0) return false;
  return std::fmod(integral, 2.0) != 0;
}

}  // namespace

double GoPow(double x, double y) {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (y == 0 || x == 1) return 1;
  if (y == 1) return x;
  if (std::isnan(x) || std::isnan(y)) return std::numeric_limits<double>::quiet_NaN();
  if (x == 0) {
    if (y < 0) return std::signbit(x) && IsOddInt(y) ? -kInf : kInf;
    return std::signbit(x) && IsOddInt(y) ? x : 0;
  }
  if (std::isinf(y)) {
    if (x == -1) return 1;
    if ((std::fabs(x) < 1) == (y > 0)) return 0;
    return kInf;
  }
  if (std::isinf(x)) {
    if (x < 0) return GoPow(1 / x, -y);  // (-inf)^y = (-0)^-y
    return y < 0 ? 0 : kInf;
  }
  if (y == 0.5) return std::sqrt(x);
  if (y == -0.5) return 1 / std::sqrt(x);

  double yi = 0;
  double yf = std::modf(std::fabs(y), &yi);
  if (yf != 0 && x < 0) return std::numeric_limits<double>::quiet_NaN();
  if (yi >= 9223372036854775808.0) {  // 2^63: an even integer that over- or underflows
    if (x == -1) return 1;
    if ((std::fabs(x) < 1) == (y > 0)) return 0;
    return kInf;
  }
  // The answer is a1 * 2^ae; first x^yf (the fraction folded to [-0.5, 0.5]).
  double a1 = 1;
  int64_t ae = 0;
  if (yf != 0) {
    if (yf > 0.5) {
      yf -= 1;
      yi += 1;
    }
    a1 = std::exp(yf * std::log(x));
  }
  // Then x^yi by repeated squaring of the mantissa, the exponent counted apart.
  int xe_int = 0;
  double x1 = std::frexp(x, &xe_int);
  int64_t xe = xe_int;
  for (auto i = static_cast<int64_t>(yi); i != 0; i >>= 1) {
    if (xe < -(int64_t{1} << 12) || (int64_t{1} << 12) < xe) {
      ae += xe;  // overflows whatever follows: ldexp gives inf or 0
      break;
    }
    if ((i & 1) == 1) {
      a1 *= x1;
      ae += xe;
    }
    x1 *= x1;
    xe <<= 1;
    if (x1 < 0.5) {
      x1 += x1;
      xe--;
    }
  }
  if (y < 0) {
    a1 = 1 / a1;
    ae = -ae;
  }
  // ldexp takes an int; beyond its range the result is 0 or inf anyway.
  const int64_t clamped = ae < -100000 ? -100000 : (ae > 100000 ? 100000 : ae);
  return std::ldexp(a1, static_cast<int>(clamped));
}

double KahanSum::Value() const { return std::isinf(sum) ? sum : sum + c; }

}  // namespace obsmon::alerts
