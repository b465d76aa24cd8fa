#include "remote/log_limiter.h"

namespace obsmon::remote {

std::optional<LogLimiter::HeldBack> LogLimiter::Admit(SteadyTime now, uint64_t amount) {
  if (last_ && now - *last_ < every_) {
    ++held_.occurrences;
    held_.amount += amount;
    return std::nullopt;
  }
  last_ = now;
  HeldBack out = held_;
  held_ = {};
  return out;
}

std::optional<LogLimiter::HeldBack> LogLimiter::TakeHeldBack() {
  if (held_.occurrences == 0) return std::nullopt;
  HeldBack out = held_;
  held_ = {};
  return out;
}

}  // namespace obsmon::remote
