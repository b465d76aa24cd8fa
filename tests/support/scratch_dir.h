// Test support: a temporary directory for one test, removed with everything in it at the end.
// Header-only; used by unit and integration tests alike.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace obsmon::testing {

// A directory removed with everything in it when the object dies.
class ScratchDir {
 public:
  ScratchDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "obsmon-test-XXXXXX").string();
    path_ = mkdtemp(templ.data());
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace obsmon::testing
