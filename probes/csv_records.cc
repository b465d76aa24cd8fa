#include "probes/csv_records.h"

namespace obsmon::probes {

Records Split(std::string_view data) {
  Records out;
  std::vector<std::string> row;
  std::string field;
  bool in_quotes = false;
  bool field_started = false;  // anything seen on this record (so "" is one empty field)
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (in_quotes) {
      if (c == '"') {
        if (i + 1 < data.size() && data[i + 1] == '"') {
          field += '"';
          ++i;
        } else if (i + 1 == data.size()) {
          break;  // cannot tell yet whether a "" follows: wait for more data
        } else {
          in_quotes = false;
        }
      } else {
        field += c;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_quotes = true;
        field_started = true;
        break;
      case ',':
        row.push_back(std::move(field));
        field.clear();
        field_started = true;
        break;
      case '\r':
        break;  // part of \r\n
      case '\n':
        if (field_started || !field.empty()) {
          row.push_back(std::move(field));
          out.rows.push_back(std::move(row));
        }
        row.clear();
        field.clear();
        field_started = false;
        out.consumed = i + 1;
        break;
      default:
        field += c;
        field_started = true;
    }
  }
  return out;
}

}  // namespace obsmon::probes
