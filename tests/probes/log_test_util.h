// Helpers shared by the log probe tests: small file writers (the temporary directory is
// tests/support/scratch_dir.h).
// Header-only.
#pragma once

#include <unistd.h>
#include <zlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/scratch_dir.h"

namespace obsmon::logs::testing {

inline void AppendFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::app | std::ios::binary);
  out << text;
}

inline void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
}

inline std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// gzip `from` into `to` (as logrotate's compress does) and remove `from`.
inline void GzipFile(const std::string& from, const std::string& to) {
  const std::string data = ReadWhole(from);
  gzFile gz = gzopen(to.c_str(), "wb");
  gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
  gzclose(gz);
  std::filesystem::remove(from);
}

}  // namespace obsmon::logs::testing
