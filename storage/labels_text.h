// Parses the canonical label text that storage keeps in `series.labels` (Labels::ToString:
// `{a="1",b="x\"y"}`, or "" for no labels) back into Labels.
#pragma once

#include <optional>
#include <string_view>

#include "core/labels.h"

namespace obsmon::storage {

// Accepts exactly what Labels::ToString produces (escapes \\, \" and \n). Returns nullopt for
// anything malformed. Pure; thread-safe.
std::optional<Labels> ParseLabelsText(std::string_view text);

// True when every pair of `match` is present with the same value in `labels`.
bool LabelsInclude(const Labels& labels, const Labels& match);

}  // namespace obsmon::storage
