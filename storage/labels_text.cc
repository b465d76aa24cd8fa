#include "storage/labels_text.h"

#include <string>
#include <utility>
#include <vector>

namespace obsmon::storage {

std::optional<Labels> ParseLabelsText(std::string_view text) {
  if (text.empty()) return Labels();
  if (text.size() < 2 || text.front() != '{' || text.back() != '}') return std::nullopt;
  std::vector<Labels::Pair> pairs;
  size_t i = 1;
  const size_t end = text.size() - 1;
  while (i < end) {
    size_t eq = text.find('=', i);
    if (eq == std::string_view::npos || eq == i || eq + 1 >= end || text[eq + 1] != '"') {
      return std::nullopt;
    }
    std::string name(text.substr(i, eq - i));
    std::string value;
    size_t j = eq + 2;
    bool closed = false;
    while (j < end) {
      char c = text[j];
      if (c == '\\') {
        if (j + 1 >= end) return std::nullopt;
        char n = text[j + 1];
        if (n == 'n') {
          value += '\n';
        } else if (n == '\\' || n == '"') {
          value += n;
        } else {
          return std::nullopt;
        }
        j += 2;
        continue;
      }
      if (c == '"') {
        closed = true;
        ++j;
        break;
      }
      value += c;
      ++j;
    }
    if (!closed) return std::nullopt;
    pairs.emplace_back(std::move(name), std::move(value));
    if (j == end) break;
    if (text[j] != ',' || j + 1 == end) return std::nullopt;  // no trailing comma
    i = j + 1;
  }
  return Labels(std::move(pairs));
}

bool LabelsInclude(const Labels& labels, const Labels& match) {
  for (const auto& [name, value] : match.pairs()) {
    if (labels.Get(name) != value) return false;
  }
  return true;
}

}  // namespace obsmon::storage
