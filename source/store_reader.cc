#include "source/store_reader.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <map>

#include "core/label_selector.h"
#include "core/run_span.h"

namespace obsmon::source {
namespace {

constexpr int64_t kHourMs = 3'600'000;

bool ValidMetricName(const std::string& name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

// "http://host:port/prefix/" -> ("http://host:port", "/prefix").
Result<std::pair<std::string, std::string>> SplitUrl(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos ||
      (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0)) {
    return Status::InvalidArgument(
        fmt::format("source URL '{}' is not http://host:port or https://host:port", url));
  }
  const size_t path = url.find('/', scheme + 3);
  std::string host = url.substr(0, path);
  std::string prefix = path == std::string::npos ? "" : url.substr(path);
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (host.size() <= scheme + 3 || prefix.find_first_of("?#") != std::string::npos) {
    return Status::InvalidArgument(fmt::format("source URL '{}' has no host, or a query", url));
  }
  return std::make_pair(std::move(host), std::move(prefix));
}

// ms -> "s.mmm" exactly (no float on the way).
std::string SecondsText(TimestampMs ms) {
  const TimestampMs s = FloorMs(ms, 1000) / 1000;
  return fmt::format("{}.{:03}", s, ms - s * 1000);
}

class StoreReader final : public storage::Reader {
 public:
  StoreReader(SourceOptions o, std::string host, std::string prefix, std::string matchers)
      : o_(std::move(o)),
        host_(std::move(host)),
        prefix_(std::move(prefix)),
        matchers_(std::move(matchers)),
        deadline_(o_.clock->SteadyNow() + std::chrono::milliseconds(o_.deadline_ms)) {}

  Result<std::vector<ProbeRun>> ProbeRuns(const std::string& component, TimestampMs from_ms,
                                          TimestampMs to_ms) override {
    if (Status s = Load(component, from_ms, to_ms); !s.ok()) return s;
    std::vector<ProbeRun> out;
    for (size_t i = 0; i < runs_.size(); ++i) {
      const ProbeRun& r = runs_[i];
      const bool last_before = r.ts_ms < from_ms &&
                               (i + 1 == runs_.size() || runs_[i + 1].key != r.key ||
                                runs_[i + 1].ts_ms >= from_ms);
      if ((r.ts_ms >= from_ms && r.ts_ms < to_ms) || last_before) out.push_back(r);
    }
    return out;
  }

  // The store has no log lines: the caller says so in the report (docs/report-from-store.md).
  Result<std::vector<LogEvent>> LogEvents(const std::string&, TimestampMs, TimestampMs,
                                          size_t) override {
    return std::vector<LogEvent>{};
  }

  Result<std::vector<Sample>> Samples(const std::string& name, const Labels& match,
                                      TimestampMs from_ms, TimestampMs to_ms) override {
    if (!ValidMetricName(name)) {
      return Status::InvalidArgument(fmt::format("'{}' is not a metric name", name));
    }
    std::string matchers;
    for (const auto& [k, v] : match.pairs()) {
      if (!ValidMetricName(k) || k.find(':') != std::string::npos) {
        return Status::InvalidArgument(fmt::format("'{}' is not a label name", k));
      }
      if (!matchers.empty()) matchers += ",";
      matchers += fmt::format("{}=\"{}\"", k, EscapeLabelValue(v));
    }
    auto series = ReadRange(name, matchers, from_ms, to_ms);
    if (!series.ok()) return series.status();
    std::vector<Sample> out;
    for (auto& s : *series) {
      Labels labels = s.labels;
      labels.Remove("__name__");
      for (const auto& [ts, v] : s.points) out.push_back({name, labels, ts, v});
    }
    std::stable_sort(out.begin(), out.end(), [](const Sample& a, const Sample& b) {
      return a.labels < b.labels;
    });
    return out;
  }

  Result<std::vector<std::string>> Components() override {
    if (loaded_ && !runs_.empty()) return std::vector<std::string>{loaded_component_};
    return std::vector<std::string>{};
  }
  Result<std::vector<ProbeRun>> LatestRuns() override {
    return Status::Unavailable("LatestRuns is not read from a Prometheus-compatible store");
  }
  Result<std::vector<CounterValue>> AllCounters() override {
    return Status::Unavailable("counters are not read from a Prometheus-compatible store");
  }

  Result<std::vector<RunSpan>> RunSpans(const std::string& component, TimestampMs from_ms,
                                        TimestampMs to_ms) override {
    if (Status s = Load(component, from_ms, to_ms); !s.ok()) return s;
    // Spans of everything read (the lookback too), then as storage returns them: those starting
    // in the window, and each probe's last one starting before it.
    std::vector<ProbeRun> upto;
    for (const ProbeRun& r : runs_) {
      if (r.ts_ms < to_ms) upto.push_back(r);
    }
    const std::vector<RunSpan> all = CompressRuns(upto);
    std::vector<RunSpan> out;
    for (size_t i = 0; i < all.size(); ++i) {
      const RunSpan& s = all[i];
      const bool last_before = s.start_ms < from_ms &&
                               (i + 1 == all.size() || all[i + 1].key != s.key ||
                                all[i + 1].start_ms >= from_ms);
      if (s.start_ms >= from_ms || last_before) out.push_back(s);
    }
    return out;
  }

  // One chunk: the store's samples of the window are loaded whole anyway (Load), and a chunk
  // of its own each would load again, with its lookback cutting the spans before each seam.
  Status StreamRunSpans(const std::string& component, TimestampMs from_ms, TimestampMs to_ms,
                        int64_t /*chunk_ms*/, const SpanChunkVisitor& visit) override {
    auto spans = RunSpans(component, from_ms, to_ms);
    if (!spans.ok()) return spans.status();
    return visit(*spans, from_ms, std::max(from_ms, to_ms));
  }

  Result<std::vector<ProbeRun>> RunsOfRole(const std::string& component, ProbeRole role,
                                           TimestampMs from_ms, TimestampMs to_ms) override {
    if (Status s = Load(component, from_ms, to_ms); !s.ok()) return s;
    std::vector<ProbeRun> out;
    for (const ProbeRun& r : runs_) {
      if (r.role == role && r.ts_ms >= from_ms && r.ts_ms < to_ms) out.push_back(r);
    }
    return out;
  }

  Result<std::vector<storage::HourDurations>> SuccessDurations(
      const std::string& component, ProbeRole role, TimestampMs from_ms, TimestampMs to_ms,
      storage::Exclusions excluded) override {
    if (Status s = Load(component, from_ms, to_ms); !s.ok()) return s;
    std::vector<storage::HourDurations> out;
    for (const ProbeRun& r : runs_) {  // ordered by probe then time
      if (r.role != role || !r.success || std::isnan(r.duration_seconds)) continue;
      if (r.ts_ms < from_ms || r.ts_ms >= to_ms) continue;
      const bool is_excluded = std::any_of(excluded.begin(), excluded.end(), [&](const auto& e) {
        return r.ts_ms >= e.first && r.ts_ms < e.second;
      });
      if (is_excluded) continue;
      const TimestampMs hour = FloorMs(r.ts_ms, kHourMs);
      if (out.empty() || out.back().key != r.key || out.back().hour_ms != hour) {
        auto& g = out.emplace_back();
        g.key = r.key;
        g.role = r.role;
        g.hour_ms = hour;
      }
      out.back().seconds.push_back(r.duration_seconds);
    }
    for (auto& g : out) std::sort(g.seconds.begin(), g.seconds.end());
    return out;
  }

  std::vector<LogCursor> LogCursors(const ProbeKey&) override { return {}; }
  std::vector<CounterValue> Counters(const ProbeKey&) override { return {}; }

 private:
  // Reads the component's runs of [from - lookback, to) once; later calls within it reuse them.
  Status Load(const std::string& component, TimestampMs from_ms, TimestampMs to_ms) {
    if (loaded_ && loaded_component_ == component && from_ms >= loaded_from_ &&
        to_ms <= loaded_to_) {
      return Status::Ok();
    }
    const std::string matchers =
        matchers_.empty() ? fmt::format("component=\"{}\"", EscapeLabelValue(component)) : matchers_;
    const TimestampMs start = from_ms - std::max<int64_t>(0, o_.lookback_ms);
    auto success = ReadRange("probe_success", matchers, start, to_ms);
    if (!success.ok()) return success.status();
    auto durations = ReadRange("probe_duration_seconds", matchers, start, to_ms);
    if (!durations.ok()) return durations.status();
    SeriesMapping mapping = o_.mapping;
    mapping.component = component;
    notes_ = MappingNotes{};
    runs_ = RunsFromSeries(*success, *durations, mapping, &notes_);
    notes_.non_finite_samples = non_finite_;
    non_finite_ = 0;
    loaded_ = true;
    loaded_component_ = component;
    loaded_from_ = from_ms;
    loaded_to_ = to_ms;
    return Status::Ok();
  }

  // Every sample of `metric{matchers}` with from <= t < to, chunk by chunk.
  Result<std::vector<StoreSeries>> ReadRange(const std::string& metric, const std::string& matchers,
                                             TimestampMs from_ms, TimestampMs to_ms) {
    std::map<Labels, StoreSeries> by_labels;
    const int64_t chunk = std::max<int64_t>(1000, o_.chunk_ms);
    for (TimestampMs start = from_ms; start < to_ms;) {
      const TimestampMs end = to_ms - start > chunk ? start + chunk : to_ms;
      auto answer = Query(MakeChunkQuery(metric, matchers, start, end));
      if (!answer.ok()) return answer.status();
      non_finite_ += answer->non_finite;
      for (auto& s : answer->series) {
        StoreSeries& into = by_labels[s.labels];
        into.labels = s.labels;
        // Prometheus 2.x closes the range on the left too ([eval - range, eval]), so its answer
        // may hold a sample at start - 1 ms that the previous chunk read: the chunk's own bounds
        // decide, whichever way the store closes its ranges.
        for (const auto& p : s.points) {
          if (p.first >= start && p.first < end) into.points.push_back(p);
        }
      }
      start = end;
    }
    std::vector<StoreSeries> out;
    out.reserve(by_labels.size());
    for (auto& [labels, s] : by_labels) out.push_back(std::move(s));
    return out;
  }

  Result<ParsedAnswer> Query(const ChunkQuery& q) {
    const std::string where = host_ + prefix_ + "/api/v1/query";
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          deadline_ - o_.clock->SteadyNow())
                          .count();
    if (left <= 0) {
      return Status::Unavailable(fmt::format(
          "reading {} took longer than {} ms (SourceOptions::deadline_ms)", where, o_.deadline_ms));
    }
    const int64_t timeout = std::min<int64_t>(left, o_.request_timeout_ms);
    httplib::Client client(host_);
    client.set_connection_timeout(std::chrono::milliseconds(std::min<int64_t>(timeout, 5000)));
    client.set_read_timeout(std::chrono::milliseconds(timeout));
    client.set_write_timeout(std::chrono::milliseconds(timeout));
    if (!o_.bearer_token.empty()) client.set_bearer_token_auth(o_.bearer_token);
    const std::string path = prefix_ + "/api/v1/query?" +
                             httplib::detail::params_to_query_str(
                                 httplib::Params{{"query", q.query}, {"time", q.time}});
    std::string body;
    bool too_big = false;
    auto res = client.Get(path, httplib::Headers{{"Accept", "application/json"}},
                          [&](const char* data, size_t n) {
                            if (body.size() + n > o_.max_answer_bytes) {
                              too_big = true;
                              return false;
                            }
                            body.append(data, n);
                            return true;
                          });
    if (too_big) {
      return Status::Unavailable(fmt::format("{}: the answer to {} is larger than {} bytes", where,
                                             q.query, o_.max_answer_bytes));
    }
    if (!res) {
      return Status::Unavailable(fmt::format("cannot read {} (query {} at {}): {}", where, q.query,
                                             q.time, httplib::to_string(res.error())));
    }
    auto parsed = ParseMatrixAnswer(body, o_.max_points_per_answer);
    if (res->status != 200) {
      return Status::Unavailable(
          fmt::format("{} answered HTTP {} to {}: {}", where, res->status, q.query,
                      parsed.ok() ? Excerpt(body) : parsed.status().message()));
    }
    if (!parsed.ok()) {
      return Status::Unavailable(fmt::format("{} (query {}): {}", where, q.query,
                                             parsed.status().message()));
    }
    return parsed;
  }

  const SourceOptions o_;
  const std::string host_, prefix_, matchers_;
  const SteadyTime deadline_;
  bool loaded_ = false;
  std::string loaded_component_;
  TimestampMs loaded_from_ = 0, loaded_to_ = 0;
  std::vector<ProbeRun> runs_;  // ordered by probe then time
  MappingNotes notes_;
  size_t non_finite_ = 0;  // of the reads since the last Load

 public:
  const MappingNotes& notes() const { return notes_; }
};

}  // namespace

ChunkQuery MakeChunkQuery(const std::string& metric, const std::string& matchers,
                          TimestampMs start_ms, TimestampMs end_ms) {
  return ChunkQuery{fmt::format("{}{{{}}}[{}ms]", metric, matchers, end_ms - start_ms),
                    SecondsText(end_ms - 1)};
}

const MappingNotes* NotesOf(const storage::Reader& reader) {
  const auto* store = dynamic_cast<const StoreReader*>(&reader);
  return store ? &store->notes() : nullptr;
}

Result<std::unique_ptr<storage::Reader>> OpenStoreReader(SourceOptions options) {
  auto url = SplitUrl(options.url);
  if (!url.ok()) return url.status();
  std::string matchers;
  if (!options.selector.empty()) {
    auto m = SelectorMatchers(options.selector);
    if (!m.ok()) return m.status();
    matchers = *m;
  }
  if (options.mapping.probe_label.empty() || !ValidMetricName(options.mapping.probe_label)) {
    return Status::InvalidArgument(
        fmt::format("probe label '{}' is not a label name", options.mapping.probe_label));
  }
  if (options.chunk_ms <= 0 || options.request_timeout_ms <= 0 || options.deadline_ms <= 0) {
    return Status::InvalidArgument("source chunk, timeout and deadline must be positive");
  }
  return std::unique_ptr<storage::Reader>(std::make_unique<StoreReader>(
      std::move(options), std::move(url->first), std::move(url->second), std::move(matchers)));
}

}  // namespace obsmon::source
