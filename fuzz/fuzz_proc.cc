// /proc files as the process probe reads them: the input is split at the first two 0xff bytes
// into <root>/stat, <root>/1/stat and <root>/1/cmdline.
// Seeds: real /proc/stat, /proc/self/stat and /proc/self/cmdline.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "probes/process_probe.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string root = "/tmp/obsmon-fuzz-proc-" + std::to_string(::getpid());
  static const bool made = std::filesystem::create_directories(root + "/1");
  (void)made;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view parts[3];
  for (int i = 0; i < 2; ++i) {
    size_t cut = in.find('\xff');
    parts[i] = in.substr(0, cut);
    in = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 1);
  }
  parts[2] = in;
  const char* names[3] = {"/stat", "/1/stat", "/1/cmdline"};
  for (int i = 0; i < 3; ++i) {
    std::ofstream(root + names[i], std::ios::binary | std::ios::trunc)
        .write(parts[i].data(), static_cast<std::streamsize>(parts[i].size()));
  }
  (void)obsmon::probes::ReadBootTimeSeconds(root);
  (void)obsmon::probes::ReadProcessStat(root, 1);
  (void)obsmon::probes::ReadCommandLine(root, 1);
  return 0;
}
