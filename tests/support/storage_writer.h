// Test support: start a storage writer or fail the test. Header-only; link obsmon::storage.
#pragma once

#include <gtest/gtest.h>

#include <memory>

#include "storage/storage.h"

namespace obsmon::testing {

// The started writer, or nullptr after a non-fatal test failure saying why.
inline std::unique_ptr<storage::Writer> StartWriterOrFail(const storage::StorageOptions& o) {
  auto w = storage::Writer::Start(o);
  EXPECT_TRUE(w.ok()) << w.status().ToString();
  return w.ok() ? std::move(w).value() : nullptr;
}

}  // namespace obsmon::testing
