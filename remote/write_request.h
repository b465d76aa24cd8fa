// A remote_write 1.0 request body: a protobuf WriteRequest, snappy block-compressed.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/labels.h"

namespace obsmon::remote {

// One series as it goes out: its final labels (__name__ included; Labels keeps them sorted by
// name, as the specification requires) and its samples in timestamp order.
struct OutgoingSeries {
  Labels labels;
  std::vector<std::pair<TimestampMs, double>> samples;
};

// The compressed body for `series`.
std::string EncodeWriteRequest(std::span<const OutgoingSeries> series);

// The headers every request carries besides auth and the configured ones.
inline constexpr const char* kContentType = "application/x-protobuf";
inline constexpr const char* kContentEncoding = "snappy";
inline constexpr const char* kRemoteWriteVersion = "0.1.0";

}  // namespace obsmon::remote
