// Helpers shared by the log probe tests: gzip as logrotate does (reading and writing files is
// tests/support/files.h, the temporary directory tests/support/scratch_dir.h).
// Header-only.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/files.h"
#include "tests/support/scratch_dir.h"

namespace obsmon::testing {

// gzip `from` into `to` (as logrotate's compress does) and remove `from`.
inline void GzipFile(const std::string& from, const std::string& to) {
  const std::string data = ReadWholeFile(from);
  gzFile gz = gzopen(to.c_str(), "wb");
  gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
  gzclose(gz);
  std::filesystem::remove(from);
}

}  // namespace obsmon::testing
