#include "core/time_zone.h"

#include <algorithm>
#include <cctype>
#include <set>

#include "core/bounded_read.h"

namespace obsmon {
namespace detail {

int64_t DaysFromCivil(int64_t y, int m, int d) {
  // Howard Hinnant's days_from_civil (public domain), proleptic Gregorian.
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

namespace {

bool IsLeap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

int DaysInMonth(int64_t y, int m) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && IsLeap(y) ? 29 : kDays[m - 1];
}

// 0 = Sunday.
int WeekdayOfDays(int64_t days) { return static_cast<int>(((days % 7) + 7 + 4) % 7); }

int64_t YearOfDays(int64_t days) {
  // Inverse of DaysFromCivil, year only (civil_from_days).
  days += 719468;
  const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
  const int64_t doe = days - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  return yoe + era * 400 + (mp >= 10 ? 1 : 0);
}

class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool Done() const { return i_ >= s_.size(); }
  char Peek() const { return Done() ? '\0' : s_[i_]; }
  bool Eat(char c) {
    if (Peek() != c) return false;
    ++i_;
    return true;
  }
  // Up to `max_digits` digits (at least one).
  std::optional<int> Number(int max_digits) {
    int v = 0, n = 0;
    while (n < max_digits && Peek() >= '0' && Peek() <= '9') {
      v = v * 10 + (s_[i_++] - '0');
      ++n;
    }
    if (n == 0) return std::nullopt;
    return v;
  }
  // A zone abbreviation: 3+ letters, or <...> of letters, digits, '+', '-'.
  bool Name() {
    if (Eat('<')) {
      size_t n = 0;
      while (!Done() && Peek() != '>') {
        const char c = Peek();
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-')) return false;
        ++i_;
        ++n;
      }
      return n >= 1 && Eat('>');
    }
    size_t n = 0;
    while (std::isalpha(static_cast<unsigned char>(Peek()))) {
      ++i_;
      ++n;
    }
    return n >= 3;
  }
  // [+-]hh[:mm[:ss]] with hh <= max_hours; seconds, sign as written.
  std::optional<int32_t> Time(int max_hours) {
    int sign = 1;
    if (Eat('-')) {
      sign = -1;
    } else {
      Eat('+');
    }
    auto h = Number(3);
    if (!h || *h > max_hours) return std::nullopt;
    int32_t s = *h * 3600;
    if (Eat(':')) {
      auto m = Number(2);
      if (!m || *m > 59) return std::nullopt;
      s += *m * 60;
      if (Eat(':')) {
        auto sec = Number(2);
        if (!sec || *sec > 59) return std::nullopt;
        s += *sec;
      }
    }
    return sign * s;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

std::optional<PosixTzRule::Date> ParseDate(Cursor& c) {
  PosixTzRule::Date d;
  if (c.Eat('M')) {
    d.kind = 'M';
    auto m = c.Number(2);
    if (!m || *m < 1 || *m > 12 || !c.Eat('.')) return std::nullopt;
    auto w = c.Number(1);
    if (!w || *w < 1 || *w > 5 || !c.Eat('.')) return std::nullopt;
    auto wd = c.Number(1);
    if (!wd || *wd > 6) return std::nullopt;
    d.month = *m;
    d.week = *w;
    d.weekday = *wd;
  } else if (c.Eat('J')) {
    d.kind = 'J';
    auto n = c.Number(3);
    if (!n || *n < 1 || *n > 365) return std::nullopt;
    d.day = *n;
  } else {
    d.kind = 'n';
    auto n = c.Number(3);
    if (!n || *n > 365) return std::nullopt;
    d.day = *n;
  }
  if (c.Eat('/')) {
    auto t = c.Time(167);  // RFC 8536 3.3.1: -167 to 167 hours
    if (!t) return std::nullopt;
    d.time_s = *t;
  }
  return d;
}

// Local midnight (days since epoch) of `date` in `year`.
int64_t DayOf(const PosixTzRule::Date& d, int64_t year) {
  const int64_t jan1 = DaysFromCivil(year, 1, 1);
  if (d.kind == 'J') return jan1 + d.day - 1 + (IsLeap(year) && d.day >= 60 ? 1 : 0);
  if (d.kind == 'n') return jan1 + d.day;
  const int64_t first = DaysFromCivil(year, d.month, 1);
  int64_t day = first + (d.weekday - WeekdayOfDays(first) + 7) % 7 + (d.week - 1) * 7;
  while (day >= first + DaysInMonth(year, d.month)) day -= 7;  // week 5: the last one
  return day;
}

}  // namespace

std::optional<PosixTzRule> ParsePosixTz(std::string_view text) {
  Cursor c(text);
  PosixTzRule r;
  if (!c.Name()) return std::nullopt;
  auto std_off = c.Time(24);
  if (!std_off) return std::nullopt;
  r.std_offset_s = -*std_off;  // POSIX counts west-positive
  if (c.Done()) return r;
  if (!c.Name()) return std::nullopt;
  r.has_dst = true;
  r.dst_offset_s = r.std_offset_s + 3600;
  if (c.Peek() != ',') {
    auto dst_off = c.Time(24);
    if (!dst_off) return std::nullopt;
    r.dst_offset_s = -*dst_off;
  }
  if (!c.Eat(',')) return std::nullopt;  // the TZif footer always gives the rules
  auto start = ParseDate(c);
  if (!start || !c.Eat(',')) return std::nullopt;
  auto end = ParseDate(c);
  if (!end || !c.Done()) return std::nullopt;
  r.dst_start = *start;
  r.dst_end = *end;
  return r;
}

}  // namespace detail

namespace {

using detail::PosixTzRule;

constexpr int32_t kMaxOffsetS = 26 * 3600;

uint32_t Be32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
int64_t Be64(const unsigned char* p) {
  return static_cast<int64_t>((uint64_t{Be32(p)} << 32) | Be32(p + 4));
}

struct Header {
  char version = 0;
  uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;
  uint64_t DataBytes(int time_size) const {
    return timecnt * time_size + timecnt + typecnt * 6 + charcnt + leapcnt * (time_size + 4) +
           isstdcnt + isutcnt;
  }
};

std::optional<Header> ReadHeader(std::string_view in) {
  if (in.size() < 44 || in.substr(0, 4) != "TZif") return std::nullopt;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data());
  Header h;
  h.version = in[4];
  if (h.version != '\0' && (h.version < '2' || h.version > '4')) return std::nullopt;
  h.isutcnt = Be32(p + 20);
  h.isstdcnt = Be32(p + 24);
  h.leapcnt = Be32(p + 28);
  h.timecnt = Be32(p + 32);
  h.typecnt = Be32(p + 36);
  h.charcnt = Be32(p + 40);
  if (h.typecnt == 0 || h.typecnt > 256) return std::nullopt;  // indices are one byte
  if (h.isutcnt != 0 && h.isutcnt != h.typecnt) return std::nullopt;
  if (h.isstdcnt != 0 && h.isstdcnt != h.typecnt) return std::nullopt;
  return h;
}

Status Bad(const std::string& name, const char* why) {
  return Status::InvalidArgument("time zone '" + name + "': not a valid TZif file (" + why + ")");
}

bool ValidName(std::string_view name) {
  if (name.empty() || name.size() > 64 || name.front() == '/' || name.back() == '/') return false;
  size_t seg_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '/') {
      const std::string_view seg = name.substr(seg_start, i - seg_start);
      if (seg.empty() || seg.front() == '.') return false;
      seg_start = i + 1;
      continue;
    }
    const char c = name[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '+')) {
      return false;
    }
  }
  return true;
}

}  // namespace

TimeZone TimeZone::Utc() {
  TimeZone z;
  z.name_ = "UTC";
  return z;
}

Result<TimeZone> TimeZone::Load(std::string_view name, const std::string& dir) {
  if (name == "UTC" || name == "Etc/UTC") return Utc();
  if (!ValidName(name)) {
    return Status::InvalidArgument("'" + std::string(name) +
                                   "' is not a time zone name (such as Europe/Berlin or UTC)");
  }
  const std::string path = dir + "/" + std::string(name);
  auto bytes = ReadRegularFile(path, kMaxFileBytes);
  if (!bytes.ok()) {
    if (bytes.status().IsNotFound()) {
      return Status::NotFound("unknown time zone '" + std::string(name) + "' (no " + path + ")");
    }
    return Status::InvalidArgument("time zone '" + std::string(name) +
                                   "': " + bytes.status().message());
  }
  return Parse(*bytes, std::string(name));
}

Result<TimeZone> TimeZone::Parse(std::string_view in, std::string name) {
  auto v1 = ReadHeader(in);
  if (!v1) return Bad(name, "bad header");
  int time_size = 4;
  Header h = *v1;
  std::string_view data = in.substr(44);
  if (h.DataBytes(4) > data.size()) return Bad(name, "truncated");
  if (v1->version != '\0') {
    // Skip the 32-bit block: the second header and its 64-bit data follow.
    std::string_view rest = data.substr(h.DataBytes(4));
    auto v2 = ReadHeader(rest);
    if (!v2) return Bad(name, "bad second header");
    h = *v2;
    time_size = 8;
    data = rest.substr(44);
    if (h.DataBytes(8) > data.size()) return Bad(name, "truncated");
  }
  if (h.leapcnt != 0) return Bad(name, "it lists leap seconds");
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  const unsigned char* types = p + h.timecnt * time_size;
  const unsigned char* infos = types + h.timecnt;

  TimeZone z;
  z.name_ = std::move(name);
  std::vector<int32_t> offsets(h.typecnt);
  for (uint64_t i = 0; i < h.typecnt; ++i) {
    const int32_t off = static_cast<int32_t>(Be32(infos + 6 * i));
    if (off < -kMaxOffsetS || off > kMaxOffsetS) return Bad(z.name_, "offset out of range");
    if (infos[6 * i + 4] > 1) return Bad(z.name_, "bad isdst");
    if (infos[6 * i + 5] >= h.charcnt) return Bad(z.name_, "bad abbreviation index");
    offsets[i] = off;
  }
  z.initial_offset_ = offsets[0];
  z.transitions_.reserve(h.timecnt);
  z.offset_after_.reserve(h.timecnt);
  for (uint64_t i = 0; i < h.timecnt; ++i) {
    const int64_t t = time_size == 8 ? Be64(p + 8 * i) : static_cast<int32_t>(Be32(p + 4 * i));
    if (!z.transitions_.empty() && t <= z.transitions_.back()) {
      return Bad(z.name_, "transitions out of order");
    }
    if (types[i] >= h.typecnt) return Bad(z.name_, "bad type index");
    z.transitions_.push_back(t);
    z.offset_after_.push_back(offsets[types[i]]);
  }
  if (time_size == 8) {
    std::string_view footer = data.substr(h.DataBytes(8));
    if (footer.size() < 2 || footer[0] != '\n') return Bad(z.name_, "no footer");
    const size_t end = footer.find('\n', 1);
    if (end == std::string_view::npos) return Bad(z.name_, "unterminated footer");
    const std::string_view rule = footer.substr(1, end - 1);
    if (!rule.empty()) {
      z.footer_ = detail::ParsePosixTz(rule);
      if (!z.footer_) return Bad(z.name_, "bad footer TZ string");
      if (z.footer_->std_offset_s < -kMaxOffsetS || z.footer_->std_offset_s > kMaxOffsetS ||
          z.footer_->dst_offset_s < -kMaxOffsetS || z.footer_->dst_offset_s > kMaxOffsetS) {
        return Bad(z.name_, "footer offset out of range");
      }
    }
  }
  return z;
}

int32_t TimeZone::FooterOffsetAt(int64_t utc_s) const {
  const PosixTzRule& r = *footer_;
  if (!r.has_dst) return r.std_offset_s;
  // The changes of the years around utc_s, in order; the last one at or before utc_s decides.
  const int64_t year = detail::YearOfDays((utc_s + r.std_offset_s) / 86400 -
                                          ((utc_s + r.std_offset_s) % 86400 < 0 ? 1 : 0));
  struct Change {
    int64_t at;
    int32_t offset;
  };
  std::vector<Change> changes;
  for (int64_t y = year - 1; y <= year + 1; ++y) {
    // The start is read in standard time, the end in daylight time (POSIX).
    changes.push_back({detail::DayOf(r.dst_start, y) * 86400 + r.dst_start.time_s - r.std_offset_s,
                       r.dst_offset_s});
    changes.push_back(
        {detail::DayOf(r.dst_end, y) * 86400 + r.dst_end.time_s - r.dst_offset_s, r.std_offset_s});
  }
  std::stable_sort(changes.begin(), changes.end(),
                   [](const Change& a, const Change& b) { return a.at < b.at; });
  int32_t off = changes.front().offset == r.dst_offset_s ? r.std_offset_s : r.dst_offset_s;
  for (const Change& c : changes) {
    if (c.at > utc_s) break;
    off = c.offset;
  }
  return off;
}

int32_t TimeZone::OffsetAt(int64_t utc_s) const {
  if (transitions_.empty()) return footer_ ? FooterOffsetAt(utc_s) : initial_offset_;
  if (utc_s < transitions_.front()) return initial_offset_;
  if (utc_s >= transitions_.back() && footer_) return FooterOffsetAt(utc_s);
  const auto it = std::upper_bound(transitions_.begin(), transitions_.end(), utc_s);
  return offset_after_[static_cast<size_t>(it - transitions_.begin()) - 1];
}

int64_t TimeZone::LocalToUtc(int64_t local_s) const {
  // The instant is local - offset for an offset in force then; offsets are within +-26 h, so
  // the offsets in force 26 h either side, and those they lead to, are every candidate (tzdata
  // has no two changes that close together in one zone today).
  std::set<int32_t> candidates = {OffsetAt(local_s - kMaxOffsetS), OffsetAt(local_s + kMaxOffsetS)};
  for (int round = 0; round < 2; ++round) {
    std::set<int32_t> more = candidates;
    for (int32_t o : candidates) more.insert(OffsetAt(local_s - o));
    candidates.swap(more);
  }
  std::optional<int64_t> earliest;
  for (int32_t o : candidates) {
    const int64_t u = local_s - o;
    if (OffsetAt(u) == o && (!earliest || u < *earliest)) earliest = u;
  }
  if (earliest) return *earliest;  // one instant, or the first of two
  // A gap: read with the offset in force before it, i.e. at the earliest candidate instant.
  const int32_t largest = *candidates.rbegin();
  return local_s - OffsetAt(local_s - largest);
}

}  // namespace obsmon
