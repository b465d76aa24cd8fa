// A storage::Reader over a Prometheus-compatible store (Prometheus 2.x, VictoriaMetrics) read
// through its HTTP query API, so that `obsmon report --source URL` computes the report that
// SQLite would give from the series `probe_success` and `probe_duration_seconds` alone
// (docs/report-from-store.md). What the store cannot hold is absent, never invented: log lines
// (LogEvents is empty; the CLI says so in the report), failure reasons (kStoreFailureReason),
// cursors and counters.
//
// Not thread-safe (one Reader per thread, as storage::Reader says). Every request is bounded in
// time (request_timeout_ms, and deadline_ms for one report's reads in all, measured on the
// injected clock) and in size (max_answer_bytes, max_points_per_answer).
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "core/clock.h"
#include "core/status.h"
#include "source/store_runs.h"
#include "storage/storage.h"

namespace obsmon::source {

struct SourceOptions {
  // The store's base URL: http(s)://host:port, optionally with a path prefix
  // (http://vm:8428/select/0/prometheus). /api/v1/query is appended.
  std::string url;
  // The series to read, as PromQL label matchers with or without braces: '{job="blackbox"}',
  // checked by core/label_selector.h. Empty: component="<the component>", which is what
  // obsmon's own series carry.
  std::string selector;
  SeriesMapping mapping;  // `component` is set per call
  // The window is read in chunks of this length, one query per chunk and metric: an answer
  // holds at most chunk / interval samples per series.
  int64_t chunk_ms = 6 * 3'600'000LL;
  // How far before the window the runs are read, for the run whose coverage reaches into it
  // and the start of an outage already going on at the window's start.
  int64_t lookback_ms = 24 * 3'600'000LL;
  int64_t request_timeout_ms = 30'000;
  int64_t deadline_ms = 300'000;  // all the reads of one window
  size_t max_answer_bytes = 64u << 20;
  size_t max_points_per_answer = 2'000'000;
  std::string bearer_token;  // sent as Authorization: Bearer when not empty
  const Clock* clock = &SystemClock::Instance();
};

// InvalidArgument when the URL or the selector cannot be used (checked here, before any read).
Result<std::unique_ptr<storage::Reader>> OpenStoreReader(SourceOptions options);

// What the mapping of `reader`'s last read could not take as it is (store_runs.h), when
// OpenStoreReader made it; nullptr for any other reader. Lives as long as the reader.
const MappingNotes* NotesOf(const storage::Reader& reader);

// The PromQL of one chunk: `metric{matchers}[<end - start>ms]` evaluated at `end - 1 ms`. A range
// selector holds the samples with eval - range < t <= eval in VictoriaMetrics and Prometheus 3,
// and eval - range <= t <= eval in Prometheus 2.x (measured on 2.42): start <= t < end, plus in
// 2.x a sample at start - 1 ms, which the reader drops (it belongs to the previous chunk). So
// adjacent chunks neither lose nor repeat a sample on their edge, in either store.
struct ChunkQuery {
  std::string query;
  std::string time;  // seconds with three decimals: "1700000000.122"
};
ChunkQuery MakeChunkQuery(const std::string& metric, const std::string& matchers,
                          TimestampMs start_ms, TimestampMs end_ms);

}  // namespace obsmon::source
