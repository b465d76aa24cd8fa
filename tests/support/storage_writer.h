// Test support: start a storage writer, or open a reader, or fail the test. Header-only; link obsmon::storage.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "storage/storage.h"

namespace obsmon::testing {

// The started writer, or nullptr after a non-fatal test failure saying why.
inline std::unique_ptr<storage::Writer> StartWriterOrFail(const storage::StorageOptions& o) {
  auto w = storage::Writer::Start(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

// Writes `batch` into the database at `path` through a writer of its own (started, flushed,
// stopped), as the daemon would have: for tests that read what is stored.
inline void WriteThroughWriter(const std::string& path, const Clock& clock, WriteBatch batch) {
  storage::StorageOptions o;
  o.path = path;
  o.clock = &clock;
  auto writer = StartWriterOrFail(o);
  if (!writer) return;
  EXPECT_TRUE(writer->Enqueue(std::move(batch)));
  EXPECT_TRUE(writer->Flush().ok());
  writer->Stop();
}

// A batch of one successful run of probe carbon/health at `ts`, valid for 1.5 s: the smallest
// thing a writer commits.
inline WriteBatch OneHealthRun(TimestampMs ts) {
  WriteBatch b;
  ProbeRun run;
  run.key = {"carbon", "health"};
  run.ts_ms = ts;
  run.success = true;
  run.valid_for_ms = 1500;
  b.runs.push_back(run);
  return b;
}

// The opened reader, or nullptr after a non-fatal test failure saying why.
inline std::unique_ptr<storage::Reader> OpenReaderOrFail(const std::string& path) {
  auto r = storage::Reader::Open(path);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? std::move(r).value() : nullptr;
}

}  // namespace obsmon::testing
