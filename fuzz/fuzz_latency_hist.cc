// The rollup's latency histogram text (storage/latency_histogram.h): rollup_hourly.latency_hist
// is read back and merged by the writer at each commit, and sqlite3 users may edit it. The input
// is two texts split at the first newline, the stored one and the added one. Checked: the sparse
// and dense readers accept the same texts and hold the same buckets, a text written back reads
// as itself, and the sparse merge is the dense merge.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "storage/latency_histogram.h"

using obsmon::storage::LatencyHistogram;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const size_t newline = in.find('\n');
  const std::string_view stored = in.substr(0, newline);
  const std::string_view added = newline == std::string_view::npos ? "" : in.substr(newline + 1);
  const auto sparse_added = LatencyHistogram::DecodeBuckets(added);
  const auto dense_added = LatencyHistogram::Decode(added);
  if (sparse_added.has_value() != dense_added.has_value()) std::abort();
  if (!sparse_added) return 0;
  const std::string text = LatencyHistogram::EncodeBuckets(*sparse_added);
  if (text != dense_added->Encode()) std::abort();
  if (LatencyHistogram::DecodeBuckets(text) != sparse_added) std::abort();
  const auto sparse_stored = LatencyHistogram::DecodeBuckets(stored);
  LatencyHistogram want = *dense_added;
  if (auto dense_stored = LatencyHistogram::Decode(stored)) want.Merge(*dense_stored);
  const std::string merged = LatencyHistogram::EncodeBuckets(
      sparse_stored ? LatencyHistogram::MergeBuckets(*sparse_stored, *sparse_added)
                    : *sparse_added);
  if (merged != want.Encode()) std::abort();
  return 0;
}
