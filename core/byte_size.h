// Sizes in the config, written as Prometheus writes them (`storage.tsdb.retention.size`): an
// integer and a unit, B, KB, MB, GB, TB (powers of 1024, as Prometheus's units), or KiB, MiB,
// GiB, TiB; a plain integer is bytes. "4MB" = "4MiB" = 4194304.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config_node.h"

namespace obsmon {

// The bytes `text` names, or nullopt when it is not a size (or overflows 2^62).
std::optional<int64_t> ParseByteSize(std::string_view text);

// `key` of `node` as a size in [min, max] bytes; a bad or out-of-range value is reported at the
// key's place (file:line:column) and gives nullopt.
std::optional<int64_t> ByteSizeInRange(ConfigNode& node, const std::string& key, int64_t min,
                                       int64_t max);

// "2MiB", "512KiB", "1GiB", or the bytes ("1000B") when not a whole number of KiB.
std::string FormatByteSize(int64_t bytes);

}  // namespace obsmon
